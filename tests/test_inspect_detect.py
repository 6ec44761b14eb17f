"""`lunarelay inspect` auto-detection: every link `lunarelay encode` can make is found with no flags
(frame kind and length, RS E/I/basis/virtual fill, randomizer, the five convolutional rates,
octets or soft symbols, inversion, SCID, OCF, FECF), and so are TC frames, CLTUs, bare frames,
packets and KISS/SLIP; when nothing fits it says so, family by family."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from lunarelay_tools.inspect.detect import detect
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.core import tc
from onboard.core.spp import build_packet

RS_CONFIGS = ([(0, 1, 0)] + [(e, i, 0) for e in (16, 8) for i in (1, 2, 3, 4, 5, 8)]
              + [(16, 8, 10), (8, 2, 30)])


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def packets():
    rng = np.random.default_rng(11)
    sizes = rng.integers(20, 300, 60)
    return b"".join(build_packet(0x64 + i % 3, rng.integers(0, 256, int(sizes[i]), dtype=np.uint8).tobytes(),
                                 seq_count=i // 3) for i in range(60))


def split(packets: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(packets):
        n = (packets[at + 4] << 8 | packets[at + 5]) + 7
        out.append(packets[at:at + n])
        at += n
    return out


def encoded(cfg: TmLinkConfig, data: bytes, soft: bool) -> np.ndarray:
    """What `lunarelay encode` writes for this link (its encode_tm)."""
    tx = TmSendChain(cfg)
    cadus = np.concatenate([tx.packets_to_cadus(data), tx.flush()])
    if soft or cfg.conv is not None:
        out = tx.cadus_to_symbols(cadus, final=True)
        return out if soft else np.packbits(out > 127)
    return cadus


def check(cfg: TmLinkConfig, stream: np.ndarray, soft: bool, inverted: bool = False) -> None:
    det = detect(stream.tobytes())
    p = det.params
    assert p is not None, det.why_not()
    want = {"format": "cadu", "symbols": "soft" if soft else "bytes", "conv": cfg.conv, "frame": cfg.frame,
            "frame_length": cfg.frame_length, "rs_e": cfg.rs_e,
            "interleave": cfg.rs_interleave if cfg.rs_e else 1,
            "virtual_fill": cfg.virtual_fill, "randomize": cfg.randomize, "scid": cfg.scid, "ocf": cfg.ocf,
            "fecf": cfg.fecf, "inverted": inverted}
    if cfg.rs_e:
        want["dual_basis"] = cfg.rs_dual_basis
    got = {k: getattr(p, k) for k in want}
    assert got == want, (det.evidence, got)
    assert set(det.vcids_seen) == set(cfg.vcids)


@pytest.mark.slow
def test_detects_every_frame_coding_and_symbol_combination_without_convolutional_code(packets):
    """frame TM/AOS x RS (none, E=16/8 at I=1,2,3,4,5,8, and two virtual fills) x basis x randomizer
    x OCF x FECF x octets/soft symbols: 928 links."""
    n = 0
    for frame, (e, depth, q), basis, rnd, ocf, fecf, soft in itertools.product(
            ("tm", "aos"), RS_CONFIGS, (True, False), (True, False), (False, True), (True, False),
            (False, True)):
        if e == 0 and not basis:
            continue
        cfg = TmLinkConfig(frame=frame, frame_length=depth * (255 - 2 * e - q) if e else 1115,
                           scid=0x2A if frame == "aos" else 0x2A1, vcids=(3,), ocf=ocf, fecf=fecf, rs_e=e,
                           rs_interleave=depth, rs_dual_basis=basis, virtual_fill=q, randomize=rnd)
        check(cfg, encoded(cfg, packets, soft), soft)
        n += 1
    assert n == 928


@pytest.mark.slow
def test_detects_every_convolutional_rate_with_every_reed_solomon_code(packets):
    """rate 1/2, 2/3, 3/4, 5/6, 7/8 x TM/AOS x every RS code x randomizer x octets/soft: 600 links."""
    n = 0
    for conv, frame, (e, depth, q), rnd, soft in itertools.product(
            ("1/2", "2/3", "3/4", "5/6", "7/8"), ("tm", "aos"), RS_CONFIGS[:13] + RS_CONFIGS[14:],
            (True, False), (False, True)):
        cfg = TmLinkConfig(frame=frame, frame_length=depth * (255 - 2 * e - q) if e else 1115, scid=0x15,
                           vcids=(1,), rs_e=e, rs_interleave=depth, virtual_fill=q, conv=conv, randomize=rnd)
        check(cfg, encoded(cfg, packets, soft), soft)
        n += 1
    assert n == 5 * 2 * 14 * 2 * 2


@pytest.mark.parametrize("conv", [None, "1/2", "3/4"])
@pytest.mark.parametrize("soft", [False, True])
def test_detects_a_stream_received_inverted(packets, conv, soft):
    """BPSK's 180-degree ambiguity complements every channel bit; the complemented ASM is found."""
    cfg = TmLinkConfig(rs_e=16, rs_interleave=5, conv=conv)
    stream = encoded(cfg, packets, soft)
    inverted = (255 - stream).astype(np.uint8) if soft else ~stream
    check(cfg, inverted, soft, inverted=True)


def test_detects_the_spacecraft_and_virtual_channels_the_frames_carry(packets):
    pk = split(packets)
    tx = TmSendChain(TmLinkConfig(scid=0x3FE, vcids=(0, 5), ocf=True))
    cadus = np.concatenate([tx.packets_to_cadus(b"".join(pk[:30]), vcid=0),
                            tx.packets_to_cadus(b"".join(pk[30:]), vcid=5), tx.flush()])
    det = detect(cadus.tobytes())
    assert det.params.scid == 0x3FE and det.params.ocf
    assert set(det.vcids_seen) == {0, 5}


def test_pinned_parameters_are_kept_and_the_rest_detected(packets):
    cfg = TmLinkConfig(rs_e=8, rs_interleave=2, frame_length=2 * 239, randomize=False)
    stream = encoded(cfg, packets, False).tobytes()
    det = detect(stream, {"format": "cadu", "rs_e": 8})
    assert (det.params.rs_e, det.params.interleave, det.params.randomize) == (8, 2, False)
    assert detect(stream, {"format": "cadu", "rs_e": 16}).params is None   # no E=16 code fits


def test_detects_tc_frames_cltus_packets_kiss_slip_and_bare_frames(packets):
    from onboard.core.crc import crc16_ccitt

    END, ESC = 0xC0, 0xDB            # RFC 1055 and KISS specials

    def stuff(p: bytes) -> bytes:
        return p.replace(bytes([ESC]), b"\xdb\xdd").replace(bytes([END]), b"\xdb\xdc")

    pk = split(packets)
    cfg = tc.TcConfig(scid=0x1F0, vcid=2)
    frames = [tc.build_frame(cfg, p, frame_seq_num=i) for i, p in enumerate(pk[:20])]
    from hil.ground.chain import tc_frames_to_cltus

    tx = TmSendChain(TmLinkConfig(frame="aos", rs_e=0, frame_length=700, scid=0x7A, ocf=True))
    cases = {
        "tc": b"".join(frames),
        "cltu": tc_frames_to_cltus(frames),
        "packets": packets,
        "kiss": b"".join(b"\xc0\x00" + stuff(p) for p in pk) + b"\xc0",
        "slip": b"\xc0" + b"".join(stuff(p) + b"\xc0" for p in pk),
        "asm": b"".join(b"\x1a\xcf\xfc\x1d" + p + crc16_ccitt(p).to_bytes(2, "big") for p in pk),
        "aos": tx.packets_to_frames(packets) + tx.flush_frames(),
    }
    for kind, data in cases.items():
        det = detect(data)
        assert det.params is not None, (kind, det.why_not())
        found = det.container if kind in ("kiss", "slip", "asm") else det.params.format
        assert found == kind, (kind, det.evidence)
    assert detect(cases["tc"]).params.scid == 0x1F0
    assert detect(cases["cltu"]).params.randomize
    aos = detect(cases["aos"]).params
    assert (aos.frame_length, aos.scid, aos.ocf) == (700, 0x7A, True)


def test_nothing_fits_says_why_for_every_family(rng):
    det = detect(rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    assert det.params is None
    why = det.why_not()
    for family in ("CLTUs", "space packets", "TC frames", "CADUs in octets", "bare TM/AOS frames",
                   "convolutional code"):
        assert family in why


def test_command_line_prints_flags_that_pin_what_encode_made(tmp_path, packets):
    src, stream, out = tmp_path / "p.bin", tmp_path / "s.bin", tmp_path / "sum.json"
    src.write_bytes(packets)
    enc = ["--frame", "aos", "--rs", "8", "--interleave", "3", "--basis", "conventional", "--scid", "0x55",
           "--vcid", "9", "--ocf", "--conv", "2/3"]
    assert lunarelay("encode", str(src), "-o", str(stream), "--output-format", "soft", *enc).returncode == 0
    r = lunarelay("inspect", str(stream), "--summary", str(out))
    assert r.returncode == 0, r.stderr
    s = json.loads(out.read_text())["streams"][0]
    flags = s["flags"]
    for a, b in (("--frame", "aos"), ("--rs", "8"), ("--interleave", "3"), ("--basis", "conventional"),
                 ("--scid", "0x55"), ("--conv", "2/3"), ("--symbols", "soft")):
        assert flags[flags.index(a) + 1] == b
    assert "--ocf" in flags and "pin it with" in r.stdout
    # the printed flags decode the same packets without detection
    again = lunarelay("inspect", str(stream), "--summary", str(out), *flags)
    assert again.returncode == 0, again.stderr
    assert json.loads(out.read_text())["streams"][0]["packets"] == s["packets"]
    assert s["packets"]["packets"] == 60


@pytest.mark.parametrize("zone, ocf, fhec, fecf, coded", [
    (4, False, False, True, False), (8, True, True, True, False), (1, False, False, True, False),
    (13, True, False, False, True), (2, False, True, False, True), (6, True, True, True, True),
    (0, True, False, True, True)])
def test_detects_the_aos_insert_zone_by_where_the_m_pdu_headers_agree(packets, zone, ocf, fhec, fecf, coded):
    """AOS headers do not give the insert zone's length (732.0-B-4 §4.1.3, a managed parameter):
    it is the length after which M_PDU headers and packets agree, on bare frames and in CADUs."""
    from onboard.core import aos

    flen = 892 if coded else 700
    cfg = aos.AosConfig(0x55, frame_len=flen, fhec=fhec, insert_zone_len=zone, ocf=ocf, fecf=fecf)
    zone_octets = np.random.default_rng(zone).integers(0, 256, zone, dtype=np.uint8).tobytes()
    packer = aos.MpduPacker(cfg, 3, insert_zone=zone_octets)
    frames = packer.pack(packets) + packer.flush()
    data = frames
    if coded:
        tx = TmSendChain(TmLinkConfig(frame="aos", frame_length=flen, scid=0x55, rs_e=16, rs_interleave=4,
                                      fecf=fecf, ocf=ocf))
        data = tx.frames_to_cadus(frames).tobytes()
    det = detect(data)
    assert det.params is not None, det.why_not()
    p = det.params
    assert (p.format, p.frame, p.insert_zone, p.ocf, p.fhec, p.fecf) == \
        ("cadu" if coded else "aos", "aos" if coded else None, zone, ocf, fhec, fecf), det.evidence
    if zone:
        assert f"--insert-zone {zone}" in " ".join(p.flags())
    # the frames decode to every packet with no pointer contradiction under what was detected
    from lunarelay_tools.inspect.session import Options, StreamInspection

    s = StreamInspection("aos", Options())
    s.push(data)
    s.finish()
    st = s.layer_stats()["virtual_channels"][3]
    assert st["packets"] == 60 and st["fhp_errors"] == 0 and st["bad_packets"] == 0
    assert s.ledger.balance(len(data)) == 0


ENCODE_OPTIONS = {                       # every value of every link option `lunarelay encode` takes
    "frame": ("tm", "aos"), "rs": tuple(RS_CONFIGS), "basis": (True, False), "randomize": (True, False),
    "ocf": (False, True), "fecf": (True, False), "conv": (None, "1/2", "2/3", "3/4", "5/6", "7/8"),
    "soft": (False, True)}


def covering_sample(seed: int, strength: int = 3) -> list[dict]:
    """A seeded sample of the product of ENCODE_OPTIONS in which every combination of values of any
    ``strength`` options occurs at least once (so every value of every option does): the product
    taken in a seeded random order, a link kept when it brings a combination not seen yet."""
    names = list(ENCODE_OPTIONS)
    product = [dict(zip(names, values, strict=True))
               for values in itertools.product(*ENCODE_OPTIONS.values())]
    product = [c for c in product if c["rs"][0] or c["basis"]]          # no basis without RS
    groups = list(itertools.combinations(names, strength))

    def combos(c: dict) -> set:
        return {(g, tuple(c[n] for n in g)) for g in groups}

    wanted = set().union(*(combos(c) for c in product))
    sample, seen = [], set()
    for k in np.random.default_rng(seed).permutation(len(product)).tolist():
        new = combos(product[k]) - seen
        if new:
            sample.append(product[k])
            seen |= new
        if len(seen) == len(wanted):
            break
    assert seen == wanted
    return sample


@pytest.mark.slow
def test_detects_a_three_way_covering_sample_of_every_option_encode_takes(packets):
    """The whole product of encode's options (frame kind, RS code and interleave, basis, randomizer,
    OCF, FECF, convolutional rate, octets or soft symbols; 5 568 links) is covered three-way
    by a seeded sample: every value of any three options meets every value of the other two, the
    convolutional rates with OCF on, FECF off and conventional basis included."""
    sample = covering_sample(2026)
    rng = np.random.default_rng(7)
    for c in sample:
        e, depth, q = c["rs"]
        frame = c["frame"]
        scid = int(rng.integers(0, 256 if frame == "aos" else 1024))
        vcid = int(rng.integers(0, 8 if frame == "tm" else 63))
        cfg = TmLinkConfig(frame=frame, frame_length=depth * (255 - 2 * e - q) if e else 1115, scid=scid,
                           vcids=(vcid,), ocf=c["ocf"], fecf=c["fecf"], rs_e=e,
                           rs_interleave=depth, rs_dual_basis=c["basis"], virtual_fill=q,
                           randomize=c["randomize"], conv=c["conv"])
        check(cfg, encoded(cfg, packets, c["soft"]), c["soft"])
    assert 90 <= len(sample) < 1500
