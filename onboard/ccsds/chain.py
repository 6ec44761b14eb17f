"""The spacecraft's ends of the CCSDS coding chains, assembled from the C core's layers (the
ground's ends, TM receive and TC send, are in ``hil.ground.chain``).

TM send (CCSDS 132.0-B-3 / 732.0-B-4 framing, 131.0-B-4 coding):
packets -> TM or AOS frames -> Reed-Solomon codeblocks (§4) -> pseudo-randomizer (§10) ->
ASM (§9) -> optional convolutional code (§3) -> bytes (``cadus_to_octets``) or 8-bit soft
symbols (``cadus_to_symbols``).

TC receive (CCSDS 231.0-B-4): CLTUs -> BCH decoding (§3) -> derandomization (§6) -> TC frames,
each cut at its header's length (232.0-B-4 §4.1.2.7).

    cfg = TmLinkConfig(scid=0x1AB, vcids=(1,), rs_e=16, rs_interleave=5)
    tx = TmSendChain(cfg)
    cadus = tx.packets_to_cadus(packets) + tx.flush()
    frames = TcReceiveChain().push_bytes(cltus)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from onboard.core import aos, cltu, conv, rand, rs, sync, tc, tm
from onboard.errors import LunarelayError, UsageError

ASM = sync.ASM
ASM_LEN = sync.ASM_LEN
FRAME_KINDS = ("tm", "aos")
CONV_RATES = ("1/2", "2/3", "3/4", "5/6", "7/8")


class ChainError(LunarelayError, ValueError):
    """Input that the chain cannot take (wrong lengths, not whole frames or packets)."""


@dataclasses.dataclass(frozen=True)
class TmLinkConfig:
    """Everything both ends of a TM (or AOS) link must agree on.

    ``frame_length`` is the transfer frame in octets; with Reed-Solomon (``rs_e`` 8 or 16) it must
    fill the codeblock exactly: ``rs_interleave * (255 - 2 * rs_e - virtual_fill)`` (131.0-B-4
    §4.3.7/§4.3.8), e.g. 1115 = 5 * 223.  ``vcids`` are the virtual channels the receiver
    rebuilds packets of (and the send chain's default channel is the first).
    """

    frame: str = "tm"
    frame_length: int = 1115
    scid: int = 0x1AB
    vcids: tuple[int, ...] = (1,)
    ocf: bool = False
    fecf: bool = True
    rs_e: int = 16
    rs_interleave: int = 5
    rs_dual_basis: bool = True
    virtual_fill: int = 0
    conv: str | None = None
    randomize: bool = True
    asm: int = ASM

    def __post_init__(self) -> None:
        object.__setattr__(self, "vcids", tuple(int(v) for v in self.vcids))
        if self.frame not in FRAME_KINDS:
            raise UsageError(f"frame kind must be one of {', '.join(FRAME_KINDS)}, not {self.frame!r}")
        if not self.vcids:
            raise UsageError("at least one virtual channel is needed")
        scid_top = 0x3FF if self.frame == "tm" else 0xFF  # 132.0-B-3 §4.1.2.2.3, 732.0-B-4 §4.1.2.2.3
        if not 0 <= self.scid <= scid_top:
            raise UsageError(f"{self.frame.upper()} spacecraft ID {self.scid} is outside 0..{scid_top}")
        top = 7 if self.frame == "tm" else 62
        for v in self.vcids:
            if not 0 <= v <= top:
                raise UsageError(f"{self.frame.upper()} virtual channel {v} is outside 0..{top}")
        if self.rs_e not in (0, 8, 16):
            raise UsageError(f"RS E must be 0 (no RS), 8 or 16, not {self.rs_e}")
        if self.conv is not None and self.conv not in CONV_RATES:
            raise UsageError(f"convolutional rate must be none or one of {', '.join(CONV_RATES)}, "
                             f"not {self.conv!r}")
        if not 0 <= self.asm <= 0xFFFFFFFF:
            raise UsageError(f"ASM {self.asm:#x} does not fit 32 bits")
        if self.rs_e:
            if self.rs_interleave not in rs.INTERLEAVE_DEPTHS:
                raise UsageError(f"RS interleave depth must be one of {rs.INTERLEAVE_DEPTHS}, "
                                 f"not {self.rs_interleave}")
            k = 255 - 2 * self.rs_e - self.virtual_fill
            if not 0 <= self.virtual_fill < 255 - 2 * self.rs_e:
                raise UsageError(f"virtual fill {self.virtual_fill} is outside 0..{254 - 2 * self.rs_e}")
            if self.frame_length != self.rs_interleave * k:
                raise UsageError(
                    f"with RS E={self.rs_e}, interleave {self.rs_interleave} and virtual fill "
                    f"{self.virtual_fill} the frame must be {self.rs_interleave * k} octets, "
                    f"not {self.frame_length}")
        elif self.virtual_fill:
            raise UsageError("virtual fill needs Reed-Solomon coding")
        try:
            self.frame_config.to_c()
        except ValueError as e:
            raise UsageError(str(e)) from None

    @property
    def frame_config(self) -> tm.TmConfig | aos.AosConfig:
        if self.frame == "tm":
            return tm.TmConfig(scid=self.scid, frame_len=self.frame_length, ocf=self.ocf, fecf=self.fecf)
        return aos.AosConfig(scid=self.scid, frame_len=self.frame_length, ocf=self.ocf, fecf=self.fecf)

    def reed_solomon(self) -> rs.ReedSolomon | None:
        if not self.rs_e:
            return None
        return rs.ReedSolomon(self.rs_e, self.rs_interleave, self.rs_dual_basis, self.virtual_fill)

    @property
    def codeblock_length(self) -> int:
        """Octets after the ASM: the RS codeblock, or the bare frame without RS."""
        if not self.rs_e:
            return self.frame_length
        return self.rs_interleave * (255 - self.virtual_fill)

    @property
    def cadu_length(self) -> int:
        return ASM_LEN + self.codeblock_length

    @property
    def conv_rate(self) -> conv.ConvRate | None:
        return None if self.conv is None else conv.ConvRate.parse(self.conv)


def as_octets(data) -> np.ndarray:
    """A flat uint8 view of bytes-like data or a uint8 array (other arrays are refused)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ChainError(f"expected bytes or a uint8 array, not a {data.dtype} array")
        return np.ascontiguousarray(data).reshape(-1)
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


def bits_to_soft(data) -> np.ndarray:
    """Hard bits of octets (MSB first) as soft symbols: 0 for bit 0, 255 for bit 1."""
    return np.unpackbits(as_octets(data)) * np.uint8(255)


class TmSendChain:
    """Frames or packets in, CADUs out (then optionally convolutionally coded symbols).

    The frame counters, the virtual channels' open frames and the convolutional encoder's
    register carry over between calls; ``flush`` closes the open frames.
    """

    def __init__(self, cfg: TmLinkConfig, ocf: int = 0):
        self.cfg = cfg
        self._rs = cfg.reed_solomon()
        self._enc = None if cfg.conv is None else conv.ConvEncoder(cfg.conv_rate)
        self._pending_bits = np.empty(0, dtype=np.uint8)   # punctured code symbols short of an octet
        self._used: set[int] = set()
        fc = cfg.frame_config
        if cfg.frame == "tm":
            self._mux = tm.TmMux(fc, ocf=ocf)
        else:
            self._packers = {v: aos.MpduPacker(fc, v, ocf=ocf) for v in cfg.vcids}

    def frames_to_cadus(self, frames) -> np.ndarray:
        """Whole transfer frames (back to back) -> CADUs (ASM + randomized codeblock), uint8."""
        data = as_octets(frames)
        flen = self.cfg.frame_length
        if data.size % flen:
            raise ChainError(f"{data.size} octets is not a whole number of {flen}-octet frames")
        if not data.size:
            return np.empty(0, dtype=np.uint8)
        blocks = data if self._rs is None else self._rs.encode(data)
        cadus = sync.attach_asm(blocks, self.cfg.codeblock_length, self.cfg.asm)
        if self.cfg.randomize:
            rand.randomize_frames(cadus, self.cfg.cadu_length, ASM_LEN, out=cadus)
        return cadus

    def _aos_packer(self, vcid: int) -> aos.MpduPacker:
        p = self._packers.get(vcid)
        if p is None:
            p = self._packers[vcid] = aos.MpduPacker(self.cfg.frame_config, vcid)
        return p

    def packets_to_frames(self, packets, vcid: int | None = None) -> bytes:
        """Whole space packets -> the transfer frames they completed on ``vcid``."""
        vcid = self.cfg.vcids[0] if vcid is None else vcid
        pk = bytes(as_octets(packets))
        try:
            frames = self._mux.pack(vcid, pk) if self.cfg.frame == "tm" else self._aos_packer(vcid).pack(pk)
        except (tm.FrameError, aos.FrameError) as e:
            raise ChainError(str(e)) from None
        self._used.add(vcid)
        return frames

    def flush_frames(self) -> bytes:
        """Close every open frame with an idle packet."""
        if self.cfg.frame == "tm":
            return b"".join(self._mux.flush(v) for v in sorted(self._used))
        return b"".join(p.flush() for _, p in sorted(self._packers.items()))

    def packets_to_cadus(self, packets, vcid: int | None = None) -> np.ndarray:
        return self.frames_to_cadus(self.packets_to_frames(packets, vcid))

    def flush(self) -> np.ndarray:
        """CADUs of the frames still open (closed with idle packets)."""
        return self.frames_to_cadus(self.flush_frames())

    def cadus_to_octets(self, cadus, final: bool = False) -> np.ndarray:
        """Channel octets of a hard-decision link: the CADUs, or the convolutional code's symbols
        (131.0-B-4 §3) packed MSB first, with the six-bit tail when ``final``.  Rate 1/2 is encoded
        straight into packed octets; a punctured rate's symbols that do not fill an octet wait for
        the next call (at the end, with ``final``, the last octet is zero-padded)."""
        data = as_octets(cadus)
        if self._enc is None:
            return data
        if self._enc.rate == conv.ConvRate.R1_2 and not self._pending_bits.size:
            out = self._enc.encode_packed(data)              # two whole octets per input octet
            if final:
                out = np.concatenate([out, np.packbits(self._enc.tail(soft=False))])
            return out
        symbols = [self._pending_bits, self._enc.encode(data, soft=False)]
        if final:
            symbols.append(self._enc.tail(soft=False))
        bits = np.concatenate(symbols)
        whole = bits.size if final else bits.size // 8 * 8
        self._pending_bits = bits[whole:]
        return np.packbits(bits[:whole])

    def cadus_to_symbols(self, cadus, final: bool = False) -> np.ndarray:
        """Channel symbols as uint8 soft values (0 = bit 0, 255 = bit 1): the CADU bits, or the
        convolutional code's symbols (131.0-B-4 §3) with the six-bit tail when ``final``."""
        data = as_octets(cadus)
        if self._enc is None:
            return bits_to_soft(data)
        sym = self._enc.encode(data)
        if final:
            sym = np.concatenate([sym, self._enc.tail()])
        return sym


MAX_CLTU_LEN = 2 + (tc.MAX_FRAME_LEN + 6) // 7 * 8 + len(cltu.TAIL_SEQUENCE)
FILL_MAX = 6                     # octets of codeblock fill after a frame: less than one codeblock


@dataclasses.dataclass(frozen=True)
class ReceivedCltu:
    """One CLTU decoded: the TC frame it carried, cut at its header's length, or why none."""

    frame: bytes | None
    problem: str = ""


class TcReceiveChain:
    """CLTU octets in; TC frames out.  BCH decoding with single-bit correction (231.0-B-4 §3.3),
    derandomization (§6, unless ``randomize`` is False), and each frame cut at its header's length
    (the rest is codeblock fill).

    A CLTU ends at its tail sequence or at the first codeblock that does not decode (§3.3: the
    tail is built to be such a codeblock); what it decoded before goes on as the candidate frame,
    whose header and FECF the frame layer checks.  A CLTU ended by an uncorrectable codeblock is
    counted (``uncorrectable``), and one that decoded nothing carries no frame.  Decoding resumes
    at the next start sequence.

    With ``stream`` (a byte stream, a file) input may arrive in pieces of any size: a CLTU cut by
    the end of one piece is decoded whole when the rest arrives.  Without it (a link whose every
    message holds whole CLTUs, the uplink's), a CLTU cut by the end of a message is counted
    ``truncated`` at once and dropped."""

    def __init__(self, randomize: bool = True, stream: bool = True):
        self.randomize, self.stream = randomize, stream
        self.decoder = cltu.CltuDecoder()          # a link's decoder: its counters accumulate
        self._pending = b""
        self._st = dict.fromkeys(("cltus", "frames", "bad_frames", "bch_corrected", "uncorrectable",
                                  "truncated", "octets_skipped"), 0)

    def push_bytes(self, data) -> list[bytes]:
        """The TC frames of the CLTUs completed by ``data``."""
        return [r.frame for r in self.push(data) if r.frame is not None]

    def push(self, data) -> list[ReceivedCltu]:
        """Every CLTU completed by ``data`` that decoded something: its frame, or why it has none."""
        if not self.stream:
            skipped = self.decoder.counters["octets_skipped"]
            out = self._decoded(self.decoder.decode(bytes(as_octets(data))))
            self._st["octets_skipped"] += self.decoder.counters["octets_skipped"] - skipped
            return out
        buf = self._pending + bytes(as_octets(data))
        decoder = cltu.CltuDecoder()               # what stays pending is decoded again: fresh counters
        found = decoder.decode(buf)
        keep = len(buf)
        for i, c in enumerate(found):
            if c.end == cltu.CltuEnd.TRUNCATED:
                # cut by the end of this piece: decoded again, whole, when the rest arrives
                keep = c.start
                found = found[:i]
                break
        done_to = found[-1].start + 2 + len(found[-1].data) // 7 * 8 + 8 if found else 0
        if keep == len(buf) and done_to < len(buf) and buf[-1] == cltu.START_SEQUENCE[0]:
            keep = len(buf) - 1  # perhaps the first half of a start sequence
        if len(buf) - keep > MAX_CLTU_LEN:
            self._st["truncated"] += 1  # longer than any CLTU: give up on it
            keep = len(buf)
        self._pending = buf[keep:]
        self._st["octets_skipped"] += decoder.counters["octets_skipped"]
        return self._decoded(found)

    def _decoded(self, found: list[cltu.Cltu]) -> list[ReceivedCltu]:
        out = []
        for c in found:
            if c.end == cltu.CltuEnd.TRUNCATED:
                self._st["truncated"] += 1
                continue
            self._st["cltus"] += 1
            self._st["bch_corrected"] += c.corrected
            if c.end == cltu.CltuEnd.UNCORRECTABLE:
                self._st["uncorrectable"] += 1
            if c.data:
                out.append(self._frame(c.data))
        return out

    def flush(self) -> list[bytes]:
        """End of stream: a CLTU still waiting for its end counts as truncated."""
        if len(self._pending) > 1:
            self._st["truncated"] += 1
        self._pending = b""
        return []

    def _frame(self, data: bytes) -> ReceivedCltu:
        # the randomizer restarts with each frame (231.0-B-4 §6); the codeblock fill after the
        # frame is derandomized too, harmlessly: the frame length field cuts it off
        if self.randomize:
            data = rand.randomize(data, rand.Sequence.TC).tobytes()
        h = tc.TcHeader.unpack(data[:tc.HEADER_LEN]) if len(data) >= tc.HEADER_LEN else None
        if h is None or not tc.HEADER_LEN < h.frame_len <= len(data) or len(data) - h.frame_len > FILL_MAX:
            self._st["bad_frames"] += 1
            length = "no" if h is None else f"a {h.frame_len}-octet"
            return ReceivedCltu(None, f"{len(data)} decoded octets do not hold one TC frame ({length} frame "
                                      "length field)")
        self._st["frames"] += 1
        return ReceivedCltu(data[:h.frame_len])

    def stats(self) -> dict[str, int]:
        return dict(self._st)


def cltus_to_tc_frames(data, randomize: bool = True) -> tuple[list[bytes], dict[str, int]]:
    """TC frames of a whole CLTU stream, and the counters of ``TcReceiveChain``."""
    rx = TcReceiveChain(randomize)
    frames = rx.push_bytes(data) + rx.flush()
    return frames, rx.stats()
