"""The modem (onboard.core.modem, onboard.ccsds.rf, hil.ground.rf, hil.rf_channel): CCSDS links as IQ samples.

Every scheme carries CADUs through a channel with offset, phase and noise and every frame comes
out; the uplink's PLOP-2 sequence carries CLTUs over PCM/PSK/PM; the demodulator holds lock
through the relay's Doppler rate and re-acquires after an outage; it survives hostile input;
errors carry the C status.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hil.ground.chain import tc_frames_to_cltus
from hil.ground.rf import TmModemReceiver, UplinkModemTransmitter
from hil.rf_channel import Outage, RfChannel, relay_doppler_rate_bound_hz_s
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.ccsds.rf import ModemConfig, TmModemTransmitter, UplinkModemReceiver
from onboard.core import CoreError, iq, tc
from onboard.core.channel import Channel, noise_sigma_for_esn0
from onboard.core.modem import Coding, Demodulator, Modulator, Scheme
from onboard.core.siggen import SampleFormat
from onboard.core.spp import build_packet


def make_packets(rng, n: int) -> bytes:
    def body():
        return rng.integers(0, 256, int(rng.integers(50, 400)), dtype=np.uint8).tobytes()
    return b"".join(build_packet(0x123, body(), seq_count=i) for i in range(n))


def send(link: TmLinkConfig, modem: ModemConfig, packets: bytes, preamble_bits: int = 8000):
    tx = TmModemTransmitter(link, modem)
    chain = TmSendChain(link)
    cadus = np.concatenate([chain.packets_to_cadus(packets), chain.flush()])
    x = np.concatenate([tx.send_preamble(preamble_bits), tx.send_cadus(cadus), tx.finish()])
    return x, cadus, tx


def receive(link, modem, y, block=37_000, **kw):
    rx = TmModemReceiver(link, modem, **kw)
    frames, packets = [], b""
    for i in range(0, y.size, block):
        out = rx.push_samples(y[i:i + block])
        frames += list(out.frames)
        packets += out.packets
    out = rx.flush()
    return rx, frames + list(out.frames), packets + out.packets


def expected_frames(link, packets):
    chain = TmSendChain(link)
    data = chain.packets_to_frames(packets) + chain.flush_frames()
    n = link.frame_length
    return [data[i:i + n] for i in range(0, len(data), n)]


@pytest.mark.parametrize("scheme, conv, coding, esn0_db, phase", [
    ("bpsk", None, "nrz-l", 8.0, 0.13),
    ("bpsk", None, "nrz-m", 9.0, 0.61),
    ("bpsk", "1/2", "nrz-l", 2.5, 0.42),
    ("qpsk", None, "nrz-l", 11.0, 0.29),
    ("qpsk", None, "nrz-l", 11.0, 0.79),
    ("qpsk", "1/2", "nrz-l", 5.0, 0.55),
    ("oqpsk", None, "nrz-l", 11.0, 0.37),
    ("oqpsk", None, "nrz-l", 11.0, 0.88),
    ("oqpsk", "1/2", "nrz-m", 7.0, 0.2),
])
def test_every_frame_comes_out_through_offset_phase_and_noise(rng, scheme, conv, coding, esn0_db, phase):
    link = TmLinkConfig(conv=conv)
    modem = ModemConfig(Scheme.parse(scheme), 4.0, coding=Coding.parse(coding), symbol_rate=1e6)
    packets = make_packets(rng, 90)
    x, cadus, _ = send(link, modem, packets)
    ch = RfChannel(modem.fs_hz, sps=4.0, bits_per_symbol=modem.scheme.bits_per_symbol, esn0_db=esn0_db,
                   cfo_hz=-2300.0, phase_cycles=phase, seed=11)
    y = np.concatenate([ch.noise(5000), ch.process(x)])
    rx, frames, got = receive(link, modem, y)
    want = expected_frames(link, packets)
    assert [bytes(f) for f in frames] == want
    assert got == packets
    st = rx.status()
    assert st.locked and abs(st.freq_offset_hz + 2300.0) < 50.0


def test_fractional_samples_per_symbol_and_roll_off_limits(rng):
    link = TmLinkConfig()
    packets = make_packets(rng, 40)
    for sps, rolloff in ((2.5, 0.2), (3.3, 0.5), (7.1, 0.35)):
        modem = ModemConfig(Scheme.BPSK, sps, rolloff=rolloff, symbol_rate=250e3)
        x, _, _ = send(link, modem, packets)
        y = RfChannel(modem.fs_hz, sps=sps, esn0_db=9.0, cfo_hz=800.0, phase_cycles=0.3, seed=2).process(x)
        _, frames, got = receive(link, modem, y)
        assert got == packets, (sps, rolloff)


def test_modulator_streams_with_state_carried_between_blocks(rng):
    bits = rng.integers(0, 2, 5001, dtype=np.uint8)
    one = Modulator("qpsk", 3.7)
    whole = np.concatenate([one.modulate(bits), one.flush()])
    parts = Modulator("qpsk", 3.7)
    pieces = [parts.modulate(bits[i:i + 333]) for i in range(0, bits.size, 333)] + [parts.flush()]
    assert np.array_equal(whole, np.concatenate(pieces))
    ref = Modulator("qpsk", 3.7)
    direct = np.concatenate([ref.reference(bits), ref.flush()])
    assert np.max(np.abs(direct - whole)) < 1e-5


def test_demodulator_gives_the_same_soft_symbols_however_the_stream_is_split(rng):
    bits = rng.integers(0, 2, 20000, dtype=np.uint8)
    x = Modulator("bpsk", 4.0).modulate(bits)
    y = Channel(4e6, 5, freq_hz=1500.0, noise_sigma=noise_sigma_for_esn0(8.0, 4.0)).process(x)
    whole = Demodulator("bpsk", 4.0, 4e6).demodulate(y)
    d = Demodulator("bpsk", 4.0, 4e6)
    cuts = np.sort(rng.integers(0, y.size, 40))
    split = np.concatenate([d.demodulate(p) for p in np.split(y, cuts)])
    assert np.array_equal(whole, split)


def test_ci16_and_ci8_samples_decode_like_cf32(rng):
    link = TmLinkConfig()
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=1e6)
    packets = make_packets(rng, 40)
    x, _, _ = send(link, modem, packets)
    y = RfChannel(4e6, esn0_db=10.0, cfo_hz=500.0, seed=3).process(x)
    for fmt, scale in ((SampleFormat.CI16, 4000.0), (SampleFormat.CI8, 30.0)):
        block, clipped = iq.from_complex(y, fmt, scale)
        assert clipped < y.size * 1e-4
        rx = TmModemReceiver(link, modem)
        got = rx.push_samples(block, fmt).packets + rx.flush().packets
        assert got == packets, fmt


def test_uplink_cltus_over_pcm_psk_pm_with_carrier_only_and_idle(rng):
    cfg = tc.TcConfig(scid=0x1AB, vcid=1)
    frames = [tc.build_frame(cfg, rng.integers(0, 256, int(rng.integers(10, 200)), dtype=np.uint8).tobytes(),
                             frame_seq_num=i) for i in range(10)]
    cltus = [tc_frames_to_cltus([f]) for f in frames]
    modem = ModemConfig(Scheme.PCM_PSK_PM, 64.0, symbol_rate=2000.0, subcarrier_hz=16e3, mod_index_rad=1.0)
    tx = UplinkModemTransmitter(modem, carrier_only_s=0.1)
    x = np.concatenate([tx.send_cltus(cltus[:5]), tx.idle(8), tx.send_cltus(cltus[5:]), tx.idle(4)])
    # the carrier-only period is an unmodulated carrier: constant phase
    lead = round(0.1 * modem.fs_hz)
    assert np.allclose(x[:lead], x[0]) and abs(abs(x[0]) - 1.0) < 1e-6
    assert len(tx.marks) == 10 and tx.marks[0].sample > lead
    y = RfChannel(modem.fs_hz, sps=64.0, esn0_db=14.0, cfo_hz=600.0, phase_cycles=0.3, seed=4).process(x)
    rx = UplinkModemReceiver(modem)
    got = []
    for i in range(0, y.size, 20_000):
        got += rx.push_samples(y[i:i + 20_000])
    assert got == frames
    assert rx.status().locked


def test_lock_holds_through_ten_times_the_relay_doppler_rate(rng):
    # The bound for the default ELFO relay seen from any ground station at X band (8.45 GHz):
    # the relay's largest acceleration (perilune), Earth rotation, the Moon's acceleration and
    # the line of sight's rotation, all at their worst at once.
    bound = relay_doppler_rate_bound_hz_s(8.45e9)
    assert 15.0 < bound < 30.0
    link = TmLinkConfig()
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=64e3)
    packets = make_packets(rng, 120)  # about 3 s at 64 kbit/s
    x, _, _ = send(link, modem, packets)
    rate = 10.0 * bound
    ch = RfChannel(modem.fs_hz, sps=4.0, esn0_db=8.0, cfo_hz=-4000.0, doppler_rate_hz_s=rate, seed=6)
    y = ch.process(x)
    rx = TmModemReceiver(link, modem)
    packets_out, locked_after_acquisition = b"", []
    for i in range(0, y.size, 25_600):  # 0.1 s blocks
        packets_out += rx.push_samples(y[i:i + 25_600]).packets
        locked_after_acquisition.append(rx.status().locked)
    packets_out += rx.flush().packets
    st = rx.status()
    assert packets_out == packets
    assert all(locked_after_acquisition[1:])
    assert st.cycle_slips == 0
    sweep = rate * y.size / modem.fs_hz
    assert sweep > 500.0  # the receiver followed the Doppler over hundreds of hertz
    assert abs(st.freq_offset_hz - (-4000.0 + sweep)) < 30.0


def test_reacquires_within_100_ms_after_a_one_second_outage(rng):
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=1e6)
    fs = modem.fs_hz
    bits = rng.integers(0, 2, int(1.6e6), dtype=np.uint8)
    x = Modulator("bpsk", 4.0).modulate(bits)
    ch = RfChannel(fs, sps=4.0, esn0_db=8.0, cfo_hz=3000.0, outages=[Outage(0.2, 1.0)], seed=8)
    d = Demodulator("bpsk", 4.0, fs)
    block = int(fs * 0.002)
    lost_at = back_at = None
    for i in range(0, x.size, block):
        d.demodulate(ch.process(x[i:i + block]))
        t = (i + block) / fs
        locked = d.status().locked
        if 0.2 < t < 1.2 and not locked and lost_at is None:
            lost_at = t
        if t > 1.2 and locked and back_at is None:
            back_at = t
    assert lost_at is not None and lost_at < 0.25  # the outage is seen
    assert back_at is not None and back_at - 1.2 < 0.1
    assert abs(d.status().freq_offset_hz - 3000.0) < 30.0


def test_after_a_long_outage_the_symbols_are_as_good_as_before_it(rng):
    # Ten seconds of noise let the timing loop wander from the nominal period (0.4 % off here
    # when nothing sets it back: 4.015 samples per symbol, Es/N0 read 1.8 dB);
    # the acquisition that finds the signal again starts it from the nominal period, so within
    # a tenth of a second the symbols are as clean as before the outage, not sampled astray for
    # the seconds the loop's integrator needs to come back.
    fs = 4.0 * 41440.0
    bits = rng.integers(0, 2, int(12 * 41440), dtype=np.uint8)
    x = Modulator("bpsk", 4.0).modulate(bits)
    ch = RfChannel(fs, sps=4.0, esn0_db=6.0, cfo_hz=2100.0, outages=[Outage(1.0, 10.0)], seed=3)
    d = Demodulator("bpsk", 4.0, fs, acq_range_hz=10e3)
    block = int(fs * 0.05)
    before = after = None
    for i in range(0, x.size, block):
        d.demodulate(ch.process(x[i:i + block]))
        t, st = (i + block) / fs, d.status()
        if before is None and t >= 0.95:
            before = st.esn0_db
        if after is None and t >= 11.15:
            after = st
    assert abs(after.timing_sps - 4.0) < 0.004 and after.esn0_db > before - 1.5


def test_hostile_input_never_stalls_and_the_stream_recovers(rng):
    link = TmLinkConfig()
    modem = ModemConfig(Scheme.QPSK, 4.0, symbol_rate=1e6)
    packets = make_packets(rng, 30)
    x, _, _ = send(link, modem, packets)
    y = RfChannel(4e6, bits_per_symbol=2, esn0_db=12.0, cfo_hz=-1000.0, seed=9).process(x)
    hostile = [np.zeros(300_000, np.complex64),                                   # silence
               np.full(50_000, np.nan + 1j * np.inf, dtype=np.complex64),         # NaN and infinities
               np.full(50_000, 3e38 - 3e38j, dtype=np.complex64),                 # at the float range
               (np.sign(rng.standard_normal(50_000)) * 1e4).astype(np.complex64)]  # clipped garbage
    rx = TmModemReceiver(link, modem)
    for block in hostile:
        assert rx.push_samples(block).packets == b""
    got = b""
    for i in range(0, y.size, 50_000):  # the stream starts again
        got += rx.push_samples(y[i:i + 50_000]).packets
    got += rx.flush().packets
    assert got == packets
    assert rx.status().nonfinite >= 100_000


def test_frame_marks_point_at_the_cadu_starts(rng):
    link = TmLinkConfig(rs_e=16, rs_interleave=1, frame_length=223)
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=1e6)
    x, cadus, tx = send(link, modem, make_packets(rng, 10), preamble_bits=1000)
    assert len(tx.marks) == len(cadus) // link.cadu_length
    # CADU k starts at bit 1000 + k * 2048 * 8 of the stream, whose symbol peaks 8 symbols
    # (half the pulse) into the sample stream
    for m in tx.marks:
        assert m.samples == link.cadu_length * 8 * 4
        assert m.sample == (1000 + m.index * link.cadu_length * 8 + 8) * 4


def test_bad_modem_settings_raise_errors_that_name_them():
    with pytest.raises(ValueError, match="roll-off"):
        Modulator("bpsk", 4.0, rolloff=0.1)
    with pytest.raises(ValueError, match="unknown modulation"):
        Modulator("8psk", 4.0)
    with pytest.raises(ValueError, match="outside the supported range"):
        Demodulator("bpsk", 100.0, 1e6)
    with pytest.raises(ValueError, match="whole subcarrier cycles"):
        Demodulator("pcm-psk-pm", 64.0, 128e3, subcarrier_hz=15e3)
    m = Modulator("bpsk", 4.0)
    m.flush()
    with pytest.raises(CoreError) as err:
        m.modulate(np.ones(8, np.uint8))
    assert err.value.status.name == "STATE"


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_encode_modulate_and_decode_demodulate_round_trip(tmp_path, rng):
    packets = make_packets(rng, 60)
    (tmp_path / "p.bin").write_bytes(packets)
    base = tmp_path / "sig"
    r = lunarelay("encode", str(tmp_path / "p.bin"), "-o", str(base), "--modulate", "qpsk", "--conv", "1/2",
                  "--ebn0", "5", "--cfo", "2500", "--phase", "0.7", "--format", "ci16")
    assert r.returncode == 0, r.stderr
    meta = json.loads((tmp_path / "sig.sigmf-meta").read_text())
    assert meta["global"]["core:datatype"] == "ci16_le"
    assert meta["global"]["lunarelay:modulation"] == "qpsk"
    cadus = [a for a in meta["annotations"] if "lunarelay:cadu" in a]
    assert len(cadus) >= 10 and cadus[0]["core:sample_start"] > 0
    r = lunarelay("decode", str(base), "--demodulate", "qpsk", "--conv", "1/2",
                  "-o", str(tmp_path / "out.bin"), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (tmp_path / "out.bin").read_bytes() == packets
    assert summary["frames"]["frames"] == len(cadus)
    assert summary["modem"]["locked"] and abs(summary["modem"]["freq_offset_hz"] - 2500) < 50
    assert abs(summary["modem"]["ebn0_db"] - 5.0) < 1.0


def test_encode_tc_modulates_cltus_and_decode_returns_the_frames(tmp_path, rng):
    cfg = tc.TcConfig(scid=0x1AB, vcid=1)
    frames = [tc.build_frame(cfg, rng.integers(0, 256, 60, dtype=np.uint8).tobytes(), frame_seq_num=i)
              for i in range(6)]
    (tmp_path / "f.bin").write_bytes(b"".join(frames))
    r = lunarelay("encode", "--tc", str(tmp_path / "f.bin"), "-o", str(tmp_path / "up"), "--modulate",
                  "pcm-psk-pm", "--symbol-rate", "2000", "--fs", "128000", "--esn0", "14", "--cfo", "300")
    assert r.returncode == 0, r.stderr
    r = lunarelay("decode", "--tc", str(tmp_path / "up"), "--demodulate", "pcm-psk-pm",
                  "--symbol-rate", "2000", "-o", str(tmp_path / "back.bin"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.bin").read_bytes() == b"".join(frames)


@pytest.mark.parametrize("args, message", [
    (["--modulate", "bpsk", "--sps", "1.5"], "below 2"),
    (["--modulate", "bpsk", "--rolloff", "0.7"], "--rolloff"),
    (["--modulate", "pcm-psk-pm"], "PCM/PSK/PM carries the uplink"),
    (["--modulate", "bpsk", "--fs", "4e6", "--sps", "3"], "give two of the three"),
    (["--modulate", "bpsk", "--outage", "1"], "START:DURATION"),
])
def test_encode_modulate_usage_errors_name_the_option(tmp_path, args, message):
    (tmp_path / "p.bin").write_bytes(build_packet(0x10, b"x" * 20))
    r = lunarelay("encode", str(tmp_path / "p.bin"), "-o", str(tmp_path / "o"), *args)
    assert r.returncode == 2
    assert message in r.stderr.strip().splitlines()[-1]  # one line names the option


@pytest.mark.slow
def test_modem_bench_times_lunarelay_decode_as_a_process_against_the_same_decode_in_process():
    from lunarelay_tools.bench import modem

    (figure,) = modem._cli_figures(quick=True)       # it raises if either path loses a packet
    assert figure.name.startswith("lunarelay decode --demodulate") and figure.unit == "Mbit/s"
    assert figure.value > 0 and figure.baseline_value > figure.value      # a process also starts up
