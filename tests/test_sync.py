"""TM frame synchronisation (CCSDS 131.0-B-4 §9): CADUs through noise, bit slips, inversion and
lost markers, fed in pieces, on both SIMD paths, against a straightforward Python oracle."""

import json
import pathlib
import subprocess

import numpy as np
import pytest
from conftest import ROOT, require_system_modules

from onboard.core import simd
from onboard.core.rand import derandomize_cadus, randomize_frames
from onboard.core.sync import (
    ASM,
    FrameSync,
    SyncKernel,
    SyncState,
    attach_asm,
    find_asm,
    pack_soft,
)

FRAME_LEN = 223
ASM_BITS = np.unpackbits(np.frombuffer(ASM.to_bytes(4, "big"), dtype=np.uint8))


def find_asm_reference(bits: np.ndarray, max_errors: int, start: int = 0):
    """First offset whose 32 bits differ from the ASM (or its complement) in at most max_errors."""
    for q in range(start, bits.size - 31):
        errors = int(np.count_nonzero(bits[q:q + 32] != ASM_BITS))
        if errors <= max_errors:
            return q, errors, False
        if 32 - errors <= max_errors:
            return q, 32 - errors, True
    return None


def cadu_bits(rng, n_frames: int, prefix_bits: int):
    frames = rng.integers(0, 256, (n_frames, FRAME_LEN), dtype=np.uint8)
    cadus = attach_asm(frames, FRAME_LEN)
    bits = np.concatenate([rng.integers(0, 2, prefix_bits, dtype=np.uint8), np.unpackbits(cadus)])
    return frames, bits


def test_attach_asm_builds_cadus():
    cadus = attach_asm(bytes(range(6)), 3)
    assert cadus.tobytes() == bytes.fromhex("1ACFFC1D000102" "1ACFFC1D030405")
    with pytest.raises(ValueError, match="whole number of 4-octet frames"):
        attach_asm(bytes(6), 4)


@pytest.mark.parametrize("level", [simd.SimdLevel.PORTABLE, simd.supported()])
def test_frames_recovered_at_unaligned_offset_from_pieces(rng, level):
    frames, bits = cadu_bits(rng, 20, prefix_bits=1000 + 5)
    packed = np.packbits(bits)
    sync = FrameSync(FRAME_LEN)
    got, meta = [], []
    with simd.forced(level):
        for piece in np.array_split(packed, 37):
            r = sync.push_bits(piece)
            got.append(r.frames)
            meta.append(r.meta)
    got, meta = np.concatenate(got), np.concatenate(meta)
    first = find_asm_reference(bits, 2)
    assert first is not None and first[0] == 1005
    assert np.array_equal(got[-20:], frames)
    assert meta["offset_bits"][-20:].tolist() == [1005 + i * 8 * (FRAME_LEN + 4) for i in range(20)]
    assert SyncState(meta["state"][-1]) == SyncState.LOCK and sync.state == SyncState.LOCK
    assert sync.counters["sync_losses"] == 0


def test_noisy_inverted_soft_symbols_are_derandomized(rng):
    frames = rng.integers(0, 256, (10, FRAME_LEN), dtype=np.uint8)
    cadus = randomize_frames(attach_asm(frames, FRAME_LEN), FRAME_LEN + 4)
    bits = np.unpackbits(cadus)
    symbols = (1.0 - 2.0 * bits) * 0.8 + rng.normal(0, 0.25, bits.size)  # inverted BPSK, noise
    wrong = ((symbols > 0) == bits.astype(bool)).reshape(10, -1)  # hard-decision errors, re-inverted
    assert wrong[:, 32:].any()
    sync = FrameSync(FRAME_LEN, search_errors=3, lock_errors=6)
    # 333 noise symbols ahead, and 8 after so that the last frame's final octet is complete.
    r = sync.push_soft(np.concatenate([rng.normal(0, 1, 333), symbols, rng.normal(0, 1, 8)]))
    assert len(r) == 10 and r.meta["inverted"].all()
    assert r.meta["offset_bits"].tolist() == [333 + i * 8 * (FRAME_LEN + 4) for i in range(10)]
    assert r.meta["asm_errors"].tolist() == wrong[:, :32].sum(axis=1).tolist()
    clean = derandomize_cadus(attach_asm(r.frames, FRAME_LEN), FRAME_LEN + 4).reshape(10, -1)[:, 4:]
    assert np.unpackbits(clean ^ frames).sum() == wrong[:, 32:].sum()


def test_lost_marker_flywheels_and_repeated_losses_resync(rng):
    frames, bits = cadu_bits(rng, 12, prefix_bits=3)
    step = 8 * (FRAME_LEN + 4)
    for f in (3, 7, 8, 9):  # destroy markers: one miss, then three in a row
        bits[3 + f * step:3 + f * step + 32] ^= 1
        bits[3 + f * step:3 + f * step + 32:2] ^= 1
    sync = FrameSync(FRAME_LEN, flywheel_frames=2)
    r = sync.push_bits(np.packbits(bits))
    states = [SyncState(s) for s in r.meta["state"]]
    assert states[3] == SyncState.FLYWHEEL and states[4] == SyncState.LOCK
    assert states[7:10] == [SyncState.FLYWHEEL, SyncState.FLYWHEEL, SyncState.SEARCH]
    assert r.meta["offset_bits"][9] == 3 + 10 * step
    assert np.array_equal(r.frames[:9], frames[:9]) and np.array_equal(r.frames[9:], frames[10:])
    assert sync.counters["sync_losses"] == 1 and sync.counters["flywheel_frames"] == 3


def test_bit_slip_is_recovered_by_search(rng):
    frames, bits = cadu_bits(rng, 12, prefix_bits=0)
    step = 8 * (FRAME_LEN + 4)
    slipped = np.delete(bits, 5 * step + 100)  # one bit lost inside frame 5
    sync = FrameSync(FRAME_LEN, flywheel_frames=1, check_frames=1)
    r = sync.push_bits(np.packbits(slipped))
    offsets = r.meta["offset_bits"].tolist()
    assert offsets[:6] == [i * step for i in range(6)]
    assert offsets[-1] == 11 * step - 1
    assert np.array_equal(r.frames[-1], frames[-1])
    assert sync.counters["sync_losses"] == 1


def test_byte_aligned_search_ignores_unaligned_markers(rng):
    frames, bits = cadu_bits(rng, 4, prefix_bits=12)
    packed = np.packbits(bits)
    assert len(FrameSync(FRAME_LEN, byte_aligned=True).push_bits(packed)) == 0
    frames, bits = cadu_bits(rng, 4, prefix_bits=16)
    r = FrameSync(FRAME_LEN, byte_aligned=True).push_bits(np.packbits(bits))
    assert np.array_equal(r.frames, frames)


@pytest.mark.parametrize("kernel", list(SyncKernel))
def test_find_asm_kernels_match_reference(rng, kernel):
    bits = rng.integers(0, 2, 3000, dtype=np.uint8)
    for at, flips, inv in ((400, 3, True), (1500, 1, False), (2500, 0, False)):
        word = ASM_BITS ^ 1 if inv else ASM_BITS.copy()
        word[rng.choice(32, flips, replace=False)] ^= 1
        bits[at:at + 32] = word
    packed = np.packbits(bits)
    start = 0
    while True:
        want = find_asm_reference(bits, 3, start)
        got = find_asm(packed, max_errors=3, detect_inverted=True, kernel=kernel, start_bit=start)
        assert got == want
        if want is None:
            break
        start = want[0] + 1
    assert find_asm(packed, max_errors=0, kernel=kernel)[0] == 2500


def test_pack_soft_matches_numpy(rng):
    soft = rng.integers(-128, 128, 1001, dtype=np.int8)
    assert np.array_equal(pack_soft(soft), np.packbits(soft > 0))


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="below half"):
        FrameSync(100, search_errors=16)
    with pytest.raises(ValueError, match="does not fit 24 bits"):
        FrameSync(100, asm_bits=24)
    with pytest.raises(ValueError, match="frame length"):
        FrameSync(0)
    FrameSync(100, asm=0xFAF320, asm_bits=24)  # the Proximity-1 marker


@pytest.mark.sanitize
def test_garbage_in_random_pieces_never_breaks_the_synchroniser(rng):
    for _ in range(30):
        frame_len = int(rng.integers(1, 300))
        sync = FrameSync(frame_len, search_errors=int(rng.integers(0, 8)),
                         check_frames=int(rng.integers(0, 3)), flywheel_frames=int(rng.integers(0, 3)))
        total = 0
        for _ in range(20):
            piece = rng.integers(0, 256, int(rng.integers(0, 700)), dtype=np.uint8)
            r = sync.push_bits(piece)
            assert r.frames.shape == (len(r), frame_len)
            total += len(r)
        assert sync.counters["frames"] == total


@pytest.mark.interop
def test_gr_satellites_deframes_our_randomized_cadus(rng, tmp_path: pathlib.Path):
    require_system_modules(("satellites", "gnuradio"), "gr-satellites",
                           "Debian packages gr-satellites and gnuradio")
    frames = rng.integers(0, 256, (8, FRAME_LEN), dtype=np.uint8)
    cadus = randomize_frames(attach_asm(frames, FRAME_LEN), FRAME_LEN + 4)
    symbols = np.concatenate([rng.normal(0, 1, 1001), 2.0 * np.unpackbits(cadus) - 1.0,
                              rng.normal(0, 1, 20000)]).astype(np.float32)  # BPSK, positive is 1
    symbols.tofile(tmp_path / "cadus.f32")
    subprocess.run(["/usr/bin/python3", str(ROOT / "tests" / "peers" / "grsat" / "decode_cadu.py"),
                    str(tmp_path / "cadus.f32"), str(tmp_path / "out.jsonl"),
                    "--frame-size", str(FRAME_LEN), "--no-rs"], check=True, timeout=300)
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    got = [bytes.fromhex(json.loads(line)["hex"]) for line in lines]
    assert got == [f.tobytes() for f in frames]
