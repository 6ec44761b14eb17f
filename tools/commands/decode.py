"""`lunarelay decode`: Decode a CCSDS CADU stream back to frames and packets, with per-layer statistics.

Takes the link options of ``lunarelay encode`` and undoes its chain: (Viterbi) -> frame sync on
the ASM -> derandomize -> Reed-Solomon -> frames -> packets of ``--vcid``.  Without ``--scid`` (and
``--ocf``) the spacecraft ID (and whether frames carry an OCF) are those of the first frames, as
``lunarelay inspect``'s detector reads them.  The input is read in pieces, so garbage, truncation
and sync losses are counted and decoding resumes at the next frame.
The packets go to ``-o``; the per-layer summary goes to stdout (``--json`` for JSON).  With
``--tc`` the input is CLTUs and ``-o`` gets the TC frames.
"""

from __future__ import annotations

import argparse
import json
import sys

from hil.ground.chain import TmReceiveChain
from lunarelay_tools import rf_io
from lunarelay_tools.commands.encode import add_link_arguments, link_config
from onboard.ccsds.chain import TcReceiveChain
from onboard.errors import LunarelayError
from onboard.files import AtomicFile

HELP = "Decode a CCSDS CADU stream back to frames and packets, with per-layer statistics"
PIECE = 1 << 20
DEFAULT_SCID = 0xAB           # encode's default, when the first frames show none

LAYERS = {
    "sync": ("cadus_found", "sync_losses", "asm_bit_errors", "inverted_cadus"),
    "rs": ("rs_corrected_symbols", "rs_uncorrectable_codewords", "frames_dropped"),
    "frames": ("frames", "crc_failures", "bad_headers", "mc_gaps", "vc_gaps", "frames_lost", "idle_frames"),
    "packets": ("packets", "packet_sequence_gaps", "packets_lost", "octets_discarded"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="CADU stream (octets or uint8 soft symbols), or CLTUs with --tc")
    parser.add_argument("--input-format", choices=("bytes", "soft"), default="bytes",
                        help="octets, or one uint8 soft symbol per channel bit (default bytes)")
    parser.add_argument("-o", "--output", help="file for the decoded packets (TC frames with --tc)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_link_arguments(parser)
    rf_io.add_demodulate_arguments(parser)
    parser.set_defaults(scid=None, ocf=None)   # unless given: what the first frames carry


def _given(args: argparse.Namespace) -> argparse.Namespace:
    """The options with placeholders where the stream is to tell (for checking the others)."""
    return argparse.Namespace(**{**vars(args), "scid": 0 if args.scid is None else args.scid,
                                 "ocf": bool(args.ocf)})


def _from_stream(args: argparse.Namespace) -> tuple[int, bool]:
    """The spacecraft ID and OCF presence of the first frames, every other link option as given."""
    from lunarelay_tools.inspect.detect import HEAD_OCTETS, detect

    with open(args.input, "rb") as f:
        head = f.read(HEAD_OCTETS)
    cfg = link_config(_given(args))
    pinned = {"format": "cadu", "symbols": args.input_format, "conv": cfg.conv or "none", "frame": cfg.frame,
              "frame_length": cfg.frame_length, "rs_e": cfg.rs_e, "randomize": cfg.randomize,
              "fecf": cfg.fecf, "virtual_fill": cfg.virtual_fill}
    if cfg.rs_e:
        pinned.update(interleave=cfg.rs_interleave, dual_basis=cfg.rs_dual_basis)
    if args.ocf is not None:
        pinned["ocf"] = args.ocf
    found = detect(head, pinned).params
    if found is None:
        return (DEFAULT_SCID if args.scid is None else args.scid), bool(args.ocf)
    return (found.scid if args.scid is None else args.scid), (found.ocf if args.ocf is None else args.ocf)


def decode_tm(args: argparse.Namespace, f, out) -> dict:
    if args.scid is None or args.ocf is None:
        args.scid, args.ocf = _from_stream(args)
    cfg = link_config(args)
    rx = TmReceiveChain(cfg)
    push = rx.push_soft if args.input_format == "soft" else rx.push_bytes
    size = 0
    while piece := f.read(PIECE):
        size += len(piece)
        got = push(piece)
        if out is not None and got.packets:
            out.write(got.packets)
    got = rx.flush()
    if out is not None and got.packets:
        out.write(got.packets)
    summary = {"input": args.input, "input_octets": size, "link": _link_summary(cfg)}
    summary.update(_layers(rx.stats()))
    return summary


def demodulate(args: argparse.Namespace, out) -> dict:
    """``--demodulate``: IQ samples through the modem, then the TM or TC chain."""
    link = None if args.tc else link_config(args)
    got, stats = rf_io.demodulate(args, out, link)
    if link is None:
        return got
    summary = {k: got[k] for k in ("input", "input_octets", "input_samples")}
    summary.update(link=_link_summary(link), modem=got["modem"], **_layers(stats))
    return summary


def _layers(stats: dict[str, int]) -> dict[str, dict[str, int]]:
    return {layer: {k: stats[k] for k in keys} for layer, keys in LAYERS.items()}


def _link_summary(cfg) -> dict:
    return {"frame": cfg.frame, "frame_length": cfg.frame_length, "scid": cfg.scid, "vcid": cfg.vcids[0],
            "rs_e": cfg.rs_e, "interleave": cfg.rs_interleave if cfg.rs_e else None,
            "basis": ("dual" if cfg.rs_dual_basis else "conventional") if cfg.rs_e else None,
            "virtual_fill": cfg.virtual_fill, "conv": cfg.conv, "randomize": cfg.randomize,
            "cadu_length": cfg.cadu_length}


def decode_tc(args: argparse.Namespace, f, out) -> dict:
    if args.input_format != "bytes":
        raise LunarelayError("--tc reads CLTU octets, not soft symbols")
    rx = TcReceiveChain(randomize=not args.no_randomize)
    size = 0
    while piece := f.read(PIECE):
        size += len(piece)
        frames = rx.push_bytes(piece)
        if out is not None:
            out.write(b"".join(frames))
    rx.flush()
    return {"input": args.input, "input_octets": size, "tc": rx.stats()}


def print_summary(summary: dict) -> None:
    print(f"{summary['input']}: {summary['input_octets']} octets")
    for layer, values in summary.items():
        if isinstance(values, dict) and layer != "link":
            print(f"  {layer:8s} " + " ".join(f"{k}={v}" for k, v in values.items()))


def _no_frames(args: argparse.Namespace, summary: dict) -> bool:
    """Input came in, yet not one frame came out of it."""
    found = summary["tc"]["frames"] if args.tc else summary["frames"]["frames"]
    return bool(summary["input_octets"]) and not found


def _decoded(args: argparse.Namespace, decode) -> dict:
    """Run ``decode(out)`` into an output that takes its name only when frames came out, so an
    earlier output survives a failed run."""
    out = AtomicFile(args.output) if args.output else None
    try:
        summary = decode(out)
    except BaseException:
        if out is not None:
            out.abort()
        raise
    if out is not None:
        out.abort() if _no_frames(args, summary) else out.commit()
    return summary


def run(args: argparse.Namespace) -> int:
    link_config(_given(args)) if not args.tc else None  # usage errors before any file is touched
    if args.demodulate:
        # IQ in: the link's SCID and OCF are the options' (DEFAULT_SCID when not given)
        args.scid, args.ocf = DEFAULT_SCID if args.scid is None else args.scid, bool(args.ocf)
        summary = _decoded(args, lambda out: demodulate(args, out))   # it opens its IQ input
    else:
        decode = decode_tc if args.tc else decode_tm
        with open(args.input, "rb") as f:         # the input must open before the output is made
            summary = _decoded(args, lambda out: decode(args, f, out))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
    if _no_frames(args, summary):
        print(f"lunarelay decode: error: no {'TC' if args.tc else 'transfer'} frames decoded from "
              f"{args.input}; check the link options (--rs, --interleave, --frame-length, --conv, "
              f"--no-randomize, --input-format)", file=sys.stderr)
        return 1
    return 0
