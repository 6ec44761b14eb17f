"""Decode a CCSDS CADU stream of BPSK soft symbols with gr-satellites' own deframers.

Run with the system Python that has GNU Radio (``/usr/bin/python3``), not a venv:

    /usr/bin/python3 decode_cadu.py SYMBOLS.f32 OUT.jsonl --frame-size 1115 --interleave 5 \
        [--basis dual|conventional] [--scrambler CCSDS|none] [--concatenated]

SYMBOLS.f32 holds float32 soft symbols, positive for bit 1 (gr-satellites slices > 0 as 1).
Each decoded frame becomes one line of OUT.jsonl: {"hex": "..."}.
"""

import argparse
import json

from gnuradio import blocks, gr

# Debian's gr-satellites 4.4.0 was built against GNU Radio 3.9, where the item-type enum
# lived in gnuradio.blocks; GNU Radio 3.10 moved it to gnuradio.gr.types.
if not hasattr(blocks, "byte_t"):
    blocks.byte_t = gr.types.byte_t

from satellites.components.deframers import (  # noqa: E402
    ccsds_concatenated_deframer,
    ccsds_rs_deframer,
)


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
    a = p.parse_args()

    tb = gr.top_block()
    src = blocks.file_source(gr.sizeof_float, a.symbols, False)
    kwargs = dict(frame_size=a.frame_size, precoding=None, rs_en=not a.no_rs, rs_basis=a.basis,
                  rs_interleaving=a.interleave, scrambler=a.scrambler, syncword_threshold=4)
    if a.concatenated:
        deframer = ccsds_concatenated_deframer(convolutional="CCSDS", **kwargs)
    else:
        deframer = ccsds_rs_deframer(**kwargs)
    sink = blocks.message_debug()
    tb.connect(src, deframer)
    tb.msg_connect((deframer, "out"), (sink, "store"))
    tb.run()
    import pmt

    with open(a.out, "w") as f:
        for i in range(sink.num_messages()):
            msg = sink.get_message(i)
            data = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
            f.write(json.dumps({"hex": data.hex()}) + "\n")


if __name__ == "__main__":
    main()
