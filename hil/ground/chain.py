"""The ground's ends of the CCSDS coding chains (the spacecraft's are in ``onboard.ccsds.chain``).

TM receive (CCSDS 131.0-B-4, 132.0-B-3 / 732.0-B-4): bytes or soft symbols, in pieces of any
size -> (Viterbi, §3) -> frame sync on the ASM (§9) -> derandomize (§10) -> Reed-Solomon decode
(§4) -> frames -> packets, with per-layer counters.

TC send (CCSDS 231.0-B-4): TC transfer frames -> TC randomizer (§6) -> CLTUs with BCH
codeblocks (§5).

    cfg = TmLinkConfig(scid=0x1AB, vcids=(1,), rs_e=16, rs_interleave=5)
    rx = TmReceiveChain(cfg)
    out = rx.push_bytes(cadus)            # out.frames, out.packets; rx.stats() counts the rest
    cltus = tc_frames_to_cltus(frames)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from onboard.ccsds.chain import ChainError, TmLinkConfig, as_octets, bits_to_soft
from onboard.core import aos, cltu, conv, rand, sync, tc, tm
from onboard.core.spp import APID_IDLE, index_packets


def soft_to_int8(soft: np.ndarray) -> np.ndarray:
    """Offset-binary uint8 soft symbols (255 = certain 1) as int8, positive for bit 1."""
    return (soft.astype(np.int16) - 128).clip(-127, 127).astype(np.int8)


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

    def __init__(self, cfg: TmLinkConfig, search_errors: int = 2, lock_errors: int = 4,
                 flywheel_frames: int = 2):
        self.cfg = cfg
        self._rs = cfg.reed_solomon()
        self._sync = sync.FrameSync(cfg.codeblock_length, asm=cfg.asm, search_errors=search_errors,
                                    lock_errors=lock_errors, flywheel_frames=flywheel_frames)
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
        # the ASM polarity of the last CADU found, and how often it changed from one CADU to the
        # next: a 180 degree phase slip of a BPSK carrier loop (the rate-1/2 code passes the
        # inversion through, its generators having an odd number of taps each)
        self.last_inverted: bool | None = None
        self.polarity_changes = 0

    # --- input ---------------------------------------------------------------------------------
    def push_bytes(self, data) -> RxOutput:
        """Received octets (hard bits, MSB first) at any bit alignment."""
        if self._vit is not None:
            return self.push_soft(bits_to_soft(data))
        return self._after_sync(self._sync.push_bits(bytes(as_octets(data))))

    def push_soft(self, soft) -> RxOutput:
        """uint8 soft symbols (0 = certain 0, 255 = certain 1; 128 = no information)."""
        soft = as_octets(soft)
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
        inverted = synced.meta["inverted"].astype(bool)
        if self.last_inverted is not None:
            inverted = np.concatenate([[self.last_inverted], inverted])
        self.polarity_changes += int(np.count_nonzero(inverted[1:] != inverted[:-1]))
        self.last_inverted = bool(inverted[-1])
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
