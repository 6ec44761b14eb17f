"""CCSDS convolutional code K=7, r=1/2 and its punctured rates, with soft Viterbi decoding (csrc/lr_conv.h).

CCSDS 131.0-B-4 §3.3: G1 = 171 octal, G2 = 133 octal, symbols C1 then C2, C2 inverted
on the basic rate-1/2 code.  §3.4: punctured rates 2/3, 3/4, 5/6 and 7/8 (no inversion).

Soft symbols are uint8, one per code symbol, offset binary as libfec and GNU Radio use:
0 = certain '0', 255 = certain '1', ``ERASURE`` (128) = no information.
"""

from __future__ import annotations

import enum

import numpy as np

from onboard.core._api import byte_ptr, check, ffi, lib

ERASURE = lib.LR_CONV_ERASURE
TAIL_BITS = lib.LR_CONV_TAIL_BITS
DEFAULT_DEPTH = lib.LR_VITERBI27_DEPTH_DEFAULT
MAX_DEPTH = lib.LR_VITERBI27_DEPTH_MAX


class ConvRate(enum.IntEnum):
    R1_2 = lib.LR_CONV_R1_2
    R2_3 = lib.LR_CONV_R2_3
    R3_4 = lib.LR_CONV_R3_4
    R5_6 = lib.LR_CONV_R5_6
    R7_8 = lib.LR_CONV_R7_8

    @classmethod
    def parse(cls, text: str) -> ConvRate:
        """``"1/2"``, ``"3/4"`` ... -> the rate."""
        names = {"1/2": cls.R1_2, "2/3": cls.R2_3, "3/4": cls.R3_4, "5/6": cls.R5_6, "7/8": cls.R7_8}
        try:
            return names[text]
        except KeyError:
            raise ValueError(f"unknown convolutional code rate {text!r}; known: {', '.join(names)}") from None


class EncoderKernel(enum.IntEnum):
    AUTO = lib.LR_CONV_ENC_AUTO
    BITSERIAL = lib.LR_CONV_ENC_BITSERIAL
    WORD = lib.LR_CONV_ENC_WORD


def _invert_g2(rate: ConvRate, invert_g2: bool | None) -> bool:
    # CCSDS 131.0-B-4 §3.3 inverts C2 on the rate-1/2 code; the punctured encoder of §3.4 does not.
    return rate == ConvRate.R1_2 if invert_g2 is None else invert_g2


def _u8(data, what: str) -> np.ndarray:
    """A uint8 view of bytes-like data; arrays of other types are refused rather than read as raw bytes."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ValueError(f"{what} must be bytes or a uint8 array, not a {data.dtype} array")
        return np.ascontiguousarray(data).reshape(-1)
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


class Puncturer:
    """Removes (or, for depuncturing, re-inserts as erasures) the symbols a punctured rate does not send."""

    def __init__(self, rate: ConvRate):
        self.rate = ConvRate(rate)
        self._p = ffi.new("struct lr_conv_punct *")
        check(lib.lr_conv_punct_init(self._p, int(self.rate)), f"puncturer for rate {self.rate.name}")

    def puncture(self, symbols) -> np.ndarray:
        ptr, n = byte_ptr(_u8(symbols, "symbols"))
        out = np.empty(n, dtype=np.uint8)
        k = check(lib.lr_conv_puncture(self._p, ptr, n, ffi.from_buffer("uint8_t[]", out), n), "puncture")
        return out[:k]

    def depuncture(self, soft) -> np.ndarray:
        ptr, n = byte_ptr(_u8(soft, "soft symbols"))
        cap = check(lib.lr_conv_depuncture_max(self._p, n), "depuncture bound")
        out = np.empty(cap, dtype=np.uint8)
        k = check(lib.lr_conv_depuncture(self._p, ptr, n, ffi.from_buffer("uint8_t[]", out), cap),
                  "depuncture")
        return out[:k]


class ConvEncoder:
    """Streaming encoder; the shift register carries over between calls."""

    def __init__(self, rate: ConvRate = ConvRate.R1_2, invert_g2: bool | None = None,
                 kernel: EncoderKernel = EncoderKernel.AUTO):
        self.rate = ConvRate(rate)
        self.kernel = EncoderKernel(kernel)
        self._enc = ffi.new("struct lr_conv_enc *")
        lib.lr_conv_enc_init(self._enc, int(_invert_g2(self.rate, invert_g2)))
        self._punct = None if self.rate == ConvRate.R1_2 else Puncturer(self.rate)

    def encode_packed(self, data) -> np.ndarray:
        """Rate 1/2 only: packed bytes in, twice as many packed bytes of symbols out (MSB first)."""
        if self._punct is not None:
            raise ValueError("packed output is for rate 1/2; use encode() for punctured rates")
        ptr, n = byte_ptr(_u8(data, "data"))
        out = np.empty(2 * n, dtype=np.uint8)
        check(lib.lr_conv_encode_kernel(int(self.kernel), self._enc, ptr, n,
                                        ffi.from_buffer("uint8_t[]", out), 2 * n), "conv encode")
        return out

    def encode(self, data, soft: bool = True) -> np.ndarray:
        """Packed bytes in; the transmitted symbols out, one per byte: 0/255 if ``soft`` else 0/1."""
        ptr, n = byte_ptr(_u8(data, "data"))
        out = np.empty(16 * n, dtype=np.uint8)
        check(lib.lr_conv_encode_soft(self._enc, ptr, n, ffi.from_buffer("uint8_t[]", out), 16 * n),
              "conv encode")
        return self._finish_symbols(out, soft)

    def tail(self, soft: bool = True) -> np.ndarray:
        """The symbols of the six zero bits that return the encoder to state 0."""
        out = np.empty(2 * TAIL_BITS, dtype=np.uint8)
        check(lib.lr_conv_encode_tail(self._enc, 1, ffi.from_buffer("uint8_t[]", out), out.size), "conv tail")
        return self._finish_symbols(out, soft)

    def _finish_symbols(self, symbols: np.ndarray, soft: bool) -> np.ndarray:
        if self._punct is not None:
            symbols = self._punct.puncture(symbols)
        return symbols if soft else symbols >> 7


class ViterbiDecoder:
    """Streaming soft-decision Viterbi decoder (64 states), depuncturing first for punctured rates.

    ``start_state=None`` decodes from the middle of a stream (unknown encoder state).
    ``update`` returns the bits whose traceback is complete; ``finish`` returns the rest.
    """

    def __init__(self, rate: ConvRate = ConvRate.R1_2, depth: int = 0, start_state: int | None = 0,
                 invert_g2: bool | None = None):
        self.rate = ConvRate(rate)
        if depth and not 8 <= depth <= MAX_DEPTH:
            raise ValueError(f"traceback depth {depth} is outside 8..{MAX_DEPTH}")
        if start_state is not None and not 0 <= start_state <= 63:
            raise ValueError(f"start state {start_state} is outside 0..63")
        self._v = ffi.new("struct lr_viterbi27 *")
        check(lib.lr_viterbi27_init(self._v, -1 if start_state is None else start_state, depth,
                                    int(_invert_g2(self.rate, invert_g2))), "viterbi init")
        self._punct = None if self.rate == ConvRate.R1_2 else Puncturer(self.rate)

    def update(self, soft) -> np.ndarray:
        soft = _u8(soft, "soft symbols")
        if self._punct is not None:
            soft = self._punct.depuncture(soft)
        ptr, n = byte_ptr(soft)
        cap = check(lib.lr_viterbi27_max_output(self._v, n), "viterbi bound")
        out = np.empty(cap, dtype=np.uint8)
        k = check(lib.lr_viterbi27_update(self._v, ptr, n, ffi.from_buffer("uint8_t[]", out), cap),
                  "viterbi update")
        return out[:k]

    def finish(self, end_state: int | None = None) -> np.ndarray:
        """The remaining bits, traced back from ``end_state`` (0 after a tail) or the best state."""
        if end_state is not None and not 0 <= end_state <= 63:
            raise ValueError(f"end state {end_state} is outside 0..63")
        # a last step whose second symbol was punctured (or never came) gets an erasure for it
        head = self.update(np.array([ERASURE], dtype=np.uint8)) if self._v.have_half else None
        cap = int(self._v.steps - self._v.emitted)
        out = np.empty(cap, dtype=np.uint8)
        k = check(lib.lr_viterbi27_finish(self._v, -1 if end_state is None else end_state,
                                          ffi.from_buffer("uint8_t[]", out), cap), "viterbi finish")
        return out[:k] if head is None else np.concatenate([head, out[:k]])


def encode_frame(data, rate: ConvRate = ConvRate.R1_2, soft: bool = True) -> np.ndarray:
    """A frame encoded from state 0 and terminated by the six-bit tail, punctured for ``rate``."""
    enc = ConvEncoder(rate)
    # the tail continues the body's puncturing pattern
    return np.concatenate([enc.encode(data, soft), enc.tail(soft)])


def decode_frame_bits(soft, n_bits: int, rate: ConvRate = ConvRate.R1_2, depth: int = 0) -> np.ndarray:
    """The ``n_bits`` information bits (0/1) of a frame made by ``encode_frame``."""
    if n_bits <= 0:
        raise ValueError(f"a frame holds a positive number of bits, not {n_bits}")
    rate = ConvRate(rate)
    soft = _u8(soft, "soft symbols")
    n_sym = 2 * (n_bits + TAIL_BITS)
    if rate != ConvRate.R1_2:
        soft = Puncturer(rate).depuncture(soft)
    if soft.size > n_sym:
        raise ValueError(f"{soft.size} symbols is more than a {n_bits}-bit frame holds at rate "
                         f"{rate.name} ({n_sym} after depuncturing)")
    if soft.size < n_sym:
        soft = np.concatenate([soft, np.full(n_sym - soft.size, ERASURE, dtype=np.uint8)])
    v = ffi.new("struct lr_viterbi27 *")
    out = np.empty(n_sym // 2, dtype=np.uint8)
    k = check(lib.lr_viterbi27_decode_block(v, int(_invert_g2(rate, None)), depth,
                                            ffi.from_buffer("uint8_t[]", soft), n_sym,
                                            ffi.from_buffer("uint8_t[]", out), out.size),
              "viterbi decode block")
    return out[:k]


def decode_frames_bits(soft: np.ndarray, n_bits: int, rate: ConvRate = ConvRate.R1_2,
                       depth: int = 0) -> np.ndarray:
    """Rows of ``soft`` are rate-1/2 (or depunctured) symbols of tail-terminated frames of ``n_bits``
    information bits each; returns (frames, n_bits) decoded bits, reusing one decoder workspace."""
    soft = np.asarray(soft)
    if soft.dtype != np.uint8:
        raise ValueError(f"soft symbols must be a uint8 array, not a {soft.dtype} array")
    soft = np.ascontiguousarray(soft)
    n_sym = 2 * (n_bits + TAIL_BITS)
    if soft.ndim != 2 or soft.shape[1] != n_sym:
        raise ValueError(f"frames of {n_bits} bits need rows of {n_sym} symbols, not shape {soft.shape}")
    invert = int(_invert_g2(ConvRate(rate), None))
    v = ffi.new("struct lr_viterbi27 *")
    out = np.empty((soft.shape[0], n_bits + TAIL_BITS), dtype=np.uint8)
    for row_in, row_out in zip(soft, out, strict=True):
        check(lib.lr_viterbi27_decode_block(v, invert, depth, ffi.from_buffer("uint8_t[]", row_in), n_sym,
                                            ffi.from_buffer("uint8_t[]", row_out), row_out.size),
              "viterbi decode block")
    return out[:, :n_bits]


def decode_frame(soft, n_bytes: int, rate: ConvRate = ConvRate.R1_2, depth: int = 0) -> bytes:
    """The ``n_bytes`` bytes of a frame made by ``encode_frame``."""
    return np.packbits(decode_frame_bits(soft, 8 * n_bytes, rate, depth)).tobytes()
