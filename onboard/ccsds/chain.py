"""The full CCSDS TM and TC coding chains, assembled from the C core's layers.

TM send (CCSDS 132.0-B-3 / 732.0-B-4 framing, 131.0-B-4 coding):
packets -> TM or AOS frames -> Reed-Solomon codeblocks (§4) -> pseudo-randomizer (§10) ->
ASM (§9) -> optional convolutional code (§3) -> bytes or 8-bit soft symbols.

TM receive is the reverse: (Viterbi) -> frame sync on the ASM -> derandomize -> RS decode ->
frames -> packets, with per-layer counters.  Input may arrive in pieces of any size.

TC (CCSDS 231.0-B-4): frames -> TC randomizer (§6) -> CLTUs with BCH codeblocks (§5), and back.

    cfg = TmLinkConfig(scid=0x1AB, vcids=(1,), rs_e=16, rs_interleave=5)
    tx = TmSendChain(cfg)
    cadus = tx.packets_to_cadus(packets) + tx.flush()
    rx = TmReceiveChain(cfg)
    out = rx.push_bytes(cadus)            # out.frames, out.packets; rx.stats() counts the rest
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from onboard.core import aos, cltu, conv, rand, rs, sync, tc, tm
from onboard.core.spp import APID_IDLE, index_packets
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


def _u8(data) -> np.ndarray:
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ChainError(f"expected bytes or a uint8 array, not a {data.dtype} array")
        return np.ascontiguousarray(data).reshape(-1)
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


def bits_to_soft(data) -> np.ndarray:
    """Hard bits of octets (MSB first) as soft symbols: 0 for bit 0, 255 for bit 1."""
    return np.unpackbits(_u8(data)) * np.uint8(255)


def soft_to_int8(soft: np.ndarray) -> np.ndarray:
    """Offset-binary uint8 soft symbols (255 = certain 1) as int8, positive for bit 1."""
    return (soft.astype(np.int16) - 128).clip(-127, 127).astype(np.int8)


class TmSendChain:
    """Frames or packets in, CADUs out (then optionally convolutionally coded symbols).

    The frame counters, the virtual channels' open frames and the convolutional encoder's
    register carry over between calls; ``flush`` closes the open frames.
    """

    def __init__(self, cfg: TmLinkConfig, ocf: int = 0):
        self.cfg = cfg
        self._rs = cfg.reed_solomon()
        self._enc = None if cfg.conv is None else conv.ConvEncoder(cfg.conv_rate)
        self._used: set[int] = set()
        fc = cfg.frame_config
        if cfg.frame == "tm":
            self._mux = tm.TmMux(fc, ocf=ocf)
        else:
            self._packers = {v: aos.MpduPacker(fc, v, ocf=ocf) for v in cfg.vcids}

    def frames_to_cadus(self, frames) -> np.ndarray:
        """Whole transfer frames (back to back) -> CADUs (ASM + randomized codeblock), uint8."""
        data = _u8(frames)
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
        pk = bytes(_u8(packets))
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

    def cadus_to_symbols(self, cadus, final: bool = False) -> np.ndarray:
        """Channel symbols as uint8 soft values (0 = bit 0, 255 = bit 1): the CADU bits, or the
        convolutional code's symbols (131.0-B-4 §3) with the six-bit tail when ``final``."""
        data = _u8(cadus)
        if self._enc is None:
            return bits_to_soft(data)
        sym = self._enc.encode(data)
        if final:
            sym = np.concatenate([sym, self._enc.tail()])
        return sym


class RxOutput(NamedTuple):
    frames: np.ndarray  # (n, frame_length) uint8: frames whose codewords were all correctable
    packets: bytes      # packets of the configured virtual channels, back to back


STAT_KEYS = ("cadus_found", "sync_losses", "asm_bit_errors", "inverted_cadus", "rs_corrected_symbols",
             "rs_uncorrectable_codewords", "frames_dropped", "frames", "crc_failures", "bad_headers",
             "mc_gaps", "vc_gaps", "frames_lost", "idle_frames", "packets", "packet_sequence_gaps",
             "packets_lost", "octets_discarded")


class TmReceiveChain:
    """Bytes (packed bits) or soft symbols in, in pieces of any size; frames and packets out.

    ``stats()`` counts every layer: CADUs found and sync losses; RS-corrected symbols and
    uncorrectable codewords (their frames are dropped, a ground station's usual rule); FECF
    failures; master/virtual channel frame count gaps; packet sequence count gaps per APID.
    """

    def __init__(self, cfg: TmLinkConfig, search_errors: int = 2, lock_errors: int = 4):
        self.cfg = cfg
        self._rs = cfg.reed_solomon()
        self._sync = sync.FrameSync(cfg.codeblock_length, asm=cfg.asm, search_errors=search_errors,
                                    lock_errors=lock_errors)
        self._vit = None if cfg.conv is None else conv.ViterbiDecoder(cfg.conv_rate, start_state=0)
        self._bit_tail = np.empty(0, dtype=np.uint8)
        fc = cfg.frame_config
        if cfg.frame == "tm":
            self._demux = tm.TmDemux(fc, vcids=cfg.vcids)
        else:
            self._aos_expected: dict[int, int] = {}
            self._aos_partial: dict[int, list[aos.AosFrame]] = {}
            self._aos_delivered: dict[int, int] = {}
        self._st = dict.fromkeys(STAT_KEYS, 0)
        self._seq: dict[int, int] = {}

    # --- input ---------------------------------------------------------------------------------
    def push_bytes(self, data) -> RxOutput:
        """Received octets (hard bits, MSB first) at any bit alignment."""
        if self._vit is not None:
            return self.push_soft(bits_to_soft(data))
        return self._after_sync(self._sync.push_bits(bytes(_u8(data))))

    def push_soft(self, soft) -> RxOutput:
        """uint8 soft symbols (0 = certain 0, 255 = certain 1; 128 = no information)."""
        soft = _u8(soft)
        if self._vit is None:
            return self._after_sync(self._sync.push_soft(soft_to_int8(soft)))
        return self._decoded_bits(self._vit.update(soft))

    def flush(self) -> RxOutput:
        """Decode what the Viterbi decoder still holds (call at the end of a stream)."""
        if self._vit is None:
            return self._empty()
        bits = self._vit.finish()
        self._vit = conv.ViterbiDecoder(self.cfg.conv_rate, start_state=None)
        return self._decoded_bits(bits)

    def _decoded_bits(self, bits: np.ndarray) -> RxOutput:
        if self._bit_tail.size:
            bits = np.concatenate([self._bit_tail, bits])
        whole = bits.size // 8 * 8
        self._bit_tail = bits[whole:].copy()
        return self._after_sync(self._sync.push_bits(np.packbits(bits[:whole]).tobytes()))

    def _empty(self) -> RxOutput:
        return RxOutput(np.empty((0, self.cfg.frame_length), dtype=np.uint8), b"")

    # --- layers --------------------------------------------------------------------------------
    def _after_sync(self, synced: sync.SyncedFrames) -> RxOutput:
        st = self._st
        c = self._sync.counters
        st["cadus_found"], st["sync_losses"] = c["frames"], c["sync_losses"]
        st["asm_bit_errors"], st["inverted_cadus"] = c["asm_bit_errors"], c["inverted_frames"]
        if not len(synced):
            return self._empty()
        blocks = synced.frames
        if self.cfg.randomize:
            blocks = rand.randomize_frames(blocks, self.cfg.codeblock_length, 0, out=blocks)
        if self._rs is None:
            frames = blocks.reshape(-1, self.cfg.frame_length)
        else:
            data, counts = self._rs.decode_codewords(blocks)
            ok = (counts >= 0).all(axis=1)
            st["rs_corrected_symbols"] += int(np.where(counts > 0, counts, 0).sum())
            st["rs_uncorrectable_codewords"] += int((counts < 0).sum())
            st["frames_dropped"] += int((~ok).sum())
            frames = data[ok]
        st["frames"] += len(frames)
        packets = self._demux_frames(frames) if len(frames) else b""
        if packets:
            self._count_packets(packets)
        return RxOutput(frames, packets)

    def _demux_frames(self, frames: np.ndarray) -> bytes:
        st = self._st
        if self.cfg.frame == "tm":
            out = self._demux.feed(np.ascontiguousarray(frames))
            d = self._demux.stats()
            st["crc_failures"], st["bad_headers"] = d["crc_errors"], d["bad_headers"]
            st["mc_gaps"], st["vc_gaps"] = d["mc_gaps"], d["vc_gaps"]
            st["frames_lost"] = d["mc_frames_lost"]
            st["idle_frames"], st["octets_discarded"] = d["idle_frames"], d["octets_discarded"]
            return out
        return self._aos_demux(frames)

    def _aos_demux(self, frames: np.ndarray) -> bytes:
        st = self._st
        fc = self.cfg.frame_config
        per_vc: dict[int, list[aos.AosFrame]] = {}
        for row in frames:
            try:
                f = aos.parse_frame(row.tobytes(), fc)
            except aos.FrameError:
                st["bad_headers"] += 1
                continue
            if not f.crc_ok:
                st["crc_failures"] += 1
                continue
            if f.header.scid != self.cfg.scid:
                st["bad_headers"] += 1
                continue
            if f.header.vcid == aos.VCID_IDLE:
                st["idle_frames"] += 1
                continue
            if f.header.vcid in self.cfg.vcids:
                per_vc.setdefault(f.header.vcid, []).append(f)
        out = []
        for vcid, fs in sorted(per_vc.items()):
            # VC frame count continuity (732.0-B-4 §4.1.2.4), across calls too
            for f in fs:
                count = f.header.extended_vc_count
                modulus = 1 << (28 if f.header.vc_count_usage_flag else 24)
                expected = self._aos_expected.get(vcid)
                if expected is not None and count != expected % modulus:
                    st["vc_gaps"] += 1
                    st["frames_lost"] += (count - expected) % modulus
                self._aos_expected[vcid] = count + 1
            # Packets: the frames kept from the last call (from the last one that starts a
            # packet) are unpacked again with the new ones; the packets they already gave, a
            # prefix of the result, are not delivered twice.
            carry = self._aos_partial.get(vcid, [])
            packets, _ = aos.mpdu_unpack(carry + fs)
            out.append(packets[self._aos_delivered.get(vcid, 0):])
            keep = _aos_tail_frames(carry + fs)
            self._aos_partial[vcid] = keep
            self._aos_delivered[vcid] = len(aos.mpdu_unpack(keep)[0])
        return _drop_idle_packets(b"".join(out))

    def _count_packets(self, packets: bytes) -> None:
        idx = index_packets(packets)
        e = idx.entries
        self._st["packets"] += len(e)
        if not len(e):
            return
        apids, seqs = e["apid"].astype(np.int64), e["seq_count"].astype(np.int64)
        for apid in np.unique(apids).tolist():
            s = seqs[apids == apid]
            prev = self._seq.get(apid)
            if prev is not None:
                s = np.concatenate([[prev], s])
            step = np.diff(s) % 16384
            bad = step != 1
            self._st["packet_sequence_gaps"] += int(bad.sum())
            self._st["packets_lost"] += int(((step[bad] - 1) % 16384).sum())
            self._seq[apid] = int(s[-1])

    def stats(self) -> dict[str, int]:
        return dict(self._st)


def _drop_idle_packets(packets: bytes) -> bytes:
    e = index_packets(packets).entries
    idle = e["apid"] == APID_IDLE
    if not idle.any():
        return packets
    view = memoryview(packets)
    return b"".join(view[o:o + n] for o, n in zip(e["offset"][~idle].tolist(), e["length"][~idle].tolist(),
                                                   strict=True))


def _aos_tail_frames(frames: list[aos.AosFrame]) -> list[aos.AosFrame]:
    """The trailing frames from the last one that starts a packet (first header pointer set)."""
    for i in range(len(frames) - 1, -1, -1):
        fhp = int.from_bytes(frames[i].data[:2], "big") & 0x7FF
        if fhp not in (aos.FHP_NO_PACKET, aos.FHP_IDLE):
            return frames[i:]
    return []


# --- TC ----------------------------------------------------------------------------------------
def tc_frames_to_cltus(frames, randomize: bool = True) -> bytes:
    """CLTUs (231.0-B-4 §5) of TC transfer frames (a list of frames, or whole frames back to back
    whose lengths are read from their headers), each randomized first (§6) unless told not to."""
    if isinstance(frames, (bytes, bytearray, memoryview)):
        frames = split_tc_frames(bytes(frames))
    out = []
    for f in frames:
        f = bytes(f)
        if randomize:
            f = rand.randomize(f, rand.Sequence.TC).tobytes()
        out.append(cltu.encode_cltu(f))
    return b"".join(out)


def split_tc_frames(data: bytes) -> list[bytes]:
    """Back-to-back TC frames, split by the frame length field of each header."""
    frames = []
    pos = 0
    while pos < len(data):
        try:
            h = tc.TcHeader.unpack(data[pos:pos + tc.HEADER_LEN])
        except tc.FrameError:
            raise ChainError(f"{len(data) - pos} octets at offset {pos} are not a TC frame") from None
        if h.frame_len < tc.HEADER_LEN + 1 or pos + h.frame_len > len(data):
            raise ChainError(f"TC frame at offset {pos} announces {h.frame_len} octets; "
                             f"{len(data) - pos} remain")
        frames.append(data[pos:pos + h.frame_len])
        pos += h.frame_len
    return frames


MAX_CLTU_LEN = 2 + (tc.MAX_FRAME_LEN + 6) // 7 * 8 + len(cltu.TAIL_SEQUENCE)


class TcReceiveChain:
    """CLTU octets in, in pieces of any size; TC frames out.  BCH decoding with single-bit
    correction (231.0-B-4 §3.3), derandomization (§6), and each frame cut at its header's length
    (the rest is codeblock fill).  A CLTU with an uncorrectable codeblock, cut short, or not
    holding a whole frame is counted and skipped; decoding resumes at the next start sequence."""

    def __init__(self, randomize: bool = True):
        self.randomize = randomize
        self._pending = b""
        self._st = dict.fromkeys(("cltus", "frames", "bad_frames", "bch_corrected", "uncorrectable",
                                  "truncated"), 0)

    def push_bytes(self, data) -> list[bytes]:
        buf = self._pending + bytes(_u8(data))
        frames: list[bytes] = []
        keep = len(buf)
        done_to = 0
        for c in cltu.CltuDecoder().decode(buf):
            if c.end == cltu.CltuEnd.TRUNCATED:
                # cut by the end of this piece: decoded again, whole, when the rest arrives
                keep = c.start
                break
            self._st["cltus"] += 1
            self._st["bch_corrected"] += c.corrected
            done_to = c.start + 2 + len(c.data) // 7 * 8
            if c.end == cltu.CltuEnd.UNCORRECTABLE:
                self._st["uncorrectable"] += 1
                continue
            done_to += len(cltu.TAIL_SEQUENCE)
            f = self._frame(c.data)
            if f is not None:
                frames.append(f)
        if keep == len(buf) and done_to < len(buf) and buf[-1] == cltu.START_SEQUENCE[0]:
            keep = len(buf) - 1  # perhaps the first half of a start sequence
        if len(buf) - keep > MAX_CLTU_LEN:
            self._st["truncated"] += 1  # longer than any CLTU: give up on it
            keep = len(buf)
        self._pending = buf[keep:]
        return frames

    def flush(self) -> list[bytes]:
        """End of stream: a CLTU still waiting for its end counts as truncated."""
        if len(self._pending) > 1:
            self._st["truncated"] += 1
        self._pending = b""
        return []

    def _frame(self, data: bytes) -> bytes | None:
        if self.randomize:
            data = rand.randomize(data, rand.Sequence.TC).tobytes()
        try:
            h = tc.TcHeader.unpack(data[:tc.HEADER_LEN])
        except tc.FrameError:
            h = None
        if h is None or h.frame_len < tc.HEADER_LEN + 1 or h.frame_len > len(data) or \
                len(data) - h.frame_len >= 7:
            self._st["bad_frames"] += 1
            return None
        self._st["frames"] += 1
        return data[:h.frame_len]

    def stats(self) -> dict[str, int]:
        return dict(self._st)


def cltus_to_tc_frames(data, randomize: bool = True) -> tuple[list[bytes], dict[str, int]]:
    """TC frames of a whole CLTU stream, and the counters of ``TcReceiveChain``."""
    rx = TcReceiveChain(randomize)
    frames = rx.push_bytes(data) + rx.flush()
    return frames, rx.stats()
