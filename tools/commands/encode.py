"""`lunarelay encode`: Encode space packets into a CCSDS CADU stream, or TC frames into CLTUs.

Packets come from a file of concatenated space packets or from generated test traffic
(``--traffic APID:RATE[:LEN]``, repeatable, for ``--duration`` seconds).  They are packed into TM
or AOS frames on one virtual channel, Reed-Solomon coded, randomized, given the ASM and, with
``--conv``, convolutionally coded; the output is octets or one 8-bit soft symbol per channel bit
(0 = bit 0, 255 = bit 1).  ``--tc`` turns TC frames (or packets, one per TC frame) into CLTUs.
The link options here are the ones ``lunarelay decode`` takes to undo the encoding.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from hil.ground.chain import split_tc_frames, tc_frames_to_cltus
from lunarelay_tools import rf_io
from lunarelay_tools.options import number, parse_number
from onboard.ccsds.chain import CONV_RATES, ChainError, TmLinkConfig, TmSendChain
from onboard.core import tc
from onboard.core.spp import build_packet, index_packets
from onboard.errors import LunarelayError, UsageError
from onboard.files import AtomicFile

HELP = "Encode space packets into a CCSDS CADU stream, or TC frames into CLTUs"
DEFAULT_PACKET_DATA = 100


@dataclasses.dataclass(frozen=True)
class Traffic:
    apid: int
    rate: float  # packets per second
    length: int  # packet data field octets


def parse_traffic(text: str) -> Traffic:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"takes APID:RATE[:LEN], not {text!r}")
    try:
        apid = parse_number(parts[0], integer=True, lo=0, hi=2046)
        rate = parse_number(parts[1], above=0.0, hi=1e7)           # packets per second
        length = DEFAULT_PACKET_DATA
        if len(parts) == 3:
            length = parse_number(parts[2], integer=True, lo=1, hi=65536)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"APID:RATE[:LEN] {text!r}: {exc}") from None
    return Traffic(apid, rate, length)


def add_link_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both ends of a link share (``encode`` and ``decode`` take the same ones)."""
    link = parser.add_argument_group("link (give decode the same values as encode)")
    link.add_argument("--frame", choices=("tm", "aos"), default="tm", help="transfer frame kind (default tm)")
    link.add_argument("--frame-length", type=number(True, lo=7, hi=2048), metavar="OCTETS",
                      help="transfer frame length (default: what fills the RS codeblock, "
                           "interleave x (255 - 2E - virtual fill); 1115 without RS)")
    link.add_argument("--scid", type=number(True, lo=0, hi=0x3FF), default=0xAB,
                      help="spacecraft ID (default 0xAB; TM 0..1023, AOS 0..255)")
    link.add_argument("--vcid", type=number(True, lo=0, hi=63), default=1, help="virtual channel (default 1)")
    link.add_argument("--ocf", action="store_true", help="frames carry an operational control field")
    link.add_argument("--no-fecf", action="store_true", help="frames carry no frame error control field")
    link.add_argument("--rs", type=int, choices=(0, 8, 16), default=16,
                      help="Reed-Solomon E: 16 = RS(255,223), 8 = RS(255,239), 0 = none (default 16)")
    link.add_argument("--interleave", type=number(True, lo=1, hi=8), default=5,
                      help="RS interleave depth 1,2,3,4,5,8 (default 5)")
    link.add_argument("--basis", choices=("dual", "conventional"), default="dual",
                      help="RS symbol basis on the wire (default dual)")
    link.add_argument("--virtual-fill", type=number(True, lo=0, hi=254), default=0, metavar="Q",
                      help="RS virtual fill: leading zero symbols not sent (default 0)")
    link.add_argument("--conv", choices=("none", *CONV_RATES), default="none",
                      help="convolutional code K=7 and its rate (default none)")
    link.add_argument("--no-randomize", action="store_true", help="do not apply the pseudo-randomizer")
    link.add_argument("--tc", action="store_true", help="TC: frames <-> CLTUs (231.0-B-4) instead of TM")


def link_config(args: argparse.Namespace) -> TmLinkConfig:
    frame_length = args.frame_length
    if frame_length is None:
        frame_length = args.interleave * (255 - 2 * args.rs - args.virtual_fill) if args.rs else 1115
    return TmLinkConfig(frame=args.frame, frame_length=frame_length, scid=args.scid, vcids=(args.vcid,),
                        ocf=args.ocf, fecf=not args.no_fecf, rs_e=args.rs, rs_interleave=args.interleave,
                        rs_dual_basis=args.basis == "dual", virtual_fill=args.virtual_fill,
                        conv=None if args.conv == "none" else args.conv, randomize=not args.no_randomize)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?",
                        help="file of concatenated space packets (with --tc: of TC frames)")
    parser.add_argument("--traffic", type=parse_traffic, action="append", metavar="APID:RATE[:LEN]",
                        help="generate packets of APID at RATE per second with LEN data octets "
                             f"(default {DEFAULT_PACKET_DATA}); repeatable, instead of an input file")
    parser.add_argument("--duration", type=number(above=0.0, hi=1e7), default=1.0,
                        help="seconds of --traffic (default 1)")
    parser.add_argument("--seed", type=number(True, lo=0, hi=2**64 - 1), default=0,
                        help="seed of the generated packet data (default 0)")
    parser.add_argument("--wrap-packets", action="store_true",
                        help="with --tc: the input is space packets, one per TC frame on --scid/--vcid")
    parser.add_argument("--output-format", choices=("bytes", "soft"), default="bytes",
                        help="octets, or one uint8 soft symbol per channel bit (default bytes)")
    parser.add_argument("-o", "--output", required=True, help="file to write")
    add_link_arguments(parser)
    rf_io.add_modulate_arguments(parser)


def generate_traffic(specs: list[Traffic], duration: float, seed: int) -> bytes:
    """Packets of every spec in time order, each APID with its own sequence count."""
    counts = [int(round(s.rate * duration)) for s in specs]
    if sum(n * (s.length + 6) for n, s in zip(counts, specs, strict=True)) > 1 << 30:
        raise UsageError("the --traffic asked for is more than 1 GiB of packets; shorten --duration")
    events = sorted((i / s.rate, k, i) for k, (s, n) in enumerate(zip(specs, counts, strict=True))
                    for i in range(n))
    rng = np.random.default_rng(seed)
    out = []
    for _, k, i in events:
        body = rng.integers(0, 256, specs[k].length, dtype=np.uint8).tobytes()
        out.append(build_packet(specs[k].apid, body, seq_count=i & 0x3FFF))
    return b"".join(out)


def read_input(args: argparse.Namespace) -> bytes:
    if args.traffic and args.input:
        raise UsageError("give an input file or --traffic, not both")
    if args.traffic:
        return generate_traffic(args.traffic, args.duration, args.seed)
    if not args.input:
        raise UsageError("give an input file of packets (or TC frames with --tc) or --traffic")
    with open(args.input, "rb") as f:
        return f.read()


def encode_tc(args: argparse.Namespace, data: bytes) -> tuple[bytes, str]:
    if args.output_format != "bytes":
        raise UsageError("--tc writes CLTU octets; --output-format soft is for the TM chain")
    if args.wrap_packets or args.traffic:
        if not 0 <= args.scid <= 0x3FF or not 0 <= args.vcid <= 63:
            raise UsageError(f"TC SCID {args.scid} / VCID {args.vcid} is outside 0..1023 / 0..63")
        cfg = tc.TcConfig(scid=args.scid, vcid=args.vcid)
        idx = index_packets(data)
        if idx.consumed != len(data):
            raise LunarelayError(f"input: {len(data) - idx.consumed} octets at offset {idx.consumed} "
                                 f"are not a whole space packet")
        view = memoryview(data)
        try:
            frames = [tc.build_frame(cfg, bytes(view[o:o + n]), frame_seq_num=i & 0xFF)
                      for i, (o, n) in enumerate(zip(idx.entries["offset"].tolist(),
                                                     idx.entries["length"].tolist(), strict=True))]
        except tc.FrameError as e:
            raise LunarelayError(f"input: {e}") from None
    else:
        frames = split_tc_frames(data)
    cltus = tc_frames_to_cltus(frames, randomize=not args.no_randomize)
    return cltus, f"{len(frames)} TC frames -> {len(cltus)} octets of CLTUs"


def encode_tm(args: argparse.Namespace, data: bytes) -> tuple[np.ndarray, str]:
    cfg = link_config(args)
    tx = TmSendChain(cfg)
    try:
        cadus = np.concatenate([tx.packets_to_cadus(data), tx.flush()])
    except ChainError as e:
        raise LunarelayError(f"input: {e}") from None
    n_cadus = len(cadus) // cfg.cadu_length
    if args.output_format == "soft":
        out = tx.cadus_to_symbols(cadus, final=True)
    else:
        out = tx.cadus_to_octets(cadus, final=True)   # hard code symbols, zero-padded to whole octets
    what = "soft symbols" if args.output_format == "soft" else "octets"
    return out, (f"{len(data)} packet octets -> {n_cadus} {cfg.frame.upper()} CADUs of {cfg.cadu_length} "
                 f"octets -> {len(out)} {what}")


def run(args: argparse.Namespace) -> int:
    if args.wrap_packets and not args.tc:
        raise UsageError("--wrap-packets is for --tc")
    data = read_input(args)
    if args.modulate:
        if args.tc:
            return rf_io.modulate(args, data, None, encode_tc(args, data)[0])
        return rf_io.modulate(args, data, link_config(args), None)
    out, summary = encode_tc(args, data) if args.tc else encode_tm(args, data)
    with AtomicFile(args.output) as f:               # an earlier output survives a failed run
        f.write(bytes(out) if isinstance(out, bytes) else out.tobytes())
    print(f"{args.output}: {summary}", file=sys.stderr)
    return 0
