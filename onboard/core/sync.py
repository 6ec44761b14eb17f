"""TM frame synchronisation on the Attached Sync Marker (CCSDS 131.0-B-4 §9; csrc/lr_sync.h).

``attach_asm`` turns frames into CADUs.  ``FrameSync`` finds them again in a stream of packed bits
at any bit alignment (or at octet boundaries only), or in soft symbols, with a configurable
marker bit-error tolerance, the inverted marker of a BPSK 180° ambiguity, and search / check /
lock / flywheel states.  Data may arrive in pieces of any size; the synchroniser keeps what it
has not used yet.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from onboard.core._api import byte_ptr, check, ffi, lib

ASM = 0x1ACFFC1D
ASM_LEN = 4

FRAME_META_DTYPE = np.dtype([("offset_bits", "<u8"), ("asm_errors", "<u4"), ("inverted", "u1"),
                             ("state", "u1"), ("reserved", "<u2")])
assert FRAME_META_DTYPE.itemsize == ffi.sizeof("struct lr_sync_frame")


class SyncState(enum.IntEnum):
    SEARCH = lib.LR_SYNC_SEARCH
    CHECK = lib.LR_SYNC_CHECK
    LOCK = lib.LR_SYNC_LOCK
    FLYWHEEL = lib.LR_SYNC_FLYWHEEL


class SyncKernel(enum.IntEnum):
    AUTO = lib.LR_SYNC_AUTO
    BITWISE = lib.LR_SYNC_BITWISE
    WINDOW = lib.LR_SYNC_WINDOW
    AVX2 = lib.LR_SYNC_AVX2
    VECTOR = lib.LR_SYNC_VECTOR


def attach_asm(frames, frame_len: int, asm: int = ASM) -> np.ndarray:
    """CADUs: each ``frame_len``-octet frame of ``frames`` preceded by the 32-bit ASM."""
    if frame_len <= 0:
        raise ValueError(f"frame length must be positive, not {frame_len}")
    src, n = byte_ptr(frames)
    if n % frame_len:
        raise ValueError(f"{n} octets is not a whole number of {frame_len}-octet frames")
    out = np.empty(n // frame_len * (frame_len + ASM_LEN), dtype=np.uint8)
    check(lib.lr_asm_attach(asm, frame_len, src, n, ffi.from_buffer("uint8_t[]", out), out.size),
          "attach ASM")
    return out


def pack_soft(symbols) -> np.ndarray:
    """Hard decisions of soft symbols (positive is bit 1), packed MSB first, zero-padded."""
    sym = np.asarray(symbols)
    if sym.dtype != np.int8:
        return np.packbits(sym > 0)
    sym = np.ascontiguousarray(sym)
    out = np.empty((sym.size + 7) // 8, dtype=np.uint8)
    check(lib.lr_sync_pack_soft(ffi.from_buffer("int8_t[]", sym), sym.size,
                                ffi.from_buffer("uint8_t[]", out), out.size), "pack soft symbols")
    return out


@dataclasses.dataclass(frozen=True)
class SyncedFrames:
    frames: np.ndarray  # (n, frame_len) uint8, markers removed, re-inverted where needed
    meta: np.ndarray    # (n,) FRAME_META_DTYPE: offset_bits, asm_errors, inverted, state

    def __len__(self) -> int:
        return len(self.frames)


class FrameSync:
    """Frame synchroniser for CADUs of ``frame_len`` octets after a marker of ``asm_bits`` bits."""

    def __init__(self, frame_len: int, *, asm: int = ASM, asm_bits: int = 32, search_errors: int = 2,
                 lock_errors: int = 4, check_frames: int = 1, flywheel_frames: int = 2,
                 byte_aligned: bool = False, detect_inverted: bool = True,
                 kernel: SyncKernel = SyncKernel.AUTO):
        if not 8 <= asm_bits <= 32 or asm >> asm_bits:
            raise ValueError(f"marker {asm:#x} does not fit {asm_bits} bits (8..32)")
        if frame_len <= 0 or frame_len > 1 << 24:
            raise ValueError(f"frame length {frame_len} is outside 1..{1 << 24}")
        for name, errors in (("search_errors", search_errors), ("lock_errors", lock_errors)):
            if not 0 <= 2 * errors < asm_bits:
                raise ValueError(f"{name}={errors}: must be below half the marker length ({asm_bits} bits)")
        if check_frames < 0 or flywheel_frames < 0:
            raise ValueError("check_frames and flywheel_frames must be non-negative")
        self.frame_len = frame_len
        cfg = ffi.new("struct lr_sync_config *", {
            "asm_word": asm, "asm_bits": asm_bits, "frame_len": frame_len,
            "search_errors": search_errors, "lock_errors": lock_errors,
            "check_frames": check_frames, "flywheel_frames": flywheel_frames,
            "byte_aligned": int(byte_aligned), "detect_inverted": int(detect_inverted),
            "kernel": int(kernel)})
        self._s = ffi.new("struct lr_sync *")
        check(lib.lr_sync_init(self._s, cfg), "frame synchroniser")
        self._step_bits = asm_bits + 8 * frame_len
        self._pending = np.empty(0, dtype=np.uint8)
        self._first_bit = 0
        self._soft_tail = np.empty(0, dtype=np.int8)

    @property
    def state(self) -> SyncState:
        return SyncState(self._s.state)

    @property
    def counters(self) -> dict[str, int]:
        s = self._s
        return {name: int(getattr(s, name)) for name in (
            "frames", "flywheel_frames", "inverted_frames", "asm_bit_errors", "searches_won",
            "checks_failed", "locks", "sync_losses")}

    def push_bits(self, packed) -> SyncedFrames:
        """Feed packed bits (MSB first); returns the frames completed by them."""
        new = np.frombuffer(memoryview(packed).cast("B"), dtype=np.uint8)
        buf = np.concatenate([self._pending, new]) if self._pending.size else np.ascontiguousarray(new)
        n_bits = buf.size * 8 - self._first_bit
        max_frames = max(1, n_bits // self._step_bits + 1)
        out = np.empty(max_frames * self.frame_len, dtype=np.uint8)
        meta = np.zeros(max_frames, dtype=FRAME_META_DTYPE)
        used = ffi.new("size_t *")
        n = check(lib.lr_sync_process(
            self._s, ffi.from_buffer("uint8_t[]", buf), self._first_bit, n_bits,
            ffi.from_buffer("uint8_t[]", out), out.size,
            ffi.cast("struct lr_sync_frame *", ffi.from_buffer(meta)), max_frames, used), "frame sync")
        end = self._first_bit + used[0]
        self._pending = buf[end // 8:].copy()
        self._first_bit = end % 8
        return SyncedFrames(out[:n * self.frame_len].reshape(n, self.frame_len), meta[:n])

    def push_soft(self, symbols) -> SyncedFrames:
        """Feed soft symbols (int8 or float; positive is bit 1)."""
        sym = np.asarray(symbols)
        if sym.dtype != np.int8:
            sym = np.where(sym > 0, 1, -1).astype(np.int8)
        if self._soft_tail.size:
            sym = np.concatenate([self._soft_tail, sym])
        whole = sym.size // 8 * 8
        self._soft_tail = sym[whole:].copy()
        return self.push_bits(pack_soft(sym[:whole]))


def find_asm(data, *, asm: int = ASM, asm_bits: int = 32, max_errors: int = 0, byte_aligned: bool = False,
             detect_inverted: bool = False, kernel: SyncKernel = SyncKernel.AUTO,
             start_bit: int = 0) -> tuple[int, int, bool] | None:
    """(bit offset, bit errors, inverted) of the first marker at or after ``start_bit``, or None."""
    src, n = byte_ptr(data)
    if n * 8 < asm_bits or start_bit > n * 8 - asm_bits:
        return None
    cfg = ffi.new("struct lr_sync_config *", {
        "asm_word": asm, "asm_bits": asm_bits, "frame_len": 1, "search_errors": max_errors,
        "lock_errors": max_errors, "byte_aligned": int(byte_aligned),
        "detect_inverted": int(detect_inverted), "kernel": int(kernel)})
    errors = ffi.new("uint32_t *")
    inverted = ffi.new("int *")
    last = n * 8 - asm_bits
    q = check(lib.lr_sync_find(cfg, src, start_bit, last, max_errors, errors, inverted), "find ASM")
    return None if q > last else (q, errors[0], bool(inverted[0]))
