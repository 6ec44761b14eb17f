"""A data-only AFS signal (AFS-I without its pilot, as a BPSK interop recording may be): the receiver
tracks the Gold code alone, finds the frame by its sync pattern, resolves the Costas loop's sign from
it, and decodes the frame the node sent."""

import numpy as np
import pytest

from hil import scenario_signal
from hil.receiver.receiver import Receiver, ReceiverConfig
from onboard.core import codes
from onboard.core.siggen import SampleFormat, Synthesizer
from onboard.core.track import SampleFormat as TrackFormat

FS = 2.5e6
PRN = 3
DOPPLER = -1875.0


class DataOnlySource:
    """ci8 blocks of one node's AFS-I with its frame symbols, 45 dB-Hz, made on demand."""

    def __init__(self, duration_s: float):
        self.fs_hz, self.fmt, self.if_hz, self.carrier_hz = FS, TrackFormat.CI8, 0.0, 2492.028e6
        self.name, self.problem, self.truth_fixed_m, self.prns = "data-only", None, None, (PRN,)
        self.total = int(duration_s * FS)
        self.position = 0
        signs = scenario_signal.epoch_signs(PRN, 7000)
        self.synth = Synthesizer(FS, seed=4, noise_sigma=1.0, scale=16.0)
        self.synth.add_channel(codes.afs_i(PRN), 1.023e6 * (1 + DOPPLER / 2492.028e6),
                               code_phase_chips=1000.0, doppler_hz=DOPPLER, carrier_phase_cycles=0.37,
                               cn0_dbhz=45.0, epoch_signs=signs)

    def read(self, n: int) -> np.ndarray:
        n = min(n, self.total - self.position)
        self.position += max(n, 0)
        if n <= 0:
            return np.zeros(0, np.int8)
        return self.synth.generate(n, SampleFormat.CI8).reshape(-1)

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_a_data_only_node_is_tracked_and_its_frame_found_by_the_sync_pattern():
    events = []
    summary = Receiver(DataOnlySource(12.3), ReceiverConfig(), on_event=events.append).run()
    (ch,) = summary.channels
    assert not ch.pilot and ch.stage.value == "tracking"
    assert abs(ch.channel.carrier_hz - DOPPLER) < 1.0
    node = scenario_signal.node_for_prn(PRN)
    (frame,) = summary.frames
    assert frame.decode.crc_ok == (True, True, True)
    assert frame.decode.time.seconds == node.first_frame_s
    np.testing.assert_array_equal(frame.decode.data_bits, node.frame_content(node.first_frame_s).data_bits())
    assert ch.frame_phase == 0 and ch.anchor == (0, float(node.first_frame_s))
    assert [e.kind for e in events] == ["acquired", "locked", "frame"]
