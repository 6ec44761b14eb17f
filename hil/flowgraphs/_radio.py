"""What the bench's GNU Radio flowgraphs share: the hardware end (a SoapySDR sink or source, or,
for a run without the radio, a file or a null block in its place) and the ZeroMQ end (gr-zeromq,
the same wire format as ``onboard.links.zmq_iq``).  The flowgraphs run with the Python GNU Radio
is installed in (Debian's ``/usr/bin/python3``), so this file imports GNU Radio only.

    --device "driver=uhd,serial=..."   a SoapySDR device (gr-soapy)
    --device file:PATH                  the samples to or from a file of cf32 items instead
    --device null                       a null sink, or a null source
"""

from __future__ import annotations

import argparse
import signal
import sys

from gnuradio import blocks, gr, soapy, zeromq


def arguments(description: str, freq_hz: float, address: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--address", default=address, help=f"ZeroMQ address (default {address})")
    p.add_argument("--format", choices=("cf32", "ci16"), default="cf32", help="items on the ZeroMQ stream")
    p.add_argument("--rate", type=float, default=2e6, help="sample rate, samples/s")
    p.add_argument("--freq", type=float, default=freq_hz, help=f"centre frequency, Hz (default {freq_hz:g})")
    p.add_argument("--gain", type=float, default=0.0, help="gain, dB")
    p.add_argument("--device", default="null", help="SoapySDR device arguments, file:PATH or null")
    p.add_argument("--items", type=int, default=0, help="stop after this many samples (0: run until killed)")
    p.add_argument("--timeout-ms", type=int, default=100, help="ZeroMQ receive timeout")
    return p


def hardware_sink(args) -> gr.basic_block:
    if args.device == "null":
        return blocks.null_sink(gr.sizeof_gr_complex)
    if args.device.startswith("file:"):
        sink = blocks.file_sink(gr.sizeof_gr_complex, args.device[len("file:"):], False)
        sink.set_unbuffered(False)
        return sink
    sink = soapy.sink(args.device, "fc32", 1, "", "", [""], [""])
    sink.set_sample_rate(0, args.rate)
    sink.set_frequency(0, args.freq)
    sink.set_gain(0, args.gain)
    return sink


def hardware_source(args) -> gr.basic_block:
    if args.device == "null":
        return blocks.null_source(gr.sizeof_gr_complex)
    if args.device.startswith("file:"):
        return blocks.file_source(gr.sizeof_gr_complex, args.device[len("file:"):], False)
    source = soapy.source(args.device, "fc32", 1, "", "", [""], [""])
    source.set_sample_rate(0, args.rate)
    source.set_frequency(0, args.freq)
    source.set_gain(0, args.gain)
    return source


def zmq_to_radio(name: str, args) -> gr.top_block:
    """ZeroMQ PULL (the emulator's IQ) -> [items limit] -> the radio."""
    tb = gr.top_block(name)
    # the items limit sits right after the source: a block whose readers are done learns it
    # only when it next works, and only the source works again (on its receive timeout)
    itemsize = gr.sizeof_gr_complex if args.format == "cf32" else 2 * gr.sizeof_short
    chain = [zeromq.pull_source(itemsize, 1, args.address, args.timeout_ms, False, -1)]
    if args.items:
        chain.append(blocks.head(itemsize, args.items))
    if args.format == "ci16":
        chain += [blocks.vector_to_stream(gr.sizeof_short, 2),
                  blocks.interleaved_short_to_complex(False, False, 32768.0)]
    chain.append(hardware_sink(args))
    tb.connect(*chain)
    return tb


def radio_to_zmq(name: str, args) -> gr.top_block:
    """The radio -> [items limit] -> ZeroMQ PUSH (to the emulator's receiver)."""
    tb = gr.top_block(name)
    chain = [hardware_source(args)]
    if args.items:
        chain.append(blocks.head(gr.sizeof_gr_complex, args.items))
    if args.format == "cf32":
        chain.append(zeromq.push_sink(gr.sizeof_gr_complex, 1, args.address, 100, False, -1))
    else:
        chain += [blocks.complex_to_interleaved_short(False, 32767.0),
                  zeromq.push_sink(gr.sizeof_short, 2, args.address, 100, False, -1)]
    tb.connect(*chain)
    return tb


def run(tb: gr.top_block) -> int:
    def stop(*_):
        tb.stop()
        tb.wait()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tb.start()
    print(f"flowgraph {tb.name()} running", flush=True)     # the bench runner waits for this line
    tb.wait()
    return 0
