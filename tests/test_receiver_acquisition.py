"""The receiver's acquisition (hil/receiver/acquisition.py) on AFS nodes from the C synthesiser: the
Doppler and the epoch start of both codes, AFS-Q found next to AFS-I, a data-only node, and nothing
where no node is."""

import numpy as np
import pytest

from hil import scenario_signal as ss
from hil.receiver import acquisition as acq
from onboard.core import codes
from onboard.core.siggen import SampleFormat, Synthesizer

CARRIER = 2492.028e6


def node_samples(fs: float, prn: int, doppler: float, phase_i: float, seed: int = 1) -> np.ndarray:
    plan = ss.SignalPlan(fs, SampleFormat.CF32, 0.03, seed,
                         (ss.Transmitter("afs", prn, doppler, 45.0, code_phase_chips=phase_i),
                          ss.Transmitter("afs", prn % 200 + 7, -doppler / 2, 45.0, code_phase_chips=1000.0)),
                         nav_data="lsis")
    synth, _ = ss.build_synthesizer(plan)
    return synth.generate(int(0.02 * fs))


def true_epoch_start(fs: float, doppler: float, phase_i: float) -> float:
    rate = 1.023e6 * (1 + doppler / CARRIER)
    return (2046 - phase_i) * fs / rate


@pytest.mark.parametrize("fs, prn, doppler, phase", [(12e6, 3, 7321.0, 123.4), (10.23e6, 5, 1000.0, 30.2),
                                                     (4.2e6, 40, -9876.0, 2000.9), (3.5e6, 210, 55.0, 0.3)])
def test_doppler_and_epoch_start_of_both_codes_are_found(fs, prn, doppler, phase):
    x = node_samples(fs, prn, doppler, phase)
    got = acq.acquire(x, fs, prn)
    assert got.detected and got.pilot
    assert abs(got.doppler_hz - doppler) < 30.0  # inside the FLL's pull-in range
    n = acq.epoch_samples(fs)
    miss = (got.epoch_start_samples - true_epoch_start(fs, doppler, phase) + n / 2) % n - n / 2
    # Within the DLL's linear range: a quarter of an AFS-Q chip, even below two samples per chip.
    assert abs(miss) * 5.115e6 / fs < 0.25
    rate_q = 5.115e6 * (1 + doppler / CARRIER)
    assert got.code_phase_chips(10230, fs, 5.115e6) == pytest.approx(
        (-true_epoch_start(fs, doppler, phase) * rate_q / fs) % 10230, abs=0.5)


def test_a_node_that_is_not_there_is_not_found():
    x = node_samples(12e6, 3, 1000.0, 10.0)
    got = acq.acquire(x, 12e6, 4)
    assert not got.detected
    assert got.windows == 8  # it looked in every window before giving up


def test_a_data_only_signal_is_found_without_its_pilot(rng):
    fs = 6e6
    synth = Synthesizer(fs, seed=5, noise_sigma=1.0)
    symbols = rng.choice(np.array([-1, 1], np.int8), 20)
    synth.add_channel(codes.afs_i(9), 1.023e6 * (1 - 2000 / CARRIER), code_phase_chips=500.0,
                      doppler_hz=-2000.0, cn0_dbhz=45.0, epoch_signs=symbols)
    got = acq.acquire(synth.generate(int(0.02 * fs)), fs, 9)
    assert got.detected and not got.pilot
    n = acq.epoch_samples(fs)
    miss = (got.epoch_start_samples - true_epoch_start(fs, -2000.0, 500.0) + n / 2) % n - n / 2
    assert abs(miss) < fs / 1.023e6 / 4  # a quarter of an AFS-I chip, from the search grid alone


def test_too_short_a_buffer_is_refused():
    with pytest.raises(ValueError, match="at least"):
        acq.acquire(np.zeros(1000, np.complex64), 12e6, 1)


class RisingSource:
    """cf32 blocks of three AFS nodes of which PRN 9 is silent for the first ``rise_s`` seconds."""

    def __init__(self, fs: float, duration_s: float, rise_s: float):
        self.fs_hz, self.if_hz, self.carrier_hz = fs, 0.0, CARRIER
        self.fmt, self.name, self.problem, self.truth_fixed_m = SampleFormat.CF32, "rising", None, None
        self.prns, self.node_truth, self.metadata = (4, 9, 17), {}, {}
        nodes = ((4, 1200.0, 10.0), (9, -2500.0, 700.0), (17, 300.0, 1500.0))
        transmitters = tuple(ss.Transmitter("afs", p, d, 45.0, code_phase_chips=c) for p, d, c in nodes)
        plan = ss.SignalPlan(fs, SampleFormat.CF32, duration_s, 5, transmitters, nav_data="lsis")
        self.synth, _ = ss.build_synthesizer(plan)
        self.rising = [self.synth.channel(k) for k in (2, 3)]  # PRN 9's AFS-I and AFS-Q
        self.power = [c.amplitude for c in self.rising]
        for c in self.rising:
            c.amplitude = 0.0
        self.total, self.rise, self.position = int(duration_s * fs), int(rise_s * fs), 0

    def read(self, n: int) -> np.ndarray:
        n = min(n, self.total - self.position)
        if self.position < self.rise <= self.position + n:
            n = self.rise - self.position  # the node rises at a block's edge
        out = self.synth.generate(max(n, 0))
        self.position += max(n, 0)
        if self.position == self.rise:
            for c, a in zip(self.rising, self.power, strict=True):
                c.amplitude = a
        return out

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_a_node_that_rises_during_the_recording_is_acquired_at_the_next_search():
    from hil.receiver.receiver import Receiver, ReceiverConfig

    fs = 4.2e6
    events = []
    summary = Receiver(RisingSource(fs, 7.5, 2.5), ReceiverConfig(reacquire_s=2.0),
                       on_event=events.append).run()
    acquired = {e.prn: e.sample / fs for e in events if e.kind == "acquired"}
    assert acquired[4] == 0.0 and acquired[17] == 0.0
    # Searched again at 2 s (before it rose: not found), then at 4 s (in the last 20 ms of the block
    # that crosses it): found there, and followed.
    assert 4.0 - 0.02 < acquired[9] < 4.0 + (1 << 20) / fs
    locked = [e.sample / fs for e in events if e.kind == "locked" and e.prn == 9]
    synced = [e.sample / fs for e in events if e.kind == "synchronised" and e.prn == 9]
    assert locked and synced and acquired[9] < locked[0] < synced[0]
    rose = next(ch for ch in summary.channels if ch.prn == 9)
    assert rose.stage.value == "pilot" and abs(rose.channel.carrier_hz + 2500.0) < 1.0
    assert [ch.prn for ch in summary.channels] == [4, 17, 9]


def test_no_search_after_the_first_when_reacquisition_is_off():
    from hil.receiver.receiver import Receiver, ReceiverConfig

    fs = 4.2e6
    events = []
    summary = Receiver(RisingSource(fs, 2.5, 0.5), ReceiverConfig(reacquire_s=None, block_samples=1 << 18),
                       on_event=events.append).run()
    assert [ch.prn for ch in summary.channels] == [4, 17]
    assert all(e.sample == 0.0 for e in events if e.kind == "acquired")
