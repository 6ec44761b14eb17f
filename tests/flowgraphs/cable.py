"""A cable between two radios, as a GNU Radio 3.10 flowgraph: what a bench's real TX radio sends
reaches its RX radio, sample for sample.  It stands in for a pair of SDRs and the attenuator
between them, so `lunarelay hil` can run a bench whose links go through flowgraphs with no
hardware: the samples leave the emulator over gr-zeromq and come back through GNU Radio.

    cable.py --address A --to B      the spacecraft's transmitter: pull from A, push (bound) at B
    cable.py --address A --from B    the spacecraft's receiver: pull from B, push (bound) at A

Run with the Python GNU Radio is installed in, as the bench runner runs flowgraphs."""

from __future__ import annotations

import argparse
import signal
import sys

from gnuradio import gr, zeromq


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True, help="the SDR endpoint the bench file names")
    p.add_argument("--rate", type=float, default=0.0, help="sample rate (a cable does not care)")
    p.add_argument("--format", choices=("cf32", "ci16"), default="cf32")
    way = p.add_mutually_exclusive_group(required=True)
    way.add_argument("--to", help="where the transmitter's samples come out (bound PUSH)")
    way.add_argument("--from", dest="source", help="where the receiver's samples come from (a bound PUSH)")
    args = p.parse_args()
    itemsize, vlen = (gr.sizeof_gr_complex, 1) if args.format == "cf32" else (gr.sizeof_short, 2)
    pull, push = (args.address, args.to) if args.to else (args.source, args.address)
    tb = gr.top_block("cable")
    tb.connect(zeromq.pull_source(itemsize, vlen, pull, 100, False, -1),
               zeromq.push_sink(itemsize, vlen, push, 100, False, -1))

    def stop(*_):
        tb.stop()
        tb.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    tb.start()
    print("flowgraph cable running", flush=True)
    tb.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
