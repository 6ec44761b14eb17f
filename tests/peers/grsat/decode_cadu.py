"""Decode a CCSDS CADU stream of BPSK soft symbols with gr-satellites' own deframers.

Run with the system Python that has GNU Radio (``/usr/bin/python3``), not a venv:

    /usr/bin/python3 decode_cadu.py SYMBOLS.f32 OUT.jsonl --frame-size 1115 --interleave 5 \
        [--basis dual|conventional] [--scrambler CCSDS|none] [--concatenated] [--expect N]

SYMBOLS.f32 holds float32 soft symbols, positive for bit 1 (gr-satellites slices > 0 as 1).
Each decoded frame becomes one line of OUT.jsonl: {"hex": "..."}.

GNU Radio finishes the deframer's message-only blocks as soon as the stream feeding them ends, so
frames still travelling between those blocks are dropped at random (with the concatenated
deframer, most of them; this is also why a stream's last frame seemed to need symbols after it).
The symbols therefore come from a source that never ends: after the file it sends zeros, slowly.
The flowgraph is stopped once ``--expect`` frames have arrived (and one second more, so that
surplus frames are reported too), or when no frame arrived for ``--idle-timeout`` seconds.
"""

import argparse
import json
import time

import numpy as np
from gnuradio import blocks, gr

# Debian's gr-satellites 4.4.0 was built against GNU Radio 3.9, where the item-type enum
# lived in gnuradio.blocks; GNU Radio 3.10 moved it to gnuradio.gr.types.
if not hasattr(blocks, "byte_t"):
    blocks.byte_t = gr.types.byte_t

from satellites.components.deframers import (  # noqa: E402
    ccsds_concatenated_deframer,
    ccsds_rs_deframer,
)


class EndlessSource(gr.sync_block):
    """The file's float32 symbols, then zeros for ever (a few thousand per call, unhurried)."""

    def __init__(self, path):
        gr.sync_block.__init__(self, name="endless_source", in_sig=None, out_sig=[np.float32])
        self.symbols = np.fromfile(path, dtype=np.float32)
        self.pos = 0

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.pos < self.symbols.size:
            n = min(out.size, self.symbols.size - self.pos)
            out[:n] = self.symbols[self.pos:self.pos + n]
            self.pos += n
            return n
        time.sleep(0.01)
        n = min(out.size, 4096)
        out[:n] = 0.0
        return n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("symbols")
    p.add_argument("out")
    p.add_argument("--frame-size", type=int, required=True, help="frame octets, without RS parity")
    p.add_argument("--interleave", type=int, default=1)
    p.add_argument("--basis", default="dual", choices=["dual", "conventional"])
    p.add_argument("--scrambler", default="CCSDS", choices=["CCSDS", "none"])
    p.add_argument("--no-rs", action="store_true")
    p.add_argument("--concatenated", action="store_true", help="K=7 r=1/2 convolutional inner code")
    p.add_argument("--expect", type=int, default=0, help="frames to wait for before stopping")
    p.add_argument("--idle-timeout", type=float, default=3.0, help="stop after this long without a frame")
    p.add_argument("--timeout", type=float, default=120.0, help="stop after this long in any case")
    a = p.parse_args()

    tb = gr.top_block()
    src = EndlessSource(a.symbols)
    kwargs = dict(frame_size=a.frame_size, precoding=None, rs_en=not a.no_rs, rs_basis=a.basis,
                  rs_interleaving=a.interleave, scrambler=a.scrambler, syncword_threshold=4)
    if a.concatenated:
        deframer = ccsds_concatenated_deframer(convolutional="CCSDS", **kwargs)
    else:
        deframer = ccsds_rs_deframer(**kwargs)
    sink = blocks.message_debug()
    tb.connect(src, deframer)
    tb.msg_connect((deframer, "out"), (sink, "store"))
    tb.start()
    start = last_change = time.monotonic()
    seen = 0
    while True:
        time.sleep(0.05)
        now = time.monotonic()
        n = sink.num_messages()
        if n != seen:
            seen, last_change = n, now
        if a.expect and n >= a.expect:
            time.sleep(1.0)
            break
        if now - last_change > a.idle_timeout or now - start > a.timeout:
            break
    tb.stop()
    tb.wait()
    import pmt

    with open(a.out, "w") as f:
        for i in range(sink.num_messages()):
            msg = sink.get_message(i)
            data = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
            f.write(json.dumps({"hex": data.hex()}) + "\n")


if __name__ == "__main__":
    main()
