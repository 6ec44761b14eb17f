"""IQ in and out of ``lunarelay encode`` and ``lunarelay decode``: ``--modulate`` and ``--demodulate``.

``encode --modulate bpsk|qpsk|oqpsk|pcm-psk-pm`` takes the CADUs (or, with ``--tc``, the
CLTUs) that ``encode`` would write and modulates them, optionally through a channel (noise by
Eb/N0, Es/N0 or C/N0, carrier offset, Doppler rate, phase noise, outages), to a SigMF
recording whose annotations mark where each CADU or CLTU starts, and optionally to a
gr-zeromq-compatible stream (``onboard.links.zmq_iq``; with ``--zmq-pass-tags`` each frame
start is a ``cadu``/``cltu`` stream tag besides ``rx_time``).

``decode --demodulate ...`` reads a SigMF recording (or a raw file with ``--iq-format`` and
``--fs``), demodulates it and decodes the frames and packets, reporting the demodulator's
lock, Es/N0, Eb/N0, frequency offset, cycle slips and acquisitions with the other layers.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib

import numpy as np

from hil.ground.rf import TmModemReceiver, UplinkModemTransmitter
from hil.rf_channel import Outage, RfChannel
from lunarelay_tools import zmq_output
from lunarelay_tools.options import number
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.ccsds.rf import ModemConfig, TmModemTransmitter, UplinkModemReceiver
from onboard.core import iq
from onboard.core.modem import Coding, Scheme
from onboard.core.siggen import SampleFormat
from onboard.errors import LunarelayError, UsageError
from onboard.links import sigmf
from onboard.links.zmq_iq import IqSink, Tag

SCHEMES = ("bpsk", "qpsk", "oqpsk", "pcm-psk-pm")
BLOCK_SAMPLES = 1 << 18
CLTU_TAIL = bytes.fromhex("C5C5C5C5C5C5C579")
# integer outputs: the RMS of signal plus noise sits this far below full scale
HEADROOM = 8.0


def _modem_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--sps", type=number(above=0.0),
                       help="samples per symbol, >= 2, fractional allowed (default 4; PM: fs / symbol rate)")
    group.add_argument("--symbol-rate", type=number(above=0.0), metavar="SYM/S",
                       help="channel symbols per second (default 1e6; PM 2000)")
    group.add_argument("--fs", type=number(above=0.0), metavar="HZ",
                       help="sample rate (instead of --sps: sps = fs / rate)")
    group.add_argument("--rolloff", type=number(above=0.0), default=0.35,
                       help="RRC roll-off 0.2..0.5 (default 0.35)")
    group.add_argument("--coding", choices=("nrz-l", "nrz-m"), default="nrz-l",
                       help="symbol coding before modulation (default nrz-l)")
    group.add_argument("--subcarrier", type=number(above=0.0), default=16e3, metavar="HZ",
                       help="PM: sine subcarrier, a whole number of cycles per symbol (default 16e3)")
    group.add_argument("--mod-index", type=number(above=0.0), default=1.0, metavar="RAD",
                       help="PM: modulation index, radians peak (default 1.0)")


def add_modulate_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("modulation (--modulate: write IQ samples to -o BASE as SigMF)")
    g.add_argument("--modulate", choices=SCHEMES, help="modulate the CADUs (--tc: CLTUs) to IQ samples")
    _modem_arguments(g)
    g.add_argument("--format", dest="iq_format", choices=("cf32", "ci16", "ci8"), default="ci16",
                   help="sample format (default ci16)")
    noise = g.add_mutually_exclusive_group()
    noise.add_argument("--ebn0", type=number(), metavar="DB", help="AWGN: Eb/N0 per information bit "
                                                                 "(code rates counted)")
    noise.add_argument("--esn0", type=number(), metavar="DB", help="AWGN: Es/N0 per channel symbol")
    noise.add_argument("--cn0", type=number(), metavar="DBHZ", help="AWGN: C/N0")
    g.add_argument("--cfo", type=number(), default=0.0, metavar="HZ",
                   help="carrier frequency offset (default 0)")
    g.add_argument("--doppler-rate", type=number(), default=0.0, metavar="HZ/S",
                   help="Doppler rate (default 0)")
    g.add_argument("--phase", type=number(), default=0.0, metavar="CYCLES", help="carrier phase at the start")
    g.add_argument("--phase-noise", type=number(lo=0.0), default=0.0, metavar="RAD",
                   help="Wiener phase noise, standard deviation per sample (default 0)")
    g.add_argument("--outage", type=_outage, action="append", default=[], metavar="START:SECONDS",
                   help="the signal is gone for SECONDS from START (noise stays); repeatable")
    g.add_argument("--channel-seed", type=number(True, lo=0, hi=2**64 - 1), default=1,
                   help="noise seed (default 1)")
    g.add_argument("--preamble-bits", type=number(True, lo=0), default=None, metavar="N",
                   help="pseudo-random bits before the first CADU, for the receiver to acquire on "
                        "(default 4096 symbols' worth)")
    g.add_argument("--carrier-only", type=number(lo=0.0), default=0.05, metavar="S",
                   help="PM uplink: carrier-only time before the acquisition sequence (default 0.05)")
    g.add_argument("--zmq", metavar="ENDPOINT",
                   help="also stream the samples over ZeroMQ (gr-zeromq compatible)")
    zmq_output.add_arguments(g, "consumer", "gr-zeromq tag header: rx_time (on PUB again every second) "
                                            "and a cadu/cltu tag at each frame start")


def add_demodulate_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("demodulation (--demodulate: the input is IQ samples)")
    g.add_argument("--demodulate", choices=SCHEMES,
                   help="demodulate IQ: a SigMF recording (BASE, BASE.sigmf-meta or -data) or a raw file "
                        "with --iq-format and --fs")
    _modem_arguments(g)
    g.add_argument("--iq-format", choices=("cf32", "ci16", "ci8"),
                   help="raw input: sample format (SigMF: from its metadata)")
    g.add_argument("--carrier-bw", type=number(above=0.0), default=None, metavar="FRACTION",
                   help="carrier loop bandwidth, fraction of the symbol rate (default 0.002; PM 0.02)")
    g.add_argument("--acq-range", type=number(lo=0.0), default=None, metavar="HZ",
                   help="FFT frequency search +/-HZ (default max(10 kHz, 2%% of the symbol rate))")


def _outage(text: str) -> Outage:
    try:
        return Outage.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def modem_config(args: argparse.Namespace, scheme: str, fs_hz: float | None = None) -> ModemConfig:
    pm = scheme == "pcm-psk-pm"
    rate = args.symbol_rate or (2000.0 if pm else 1e6)
    fs = args.fs or fs_hz
    if fs is not None and args.sps is not None and not math.isclose(fs / rate, args.sps, rel_tol=1e-9):
        raise UsageError(f"--fs {fs:g} / --symbol-rate {rate:g} is {fs / rate:g} samples per symbol, "
                         f"not --sps {args.sps:g}; give two of the three")
    if fs is not None:
        sps = fs / rate
    else:
        sps = args.sps if args.sps is not None else (64.0 if pm else 4.0)
    for name, value in (("--symbol-rate", rate), ("--sps", sps), ("--rolloff", args.rolloff),
                        ("--subcarrier", args.subcarrier), ("--mod-index", args.mod_index)):
        if not math.isfinite(value) or value <= 0:
            raise UsageError(f"{name} must be a positive number, not {value}")
    if sps < 2:
        raise UsageError(f"{sps:g} samples per symbol is below 2 (--sps, or --fs / --symbol-rate)")
    if not pm and not 0.2 <= args.rolloff <= 0.5:
        raise UsageError(f"--rolloff {args.rolloff} is outside 0.2..0.5")
    if pm:
        cycles = args.subcarrier / rate
        if abs(cycles - round(cycles)) > 1e-6 or round(cycles) < 1:
            raise UsageError(f"--subcarrier {args.subcarrier:g} Hz is not a whole number of cycles per "
                             f"symbol at {rate:g} sym/s")
        if sps * rate / args.subcarrier < 4:
            raise UsageError(f"{sps * rate:g} samples/s is below 4 samples per subcarrier cycle")
    return ModemConfig(Scheme.parse(scheme), sps, args.rolloff, Coding.parse(args.coding), rate,
                       args.subcarrier, args.mod_index)


# --------------------------------------------------------------------------------- encode side

def _split_cltus(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        end = data.find(CLTU_TAIL, pos)
        if end < 0:
            raise LunarelayError("CLTU stream ends without a tail sequence")
        out.append(data[pos:end + len(CLTU_TAIL)])
        pos = end + len(CLTU_TAIL)
    return out


def _channel(args: argparse.Namespace, modem: ModemConfig, code_rate: float) -> RfChannel | None:
    impaired = any(v is not None for v in (args.ebn0, args.esn0, args.cn0)) or args.cfo or args.doppler_rate \
        or args.phase or args.phase_noise or args.outage
    if not impaired:
        return None
    return RfChannel(modem.fs_hz, sps=modem.sps, bits_per_symbol=modem.scheme.bits_per_symbol,
                     code_rate=code_rate, esn0_db=args.esn0, ebn0_db=args.ebn0, cn0_dbhz=args.cn0,
                     cfo_hz=args.cfo, doppler_rate_hz_s=args.doppler_rate, phase_cycles=args.phase,
                     phase_noise_rad=args.phase_noise, outages=args.outage, seed=args.channel_seed)


def _code_rate(cfg: TmLinkConfig) -> float:
    rate = 1.0
    if cfg.conv is not None:
        num, den = cfg.conv.split("/")
        rate *= int(num) / int(den)
    if cfg.rs_e:
        rate *= (255 - 2 * cfg.rs_e - cfg.virtual_fill) / (255 - cfg.virtual_fill)
    return rate


def modulate(args: argparse.Namespace, data: bytes, link: TmLinkConfig | None, cltus: bytes | None) -> int:
    """Write the modulated link to ``args.output`` (SigMF) and, with --zmq, stream it."""
    import sys

    modem = modem_config(args, args.modulate)
    fmt = SampleFormat.parse(args.iq_format)
    if cltus is not None:
        if modem.scheme is not Scheme.PCM_PSK_PM:
            raise UsageError("--tc modulates CLTUs as the uplink does: --modulate pcm-psk-pm")
        units = _split_cltus(cltus)
        tx = UplinkModemTransmitter(modem, carrier_only_s=args.carrier_only)
        blocks = [tx.send_cltus(units), tx.idle(4)]
        code_rate, kind, count = 56 / 64, "cltu", len(units)
    else:
        if modem.scheme is Scheme.PCM_PSK_PM:
            raise UsageError("PCM/PSK/PM carries the uplink's CLTUs: add --tc (or use bpsk, qpsk, oqpsk)")
        send = TmSendChain(link)
        cadus = np.concatenate([send.packets_to_cadus(data), send.flush()])
        tx = TmModemTransmitter(link, modem)
        preamble = args.preamble_bits
        if preamble is None:
            preamble = 4096 * modem.scheme.bits_per_symbol
        blocks = [tx.send_preamble(preamble), tx.send_cadus(cadus), tx.finish()]
        code_rate, kind, count = _code_rate(link), "cadu", len(cadus) // link.cadu_length
    samples = np.concatenate(blocks)
    channel = _channel(args, modem, code_rate)
    if channel is not None:
        samples = channel.process(samples)
    rms = float(np.sqrt(np.mean(np.abs(samples) ** 2))) if samples.size else 1.0
    scale = 1.0 if fmt is SampleFormat.CF32 else iq.full_scale(fmt) / (HEADROOM * max(rms, 1e-12))
    marks = list(tx.marks)
    annotations = [{"core:sample_start": m.sample, "core:sample_count": m.samples,
                    "core:label": f"{m.kind.upper()} {m.index}", f"{sigmf.EXTENSION}:{m.kind}": m.index}
                   for m in marks]
    extra = {f"{sigmf.EXTENSION}:modulation": modem.scheme.cli_name,
             f"{sigmf.EXTENSION}:coding": modem.coding.name.lower().replace("_", "-"),
             f"{sigmf.EXTENSION}:symbol_rate": modem.symbol_rate, f"{sigmf.EXTENSION}:sps": modem.sps,
             f"{sigmf.EXTENSION}:rolloff": modem.rolloff}
    if modem.scheme is Scheme.PCM_PSK_PM:
        extra[f"{sigmf.EXTENSION}:subcarrier_hz"] = modem.subcarrier_hz
        extra[f"{sigmf.EXTENSION}:mod_index_rad"] = modem.mod_index_rad
    if channel is not None:
        extra[f"{sigmf.EXTENSION}:channel"] = {
            "esn0_db": channel.esn0_db, "noise_sigma": channel.noise_sigma, "cfo_hz": args.cfo,
            "doppler_rate_hz_s": args.doppler_rate, "phase_cycles": args.phase,
            "phase_noise_rad": args.phase_noise, "seed": args.channel_seed,
            "outages": [[o.start_s, o.duration_s] for o in args.outage]}
    writer = sigmf.SigmfWriter(args.output, fmt.name.lower(), modem.fs_hz,
                               description=f"lunarelay encode: {count} {kind.upper()}s, "
                                           f"{modem.scheme.cli_name}",
                               extra_global=extra, annotations=annotations)
    sink = _zmq_sink(args, modem, fmt) if args.zmq else None
    clipped = 0
    try:
        for start in range(0, samples.size, BLOCK_SAMPLES):
            block, c = iq.from_complex(samples[start:start + BLOCK_SAMPLES], fmt, scale)
            clipped += c
            writer.write(block)
            if sink is not None:
                end = start + len(block)
                tags = [Tag(m.sample, m.kind, m.index) for m in marks if start <= m.sample < end]
                sink.send(block, tags)
    finally:
        writer.close()
        if sink is not None:
            sink.close()
    print(f"{args.output}: {count} {kind.upper()}s -> {samples.size} {fmt.name.lower()} samples at "
          f"{modem.fs_hz / 1e6:g} Msps ({modem.scheme.cli_name}, {modem.sps:g} samples/symbol), "
          f"{clipped} clipped components", file=sys.stderr)
    return 0


def _zmq_sink(args: argparse.Namespace, modem: ModemConfig, fmt: SampleFormat) -> IqSink:
    return zmq_output.open_sink(args, fmt.name.lower(), modem.fs_hz, quiet=False, linger_ms=2000)


# --------------------------------------------------------------------------------- decode side

def _open_iq(args: argparse.Namespace) -> tuple[pathlib.Path, SampleFormat, float | None]:
    path = pathlib.Path(args.input)
    meta_path, data_path = sigmf.base_paths(path)
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            glob = meta["global"]
            datatype = glob["core:datatype"]
            rate = float(glob["core:sample_rate"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise LunarelayError(f"{meta_path}: not a SigMF recording lunarelay reads ({e})") from None
        names = {v: k for k, v in sigmf.DATATYPES.items()}
        if datatype not in names:
            raise LunarelayError(f"{meta_path}: datatype {datatype!r} is not one of {', '.join(names)}")
        return data_path, SampleFormat.parse(names[datatype]), rate
    if not path.exists():
        raise LunarelayError(f"{path}: no such file (nor {meta_path.name})")
    if args.iq_format is None or (args.fs is None and args.sps is None):
        raise UsageError(f"{path} is a raw file: give --iq-format and --fs (or --sps and --symbol-rate)")
    return path, SampleFormat.parse(args.iq_format), None


def demodulate(args: argparse.Namespace, out, link: TmLinkConfig | None) -> tuple[dict, dict | None]:
    """Demodulate and decode ``args.input`` on ``link`` (None with ``--tc``): the input, modem
    (and, with ``--tc``, TC chain) part of the summary ``decode`` prints, and the TM receive
    chain's counters (None with ``--tc``)."""
    data_path, fmt, fs_meta = _open_iq(args)
    modem = modem_config(args, args.demodulate, fs_meta)
    kwargs = {}
    if args.carrier_bw is not None:
        kwargs["carrier_bw"] = args.carrier_bw
    if args.acq_range is not None:
        kwargs["acq_range_hz"] = args.acq_range
    try:
        if args.tc:
            rx = UplinkModemReceiver(modem, randomize=not args.no_randomize, **kwargs)
        else:
            rx = TmModemReceiver(link, modem, **kwargs)
    except ValueError as e:
        raise UsageError(str(e)) from None
    item = {SampleFormat.CF32: 8, SampleFormat.CI16: 4, SampleFormat.CI8: 2}[fmt]
    dtype = np.complex64 if fmt is SampleFormat.CF32 else fmt.component_dtype
    n_samples = 0
    with open(data_path, "rb") as f:
        while chunk := f.read(BLOCK_SAMPLES * item):
            usable = len(chunk) // item * item
            block = np.frombuffer(chunk[:usable], dtype=dtype)
            if fmt is not SampleFormat.CF32:
                block = block.reshape(-1, 2)
            n_samples += usable // item
            got = rx.push_samples(block, fmt)
            if out is not None:
                out.write(b"".join(got) if args.tc else got.packets)
    st = rx.status()
    modem_summary = {"modulation": modem.scheme.cli_name, "sps": modem.sps, "symbol_rate": modem.symbol_rate,
                     "locked": st.locked, "lock_metric": round(st.lock_metric, 3),
                     "esn0_db": round(st.esn0_db, 2), "freq_offset_hz": round(st.freq_offset_hz, 1),
                     "cycle_slips": st.cycle_slips, "acquisitions": st.acquisitions, "symbols": st.symbols,
                     "nonfinite": st.nonfinite}
    summary: dict = {"input": str(data_path), "input_octets": n_samples * item, "input_samples": n_samples}
    if args.tc:
        summary["modem"] = modem_summary
        summary["tc"] = rx.chain.stats()
        return summary, None
    got = rx.flush()
    if out is not None and got.packets:
        out.write(got.packets)
    modem_summary["ebn0_db"] = round(st.ebn0_db(modem.scheme.bits_per_symbol, _code_rate(link)), 2)
    summary["modem"] = modem_summary
    return summary, rx.stats()
