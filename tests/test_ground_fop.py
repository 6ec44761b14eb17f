"""The ground station's FOP-1 after an alert, against the onboard uplink chain in-process: what
the FARM accepted is never sent again, what it missed is sent again once (exactly-once
execution across lost acknowledgements and lost frames)."""

from __future__ import annotations

import time

from hil.ground.station import GroundStation
from onboard.ccsds.cop1 import FopState
from onboard.ccsds.sdls import Sdls
from onboard.modules.uplink import UplinkChain
from onboard.scenario import default_key_file


class Air:
    """Stands in for the uplink socket: keeps what the station transmits."""

    def __init__(self):
        self.cltus: list[bytes] = []

    def send(self, octets: bytes) -> None:
        self.cltus.append(octets)

    def close(self) -> None:
        pass


def station(tmp_path) -> tuple[GroundStation, Air]:
    st = GroundStation(f"ipc://{tmp_path}/up", f"ipc://{tmp_path}/down", t1_s=0.01, transmission_limit=2)
    st.cltu_out.close()
    st.cltu_out = air = Air()
    return st, air


def deliver(chain: UplinkChain, air: Air, lose: bool = False) -> list[bytes]:
    """Hand what is on the air to the onboard chain (or lose it); the packets it executes."""
    cltus, air.cltus = air.cltus, []
    if lose:
        return []
    return [o.packet for c in cltus for o in chain.cltus(c) if o.kind == "packet"]


def exchange(st: GroundStation, chain: UplinkChain, air: Air, rounds: int = 3) -> list[bytes]:
    """A working link for a few round trips: frames up, the FARM's CLCW back down."""
    executed = []
    for _ in range(rounds):
        st.poll(0)
        executed += deliver(chain, air)
        st.receive_clcw(chain.farm.clcw)
    return executed


def run_to_alert(st: GroundStation, chain: UplinkChain, air: Air, lose: bool) -> list[bytes]:
    executed = []
    deadline = time.monotonic() + 5.0
    while st.fop.state != FopState.INITIAL:
        assert time.monotonic() < deadline, "FOP-1 never raised its T1 alert"
        time.sleep(0.012)
        st.fop.tick()
        executed += deliver(chain, air, lose)
    return executed


def test_frames_the_farm_accepted_before_an_alert_are_not_sent_again(tmp_path):
    st, air = station(tmp_path)
    chain = UplinkChain(0x2A1, 0, Sdls.from_key_file(default_key_file()))
    sent = [st.packet("store", "REWIND")[0] for _ in range(3)]
    st.receive_clcw(chain.farm.clcw)
    st.poll(0)                                              # Unlock (BC) goes up
    executed = deliver(chain, air)
    st.receive_clcw(chain.farm.clcw)                        # the Unlock is confirmed
    st.queue.extend(sent)
    st.poll(0)
    executed += deliver(chain, air)
    assert executed == sent
    executed += run_to_alert(st, chain, air, lose=False)    # every CLCW lost from here: T1 runs out
    st.receive_clcw(chain.farm.clcw)                        # the first CLCW after the alert
    last, _ = st.packet("store", "REWIND")
    st.queue.append(last)
    executed += exchange(st, chain, air)
    assert executed == [*sent, last]
    assert st.confirmed_after_alert == 3 and st.requeued == 0


def test_frames_lost_before_an_alert_are_sent_again_and_executed_once(tmp_path):
    st, air = station(tmp_path)
    chain = UplinkChain(0x2A1, 0, Sdls.from_key_file(default_key_file()))
    st.receive_clcw(chain.farm.clcw)
    sent = [st.packet("store", "REWIND")[0] for _ in range(3)]
    assert exchange(st, chain, air, rounds=1) == []         # Unlock up and confirmed
    st.queue.extend(sent)
    st.poll(0)
    assert deliver(chain, air, lose=True) == []
    run_to_alert(st, chain, air, lose=True)
    st.receive_clcw(chain.farm.clcw)
    assert exchange(st, chain, air) == sent
    assert st.confirmed_after_alert == 0 and st.requeued == 3


def test_station_refuses_a_command_whose_protected_frame_would_exceed_1024_octets(tmp_path):
    import pytest

    from onboard.bus.registry import default_registry
    from onboard.commands import default_dictionary, parse_dictionary
    from onboard.core.tc import FrameError

    upload = parse_dictionary('[[command]]\nmodule = "flight_computer"\nname = "UPLOAD"\nopcode = 16\n'
                              'args = [{ name = "blob", type = "str", length = 1000 }]\n', "upload.toml",
                              set(default_registry().modules))
    st, air = station(tmp_path)
    st.dictionary = upload
    with pytest.raises(FrameError, match=r"1013-octet FDU.*1020-octet TC frame.*30.*1050.*1024"):
        st.send("flight_computer", "UPLOAD", blob="x")
    assert not st.queue and air.cltus == []
    st.dictionary = default_dictionary()
    assert st.packet("flight_computer", "SET_MODE", mode=1)[1] == 0     # the refused one took no count
