"""GNU Radio flowgraph that sends a tagged stream with gr-zeromq's own push_sink.

Run with ``/usr/bin/python3``:  zmq_send.py --address ADDR --items N

Flowgraph: blocks.vector_source_c(0, 1, 2, ... N-1 as complex, with two tags) ->
zeromq.push_sink(pass_tags=True), bound to ADDR.  The tags are ``rx_time`` = (uint64 7,
double 0.5) on item 0 and ``prn`` = long 12 on item N/2, with srcid #f.  It runs until the
source is exhausted and the sink has lingered (gr-zeromq sinks linger 1 s).
"""

import argparse

import numpy as np
import pmt
from gnuradio import blocks, gr, zeromq


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True)
    p.add_argument("--items", type=int, required=True)
    args = p.parse_args()
    tags = [gr.tag_utils.python_to_tag((0, pmt.intern("rx_time"),
                                        pmt.make_tuple(pmt.from_uint64(7), pmt.from_double(0.5)),
                                        pmt.PMT_F)),
            gr.tag_utils.python_to_tag((args.items // 2, pmt.intern("prn"), pmt.from_long(12), pmt.PMT_F))]
    data = np.arange(args.items, dtype=np.float32).astype(np.complex64)
    tb = gr.top_block("zmq_send")
    tb.connect(blocks.vector_source_c(data.tolist(), False, 1, tags),
               zeromq.push_sink(gr.sizeof_gr_complex, 1, args.address, 100, True, -1))
    tb.run()


if __name__ == "__main__":
    main()
