"""FOP-1, the ground end of COP-1 (CCSDS 232.1-B-2 §5), for one virtual channel.

The FOP sends Type-AD frames in sequence with at most K of them unacknowledged, keeps them in
the sent queue until a CLCW from the onboard FARM-1 (``onboard.core.farm``) acknowledges them,
and retransmits them when the CLCW's Retransmit flag asks for it or when timer T1 expires, at
most ``transmission_limit`` times.  It supports the directives Initiate AD without and with CLCW
check, with Unlock and with Set V(R), and Terminate AD.  Time comes from an injectable clock;
``tick()`` checks the timer.  Whatever the FOP cannot handle ends in an alert: the queues are
purged, the FOP goes to Initial, and an event says why.

States (§5.1.3): S1 Active, S2 Retransmit without Wait, S3 Retransmit with Wait, S4 Initialising
without BC Frame, S5 Initialising with BC Frame, S6 Initial.

Not modelled: Resume AD, timeout type 1 (suspend), and the FOP's confirms to the layer above
(``transfer`` returns whether the FDU was accepted; delivery shows as acknowledgements).
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import time
from collections.abc import Callable

from onboard.core import tc
from onboard.core.crc import crc16_ccitt
from onboard.core.farm import Clcw
from onboard.errors import LunarelayError

TC_HEADER_LEN = tc.HEADER_LEN
FECF_LEN = 2


class FopState(enum.IntEnum):
    ACTIVE = 1
    RETRANSMIT_WITHOUT_WAIT = 2
    RETRANSMIT_WITH_WAIT = 3
    INITIALISING_WITHOUT_BC = 4
    INITIALISING_WITH_BC = 5
    INITIAL = 6


class Alert(enum.Enum):
    LIMIT = "transmission limit reached after a retransmit request"
    T1 = "timer T1 expired with the transmission limit reached"
    LOCKOUT = "the FARM reports Lockout"
    CLCW = "the CLCW's flags are inconsistent with the FOP's state"
    NNR = "the CLCW's report value N(R) acknowledges frames never sent"
    TERM = "Terminate AD"


@dataclasses.dataclass(frozen=True)
class FopEvent:
    kind: str                # "alert", "initiated", "ack", "retransmit", "clcw-ignored"
    state: FopState          # state after the event
    detail: str = ""
    alert: Alert | None = None


class FopError(LunarelayError):
    """A directive or request that the FOP cannot take in its current state."""


def build_tc_frame(scid: int, vcid: int, ns: int, data: bytes, *, bypass: bool = False,
                   control: bool = False, fecf: bool = True) -> bytes:
    """A TC transfer frame without segment header (232.0-B-4 §4.1), built by the C core."""
    return tc.build_frame(tc.TcConfig(scid, vcid, fecf=fecf, segment_header=False), data,
                          frame_seq_num=ns, bypass=bypass, control=control)


def check_frame_fits(frame_length: int, overhead: int, what: str = "") -> None:
    """Raise ``tc.FrameError`` if a ``frame_length``-octet TC frame grows past the 1024-octet
    limit (232.0-B-4 §4.1.2.7: a 10-bit length field) when ``overhead`` octets (the SDLS security
    header and trailer) are added: its length field would wrap into the VCID."""
    if frame_length + overhead > tc.MAX_FRAME_LEN:
        raise tc.FrameError(f"{what}a {frame_length}-octet TC frame with {overhead} octets of security "
                            f"header and trailer is {frame_length + overhead} octets; a TC frame is at most "
                            f"{tc.MAX_FRAME_LEN} (CCSDS 232.0-B-4 §4.1.2.7)")


def fecf_ok(frame: bytes) -> bool:
    """The frame's last two octets are the CRC of the rest (232.0-B-4 §4.1.4)."""
    return len(frame) > FECF_LEN and crc16_ccitt(frame) == 0


UNLOCK = bytes([0x00])  # 232.0-B-4 §4.1.3.3.2


def set_vr_command(vr: int) -> bytes:
    return bytes([0x82, 0x00, vr & 0xFF])


@dataclasses.dataclass
class _Sent:
    ns: int
    frame: bytes


class Fop1:
    """FOP-1 of one virtual channel; ``transmit`` hands a finished TC frame to the layer below."""

    def __init__(self, scid: int, vcid: int, transmit: Callable[[bytes], None], *,
                 clock: Callable[[], float] = time.monotonic, window_k: int = 5, t1_s: float = 2.0,
                 transmission_limit: int = 3, fecf: bool = True, frame_overhead: int = 0,
                 on_event: Callable[[FopEvent], None] | None = None):
        """``frame_overhead``: octets the layers below add to every frame (the SDLS security
        header and trailer), which the 1024-octet frame limit must leave room for."""
        if not 1 <= window_k <= 255:
            raise ValueError(f"FOP sliding window K={window_k} must be within 1..255")
        if transmission_limit < 1 or t1_s <= 0:
            raise ValueError("transmission limit must be >= 1 and T1 positive")
        if frame_overhead < 0:
            raise ValueError(f"frame overhead {frame_overhead} must not be negative")
        self.scid, self.vcid = scid, vcid
        self.frame_overhead = frame_overhead
        self.window_k, self.t1_s, self.transmission_limit = window_k, t1_s, transmission_limit
        self._transmit, self._clock, self._fecf, self._on_event = transmit, clock, fecf, on_event
        self.state = FopState.INITIAL
        self.vs = 0                      # V(S): N(S) of the next new AD frame
        self.nn_r = 0                    # NN(R): the last N(R) seen, the oldest unacknowledged N(S)
        self._sent: collections.deque[_Sent] = collections.deque()
        self._wait_queue: bytes | None = None
        self._bc: bytes | None = None    # the BC frame of Initiate AD with Unlock / Set V(R)
        self._bc_farm_b: int | None = None
        self._last_farm_b: int | None = None
        self.transmission_count = 0
        self._deadline: float | None = None
        self.events: list[FopEvent] = []
        self.counters = collections.Counter()

    # ----- requests from the layer above -----

    def check_fdu(self, data: bytes) -> None:
        """Raise ``tc.FrameError`` if the frame of ``data`` would exceed the 1024-octet TC frame
        limit (232.0-B-4 §4.1.2.7) once the layers below add ``frame_overhead`` octets."""
        check_frame_fits(TC_HEADER_LEN + len(data) + (FECF_LEN if self._fecf else 0), self.frame_overhead,
                         f"{len(data)}-octet FDU: ")

    def transfer(self, data: bytes) -> bool:
        """Offer one FDU for Type-AD service; False if the FOP cannot take it now (retry later)."""
        if self.state == FopState.INITIAL:
            raise FopError("Type-AD service is not initiated (FOP is in state Initial)")
        self.check_fdu(data)
        if self._wait_queue is not None:
            return False
        self._wait_queue = bytes(data)
        self._look_for_fdu()
        return True

    def transmit_bd(self, data: bytes) -> None:
        """Send one FDU on Type-BD service (no acknowledgement, any state)."""
        self.check_fdu(data)
        self._send(build_tc_frame(self.scid, self.vcid, 0, data, bypass=True, fecf=self._fecf))
        self.counters["bd_sent"] += 1

    @property
    def outstanding(self) -> int:
        """AD frames sent and not yet acknowledged."""
        return len(self._sent)

    @property
    def idle(self) -> bool:
        return not self._sent and self._wait_queue is None

    # ----- directives (§5.1.7) -----

    def initiate_ad(self, check_clcw: bool = False) -> None:
        """Initiate AD without CLCW check (straight to Active) or with it (wait for a CLCW
        acknowledging V(S))."""
        self._require_initial("Initiate AD")
        self._purge()
        self.nn_r = self.vs
        if check_clcw:
            self.transmission_count = 1
            self._start_timer()
            self._go(FopState.INITIALISING_WITHOUT_BC, "initiating", "waiting for a CLCW with N(R)=V(S)")
        else:
            self._go(FopState.ACTIVE, "initiated", "without CLCW check")

    def initiate_ad_with_unlock(self) -> None:
        self._require_initial("Initiate AD with Unlock")
        self._purge()
        self.nn_r = self.vs
        self._send_bc(UNLOCK)

    def initiate_ad_with_set_vr(self, vr: int) -> None:
        self._require_initial("Initiate AD with Set V(R)")
        if not 0 <= vr <= 255:
            raise ValueError(f"V(R) {vr} does not fit 8 bits")
        self._purge()
        self.vs = self.nn_r = vr
        self._send_bc(set_vr_command(vr))

    def terminate_ad(self) -> None:
        self._alert(Alert.TERM)

    def set_vs(self, vs: int) -> None:
        """Set V(S), only in Initial (§5.1.7.8)."""
        self._require_initial("Set V(S)")
        if not 0 <= vs <= 255:
            raise ValueError(f"V(S) {vs} does not fit 8 bits")
        self.vs = self.nn_r = vs

    # ----- CLCW and timer -----

    def receive_clcw(self, word: int | Clcw) -> None:
        """Process a CLCW reported by the FARM (from the OCF of a TM frame)."""
        clcw = word if isinstance(word, Clcw) else Clcw.unpack(word)
        if clcw.control_word_type != 0 or clcw.cop_in_effect != 1 or clcw.vcid != self.vcid:
            self._event("clcw-ignored", "not a COP-1 CLCW of this virtual channel")
            return
        self.counters["clcw"] += 1
        st = self.state
        self._last_farm_b = clcw.farm_b_counter
        if st == FopState.INITIAL:
            return
        if st == FopState.INITIALISING_WITH_BC:
            self._clcw_initialising_with_bc(clcw)
            return
        if clcw.lockout:
            self._alert(Alert.LOCKOUT)
            return
        nr = clcw.report_value
        if st == FopState.INITIALISING_WITHOUT_BC:
            if nr == self.vs and not clcw.retransmit and not clcw.wait:
                self._cancel_timer()
                self._go(FopState.ACTIVE, "initiated", "CLCW check passed")
                self._look_for_fdu()
            return
        if not self._nr_valid(nr):
            self._alert(Alert.NNR)
            return
        if nr == self.vs and (clcw.retransmit or clcw.wait):
            self._alert(Alert.CLCW)  # everything acknowledged, yet a retransmit or wait request
            return
        new_ack = nr != self.nn_r
        if new_ack:
            self._acknowledge(nr)
        if not clcw.retransmit:
            if clcw.wait:
                self._alert(Alert.CLCW)  # wait without retransmit is not a FARM state
                return
            if st != FopState.ACTIVE:
                self._go(FopState.ACTIVE, "resumed", f"N(R)={nr}")
            if not self._sent:
                self._cancel_timer()
            self._look_for_fdu()
            return
        # Retransmit flag set: a frame was lost or the FARM had no buffer.
        if self.transmission_limit == 1:
            self._alert(Alert.LIMIT)
            return
        if new_ack:
            self.transmission_count = 1 if self._sent else 0
        if clcw.wait:
            self._go(FopState.RETRANSMIT_WITH_WAIT, "wait", f"N(R)={nr}")
            return
        if st == FopState.RETRANSMIT_WITHOUT_WAIT and not new_ack:
            return  # a retransmission is already under way; T1 paces the next one
        if self.transmission_count >= self.transmission_limit:
            self._alert(Alert.LIMIT)
            return
        self._retransmit(f"retransmit flag, N(R)={nr}")

    def tick(self) -> None:
        """Check timer T1 against the clock; call it regularly."""
        if self._deadline is None or self._clock() < self._deadline:
            return
        self._deadline = None
        if self.transmission_count >= self.transmission_limit:
            self._alert(Alert.T1)
            return
        st = self.state
        if st in (FopState.ACTIVE, FopState.RETRANSMIT_WITHOUT_WAIT):
            self._retransmit("timer T1")
        elif st == FopState.INITIALISING_WITH_BC and self._bc is not None:
            self.transmission_count += 1
            self._send(self._bc)
            self._start_timer()
            self._event("retransmit", "timer T1: BC frame")
        else:  # Retransmit with Wait, Initialising without BC: keep waiting, counted
            self.transmission_count += 1
            self._start_timer()

    # ----- internals -----

    def _clcw_initialising_with_bc(self, clcw: Clcw) -> None:
        # The FARM counts an accepted BC frame in its FARM-B counter, so a CLCW whose counter
        # has not moved since the BC frame went out still describes the FARM before the command
        # (a Lockout among those is expected).  Anything else is ignored until T1.
        moved = self._bc_farm_b is None or clcw.farm_b_counter != self._bc_farm_b
        if moved and not clcw.lockout and clcw.report_value == self.vs and not clcw.retransmit \
                and not clcw.wait:
            self._bc = None
            self._cancel_timer()
            self._go(FopState.ACTIVE, "initiated", "BC frame accepted")
            self._look_for_fdu()

    def _send_bc(self, command: bytes) -> None:
        self._bc = build_tc_frame(self.scid, self.vcid, 0, command, bypass=True, control=True,
                                  fecf=self._fecf)
        self._bc_farm_b = self._last_farm_b
        self.transmission_count = 1
        self._go(FopState.INITIALISING_WITH_BC, "initiating", f"BC frame {command.hex()}")
        self._send(self._bc)
        self._start_timer()
        self.counters["bc_sent"] += 1

    def _nr_valid(self, nr: int) -> bool:
        """NN(R) <= N(R) <= V(S), modulo 256."""
        return (nr - self.nn_r) % 256 <= (self.vs - self.nn_r) % 256

    def _acknowledge(self, nr: int) -> None:
        while self._sent and self._sent[0].ns != nr:
            self._sent.popleft()
            self.counters["acknowledged"] += 1
        self.nn_r = nr
        self.transmission_count = 1 if self._sent else 0
        if self._sent:
            self._start_timer()

    def _look_for_fdu(self) -> None:
        if self.state != FopState.ACTIVE or self._wait_queue is None:
            return
        if len(self._sent) >= self.window_k:
            return
        frame = build_tc_frame(self.scid, self.vcid, self.vs, self._wait_queue, fecf=self._fecf)
        self._wait_queue = None
        self._sent.append(_Sent(self.vs, frame))
        self.vs = (self.vs + 1) % 256
        if len(self._sent) == 1:
            self.transmission_count = 1
        self._send(frame)
        self._start_timer()
        self.counters["ad_sent"] += 1

    def _retransmit(self, why: str) -> None:
        self.transmission_count += 1
        for sent in self._sent:
            self._send(sent.frame)
            self.counters["ad_retransmitted"] += 1
        if self._sent:
            self._start_timer()
        self._go(FopState.RETRANSMIT_WITHOUT_WAIT, "retransmit", why)

    def _send(self, frame: bytes) -> None:
        self._transmit(frame)

    def _start_timer(self) -> None:
        self._deadline = self._clock() + self.t1_s

    def _cancel_timer(self) -> None:
        self._deadline = None

    def _purge(self) -> None:
        self._sent.clear()
        self._wait_queue = None
        self._bc = None
        self._cancel_timer()
        self.transmission_count = 0

    def _require_initial(self, what: str) -> None:
        if self.state != FopState.INITIAL:
            raise FopError(f"{what} needs state Initial, the FOP is in {self.state.name}")

    def _alert(self, alert: Alert) -> None:
        self._purge()
        self.counters[f"alert_{alert.name.lower()}"] += 1
        self.state = FopState.INITIAL
        self._event("alert", alert.value, alert)

    def _go(self, state: FopState, kind: str, detail: str) -> None:
        self.state = state
        self._event(kind, detail)

    def _event(self, kind: str, detail: str, alert: Alert | None = None) -> None:
        event = FopEvent(kind, self.state, detail, alert)
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)
