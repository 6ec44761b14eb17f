"""CADU streams to transfer frames, in pieces of any size, with every octet filed.

    (soft symbols | packed code symbols) -> Viterbi (131.0-B-4 §3) -> frame sync on the ASM (§9)
    -> derandomize (§10) -> Reed-Solomon (§4) -> frames, to the frame layer

The synchroniser reports the stream bit offset of every marker, so the octets between CADUs
(search, sync loss) and a CADU cut by the end of the input are found exactly.  A CADU with an
uncorrectable codeword is filed whole, with its range.  Offsets here are octets of the decoded
stream, which is the input itself for octets without a convolutional code; coded and soft
input files its extra octets as ``channel_code`` at the end.
"""

from __future__ import annotations

import numpy as np

from lunarelay_tools.inspect.accounting import Ledger
from lunarelay_tools.inspect.frames import FrameLayer
from lunarelay_tools.inspect.link import ASM_LEN, LinkParams
from lunarelay_tools.inspect.packets import PacketBatch, as_u8
from onboard.core import conv, rand, sync

CADU_STATS = ("cadus", "sync_losses", "asm_bit_errors", "inverted_cadus", "flywheel_cadus",
              "rs_corrected_symbols", "rs_uncorrectable_codewords", "rs_failed_cadus")
SEARCH_ERRORS, LOCK_ERRORS = 2, 4     # marker bit errors accepted while searching / once locked


class CaduLayer:
    """One CADU stream.  ``push`` takes input octets; ``finish`` ends the stream."""

    def __init__(self, params: LinkParams, ledger: Ledger, search_errors: int = SEARCH_ERRORS,
                 lock_errors: int = LOCK_ERRORS):
        self.params = params
        self.ledger = ledger            # in decoded-stream octets
        self.frames = FrameLayer(params, ledger)
        self._rs = params.reed_solomon()
        self._cb = params.codeblock_length
        self._cadu_bits = 8 * params.cadu_length
        self._sync = sync.FrameSync(self._cb, search_errors=search_errors, lock_errors=lock_errors)
        self._vit = None
        if params.conv is not None:
            self._vit = conv.ViterbiDecoder(conv.ConvRate.parse(params.conv), start_state=None)
        self._bit_tail = np.empty(0, dtype=np.uint8)
        self._soft_tail = np.empty(0, dtype=np.uint8)
        self.input_octets = 0
        self.decoded_bits = 0
        self._end_bits = 0              # stream bit just after the last CADU filed
        self._tail = np.empty(0, dtype=np.uint8)   # the last octets of the decoded stream
        self.stats = dict.fromkeys(CADU_STATS, 0)
        self.rs_series: list[np.ndarray] = []   # per CADU: its number, symbols corrected (-1: failed)
        self._cadus_seen = 0

    # --- input -------------------------------------------------------------------------------------
    def push(self, data) -> PacketBatch:
        chunk = as_u8(data)
        self.input_octets += chunk.size
        return self._decoded_bits(self._bits_of(chunk, final=False))

    def finish(self) -> PacketBatch:
        batches = []
        if self._vit is not None:
            batches.append(self._decoded_bits(self._vit.finish()))
        elif self.params.symbols == "soft" and self._soft_tail.size:
            self._soft_tail = np.empty(0, dtype=np.uint8)   # fewer than 8 symbols: no whole octet
        self._file_end()
        self.frames.finish()
        return PacketBatch.concat(batches)

    def _bits_of(self, chunk: np.ndarray, final: bool) -> np.ndarray | bytes:
        """Decoded bits (uint8 0/1) for the coded paths, or packed octets for the direct ones."""
        p = self.params
        if self._vit is not None:
            soft = chunk if p.symbols == "soft" else np.unpackbits(chunk) * np.uint8(255)
            return self._vit.update(soft)
        if p.symbols == "soft":
            soft = np.concatenate([self._soft_tail, chunk]) if self._soft_tail.size else chunk
            whole = soft.size // 8 * 8
            self._soft_tail = soft[whole:].copy()
            return np.packbits(soft[:whole] > 127).tobytes()
        return chunk

    def _decoded_bits(self, got) -> PacketBatch:
        if isinstance(got, np.ndarray) and self._vit is not None:
            bits = np.concatenate([self._bit_tail, got]) if self._bit_tail.size else got
            whole = bits.size // 8 * 8
            self._bit_tail = bits[whole:].copy()
            packed = np.packbits(bits[:whole])
        else:
            packed = np.frombuffer(got, dtype=np.uint8) if isinstance(got, bytes) else got
        if not packed.size:
            return PacketBatch.empty()
        self.decoded_bits += 8 * packed.size
        keep = self.params.cadu_length + 8
        self._tail = np.concatenate([self._tail, packed[-keep:]])[-keep:]
        return self._after_sync(self._sync.push_bits(packed))

    # --- layers ------------------------------------------------------------------------------------
    def _after_sync(self, synced: sync.SyncedFrames) -> PacketBatch:
        c = self._sync.counters
        st = self.stats
        st["cadus"], st["sync_losses"] = c["frames"], c["sync_losses"]
        st["asm_bit_errors"], st["inverted_cadus"] = c["asm_bit_errors"], c["inverted_frames"]
        st["flywheel_cadus"] = c["flywheel_frames"]
        n = len(synced)
        if not n:
            return PacketBatch.empty()
        start_bits = synced.meta["offset_bits"].astype(np.int64)
        # a marker found inside the previous CADU (a false lock given up): the earlier CADU ends there
        blocks = synced.frames
        if self.params.randomize:
            blocks = rand.randomize_frames(blocks, self._cb, 0, out=blocks)
        flen = self.params.frame_length
        if self._rs is None:
            frames, ok = blocks.reshape(-1, flen), np.ones(n, dtype=bool)
            corrected = np.zeros(n, dtype=np.int64)
        else:
            frames, counts = self._rs.decode_codewords(blocks)
            ok = (counts >= 0).all(axis=1)
            corrected = np.where(counts > 0, counts, 0).sum(axis=1)
            st["rs_corrected_symbols"] += int(corrected.sum())
            st["rs_uncorrectable_codewords"] += int((counts < 0).sum())
            st["rs_failed_cadus"] += int((~ok).sum())
        index = np.arange(self._cadus_seen, self._cadus_seen + n, dtype=np.int64)
        self._cadus_seen += n
        self.rs_series.append(np.stack([index, np.where(ok, corrected, -1)], 1))
        # octet spans of the CADUs in the decoded stream; overlaps give way to the later CADU
        ends_bits = start_bits + self._cadu_bits
        prev_end = np.concatenate([[self._end_bits], ends_bits[:-1]])
        overlap = start_bits < prev_end
        if overlap.any():
            # the earlier one of two overlapping CADUs is the false one: it keeps what is before
            # the later marker, filed as search octets; it is dropped from the frames
            drop = np.zeros(n, dtype=bool)
            drop[:-1] = overlap[1:]
            first_over = overlap[0] and self._end_bits > start_bits[0]
            if first_over:
                start_bits[0] = self._end_bits      # the previous batch's CADU already filed it
                drop[0] = True
            ok &= ~drop
            ends_bits = np.where(drop, np.concatenate([start_bits[1:], [ends_bits[-1]]]), ends_bits)
            if first_over:
                ends_bits[0] = max(ends_bits[0], start_bits[0])
            prev_end = np.concatenate([[self._end_bits], ends_bits[:-1]])
        else:
            drop = np.zeros(n, dtype=bool)
        s_oct, e_oct, p_oct = start_bits // 8, ends_bits // 8, prev_end // 8
        self.ledger.add_ranges("no_sync", p_oct, s_oct)
        self.ledger.add_ranges("no_sync", s_oct[drop], e_oct[drop])
        failed = ~ok & ~drop
        flywheel = synced.meta["state"] == sync.SyncState.FLYWHEEL
        self.ledger.add_ranges("rs_uncorrectable", s_oct[failed & ~flywheel], e_oct[failed & ~flywheel])
        for a, b in zip(s_oct[failed & flywheel].tolist(), e_oct[failed & flywheel].tolist(), strict=True):
            self.ledger.add_range("rs_uncorrectable", a, b, "flywheel: no marker where one was due")
        good = ok
        self.ledger.add("asm", ASM_LEN * int(good.sum()))
        self.ledger.add("rs_check", (self._cb - flen) * int(good.sum()))
        self._end_bits = int(ends_bits[-1])
        if not good.any():
            return PacketBatch.empty()
        return self.frames.push(frames[good], s_oct[good] + ASM_LEN, index[good])

    def _file_end(self) -> None:
        """The decoded stream after the last CADU: a CADU cut short, or octets never in sync."""
        total = self.decoded_bits // 8
        start = self._end_bits // 8
        if total <= start:
            return
        tail_start = total - self._tail.size
        rest = self._tail[max(0, start - tail_start):]
        hit = sync.find_asm(rest, max_errors=LOCK_ERRORS, detect_inverted=True) if rest.size >= 4 else None
        if hit is not None:
            cut = start + hit[0] // 8
            self.ledger.add_range("no_sync", start, cut)
            self.ledger.add_range("truncated", cut, total, "a CADU cut by the end of the input")
        else:
            self.ledger.add_range("no_sync", start, total)

    def decoded_octets(self) -> int:
        return self.decoded_bits // 8

    def stats_dict(self) -> dict:
        return {"cadu": dict(self.stats), **self.frames.stats()}
