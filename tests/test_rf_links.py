"""The links as IQ samples inside a run: scenario fields, the IQ stream API, the uplink's CLTU
alignment, the PCM/PSK/PM demodulator's symbol timing, the modules' housekeeping, and
``lunarelay emulate`` with both links modulated (``onboard/scenarios/rf-links.toml``).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pytest

from hil.ground.chain import tc_frames_to_cltus
from hil.ground.rf import (
    DownlinkRfLink,
    TmModemReceiver,
    UplinkModemTransmitter,
    UplinkRfLink,
    cltus_to_iq,
    iq_to_tm,
    link_channel,
)
from hil.rf_channel import RfChannel, orbit_doppler_hz
from onboard.ccsds.chain import TmSendChain
from onboard.ccsds.rf import (
    IDLE_PATTERN,
    ModemConfig,
    UplinkModemReceiver,
    cadus_to_iq,
    iq_to_tc_frames,
)
from onboard.core import tc
from onboard.core.modem import Scheme
from onboard.core.spp import build_packet
from onboard.modules.downlink import link_config
from onboard.scenario import ScenarioError, channel_symbol_rate, load_scenario, parse_scenario
from tests.test_scenario import MINIMAL, ORBIT

RF_LINKS = "onboard/scenarios/rf-links.toml"


def tc_frames(rng, n: int, length: tuple[int, int] = (10, 120)) -> list[bytes]:
    cfg = tc.TcConfig(scid=0x1AB, vcid=1)
    return [tc.build_frame(cfg, rng.integers(0, 256, int(rng.integers(*length)), dtype=np.uint8).tobytes(),
                           frame_seq_num=i) for i in range(n)]


# ---- scenario fields ---------------------------------------------------------------------------
def test_the_shipped_rf_scenario_modulates_both_links_at_the_rate_its_frames_take():
    sc = load_scenario(RF_LINKS)
    dl, up = sc.downlink.rf, sc.uplink.rf
    assert dl.modulation == "bpsk" and up.modulation == "pcm-psk-pm"
    # 259-octet CADUs (223 + 32 RS + 4 ASM), rate 1/2, 10 a second: 41 440 BPSK symbols/s
    assert dl.symbol_rate == pytest.approx(259 * 8 * 2 * 10)
    assert dl.doppler == "orbit" and up.subcarrier_hz == 16000.0
    assert load_scenario().downlink.rf is None and load_scenario().uplink.rf is None


def rf_error(downlink: str = "", uplink: str = "", orbit: bool = True) -> str:
    text = MINIMAL.replace("frame_length = 1115", "frame_length = 223") + (ORBIT if orbit else "")
    text += f"\n[downlink]\nrs_interleave = 1\n{downlink}\n[uplink]\n{uplink}\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "s.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("s.toml:")
    return message


@pytest.mark.parametrize("downlink, uplink, orbit, field, why", [
    ('modulation = "bpsk"\nsymbol_rate = 1e6', "", True, "downlink.symbol_rate", "does not match the 20720"),
    ('modulation = "8psk"', "", True, "downlink.modulation", "is not one of"),
    ('modulation = "bpsk"\ndoppler = "orbit"', "", False, "downlink.doppler", "needs the relay's orbit"),
    ('modulation = "bpsk"\nesn0_db = 5.0\nebn0_db = 4.0', "", True, "downlink.ebn0_db", "not both"),
    ('modulation = "bpsk"\nsubcarrier_hz = 16000.0', "", True, "downlink.subcarrier_hz", "no subcarrier"),
    ('esn0_db = 5.0', "", True, "downlink.esn0_db", "set modulation too"),
    ("", 'modulation = "bpsk"', True, "uplink.modulation", "is not one of"),
    ("", 'modulation = "pcm-psk-pm"\nsubcarrier_hz = 12000.0', True, "uplink.subcarrier_hz", "is not one of"),
    ("", 'modulation = "pcm-psk-pm"\nsymbol_rate = 3000.0', True, "uplink.symbol_rate", "whole number"),
    ("", 'modulation = "pcm-psk-pm"\nsamples_per_symbol = 16.0', True, "uplink.samples_per_symbol",
     "at least 4 per cycle"),
    ("", 'modulation = "pcm-psk-pm"\ncfo_hz = nan', True, "uplink.cfo_hz", "not a finite number"),
])
def test_modulated_link_fields_are_checked_naming_the_field(downlink, uplink, orbit, field, why):
    message = rf_error(downlink, uplink, orbit)
    assert f" {field}: " in message and why in message, message


def test_channel_symbol_rate_counts_the_asm_rs_check_octets_and_the_code():
    assert channel_symbol_rate(1115, 5, None, "bpsk", 10.0) == (4 + 1275) * 8 * 10
    assert channel_symbol_rate(1115, 5, "1/2", "qpsk", 10.0) == (4 + 1275) * 8 * 10
    assert channel_symbol_rate(100, 0, "7/8", "bpsk", 1.0) == pytest.approx(104 * 8 * 8 / 7)


def test_orbit_doppler_follows_the_relays_velocity_towards_earth():
    sc = load_scenario(RF_LINKS)
    f = orbit_doppler_hz(sc.relays[0].orbit, 2.2e9)
    # a quarter period from perilune of the 0.6-eccentric frozen orbit: about 2 kHz at S band,
    # moving by well under the loop's reach in a second
    assert 1000.0 < abs(f(0.0)) < 5000.0
    assert abs(f(1.0) - f(0.0)) < 5.0


# ---- the IQ stream API -------------------------------------------------------------------------
def test_cadu_stream_to_iq_and_back_gives_every_frame_through_noise_and_doppler(rng):
    link = link_config(0x2A1, 223, 1, "1/2", True)
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=41440.0)
    chain = TmSendChain(link)
    packets = b"".join(build_packet(0x123, rng.integers(0, 256, 150, dtype=np.uint8).tobytes(), seq_count=i)
                       for i in range(60))
    cadus = np.concatenate([chain.packets_to_cadus(packets), chain.flush()])
    preamble = np.concatenate([chain.frames_to_cadus(np.zeros((20, 223), np.uint8))])  # fill to acquire on
    step = 5 * link.cadu_length
    blocks = [preamble] + [cadus[i:i + step] for i in range(0, cadus.size, step)]
    iq = list(cadus_to_iq(link, modem, blocks))
    assert all(b.fs_hz == modem.fs_hz for b in iq)
    assert [m.index for b in iq for m in b.marks] == list(range(cadus.size // link.cadu_length + 20))
    assert iq[1].first_sample == iq[0].samples.size
    channel = RfChannel(modem.fs_hz, sps=4.0, code_rate=0.5, ebn0_db=5.0, cfo_hz=150.0,
                        doppler_hz=lambda t: 2000.0 + 0.3 * t, seed=3)
    outs = list(iq_to_tm(link, modem, (channel.process(b.samples) for b in iq)))
    got = b"".join(o.packets for o in outs)
    assert packets in got


def test_cltu_stream_to_iq_and_back_gives_every_frame(rng):
    frames = tc_frames(rng, 8)
    modem = ModemConfig(Scheme.PCM_PSK_PM, 64.0, symbol_rate=2000.0, subcarrier_hz=16e3)
    blocks = list(cltus_to_iq(modem, [[tc_frames_to_cltus([f])] for f in frames]))
    assert [m.index for b in blocks for m in b.marks] == list(range(8))
    channel = RfChannel(modem.fs_hz, sps=64.0, esn0_db=14.0, cfo_hz=300.0, seed=2)
    got = [f for out in iq_to_tc_frames(modem, (channel.process(b.samples) for b in blocks)) for f in out]
    assert got == frames


# ---- the uplink's alignment --------------------------------------------------------------------
def plop2_stream(cltus: list[bytes], idle_octets: int = 3) -> list[np.ndarray]:
    """The bits of each CLTU with the idle sequence before it, acquisition first."""
    parts = [np.unpackbits(np.frombuffer(bytes([IDLE_PATTERN]) * 16, np.uint8))]
    for c in cltus:
        parts.append(np.unpackbits(np.frombuffer(bytes(c) + bytes([IDLE_PATTERN]) * idle_octets, np.uint8)))
    return parts


@pytest.mark.parametrize("slip", ["bit dropped", "bit inserted", "polarity flipped"])
def test_uplink_receiver_realigns_on_every_cltu_start_after_a_slip(rng, slip):
    frames = tc_frames(rng, 6)
    parts = plop2_stream([tc_frames_to_cltus([f]) for f in frames], idle_octets=2)
    # the slip happens inside the third CLTU (parts[3]): that one is lost, the rest must come
    p = parts[3]
    middle = p.size // 2
    if slip == "bit dropped":
        parts[3] = np.delete(p, middle)
    elif slip == "bit inserted":
        parts[3] = np.insert(p, middle, 1)
    else:                                        # a 180 degree cycle slip of the subcarrier loop
        parts[3] = np.concatenate([p[:middle], p[middle:] ^ 1])
        parts[4:] = [q ^ 1 for q in parts[4:]]
    rx = UplinkModemReceiver(ModemConfig(Scheme.PCM_PSK_PM, 64.0, symbol_rate=2000.0, subcarrier_hz=16e3))
    bits = np.concatenate(parts + [parts[-1][-16:]] * 4)      # idle after the last CLTU
    got = []
    for at in range(0, bits.size, 333):          # pieces that cut start sequences and CLTUs anywhere
        got += rx.push_bits(bits[at:at + 333])
    assert got == frames[:2] + frames[3:]
    assert rx.starts_found == 6 and rx.realigned == 1
    assert rx.slips == (slip == "polarity flipped")


def test_a_start_sequence_inside_a_cltu_does_not_move_the_alignment(rng):
    # a codeblock holding 0xEB90 (not after idle sequence) is data, not a new CLTU
    frame = tc.build_frame(tc.TcConfig(scid=0x1AB, vcid=1), b"\xeb\x90" * 20, frame_seq_num=0)
    parts = plop2_stream([tc_frames_to_cltus([frame], randomize=False)] * 2)
    rx = UplinkModemReceiver(ModemConfig(Scheme.PCM_PSK_PM, 64.0, symbol_rate=2000.0, subcarrier_hz=16e3),
                             randomize=False)
    got = rx.push_bits(np.concatenate(parts + parts[:1]))
    assert got == [frame, frame] and rx.starts_found == 2 and rx.realigned == 0


# ---- PCM/PSK/PM symbol timing ------------------------------------------------------------------
def pm_ber(modem: ModemConfig, esn0_db: float, skip: int, n_bits: int = 20000) -> tuple[float, int]:
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, n_bits, dtype=np.uint8)
    tx = UplinkModemTransmitter(modem, carrier_only_s=0.05)
    x = np.concatenate([tx.send_cltus([]), tx._mod.modulate(bits), tx.idle(8)])
    y = RfChannel(modem.fs_hz, sps=modem.sps, esn0_db=esn0_db, cfo_hz=200.0, phase_cycles=0.3,
                  seed=5).process(x)[skip:]
    demod = modem.demodulator()
    hard = (demod.demodulate(y) > 0).astype(np.int8) * 2 - 1
    ref = bits[2000:2256].astype(np.int8) * 2 - 1
    corr = np.correlate(hard[:6000].astype(np.float32), ref.astype(np.float32), "valid")
    at = int(np.argmax(np.abs(corr)))
    sign = np.sign(corr[at])
    n = min(n_bits - 2000, hard.size - at)
    errors = int(np.sum(hard[at:at + n] * sign != bits[2000:2000 + n].astype(np.int8) * 2 - 1))
    return errors / n, hard.size


@pytest.mark.parametrize("symbol_rate, subcarrier_hz, sps", [(4000.0, 16e3, 32.0), (1000.0, 8e3, 64.0)])
@pytest.mark.parametrize("quarter_cycles", [0, 1, 2, 3])
def test_pcm_psk_pm_bit_error_rate_is_within_half_a_db_of_theory_whichever_half_cycle_it_locks_on(
        symbol_rate, subcarrier_hz, sps, quarter_cycles):
    # 4 and 8 subcarrier cycles per symbol; the stream starts a quarter cycle further each time, so
    # the subcarrier loop locks at 0 or 180 degrees (symbol edges at the start or the middle of
    # its cycles).  Near threshold, Es/N0 10 dB: the data ride on the subcarrier's fundamental,
    # 2 J1(1)^2 of the power at a modulation index of 1 rad.
    modem = ModemConfig(Scheme.PCM_PSK_PM, sps, symbol_rate=symbol_rate, subcarrier_hz=subcarrier_hz)
    samples_per_cycle = modem.fs_hz / subcarrier_hz
    ber, n_symbols = pm_ber(modem, 10.0, round(quarter_cycles * samples_per_cycle / 4))
    share = 2 * 0.4400505857 ** 2

    def theory(esn0_db: float) -> float:
        return 0.5 * math.erfc(math.sqrt(10 ** (esn0_db / 10) * share))

    # a symbol gained or lost (the timing flipping between two alignments) would put every bit
    # after it out of place: the rate would be near 1/2
    assert ber < theory(10.0 - 0.5), (ber, theory(10.0))
    assert n_symbols >= 20000


def test_uplink_through_an_outage_decodes_every_cltu_sent_in_view(rng):
    sc = load_scenario(RF_LINKS)
    modem = ModemConfig.from_spec(sc.uplink.rf)
    cfg = tc.TcConfig(scid=0x1AB, vcid=1)
    now = [0.0]
    got: list[bytes] = []
    rx = UplinkModemReceiver(modem)
    link = UplinkRfLink(modem, link_channel(sc.uplink.rf, modem), lambda: now[0],
                        lambda octets: got.extend(rx.push_samples(np.frombuffer(octets, np.complex64))))
    sent = []
    for k in range(600):
        now[0] = k * 0.1
        in_view = not 20.0 <= now[0] < 35.0
        if k % 10 == 3 and in_view:
            data = rng.integers(0, 256, 60, dtype=np.uint8).tobytes()
            frame = tc.build_frame(cfg, data, frame_seq_num=k % 256)
            sent.append(frame)
            link.send(tc_frames_to_cltus([frame]))
        link.pump(in_view)
    # the first CLTU after the outage may go while the receiver acquires again
    assert len(sent) == 45 and got[:20] == sent[:20] and sent[21:] == got[-len(sent[21:]):]
    assert rx.status().locked and rx.status().acquisitions >= 2


def test_downlink_rf_link_hears_noise_out_of_view_and_acquires_again(rng):
    link = link_config(0x2A1, 223, 1, None, True)
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=20720.0)
    chain = TmSendChain(link)
    frames = rng.integers(0, 256, (300, 223), dtype=np.uint8)
    frames[:, 0], frames[:, 1] = 0x2A, 0x10
    cadus = [chain.frames_to_cadus(frames[i:i + 10]) for i in range(0, 300, 10)]
    blocks = list(cadus_to_iq(link, modem, cadus))
    rf = DownlinkRfLink(link, modem, RfChannel(modem.fs_hz, sps=4.0, esn0_db=8.0, cfo_hz=500.0, seed=1))
    received = 0
    for k, b in enumerate(blocks):
        out = rf.push(b.samples.tobytes(), in_view=not 10 <= k < 15)
        received += len(out.frames)
    # 50 frames were sent out of view; a few more go while the loop acquires again
    assert 240 <= received <= 250 and rf.status().locked and rf.status().acquisitions >= 2


# ---- housekeeping ------------------------------------------------------------------------------
def test_the_demodulators_counters_are_in_the_uplinks_housekeeping_layout():
    from hil.ground.housekeeping import hk_layout

    names = dict(hk_layout("uplink"))
    assert names["demod_locked"] == "B" and names["demod_esn0_db"] == "f" and names["cltu_realigned"] == "I"
    for field in ("demod_acquisitions", "demod_cycle_slips", "demod_ebn0_db", "demod_freq_offset_hz"):
        assert field in names
    assert dict(hk_layout("downlink"))["iq_samples"] == "Q"


def test_inspect_decodes_the_uplinks_demodulator_fields_by_the_registry():
    from lunarelay_tools.inspect.dictionaries import project_dictionary

    hk = next(t for t in project_dictionary().types if t.name == "uplink.hk")
    fields = {f.name: f for f in hk.fields}
    assert fields["demod_esn0_db"].kind == "float" and fields["demod_esn0_db"].bit_length == 32
    assert fields["demod_locked"].bit_length == 8
    # the last field ends where the module's packet does
    assert fields["cltu_realigned"].bit_offset + 32 == max(f.bit_offset + f.bit_length for f in hk.fields)


# ---- the run -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_emulate_runs_both_links_as_samples_and_every_check_passes(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "emulate", RF_LINKS, "--quiet",
                             "--cadu-file", str(tmp_path / "run.cadu"), "--nav-dir", str(tmp_path / "afs")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    checks = re.findall(r"^  (pass|FAIL)  (\S+)", result.stdout, re.M)
    assert checks and all(state == "pass" for state, _ in checks), result.stdout
    assert "0 lost" in result.stdout


# ---- cycle slips, from the frames ----------------------------------------------------------------
@pytest.mark.parametrize("scheme, conv, jump_deg", [("bpsk", None, 180.0), ("bpsk", "1/2", 180.0),
                                                    ("qpsk", None, 90.0), ("qpsk", None, 180.0),
                                                    ("qpsk", "1/2", -90.0)])
def test_cycle_slips_are_counted_from_the_frames_for_injected_phase_jumps(rng, scheme, conv, jump_deg):
    link = link_config(0x2A1, 223, 1, conv, True)
    modem = ModemConfig(Scheme.parse(scheme), 4.0, symbol_rate=1e6)
    chain = TmSendChain(link)
    frames = rng.integers(0, 256, (160, 223), dtype=np.uint8)
    frames[:, 0], frames[:, 1] = 0x2A, 0x10
    x = np.concatenate([b.samples for b in cadus_to_iq(link, modem, [chain.frames_to_cadus(frames)])])
    esn0_db = 12.0 if conv is None else 6.0
    y = RfChannel(modem.fs_hz, sps=4.0, esn0_db=esn0_db, cfo_hz=2000.0, phase_cycles=0.2,
                  seed=9).process(x)
    # three jumps of the carrier's phase, at 30 %, 55 % and 80 % of the stream
    for at in (0.3, 0.55, 0.8):
        y[int(at * y.size):] *= np.complex64(np.exp(1j * np.radians(jump_deg)))
    rx = TmModemReceiver(link, modem)
    received = sum(len(rx.push_samples(y[i:i + 50_000]).frames) for i in range(0, y.size, 50_000))
    received += len(rx.flush().frames)
    assert rx.status().cycle_slips == 3, (rx.status(), rx.loop_cycle_slips)
    assert received >= 160 - 3 * (TmModemReceiver.RESEARCH_CADUS + 3)


def test_a_clean_stream_shows_no_cycle_slip_and_keeps_one_reading(rng):
    link = link_config(0x2A1, 223, 1, "1/2", True)
    modem = ModemConfig(Scheme.QPSK, 4.0, symbol_rate=1e6)
    chain = TmSendChain(link)
    frames = rng.integers(0, 256, (100, 223), dtype=np.uint8)
    frames[:, 0], frames[:, 1] = 0x2A, 0x10
    x = np.concatenate([b.samples for b in cadus_to_iq(link, modem, [chain.frames_to_cadus(frames)])])
    y = RfChannel(modem.fs_hz, sps=4.0, esn0_db=6.0, cfo_hz=-3000.0, phase_cycles=0.7, seed=2).process(x)
    rx = TmModemReceiver(link, modem)
    received = sum(len(rx.push_samples(y[i:i + 40_000]).frames) for i in range(0, y.size, 40_000))
    received += len(rx.flush().frames)
    assert received >= 98 and rx.status().cycle_slips == 0 and rx.searches == 0
    assert len(rx._readings) == 1


def test_three_cadus_in_a_row_with_a_broken_asm_still_come_out_by_their_reed_solomon_codewords(rng):
    # Near the concatenated code's threshold the Viterbi decoder's error bursts can hit the ASM of
    # a few CADUs in a row while their codewords still decode: the locked synchroniser delivers
    # them at the expected place and RS decides (a frame is not lost for its marker alone).
    link = link_config(0x2A1, 223, 1, None, True)
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=1e6)
    frames = rng.integers(0, 256, (20, 223), dtype=np.uint8)
    frames[:, 0], frames[:, 1] = 0x2A, 0x10
    cadus = TmSendChain(link).frames_to_cadus(frames).reshape(20, -1).copy()
    cadus[8:11, :4] ^= np.array([0xFF, 0x0F, 0x00, 0xF0], np.uint8)     # 16 of 32 ASM bits wrong
    soft = np.unpackbits(cadus.reshape(-1)).astype(np.float32) * 2.0 - 1.0
    rx = TmModemReceiver(link, modem)
    out = rx.push_soft(soft)
    assert len(out.frames) + len(rx.flush().frames) == 20
    assert rx.stats()["sync_losses"] == 0


@pytest.mark.parametrize("lost", [1, 2, 3])
@pytest.mark.parametrize("piece", [4001, 4144, 6000])
def test_a_lost_symbol_is_decoded_again_whatever_the_pairing_of_the_symbols_before_it(rng, piece, lost):
    # After an outage the demodulator may give the code's symbols paired either way.  The kept
    # reading, which went quiet, pairs them as it did; the fresh reading searched beside it must
    # pair them the other way, however many symbols (odd or even) the kept one had taken.
    link = link_config(0x2A1, 223, 1, "1/2", True)
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=1e6)
    frames = rng.integers(0, 256, (60, 223), dtype=np.uint8)
    frames[:, 0], frames[:, 1] = 0x2A, 0x10
    send = TmSendChain(link)
    sym = send.cadus_to_symbols(send.frames_to_cadus(frames), final=True)
    soft = (sym.astype(np.float32) - 127.5) / 127.5
    cut = 30 * soft.size // 60 + 101                        # within the 31st CADU
    soft = np.concatenate([soft[:cut], soft[cut + lost:]])  # symbols lost at a re-acquisition
    rx = TmModemReceiver(link, modem)
    received = sum(len(rx.push_soft(soft[i:i + piece]).frames) for i in range(0, soft.size, piece))
    received += len(rx.flush().frames)
    assert received >= 57 and rx.searches >= 1


def _clocked_downlink(rng, n_blocks: int):
    """Blocks of ten CADUs as IQ (a second each) and a DownlinkRfLink whose emulated clock is
    ``now[0]``."""
    link = link_config(0x2A1, 223, 1, None, True)
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=20720.0)
    chain = TmSendChain(link)
    frames = rng.integers(0, 256, (10 * n_blocks, 223), dtype=np.uint8)
    frames[:, 0], frames[:, 1] = 0x2A, 0x10
    blocks = list(cadus_to_iq(link, modem, [chain.frames_to_cadus(frames[i:i + 10])
                                            for i in range(0, 10 * n_blocks, 10)]))
    now = [0.0]
    rf = DownlinkRfLink(link, modem, RfChannel(modem.fs_hz, sps=4.0, esn0_db=8.0, cfo_hz=500.0, seed=1),
                        clock=lambda: now[0])
    came = np.cumsum([b.samples.size for b in blocks]) / modem.fs_hz     # when each block is whole
    return rf, blocks, came, now


def test_downlink_rf_link_hears_noise_where_its_stream_fell_silent_and_acquires_again(rng):
    rf, blocks, came, now = _clocked_downlink(rng, 30)
    received = 0
    for k, b in enumerate(blocks):
        now[0] = came[k]
        if 10 <= k < 15:
            rf.heard_nothing()          # the radio went away: these blocks were never sent
            continue
        received += len(rf.push(b.samples.tobytes()).frames)
    status = rf.status()
    assert rf.silences == 1
    # the silence is heard as noise for the time it lasted (one block's time is within the slack)
    assert abs(rf.silent_samples - sum(b.samples.size for b in blocks[10:15])) <= blocks[10].samples.size
    assert 240 <= received <= 250 and status.locked and status.acquisitions >= 2


def test_downlink_rf_link_read_late_is_not_taken_for_a_silence(rng):
    rf, blocks, came, now = _clocked_downlink(rng, 10)
    received = 0
    # every block was sent on time, but the reader was away while the fifth to the eighth queued:
    # it reads them one by one when it is back, each long after it came
    for k in range(10):
        now[0] = max(came[k], came[7]) if 4 <= k <= 7 else came[k]
        received += len(rf.push(blocks[k].samples.tobytes()).frames)
        if k not in (3, 4, 5, 6) and k < 9:
            now[0] = came[k + 1] - 0.01        # caught up: found the stream empty until the next
            rf.heard_nothing()
    assert rf.silences == 0 and rf.silent_samples == 0 and received >= 95


def test_downlink_rf_link_radio_late_with_its_slots_is_not_taken_for_a_silence(rng):
    rf, blocks, came, now = _clocked_downlink(rng, 10)
    received = 0
    # the radio's process was starved while its fifth to eighth blocks fell due; the reader found
    # the stream empty all that time, then they came at once, in one message
    for k in range(10):
        if k in (4, 5, 6):
            continue
        now[0] = came[k]
        data = b"".join(blocks[j].samples.tobytes() for j in ((4, 5, 6, 7) if k == 7 else (k,)))
        received += len(rf.push(data).frames)
        if k < 9:
            now[0] = came[k + 1 if k != 3 else 7] - 0.01
            rf.heard_nothing()
    assert rf.silences == 0 and rf.silent_samples == 0 and received >= 95
