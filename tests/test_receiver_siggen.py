"""`lunarelay receive` on `lunarelay siggen --nav-data lsis` recordings: every node acquired and tracked to
its annotated Doppler and code phase, its tiered pilot code synchronised, its frame decoded equal to
what the node sent with good CRC-24Q, its transmit time read to a metre; and the same recording
converted to LSISIQ decodes identically."""

import json

import numpy as np
import pytest

from hil import scenario_signal
from hil.receiver import afs
from hil.receiver.receiver import Receiver, ReceiverConfig
from hil.receiver.source import open_recording
from lunarelay_tools import cli
from onboard.links.sigmf import read_truths
from onboard.nav import lsis_formats

FS = 3.5e6
PRNS = (1, 2, 3, 4)
DOPPLERS = (3210.0, -2500.0, 150.0, -8800.0)
DURATION_S = 12.2  # one whole frame: siggen's nodes start a frame within the first epoch


def run_cli(*args: str) -> int:
    return cli.main(list(args))


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    base = tmp_path_factory.mktemp("receive") / "nodes"
    rc = run_cli("siggen", "--signal", "afs", "--prn", ",".join(map(str, PRNS)),
                 "--doppler=" + ",".join(map(str, DOPPLERS)), "--cn0", "45", "--fs", str(FS),
                 "--format", "ci8", "--duration", str(DURATION_S), "--nav-data", "lsis", "--seed", "21",
                 "--quiet", "-o", str(base))
    assert rc == 0
    return base


@pytest.fixture(scope="module")
def received(recording):
    events = []
    source = open_recording(recording)
    summary = Receiver(source, ReceiverConfig(), on_event=events.append).run()
    return source, summary, events


def truth_of(recording) -> dict:
    return {t.prn: t for t in read_truths(recording) if t.signal == "afs-i"}


@pytest.mark.slow
def test_every_node_is_tracked_to_its_annotated_doppler_and_cn0(recording, received):
    source, summary, events = received
    assert source.prns == PRNS  # the recording's annotations name what to search
    truth = truth_of(recording)
    assert sorted(ch.prn for ch in summary.channels) == list(PRNS)
    for ch in summary.channels:
        assert ch.pilot and ch.stage.value == "pilot"
        assert abs(ch.acquisition.doppler_hz - truth[ch.prn].doppler_hz) < 30.0
        assert abs(ch.channel.carrier_hz - truth[ch.prn].doppler_hz) < 1.0
        assert ch.cn0_dbhz == pytest.approx(truth[ch.prn].cn0_dbhz, abs=2.0)  # 42 dB-Hz per component
        assert ch.frame_phase == 0  # siggen's nodes start their frame with the recording
    kinds = [e.kind for e in events]
    for kind in ("acquired", "locked", "synchronised", "frame"):
        assert kinds.count(kind) == len(PRNS), kind


@pytest.mark.slow
def test_each_frame_is_what_the_node_sent_and_its_crcs_pass(received):
    _source, summary, _events = received
    frames = {f.prn: f for f in summary.frames}
    assert sorted(frames) == list(PRNS)
    for prn, frame in frames.items():
        node = scenario_signal.node_for_prn(prn)
        assert frame.decode.crc_ok == (True, True, True)
        assert frame.decode.sync_metric > 0.9
        assert frame.decode.time.seconds == node.first_frame_s
        sent = node.frame_content(node.first_frame_s).data_bits()
        np.testing.assert_array_equal(frame.decode.data_bits, sent)


@pytest.mark.slow
def test_transmit_times_match_the_annotated_code_phase_to_a_metre(recording, received):
    _source, summary, _events = received
    truth = truth_of(recording)
    for ch in summary.channels:
        t = truth[ch.prn]
        node = scenario_signal.node_for_prn(ch.prn)
        for sample in (2.0 * FS, 7.5 * FS, 11.9 * FS):
            tau, doppler = ch.transmit_time(sample, node.first_frame_s)
            # siggen: sample 0 left the node code_phase_chips AFS-I chips after its first frame began.
            want = (t.code_phase_chips + sample * t.code_rate_cps / FS) / 1.023e6
            assert abs(tau - want) * afs.SPEED_OF_LIGHT_M_S < 1.0
            assert abs(doppler - t.doppler_hz) < 1.0


@pytest.mark.slow
def test_the_command_writes_the_frames_as_json_lines(recording, tmp_path):
    frames_path = tmp_path / "frames.jsonl"
    rc = run_cli("receive", str(recording), "-o", str(tmp_path / "fixes.jsonl"), "--frames", str(frames_path),
                 "--quiet")
    assert rc == 0
    rows = [json.loads(line) for line in frames_path.read_text().splitlines()]
    assert sorted(r["prn"] for r in rows) == list(PRNS)
    for r in rows:
        node = scenario_signal.node_for_prn(r["prn"])
        sent = node.frame_content(node.first_frame_s).data_bits()
        assert r["crc_ok"] == [True, True, True] and r["time_s"] == node.first_frame_s
        assert r["data_bits_hex"] == np.packbits(sent).tobytes().hex()


@pytest.mark.slow
def test_the_recording_converted_to_lsisiq_decodes_identically(recording, received, tmp_path):
    source = open_recording(recording)
    iq_path = tmp_path / "nodes.iq"
    with lsis_formats.IqWriter(iq_path, lsis_formats.IqHeader(FS, source.total_samples / FS, PRNS[0])) as w:
        while (block := source.read(1 << 20)).size:
            w.write((block[0::2] + 1j * block[1::2].astype(np.float32)).astype(np.complex64))
    lsis = open_recording(iq_path)
    assert lsis.fmt.name == "CF32" and lsis.prns == (PRNS[0],)
    again = Receiver(lsis, ReceiverConfig(prns=PRNS)).run()
    _source, first, _events = received
    assert [ch.prn for ch in again.channels] == [ch.prn for ch in first.channels]
    for a, b in zip(first.channels, again.channels, strict=True):
        assert a.acquisition == b.acquisition
        assert a.channel.carrier_hz == b.channel.carrier_hz  # bit for bit: the same samples, as floats
        assert a.channel.code_phase_chips == b.channel.code_phase_chips
    for a, b in zip(first.frames, again.frames, strict=True):
        assert (a.prn, a.start_epoch, a.decode.crc_ok) == (b.prn, b.start_epoch, b.decode.crc_ok)
        np.testing.assert_array_equal(a.decode.data_bits, b.decode.data_bits)


@pytest.mark.slow
def test_the_receive_bench_reports_end_to_end_speed_and_kernel_ratios():
    from lunarelay_tools.bench import receive as bench

    results = bench.run(quick=True)
    names = [m.name for m in results]
    # siggen's geometry: the default constellation's four nodes in view, and eight for the target.
    assert names[0].startswith("receive 4 nodes end to end (4 in view from the default constellation)")
    assert names[1].startswith("receive 8 nodes end to end (8 in view") and "[target >= 2x]" in names[1]
    for end_to_end in results[:2]:
        assert end_to_end.baseline_value == 12.0 and end_to_end.unit == "Msps" and end_to_end.value > 0
    kernels = [m for m in results if m.name.startswith("tracking kernel")]
    assert [m.baseline.split(" ")[0] for m in kernels] == ["scalar", "scalar", "numpy"]
    assert all(m.value > 0 and m.baseline_value > 0 for m in kernels)  # figures, not a timing verdict
