"""CCSDS K=7 r=1/2 soft Viterbi decoding against libfec, and the encoder against a bit-serial loop.

Frames of 8920 information bits (a 1115-byte TM frame) plus the six-bit tail, BPSK soft symbols
at Eb/N0 = 4.5 dB quantised to offset-binary bytes.  lunarelay decodes each frame with one C call
(``lr_viterbi27_decode_block``: start state 0, traceback from state 0 after the tail), on the
active SIMD path and on the portable path.  The baseline is Debian's libfec (Phil Karn)
``init_viterbi27`` / ``update_viterbi27_blk`` / ``chainback_viterbi27`` on the same frames
through cffi's ABI mode; Debian builds only libfec's portable C Viterbi for x86-64.  The encoder
figure compares lunarelay's 64-bit-word encoder with the one-bit-per-step shift register (both
C, same process).  All figures are Mbit/s of information bits, one core, medians of
interleaved runs.
"""

from __future__ import annotations

import ctypes.util
import glob

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.core import simd
from onboard.core.conv import ConvEncoder, EncoderKernel, decode_frames_bits, encode_frame
from onboard.errors import LunarelayError

SUITE = "ccsds"
DESCRIPTION = "Viterbi K=7 r=1/2 soft decoding vs libfec; convolutional encoder vs bit-serial, one core"
FRAME_BITS = 8920
EBN0_DB = 4.5
V27POLYA, V27POLYB = 0x6D, 0x4F  # libfec's fec.h; CCSDS order is POLYB, then POLYA inverted


def _libfec():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("""
        void *create_viterbi27(int len);
        void set_viterbi27_polynomial(int polys[2]);
        int init_viterbi27(void *vp, int starting_state);
        int update_viterbi27_blk(void *vp, unsigned char sym[], int npairs);
        int chainback_viterbi27(void *vp, unsigned char *data, unsigned int nbits, unsigned int endstate);
        void delete_viterbi27(void *vp);
    """)
    for name in filter(None, [ctypes.util.find_library("fec"), *sorted(glob.glob("/usr/lib/*/libfec.so.0"))]):
        try:
            return ffi, ffi.dlopen(name)
        except OSError:
            continue
    raise LunarelayError("the ccsds Viterbi bench needs libfec as its baseline: install Debian libfec-dev "
                         "(tests/peers/install-debian.sh)")


def _noisy_frames(n_frames: int, rng) -> tuple[np.ndarray, np.ndarray]:
    data = rng.integers(0, 256, (n_frames, FRAME_BITS // 8), dtype=np.uint8)
    symbols = np.stack([encode_frame(row.tobytes(), soft=False) for row in data])
    sigma = np.sqrt(1.0 / 10 ** (EBN0_DB / 10))  # rate 1/2: Es/N0 = Eb/N0 - 3 dB
    y = 2.0 * symbols - 1.0 + rng.normal(0.0, sigma, symbols.shape)
    return data, np.clip(np.rint(127.5 + 48.0 * y), 0, 255).astype(np.uint8)


def run(quick: bool = False) -> list[Measurement]:
    ffi, fec = _libfec()
    n_frames = 8 if quick else 40
    repeat = 3 if quick else 7
    rng = np.random.default_rng(1)
    data, soft = _noisy_frames(n_frames, rng)
    fec.set_viterbi27_polynomial(ffi.new("int[2]", [V27POLYB, -V27POLYA]))
    vp = fec.create_viterbi27(FRAME_BITS)
    fec_out = np.zeros((n_frames, FRAME_BITS // 8), dtype=np.uint8)

    def libfec_decode():
        for row_in, row_out in zip(soft, fec_out, strict=True):
            fec.init_viterbi27(vp, 0)
            fec.update_viterbi27_blk(vp, ffi.from_buffer("unsigned char[]", row_in), FRAME_BITS + 6)
            fec.chainback_viterbi27(vp, ffi.from_buffer("unsigned char[]", row_out), FRAME_BITS, 0)

    def ours_on(level):
        def decode():
            with simd.forced(level):
                return decode_frames_bits(soft, FRAME_BITS)
        return decode

    active = simd.active()
    fns = {"libfec": libfec_decode, "auto": ours_on(active)}
    if active != simd.SimdLevel.PORTABLE:
        fns["portable"] = ours_on(simd.SimdLevel.PORTABLE)
    try:
        times = interleaved_medians(fns, repeat=repeat)
        # the figures are only worth quoting if the frames were decoded
        ours_errors = int((np.packbits(fns["auto"](), axis=1) != data).sum())
        libfec_decode()
        fec_errors = int((fec_out != data).sum())
    finally:
        fec.delete_viterbi27(vp)
    if ours_errors or fec_errors:
        raise LunarelayError(f"Viterbi bench: {ours_errors} byte errors (lunarelay), {fec_errors} (libfec) "
                             f"at Eb/N0 {EBN0_DB} dB, where both should decode cleanly")
    mbps = {k: n_frames * FRAME_BITS / t / 1e6 for k, t in times.items()}
    base = "libfec viterbi27 (portable C)"
    results = [Measurement(SUITE, f"viterbi27 soft r=1/2 ({active.name.lower()})", mbps["auto"], "Mbit/s",
                           base, mbps["libfec"])]
    if "portable" in mbps:
        results.append(Measurement(SUITE, "viterbi27 soft r=1/2 (portable)", mbps["portable"], "Mbit/s",
                                   base, mbps["libfec"]))

    payload = rng.integers(0, 256, (1 if quick else 4) * 1 << 20, dtype=np.uint8)
    enc_fns = {k: (lambda k=k: ConvEncoder(kernel=k).encode_packed(payload))
               for k in (EncoderKernel.WORD, EncoderKernel.BITSERIAL)}
    enc_times = interleaved_medians(enc_fns, repeat=repeat)
    enc_mbps = {k: payload.size * 8 / t / 1e6 for k, t in enc_times.items()}
    results.append(Measurement(SUITE, "conv encoder r=1/2 (64-bit words)", enc_mbps[EncoderKernel.WORD],
                               "Mbit/s", "bit-serial shift register (C)", enc_mbps[EncoderKernel.BITSERIAL]))
    return results
