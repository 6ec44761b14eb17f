"""`lunarelay inspect`: every frame and packet of a file, a capture or a live link, explained.

With no options it detects what the input is (CADUs in octets or soft symbols, convolutionally
coded or not; bare TM, AOS or TC frames; CLTUs; space packets; KISS, SLIP or ASM serial frames;
pcap or pcapng, with UDP payloads and TCP streams),
prints what it found as the options that pin it, decodes every layer down to the packets' user
fields, and accounts for every input octet that did not end up in a packet.  The link options
pin what detection would otherwise find; outputs (JSON lines, CSV, Parquet, per-APID files,
pcapng, plots) are written as the packets come.

Inputs: a file, ``-`` (stdin), ``udp://[HOST]:PORT`` (listen), ``tcp://HOST:PORT`` (connect),
``tcp-listen://[HOST]:PORT``, ``serial:URL`` (pyserial ``serial_for_url``: a tty, ``socket://``,
``loop://``), ``zmq+sub://ENDPOINT`` (a ZeroMQ PUB of CADUs, as the downlink's), or
``bus:URL`` (a tap on the onboard bus: a subscriber on the proxy's XPUB that changes nothing).
"""

from __future__ import annotations

import argparse
import os
import sys

from onboard.errors import LunarelayError, UsageError

HELP = "Inspect CCSDS packets and frames in files, captures and live links, and explain every octet"
PIECE = 8 << 20
FORMATS = ("auto", "cadu", "tm", "aos", "tc", "cltu", "packets", "asm", "kiss", "slip", "pcap")


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _vcids(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v, 0) for v in text.split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--vcid takes a comma list of integers, not {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="file, '-' for stdin, or a live source (udp://, tcp://, tcp-listen://, "
                                      "serial:URL, zmq+sub://, bus:URL)")
    link = parser.add_argument_group("link (detected when not given; what was detected is printed as these)")
    link.add_argument("--format", choices=FORMATS, default="auto",
                      help="what the input octets are; asm, kiss, slip: space packets in serial frames (ASM "
                           "1ACFFC1D, the packet, CRC-16: the serial link's framing; or KISS or SLIP); "
                           "pcap: pcap or pcapng, whose lunarelay link types, UDP "
                           "payloads and TCP streams (put in order per connection and direction, "
                           "retransmissions dropped) are inspected; IP fragments are not reassembled")
    link.add_argument("--symbols", choices=("bytes", "soft"),
                      help="CADU stream of octets or of uint8 soft symbols")
    link.add_argument("--conv", choices=("none", "1/2", "2/3", "3/4", "5/6", "7/8"),
                      help="convolutional code rate")
    link.add_argument("--frame", choices=("tm", "aos"), help="transfer frame kind")
    link.add_argument("--frame-length", type=_int, metavar="OCTETS")
    link.add_argument("--rs", type=int, choices=(0, 8, 16), help="Reed-Solomon E (0: none)")
    link.add_argument("--interleave", type=int, choices=(1, 2, 3, 4, 5, 8))
    link.add_argument("--basis", choices=("dual", "conventional"))
    link.add_argument("--virtual-fill", type=int, metavar="Q")
    rnd = link.add_mutually_exclusive_group()
    rnd.add_argument("--randomize", dest="randomize", action="store_const", const=True, default=None,
                     help="the pseudo-randomizer is on (TM for CADUs, TC for CLTUs)")
    rnd.add_argument("--no-randomize", dest="randomize", action="store_const", const=False)
    link.add_argument("--inverted", action="store_true",
                      help="accepted for symmetry: an inverted stream is always followed")
    link.add_argument("--scid", type=_int, help="spacecraft ID (frames of others are counted, not decoded)")
    link.add_argument("--vcid", type=_vcids, metavar="V[,V...]",
                      help="virtual channels to decode (default all)")
    ocf = link.add_mutually_exclusive_group()
    ocf.add_argument("--ocf", dest="ocf", action="store_const", const=True, default=None)
    ocf.add_argument("--no-ocf", dest="ocf", action="store_const", const=False)
    fecf = link.add_mutually_exclusive_group()
    fecf.add_argument("--fecf", dest="fecf", action="store_const", const=True, default=None)
    fecf.add_argument("--no-fecf", dest="fecf", action="store_const", const=False)
    link.add_argument("--fhec", action="store_const", const=True, default=None,
                      help="AOS frames carry an FHEC")
    link.add_argument("--insert-zone", type=int, metavar="OCTETS", help="AOS insert zone length")
    crc = link.add_mutually_exclusive_group()
    crc.add_argument("--serial-crc", dest="serial_crc", action="store_const", const=True, default=None,
                     help="KISS/SLIP frames end with a CRC-16 of the packet (ASM frames always do)")
    crc.add_argument("--no-serial-crc", dest="serial_crc", action="store_const", const=False)
    pk = parser.add_argument_group("packets")
    pk.add_argument("--time-code", choices=("cuc", "cds", "none"), default="cuc",
                    help="secondary header time code (default cuc: 4+2 octets, TAI, the bus's)")
    pk.add_argument("--define", action="append", default=[], metavar="[APID=]FILE",
                    help="packet definitions: APID=FILE.csv (CCSDSPy-style) or FILE.xml (XTCE); repeatable")
    pk.add_argument("--sdls-keys", metavar="FILE",
                    help="SDLS key file (TOML: [[key]] and [[sa]] tables, as the emulation's "
                         "onboard/scenarios/sdls_keys.toml) whose security associations verify TC frames "
                         "(default: the emulation's)")
    pk.add_argument("--no-project-dictionary", action="store_true",
                    help="do not decode with the project's registry and command dictionary")
    out = parser.add_argument_group("outputs")
    out.add_argument("--json", nargs="?", const="-", metavar="FILE",
                     help="one JSON object per packet, then the summary (stdout when no FILE)")
    out.add_argument("--csv", metavar="FILE", help="decoded fields as CSV")
    out.add_argument("--csv-layout", choices=("wide", "long"), default="wide",
                     help="wide: one row per packet; long: one row per field (default wide)")
    out.add_argument("--parquet", metavar="PATH",
                     help="one row per packet with its decoded fields: PATH.parquet is one file, any other "
                          "PATH a directory of one file per packet type (faster)")
    out.add_argument("--split-dir", metavar="DIR", help="the packets of each APID to DIR/apid-0xNNN.bin")
    out.add_argument("--pcapng", metavar="FILE", help="every frame and packet as a pcapng record")
    out.add_argument("--plot", metavar="DIR",
                     help="PNG plots: packet rate per APID, gaps and RS corrections, a housekeeping field")
    out.add_argument("--plot-field", metavar="TYPE.FIELD", default=None,
                     help="housekeeping field to plot (default: the first that changes)")
    out.add_argument("--summary", metavar="FILE", help="the summary as JSON to FILE")
    out.add_argument("--max-ranges", type=int, default=12, help="problem ranges listed in the terminal")
    live = parser.add_argument_group("live")
    live.add_argument("--follow", action="store_true",
                      help="live dashboard until interrupted (or --duration)")
    live.add_argument("--duration", type=float, help="stop a live input after this many seconds")


def pinned(args: argparse.Namespace) -> dict:
    p: dict = {}
    if args.format not in ("auto",):
        p["format"] = args.format
    for name in ("symbols", "frame", "frame_length", "interleave", "virtual_fill", "randomize", "scid",
                 "ocf", "fecf", "fhec", "insert_zone", "serial_crc"):
        v = getattr(args, name)
        if v is not None:
            p[name] = v
    if args.conv is not None:
        p["conv"] = args.conv            # "none" pins no convolutional code
    if args.rs is not None:
        p["rs_e"] = args.rs
    if args.basis is not None:
        p["dual_basis"] = args.basis == "dual"
    if args.vcid is not None:
        p["vcids"] = args.vcid
    if any(k in p for k in ("symbols", "rs_e", "interleave", "conv")) and "format" not in p:
        p["format"] = "cadu"
    return p


def run(args: argparse.Namespace) -> int:
    from lunarelay_tools.inspect.command import inspect_main

    if args.max_ranges < 0:
        raise UsageError("--max-ranges must be 0 or more")
    if args.duration is not None and not args.duration > 0:
        raise UsageError("--duration must be positive")
    live_schemes = ("udp://", "tcp://", "tcp-listen://", "serial:", "zmq+sub://", "bus:")
    if args.input != "-" and not args.input.startswith(live_schemes) and not os.path.exists(args.input):
        raise LunarelayError(f"{args.input}: no such file")
    if args.sdls_keys is not None and not os.path.isfile(args.sdls_keys):
        raise LunarelayError(f"--sdls-keys {args.sdls_keys}: no such file")
    if args.follow and not (args.input == "-" or args.input.startswith(live_schemes)):
        raise UsageError("--follow is for live inputs (udp://, tcp://, serial:, zmq+sub://, bus:, -)")
    return inspect_main(args, pinned(args), sys.stdout, sys.stderr)
