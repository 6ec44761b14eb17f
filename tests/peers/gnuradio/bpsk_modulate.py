"""Modulate octets to BPSK IQ with GNU Radio's own blocks, through its channel model.

Run with the system Python that has GNU Radio (``/usr/bin/python3``):

    /usr/bin/python3 bpsk_modulate.py IN.bin OUT.c64 --sps 4 --excess-bw 0.35 --esn0 10 \
        --freq-offset 0.0005 --phase 1.2 --epsilon 1.00002 [--zmq tcp://127.0.0.1:5555]

The flowgraph: vector_source_b (the octets) -> the Constellation Modulator block (GRC's
digital_constellation_modulator, which is ``digital.generic_mod`` in Python: BPSK, RRC
with the given excess bandwidth, MSB first, no differential coding) -> channels.channel_model
(AWGN for the given Es/N0, normalised frequency offset, a phase tap, sample clock ratio
epsilon) -> file_sink (complex64), or with --zmq a zeromq.push_sink of gr_complex items.
The signal power that sets the noise is measured first with the same modulator and no noise.
"""

import argparse
import math

import numpy as np
from gnuradio import blocks, channels, digital, gr


def modulated(data, sps, excess_bw):
    tb = gr.top_block()
    src = blocks.vector_source_b(list(data), False)
    mod = digital.generic_mod(digital.constellation_bpsk().base(), differential=False, samples_per_symbol=sps,
                              pre_diff_code=True, excess_bw=excess_bw, verbose=False, log=False)
    sink = blocks.vector_sink_c()
    tb.connect(src, mod, sink)
    tb.run()
    return np.array(sink.data(), dtype=np.complex64)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("out")
    p.add_argument("--sps", type=int, default=4)
    p.add_argument("--excess-bw", type=float, default=0.35)
    p.add_argument("--esn0", type=float, default=10.0)
    p.add_argument("--freq-offset", type=float, default=0.0, help="cycles per sample")
    p.add_argument("--phase", type=float, default=0.0, help="radians")
    p.add_argument("--epsilon", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--zmq", help="push the samples to this endpoint instead of writing OUT")
    a = p.parse_args()
    data = open(a.data, "rb").read()
    clean = modulated(data, a.sps, a.excess_bw)
    power = float(np.mean(np.abs(clean[len(clean) // 10: -len(clean) // 10]) ** 2))
    noise_voltage = math.sqrt(power * a.sps / 10 ** (a.esn0 / 10))

    tb = gr.top_block()
    src = blocks.vector_source_b(list(data), False)
    mod = digital.generic_mod(digital.constellation_bpsk().base(), differential=False,
                              samples_per_symbol=a.sps, pre_diff_code=True, excess_bw=a.excess_bw,
                              verbose=False, log=False)
    chan = channels.channel_model(noise_voltage=noise_voltage, frequency_offset=a.freq_offset,
                                  epsilon=a.epsilon, taps=[complex(math.cos(a.phase), math.sin(a.phase))],
                                  noise_seed=a.seed, block_tags=False)
    if a.zmq:
        from gnuradio import zeromq
        sink = zeromq.push_sink(gr.sizeof_gr_complex, 1, a.zmq, 100, False, -1)
    else:
        sink = blocks.file_sink(gr.sizeof_gr_complex, a.out, False)
    tb.connect(src, mod, chan, sink)
    tb.run()
    print(f"power {power:.6g} noise_voltage {noise_voltage:.6g} samples {len(clean)}")


if __name__ == "__main__":
    main()
