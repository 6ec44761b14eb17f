"""Makes the seed corpus of every libFuzzer target in csrc/fuzz/ (csrc/fuzz/corpus/<target>/).

A fuzzer that starts from nothing spends its first hours finding an ASM, a valid header or a
codeblock that decodes.  These seeds are real: frames, CADUs, CLTUs and soft symbols that
``lunarelay encode`` and ``lunarelay decode`` make, the published vectors of tests/vectors/ (the
CCSDS randomizer, BCH, RS and convolutional vectors, the LSIS-AFS code parameters), and FARM-1
sequences that walk Table 6-1 of CCSDS 232.1-B-2.  Each file starts with the configuration octets
its target reads first (see the target's source), so the seeds reach the code past them.

    python csrc/fuzz/make_corpus.py [--out DIR]     (with the package installed: pip install -e .)

The output is deterministic: run again, it writes the same files, and removes seeds it no
longer makes.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import pathlib
import random
import struct
import tempfile
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VECTORS = ROOT / "tests" / "vectors"
CORPUS = HERE / "corpus"
MAX_LEN = 8192                        # csrc/fuzz/run.sh: -max_len
ASM = bytes.fromhex("1ACFFC1D")


def lunarelay(*args: str) -> None:
    """Run one ``lunarelay`` command of the installed package, in this process."""
    from lunarelay_tools.cli import main

    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        status = main(list(args))
    if status:
        raise RuntimeError(f"lunarelay {' '.join(args)}: exit {status}: {err.getvalue().strip()}")


class Corpus:
    def __init__(self, root: pathlib.Path):
        self.root = root
        self.files: dict[str, dict[str, bytes]] = {}

    def add(self, target: str, name: str, data: bytes) -> None:
        data = bytes(data[:MAX_LEN])
        seeds = self.files.setdefault(target, {})
        if name in seeds:
            raise ValueError(f"seed {target}/{name} made twice")
        seeds[name] = data

    def write(self) -> None:
        for target, seeds in sorted(self.files.items()):
            folder = self.root / target
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.bin"):          # seeds this script no longer makes
                if old.stem not in seeds:
                    old.unlink()
            for name, data in sorted(seeds.items()):
                (folder / f"{name}.bin").write_bytes(data)


def encoded(tmp: pathlib.Path, name: str, *args: str) -> bytes:
    out = tmp / name
    lunarelay("encode", *args, "-o", str(out))
    return out.read_bytes()


def traffic(seed: int) -> list[str]:
    """Two APIDs of generated packets, as a user would ask ``encode`` for them."""
    return ["--traffic", "0x100:40:180", "--traffic", "0x2A5:15:700", "--duration", "1", "--seed", str(seed)]


def chunks(data: bytes, size: int, count: int, step: int = 1) -> list[bytes]:
    spans = [(i * step * size, (i * step + 1) * size) for i in range(count)]
    return [data[a:b] for a, b in spans if b <= len(data)]


# ----- space packets, TM, AOS ------------------------------------------------------------------

def space_packets(c: Corpus, tmp: pathlib.Path) -> None:
    cadus = encoded(tmp, "spp.cadu", *traffic(1), "--rs", "0", "--no-randomize")
    packets = tmp / "spp.packets"
    lunarelay("decode", str(tmp / "spp.cadu"), "--rs", "0", "--no-randomize", "-o", str(packets))
    stream = packets.read_bytes()
    assert cadus and stream
    for i, at in enumerate(range(0, min(len(stream), 6 * 4096), 4096)):
        c.add("spp", f"encode-packets-{i}", stream[at:at + 4096])
    # the bus's own packets: a CUC secondary header, TM and TC, events and playback
    from onboard.bus.packet import PacketType, pack

    bus = [pack(0x401, b"\x00\x64\x02" + b"store: 12 packets deleted", 7, 2.0e9 + 0.25),
           pack(0x0A3, bytes(range(40)), 8, 2.0e9 + 1.5, PacketType.TC),
           pack(0x501, (42).to_bytes(4, "big") + bytes(200), 0x3FFF, 2.0e9)]
    c.add("spp", "bus-packets", b"".join(bus))
    c.add("spp", "truncated-packet", stream[:1000])
    c.add("spp", "idle-packet", bytes.fromhex("07FFC0000004") + b"\x55" * 5)


def tm_frames(c: Corpus, tmp: pathlib.Path) -> None:
    def layout(frame_len: int, ocf: bool, fecf: bool) -> bytes:
        v = frame_len - 16                      # fuzz_tm.c: 16 + (d0 | (d1 & 7) << 8) % 2033
        return bytes([v & 0xFF, (v >> 8) & 7 | ocf << 3 | fecf << 4])

    for name, frame_len, extra, ocf, fecf in (("1115", 1115, [], False, True),
                                              ("1115-ocf", 1115, ["--ocf"], True, True),
                                              ("446-no-fecf", 446, ["--no-fecf"], False, False),
                                              ("223-ocf", 223, ["--ocf"], True, True)):
        data = encoded(tmp, f"tm-{name}.cadu", *traffic(2), "--rs", "0", "--no-randomize",
                       "--frame-length", str(frame_len), *extra)
        cadu = 4 + frame_len
        frames = b"".join(data[i + 4:i + cadu] for i in range(0, len(data), cadu))
        per_seed = max(1, 3 * 1115 // frame_len)
        for i, chunk in enumerate(chunks(frames, per_seed * frame_len, 4, step=2)):
            c.add("tm", f"encode-{name}-{i}", layout(frame_len, ocf, fecf) + chunk)
    c.add("tm", "header-only", layout(16, False, False) + bytes.fromhex("0AB2000018000000000000000000000000"))


def aos_frames(c: Corpus, tmp: pathlib.Path) -> None:
    from onboard.core import aos

    for name, frame_len, extra, flags in (("892", 892, [], 0b100), ("892-ocf", 892, ["--ocf"], 0b110),
                                          ("256-no-fecf", 256, ["--no-fecf"], 0b000)):
        data = encoded(tmp, f"aos-{name}.cadu", "--frame", "aos", *traffic(3), "--rs", "0", "--no-randomize",
                       "--frame-length", str(frame_len), *extra)
        cadu = 4 + frame_len
        for i in range(4):
            frame = data[i * 2 * cadu + 4:(i * 2 + 1) * cadu]
            if len(frame) == frame_len:
                c.add("aos", f"encode-{name}-{i}", bytes([flags, 0]) + frame)
    # a frame with the frame header error control and an insert zone (732.0-B-4 §4.1.2.9, §4.1.3)
    cfg = aos.AosConfig(scid=0x55, frame_len=300, fhec=True, insert_zone_len=6, ocf=True)
    header = aos.AosHeader(scid=0x55, vcid=3, vc_count=0x123456)
    body = aos.mpdu_header(0) + bytes(i & 0xFF for i in range(cfg.data_len - 2))
    frame = aos.build_frame(cfg, header, body,
                            insert_zone=b"INSERT", ocf=0x01000000)
    c.add("aos", "fhec-insert-zone", bytes([0b111, 6]) + frame)


def prox1_pltus(c: Corpus) -> None:
    from hil.surface.user import payload
    from onboard.bus.packet import pack
    from onboard.core.prox1 import HEADER_LEN, Prox1Header, build_pltu

    for i, (apid, length, per_frame) in enumerate(((0x101, 240, 4), (0x102, 120, 1), (0x103, 30, 20))):
        packets = b"".join(pack(apid, payload(apid, n, length), n, 2.0e9 + n) for n in range(per_frame))
        header = Prox1Header(scid=0x2A1, port_id=i, frame_seq_num=i * 7, src_dst_id=1,
                             frame_len=HEADER_LEN + len(packets))
        pltu = build_pltu(header, packets)
        c.add("prox1", f"surface-user-{apid:x}", pltu)
        c.add("prox1", f"surface-user-{apid:x}-twice", pltu + pltu[:len(pltu) // 2] + pltu)
    c.add("prox1", "expedited-protocol-pdu",
          build_pltu(Prox1Header(scid=5, qos=True, pdu_type=1, frame_len=HEADER_LEN + 3), b"\x01\x02\x03"))


# ----- TC: frames, CLTUs, FARM-1 -------------------------------------------------------------------

def tc_frames_and_cltus(c: Corpus, tmp: pathlib.Path) -> None:
    for name, extra, random_ in (("randomized", [], True), ("plain", ["--no-randomize"], False)):
        cltus = encoded(tmp, f"tc-{name}.cltu", "--tc", "--traffic", "0x0A3:20:60", "--traffic",
                        "0x0A4:3:900", "--duration", "1", "--scid", "0x2A1", "--vcid", "0", *extra)
        frames = tmp / f"tc-{name}.frames"
        lunarelay("decode", str(tmp / f"tc-{name}.cltu"), "--tc", *extra, "-o", str(frames))
        frame_octets = frames.read_bytes()
        for i, at in enumerate(range(0, min(len(cltus), 5 * 2000), 2000)):
            # fuzz_cltu.c: correction on, tolerance 0, 8 infos, out room of 255*7 octets
            c.add("cltu", f"encode-{name}-{i}", bytes([0b0111001, 255]) + cltus[at:at + 2000])
        c.add("cltu", f"encode-{name}-detect-only", bytes([0b0000010 & 0, 40]) + cltus[:1500])
        if not random_:
            for i, at in enumerate(range(0, min(len(frame_octets), 4 * 1500), 1500)):
                c.add("tc", f"decode-{name}-{i}", frame_octets[at:at + 1500])
    vectors = tomllib.loads((VECTORS / "ccsds_sync" / "vectors.toml").read_text())
    blocks = b"".join(bytes.fromhex(b["info"] + b["parity"]) for b in vectors["bch"])
    start, tail = bytes.fromhex("EB90"), bytes.fromhex("C5C5C5C5C5C5C579")
    c.add("cltu", "bch-vectors", bytes([0b0000001, 10]) + start + blocks + tail)
    c.add("cltu", "bch-vectors-one-bit-error",
          bytes([0b0000011, 10]) + start + bytes([blocks[0] ^ 0x10]) + blocks[1:] + tail)
    # SDLS-protected frames as the ground station sends them (TcProtector)
    from hil.ground.fop import build_tc_frame
    from hil.ground.protection import TcProtector
    from onboard.ccsds.sdls import Sdls
    from onboard.scenario import default_key_file

    protector = TcProtector(Sdls.from_key_file(default_key_file()), 1)
    frames = [protector.protect(build_tc_frame(0x2A1, 0, ns, bytes(range(ns, ns + 40)))) for ns in range(6)]
    c.add("tc", "sdls-protected", b"".join(frames))
    c.add("tc", "bc-unlock-set-vr", build_tc_frame(0x2A1, 0, 0, b"\x00", bypass=True, control=True)
          + build_tc_frame(0x2A1, 0, 0, b"\x82\x00\x07", bypass=True, control=True))


def farm_sequences(c: Corpus) -> None:
    """Event sequences for fuzz_farm.c: op < 16 is a buffer signal (op & 1 = available), else a frame
    of kind op % 4 (0 AD, 1 BD, 2 Unlock, 3 Set V(R)) with N(S) in the next octet."""
    AD, BD, UNLOCK, SET_VR = 16, 17, 18, 19
    w10 = bytes([10, 0x80])                  # window 10, VCID 0, FECF

    def frames(*events) -> bytes:
        out = bytearray()
        for e in events:
            out += bytes([e[0]]) if e[0] < 16 else bytes(e)
        return bytes(out)

    in_sequence = [(AD, ns) for ns in range(12)]
    c.add("farm", "in-sequence", w10 + frames(*in_sequence))
    c.add("farm", "lost-frame-retransmit", w10 + frames((AD, 0), (AD, 2), (AD, 3), (AD, 1), (AD, 2)))
    c.add("farm", "duplicate", w10 + frames((AD, 0), (AD, 1), (AD, 0), (AD, 1), (AD, 2)))
    c.add("farm", "lockout-unlock", w10 + frames((AD, 0), (AD, 100), (AD, 1), (UNLOCK, 0), (AD, 1)))
    c.add("farm", "wait-release", w10 + frames((AD, 0), (0,), (AD, 1), (AD, 1), (1,), (AD, 1)))
    # Table 6-1 E10 in S3: Wait set, then Lockout, then the buffer release clears Wait
    c.add("farm", "wait-lockout-release", w10 + frames((0,), (AD, 0), (AD, 200), (1,), (SET_VR, 5),
                                                      (UNLOCK, 0), (AD, 0)))
    c.add("farm", "set-vr", bytes([254, 0x3F]) + frames((SET_VR, 250), (AD, 250), (AD, 251), (BD, 0),
                                                         (AD, 252)))
    c.add("farm", "window-2", bytes([2, 0x01]) + frames((AD, 0), (AD, 2), (AD, 255), (AD, 1), (BD, 9)))
    wrap = [(AD, n & 0xFF) for n in range(254, 262)]
    c.add("farm", "wrap", bytes([64, 0x80]) + frames((SET_VR, 254), *wrap))
    # arbitrary octets after 0x80: a real TC frame header handed to the FARM
    from hil.ground.fop import build_tc_frame

    raw = build_tc_frame(0x2A1, 0, 0, b"\x01\x02")
    c.add("farm", "raw-frame", w10 + bytes([0x80 | AD, 0, len(raw) - 1]) + raw)


# ----- coding: RS, convolutional code, randomizer, sync -------------------------------------------------

def reed_solomon(c: Corpus, tmp: pathlib.Path) -> None:
    v = tomllib.loads((VECTORS / "rs" / "rs255_223_conventional.toml").read_text())
    codeword = bytes((v["data_first"] + i) & 0xFF for i in range(v["data_len"])) + bytes.fromhex(v["parity"])
    depth_code = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 8: 5}   # fuzz_rs.c: depths[(d0 >> 1) & 7]

    def config(e: int, depth: int, dual: bool, mode: int, fill: int = 0) -> bytes:
        return bytes([(e == 16) | depth_code[depth] << 1 | dual << 4 | mode << 5, fill & 0xFF, fill >> 8])

    c.add("rs", "vector-conventional", config(16, 1, False, 0) + codeword)
    flipped = bytearray(codeword)
    for at in range(0, 255, 17):                         # 15 symbol errors: within E = 16
        flipped[at] ^= 0xA5
    c.add("rs", "vector-15-errors", config(16, 1, False, 0) + bytes(flipped))
    c.add("rs", "vector-data-and-errors", config(16, 1, False, 1) + codeword[:223]
          + b"".join(struct.pack(">HB", p, 0x5A) for p in range(3, 255, 16)))
    for name, e, depth in (("e16-i5", 16, 5), ("e8-i2", 8, 2), ("e16-i1", 16, 1)):
        k = 255 - 2 * e
        for basis in ("dual", "conventional"):
            data = encoded(tmp, f"rs-{name}-{basis}.cadu", *traffic(4), "--rs", str(e), "--interleave",
                           str(depth), "--basis", basis, "--no-randomize", "--frame-length", str(depth * k))
            block = data[4:4 + 255 * depth]
            c.add("rs", f"encode-{name}-{basis}", config(e, depth, basis == "dual", 0) + block)
    data = encoded(tmp, "rs-fill.cadu", *traffic(4), "--rs", "16", "--interleave", "1", "--virtual-fill",
                   "23", "--no-randomize", "--frame-length", "200")
    c.add("rs", "encode-virtual-fill-23", config(16, 1, True, 0, 23) + data[4:4 + 232])


def convolutional(c: Corpus, tmp: pathlib.Path) -> None:
    rates = {"1/2": 0, "2/3": 1, "3/4": 2, "5/6": 3, "7/8": 4}
    for rate, code in rates.items():
        soft = encoded(tmp, f"conv-{code}.soft", *traffic(5), "--rs", "16", "--interleave", "1", "--conv",
                       rate, "--output-format", "soft")
        for i, at in enumerate((0, 20000)):
            # fuzz_conv.c: start state 0 (d0 = 1), end state free (d1 = 0), default depth,
            # no inversion, the rate, two cuts
            head = bytes([1, 0, 0, code << 1 | 2 << 4, 200, 77])
            c.add("conv", f"encode-{rate.replace('/', '_')}-{i}", head + soft[at:at + 1200])
    v = tomllib.loads((VECTORS / "conv" / "encoded_asm.toml").read_text())
    for name, entry in v.items():
        hexbits = entry.get("symbols") or entry["symbols_complemented"]
        bits = bin(int(hexbits, 16))[2:].zfill(64)
        soft = bytes(255 if b == "1" else 0 for b in bits)
        c.add("conv", f"goestools-{name}", bytes([0, 0, 0, 1 if "complemented" in entry else 0]) + soft)


def randomizer(c: Corpus, tmp: pathlib.Path) -> None:
    vectors = tomllib.loads((VECTORS / "ccsds_sync" / "vectors.toml").read_text())
    for sequence, name in ((0, "tm_randomizer"), (1, "tc_randomizer")):
        first = bytes.fromhex(vectors[name]["first_bytes"])
        # fuzz_rand.c: sequence, kernel, phase (8 octets), frame length, skip
        c.add("rand", f"{name}-vector", bytes([sequence]) + bytes(8) + bytes([len(first), 0]) + first)
    frames = encoded(tmp, "rand.cadu", *traffic(6), "--rs", "0", "--frame-length", "1115")
    for kernel in range(4):
        c.add("rand", f"encode-cadus-kernel-{kernel}", bytes([kernel << 2]) + bytes(8) + bytes([0, 0])
              + frames[:4 * 1119])
    cltus = encoded(tmp, "rand.cltu", "--tc", "--traffic", "0x0A3:10:40", "--duration", "1")
    c.add("rand", "encode-cltus-tc", bytes([1]) + (1000).to_bytes(8, "big") + bytes([8, 2]) + cltus[:2048])


def frame_sync(c: Corpus, tmp: pathlib.Path) -> None:
    """fuzz_sync.c frames are at most 39 octets: short TM frames through ``encode`` fit."""
    data = encoded(tmp, "sync.cadu", "--traffic", "0x100:30:10", "--duration", "1", "--rs", "0",
                   "--frame-length", "32", "--no-fecf")
    stream = data[:3000]

    def head(kernel: int, soft: bool, n_cuts: int, check: int = 1, flywheel: int = 2, inverted: bool = False,
             search: int = 2, lock: int = 4) -> bytes:
        return bytes([soft, 0, 0, 26, 32, search | lock << 3, check | flywheel << 2 | 1 << 4 | inverted << 5,
                      kernel, 0, n_cuts])

    for kernel in range(5):
        c.add("sync", f"encode-kernel-{kernel}", head(kernel, False, 3) + bytes([40, 200, 7]) + stream)
    noisy = bytearray(stream)
    rng = random.Random(7)
    for _ in range(60):
        noisy[rng.randrange(len(noisy))] ^= 1 << rng.randrange(8)
    c.add("sync", "encode-bit-errors", head(1, False, 0) + bytes(noisy))
    inverted = bytes(b ^ 0xFF for b in stream[:2000])
    c.add("sync", "encode-inverted", head(2, False, 0, inverted=True) + inverted)
    soft = bytes(100 if (stream[i // 8] >> (7 - i % 8)) & 1 else 156 for i in range(8 * 600))
    c.add("sync", "encode-soft", head(1, True, 0) + soft)
    gap = stream[:700] + bytes(300) + stream[700:1800]
    c.add("sync", "encode-lost-lock", head(0, False, 0, flywheel=0) + gap)


# ----- signals: spreading codes and the synthesiser --------------------------------------------------

def spreading_codes(c: Corpus) -> None:
    def i32(v: int) -> bytes:
        return (v + 10).to_bytes(4, "big")               # fuzz_codes.c: small values are v % 12000 - 10

    def call(which: int, kind: int, n_out_code: int, a: int, b: int = 0) -> bytes:
        return bytes([which | (kind + 1) << 2, n_out_code]) + i32(a) + i32(b)

    lsis = VECTORS / "lsis"
    gold = list(csv.DictReader((lsis / "afs_i_gold_prn_params.csv").open()))
    primary = list(csv.DictReader((lsis / "afs_q_primary_weil_prn_params.csv").open()))
    tertiary = list(csv.DictReader((lsis / "afs_q_tertiary_weil_prn_params.csv").open()))
    for prn in (1, 2, 105, 210):
        c.add("codes", f"lsis-prn-{prn}",
              call(1, 0, 45, int(gold[prn - 1]["g2_delay_chips"]))
              + call(2, 0, 2, int(primary[prn - 1]["weil_index_k"]),
                     int(primary[prn - 1]["insertion_index_p"]))
              + call(3, 0, 33, int(tertiary[prn - 1]["weil_index_k"]))
              + call(0, 1, 45, prn) + call(0, 2, 2, prn) + call(0, 4, 33, prn))
    c.add("codes", "gps-l1ca-prns", b"".join(call(0, 0, 23, prn) for prn in (1, 2, 17, 32, 37, 63)))
    c.add("codes", "afs-q-secondary", b"".join(call(0, 3, 3, k) for k in range(0, 6)))
    c.add("codes", "output-one-short", call(0, 0, 21, 1) + call(0, 2, 0, 1) + call(0, 1, 43, 1))


def synthesiser(c: Corpus) -> None:
    """fuzz_siggen.c reads doubles as a tag octet (1: the next 8 octets are the IEEE bits) and u32s
    big-endian; each of its four channels reads flags, chips and six doubles."""
    from onboard.core import codes

    def dbl(x: float) -> bytes:
        return b"\x01" + struct.pack(">d", x)

    def channel(chips: bytes | None, phase: float, rate: float, doppler: float, amplitude: float,
                component: int, signs: bool) -> bytes:
        if chips is None:                                 # an unused channel: one chip, no table
            return bytes([0, 0, 0, 0, 0]) + b"".join(dbl(0.0) for _ in range(6))
        n = len(chips) - 1
        flags = (n >> 8) | 4 | 8 | (16 if signs else 0)
        out = bytes([flags, n & 0xFF]) + chips + (bytes([10]) if signs else b"") + bytes([0, component])
        return out + dbl(phase) + dbl(rate) + dbl(0.25) + dbl(doppler) + dbl(0.0) + dbl(amplitude)

    def chips_of(code) -> bytes:
        return bytes(0xFF if chip else 0x01 for chip in code)     # int8: the sign bit is the chip

    def calls(*spec) -> bytes:
        return b"".join(n.to_bytes(4, "big") + bytes([fmt, 1, how]) for n, fmt, how in spec)

    gps = [chips_of(codes.gps_l1ca(prn)) for prn in (1, 7, 24)]
    afs_i = chips_of(codes.afs_i(3))[:1024]
    head = dbl(4e6) + dbl(0.0) + (5).to_bytes(8, "big") + b"\x01" + dbl(1.0) + b"\x01" + dbl(2048.0)
    gps_channels = b"".join(channel(g, 100.5 * (i + 1), 1.023e6 * (1 + d / 1575.42e6), d, 0.05, 0, True)
                            for i, (g, d) in enumerate(zip(gps, (-1200.0, 350.0, 3100.0), strict=True)))
    unused = channel(None, 0, 0, 0, 0, 0, False)
    c.add("siggen", "gps-l1ca-3-channels", head + bytes([3]) + gps_channels + unused
          + calls((2600, 1, 0), (1000, 0, 2), (2600, 2, 0)))
    c.add("siggen", "gps-one-channel-both-paths",
          head + bytes([1]) + channel(gps[0], 0.0, 1.023e6, 0.0, 0.1, 0, False) + 3 * unused
          + calls((2600, 1, 1), (2600, 1, 3)))
    c.add("siggen", "afs-i-and-q", dbl(12e6) + dbl(-250e3) + (9).to_bytes(8, "big") + b"\x00\x00" + bytes([2])
          + channel(afs_i, 10.0, 5.115e6, 500.0, 0.02, 1, True)
          + channel(afs_i, 10.0, 5.115e6, 500.0, 0.02, 2, False)
          + 2 * unused + calls((2600, 0, 0), (2600, 1, 2)))


def serial_streams(c: Corpus) -> None:
    """fuzz_serial.c reads one octet (framing | CRC flag << 2 | split size - 1 << 3), then the
    stream: frames of real packets, with console text and noise between some of them."""
    from onboard.core.serial import Framing, frame
    from onboard.core.spp import build_packet

    rng = random.Random(11)
    packets = [build_packet(0x100 + i, bytes(rng.randrange(256) for _ in range(8 + 37 * i)), seq_count=i)
               for i in range(4)]
    for framing in Framing:
        for crc in (True, False):
            if framing is Framing.ASM and not crc:
                continue
            frames = [frame(p, framing, crc) for p in packets]
            clean = b"".join(frames)
            noisy = frames[0] + b"\r\nboot: ok\r\n" + frames[1][: len(frames[1]) // 2] + frames[2] + \
                bytes(rng.randrange(256) for _ in range(9)) + frames[3]
            head = framing.value | (4 if crc else 0)
            name = f"{framing.name.lower()}{'-crc' if crc else ''}"
            c.add("serial", f"{name}-clean", bytes([head | (6 << 3)]) + clean)
            c.add("serial", f"{name}-noisy", bytes([head | (2 << 3)]) + noisy)


def modem(c: Corpus) -> None:
    """fuzz_mod.c and fuzz_demod.c read their configuration octets first (see each target), then
    data: bits in blocks for the modulator, and for the demodulator float samples, here a real
    BPSK and QPSK baseband made by the project's modulator."""
    import numpy as np

    from onboard.core.modem import Coding, Modulator, Scheme

    rng = random.Random(12)
    bits = bytes(rng.randrange(2) for _ in range(120))
    for scheme in (0, 1, 2, 3):
        for coding in (0, 1):
            # scheme | coding, sps 4.0, roll-off 0.3, amplitude 1, subcarrier 0.1, index 1.0 rad, cf32, AUTO
            config = bytes([scheme | coding << 3, 3, 4, 1, 5, 2, 0, 0])
            c.add("mod", f"scheme{scheme}-coding{coding}", config + bytes([60, 0]) + bits[:60]
                  + bytes([60, 7]) + bits[60:])
    for scheme, name in ((Scheme.BPSK, "bpsk"), (Scheme.QPSK, "qpsk")):
        mod = Modulator(scheme, sps=4.0, rolloff=0.35, coding=Coding.NRZ_L)
        iq = mod.modulate(np.frombuffer(bits * 2, dtype=np.uint8)).astype(np.complex64)[:900]
        tilt = np.exp(2j * np.pi * 0.01 * np.arange(iq.size)).astype(np.complex64)
        samples = (iq * tilt).view(np.float32).tobytes()
        # BPSK/QPSK NRZ-L, sps 4.0, roll-off 0.35, 4 MHz, loop bandwidths 0.01, 16 kHz search,
        # three frames, lock after 16 symbols, unlock after 32, AUTO
        config = bytes([int(scheme), 3, 4, 1, 1, 1, 2, 3, 16, 32, 1, 2, 0])
        c.add("demod", name, config + samples)
        c.add("demod", f"{name}-portable", config[:-1] + b"\x01" + samples[:4000])
    c.add("demod", "silence", bytes([0, 3, 4, 1, 1, 1, 2, 3, 16, 32, 1, 2, 0]) + bytes(800))


def ldpc_graphs(c: Corpus) -> None:
    """fuzz_ldpc.c reads n_vars, n_checks, flags, one row length per check, 256 edge variables,
    the LLRs (a tag octet; tags 3..7 take the next octet as a value) and the iteration count and
    scale: here the (7, 4) Hamming code and a (16, 8) regular code, clean and with one error."""
    hamming = [[0, 1, 2, 4], [0, 1, 3, 5], [0, 2, 3, 6]]
    rng = random.Random(13)
    regular = [sorted(rng.sample(range(16), 4)) for _ in range(8)]
    for name, rows, n_vars in (("hamming74", hamming, 7), ("regular16", regular, 16)):
        edges = [v for row in rows for v in row]
        head = bytes([n_vars - 1, len(rows), 0]) + bytes(len(row) for row in rows)
        edge_octets = bytes(edges + [0] * (256 - len(edges)))
        for errors in (0, 1):
            llrs = b"".join(bytes([3, 128 + (40 if v >= errors else -40)]) for v in range(n_vars))
            c.add("ldpc", f"{name}-{errors}-errors", head + edge_octets + llrs + bytes([9, 40]))


def tracking(c: Corpus) -> None:
    """fuzz_track.c reads the sample rate and IF flags, the kernel and channel count, then for each
    of its three channels flags, two code tables, the mode and loop values (tag octet, then a u32
    scale), then calls: u32 sample count, format, int8-coded samples, SIMD and output flags.  Here
    one channel of a 31-chip code at 1 Mcps, 4 samples a chip, with its samples."""
    pad = 32                                  # LR_TRACK_CODE_PAD (csrc/lr_track.h)
    code = [1, -1, -1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, -1, 1, 1, -1, 1, 1, 1, -1, -1, 1, -1, 1, -1,
            -1, -1, -1, 1, 1]
    table = bytes((code[(k - pad) % 31]) & 0xFF for k in range(31 + 2 * pad))

    def value(scale: int = 0) -> bytes:          # tag 2: typical * (1 + scale / 2^31)
        return bytes([2]) + scale.to_bytes(4, "big", signed=True)

    def channel() -> bytes:
        code_part = bytes([30]) + table + bytes([0])          # n - 1 = 30, no extra entries, I
        loops = b"".join(value() for _ in range(9))     # chip rate .. early-late spacing
        return bytes([0]) + code_part + code_part + bytes([0, 0, 1]) + loops

    samples = bytes((128 + 20 * code[(i // 4) % 31]) & 0xFF for i in range(2 * 1240))
    call = (1240).to_bytes(4, "big") + bytes([0]) + samples + bytes([0, 0])
    for kernel in (0, 1):
        c.add("track", f"one-channel-kernel{kernel}", bytes([0, 0, kernel, 1]) + 3 * channel() + call)
    c.add("track", "three-channels", bytes([0, 0, 0, 3]) + 3 * channel() + call)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=CORPUS,
                        help="corpus directory to (re)write (default csrc/fuzz/corpus)")
    out = parser.parse_args(argv).out.resolve()
    c = Corpus(out)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = pathlib.Path(tmp_name)
        space_packets(c, tmp)
        tm_frames(c, tmp)
        aos_frames(c, tmp)
        prox1_pltus(c)
        tc_frames_and_cltus(c, tmp)
        farm_sequences(c)
        reed_solomon(c, tmp)
        convolutional(c, tmp)
        randomizer(c, tmp)
        frame_sync(c, tmp)
        spreading_codes(c)
        synthesiser(c)
        serial_streams(c)
        modem(c)
        ldpc_graphs(c)
        tracking(c)
    c.write()
    total = sum(len(d) for seeds in c.files.values() for d in seeds.values())
    for target, seeds in sorted(c.files.items()):
        print(f"{target:7s} {len(seeds):3d} seeds {sum(map(len, seeds.values())):7d} octets")
    print(f"{sum(map(len, c.files.values()))} seeds, {total} octets in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
