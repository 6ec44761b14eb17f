"""GNU Radio flowgraph that receives an IQ stream with gr-zeromq's own source blocks.

Run with the system interpreter that has GNU Radio (``/usr/bin/python3``), not the venv:

    zmq_receive.py --role {sub,pull,req} --address ADDR --format {cf32,ci16} --items N
                   --out FILE [--pass-tags] [--complex-out FILE] [--hwm N] [--key KEY]

Flowgraph: zeromq.<role>_source -> blocks.head(N) -> blocks.file_sink(FILE).  For ci16 the
source is ``short`` with vlen 2, and with ``--complex-out`` the same items also go through
blocks.interleaved_short_to_complex(vector_input=True) to a second file.  A small sink block
records every stream tag it sees; they are printed as one JSON object on stdout at the end
(``{"items": N, "tags": [{"offset", "key", "value", "srcid"}]}``), with PMT values written
as ``pmt.write_string`` gives them and rx_time split into its two numbers.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pmt
from gnuradio import blocks, gr, zeromq


class TagRecorder(gr.sync_block):
    """Sink that keeps every tag on its input."""

    def __init__(self, item_size: int):
        gr.sync_block.__init__(self, name="tag_recorder", in_sig=[(np.uint8, item_size)], out_sig=None)
        self.tags = []

    def work(self, input_items, output_items):
        n = len(input_items[0])
        start = self.nitems_read(0)
        for tag in self.get_tags_in_range(0, start, start + n):
            entry = {"offset": tag.offset, "key": pmt.symbol_to_string(tag.key),
                     "value": pmt.write_string(tag.value), "srcid": pmt.write_string(tag.srcid)}
            if pmt.is_tuple(tag.value) and pmt.length(tag.value) == 2:
                entry["rx_time"] = [pmt.to_uint64(pmt.tuple_ref(tag.value, 0)),
                                    pmt.to_double(pmt.tuple_ref(tag.value, 1))]
            self.tags.append(entry)
        return n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--role", choices=["sub", "pull", "req"], required=True)
    p.add_argument("--address", required=True)
    p.add_argument("--format", choices=["cf32", "ci16"], required=True)
    p.add_argument("--items", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--complex-out")
    p.add_argument("--pass-tags", action="store_true")
    p.add_argument("--hwm", type=int, default=-1)
    p.add_argument("--key", default="", help="sub_source subscription key (sub only)")
    args = p.parse_args()

    if args.format == "cf32":
        itemsize, vlen = gr.sizeof_gr_complex, 1
    else:
        itemsize, vlen = gr.sizeof_short, 2
    if args.role == "sub":
        source = zeromq.sub_source(itemsize, vlen, args.address, 100, args.pass_tags, args.hwm, args.key)
    else:
        make = {"pull": zeromq.pull_source, "req": zeromq.req_source}[args.role]
        source = make(itemsize, vlen, args.address, 100, args.pass_tags, args.hwm)

    tb = gr.top_block("zmq_receive")
    head = blocks.head(itemsize * vlen, args.items)
    sink = blocks.file_sink(itemsize * vlen, args.out, False)
    sink.set_unbuffered(False)
    recorder = TagRecorder(itemsize * vlen)
    tb.connect(source, head, sink)
    tb.connect(head, recorder)
    if args.complex_out:
        if args.format != "ci16":
            p.error("--complex-out converts ci16 streams only")
        to_complex = blocks.interleaved_short_to_complex(True, False, 1.0)
        tb.connect(head, to_complex, blocks.file_sink(gr.sizeof_gr_complex, args.complex_out, False))
    tb.start()
    tb.wait()
    tb.stop()
    json.dump({"items": head.nitems_read(0), "tags": recorder.tags}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
