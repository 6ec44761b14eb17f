"""The modem's speed: modulator, demodulator and the full receive chain, each against a scalar
reference measured in the same run.

* Modulator, BPSK and QPSK with RRC pulses (roll-off 0.35, 16-symbol pulses) at 4 samples per
  symbol, ci16 out: the table path (eight symbols' contribution per lookup) against the direct
  polyphase FIR the modulator also carries (``lr_mod_reference``).  [target >= 100 M samples/s]
* Demodulator, BPSK at 4 samples per symbol, soft symbols out, on a noisy signal with a carrier
  offset: the AVX2 (or portable) kernels against the same algorithm in plain scalar loops with
  libm's sine and cosine per sample.  [target >= 20 M samples/s]
* Full receive chain from IQ samples to packets (BPSK, rate-1/2 Viterbi, RS(255,223) x5, frame
  sync, derandomizer, TM frames, packets): information bits per second, against the same chain
  with the scalar demodulator.  [target >= 2 Mbit/s]
* The same chain, BPSK and QPSK, keeping the one reading of the soft symbols that found the CADUs
  against running every reading side by side (two Viterbi decoders for BPSK, four for QPSK).
* The path a user runs: ``lunarelay decode --demodulate`` as a process on a SigMF recording
  ``lunarelay encode --modulate`` wrote (ci16, noise, carrier offset), packets to a file, against
  the same decode called in this process (the difference: starting the interpreter, imports,
  the extension).  [target >= 2 Mbit/s]

Figures are medians of interleaved runs; on a machine shared with other work, read the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import tempfile

import numpy as np

from hil.ground.rf import TmModemReceiver
from lunarelay_tools.bench import Measurement, interleaved_medians
from lunarelay_tools.commands import decode
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.ccsds.rf import ModemConfig, TmModemTransmitter
from onboard.core import simd
from onboard.core.channel import Channel, noise_sigma_for_esn0
from onboard.core.modem import Demodulator, Modulator, Scheme
from onboard.core.siggen import SampleFormat
from onboard.core.spp import build_packet
from onboard.errors import LunarelayError
from onboard.executive import module_command

SUITE = "modem"
DESCRIPTION = "CCSDS modem: modulator, demodulator, IQ-to-packets chain, one core"


def _modulator_figures(quick: bool) -> list[Measurement]:
    rng = np.random.default_rng(1)
    n_bits = 1 << 16
    bits = rng.integers(0, 2, n_bits, dtype=np.uint8)
    out = []
    for scheme in (Scheme.BPSK, Scheme.QPSK):
        fast = Modulator(scheme, 4.0, amplitude=8000.0, fmt=SampleFormat.CI16)
        ref = Modulator(scheme, 4.0, amplitude=8000.0, fmt=SampleFormat.CI16)
        samples = fast.modulate(bits).shape[0]
        times = interleaved_medians({"fast": lambda f=fast: f.modulate(bits),
                                     "ref": lambda r=ref: r.reference(bits)}, 7 if quick else 31)
        rate = {k: samples / t / 1e6 for k, t in times.items()}
        out.append(Measurement(SUITE, f"{scheme.name} mod RRC ci16, {simd.active().name.lower()} "
                               "[target >= 100]", rate["fast"], "Msps", "direct polyphase FIR (C)",
                               rate["ref"]))
    return out


def _demod_figures(quick: bool) -> list[Measurement]:
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, 1 << 16, dtype=np.uint8)
    x = Modulator("bpsk", 4.0).modulate(bits)
    y = Channel(4e6, 3, freq_hz=1500.0, noise_sigma=noise_sigma_for_esn0(8.0, 4.0)).process(x)
    fast = Demodulator("bpsk", 4.0, 4e6)
    ref = Demodulator("bpsk", 4.0, 4e6, scalar_reference=True)
    fast.demodulate(y)
    ref.demodulate(y)
    times = interleaved_medians({"fast": lambda: fast.demodulate(y), "ref": lambda: ref.demodulate(y)},
                                5 if quick else 21)
    rate = {k: y.size / t / 1e6 for k, t in times.items()}
    return [Measurement(SUITE, f"BPSK demod 4 sps soft out, {simd.active().name.lower()} [target >= 20]",
                        rate["fast"], "Msps", "same demodulator, scalar loops and libm NCO", rate["ref"])]


def _chain_figures(quick: bool) -> list[Measurement]:
    rng = np.random.default_rng(3)
    link = TmLinkConfig(conv="1/2")
    modem = ModemConfig(Scheme.BPSK, 4.0, symbol_rate=1e6)
    packets = b"".join(build_packet(0x123, rng.integers(0, 256, 1000, dtype=np.uint8).tobytes(), seq_count=i)
                       for i in range(120 if quick else 300))
    chain = TmSendChain(link)
    cadus = np.concatenate([chain.packets_to_cadus(packets), chain.flush()])
    tx = TmModemTransmitter(link, modem)
    x = np.concatenate([tx.send_preamble(8000), tx.send_cadus(cadus), tx.finish()])
    y = Channel(modem.fs_hz, 4, freq_hz=900.0, noise_sigma=noise_sigma_for_esn0(2.0, 4.0)).process(x)
    info_bits = len(packets) * 8

    def run(scalar: bool):
        rx = TmModemReceiver(link, modem, scalar_reference=scalar)
        got = b"".join(rx.push_samples(y[i:i + (1 << 18)]).packets for i in range(0, y.size, 1 << 18))
        got += rx.flush().packets
        if got != packets:
            raise RuntimeError("the benchmark's chain lost packets")

    times = interleaved_medians({"fast": lambda: run(False), "ref": lambda: run(True)}, 3 if quick else 7)
    rate = {k: info_bits / t / 1e6 for k, t in times.items()}
    return [Measurement(SUITE, "IQ to packets, BPSK r1/2 Viterbi + RS, 4 sps [target >= 2]", rate["fast"],
                        "Mbit/s", "same chain with the scalar demodulator", rate["ref"])]


def _cli_figures(quick: bool) -> list[Measurement]:
    rng = np.random.default_rng(5)
    packets = b"".join(build_packet(0x123, rng.integers(0, 256, 1000, dtype=np.uint8).tobytes(), seq_count=i)
                       for i in range(300 if quick else 1200))
    with tempfile.TemporaryDirectory(prefix="lunarelay-bench-modem-") as d:
        source, recording, out = (os.path.join(d, n) for n in ("packets.bin", "link", "decoded.bin"))
        with open(source, "wb") as f:
            f.write(packets)
        encode = module_command("lunarelay_tools.cli", "encode", source, "-o", recording, "--modulate",
                                "bpsk", "--conv", "1/2", "--ebn0", "4", "--cfo", "900", "--format", "ci16")
        made = subprocess.run(**encode, capture_output=True, text=True)
        if made.returncode:
            raise LunarelayError(f"lunarelay encode for the bench failed: {made.stderr.strip()[-300:]}")
        argv = [recording, "--demodulate", "bpsk", "--conv", "1/2", "-o", out]

        def decoded(returncode: int, why: str) -> None:
            with open(out, "rb") as f:
                if returncode or f.read() != packets:
                    raise LunarelayError(f"lunarelay decode lost packets of the bench's recording: {why}")
            os.remove(out)

        def cli():
            done = subprocess.run(**module_command("lunarelay_tools.cli", "decode", *argv),
                                  capture_output=True, text=True)
            decoded(done.returncode, done.stderr.strip()[-300:])

        def here():
            parser = argparse.ArgumentParser()
            decode.add_arguments(parser)
            with contextlib.redirect_stdout(io.StringIO()):
                decoded(decode.run(parser.parse_args(argv)), "in this process")

        times = interleaved_medians({"cli": cli, "here": here}, 3 if quick else 5)
    rate = {k: len(packets) * 8 / t / 1e6 for k, t in times.items()}
    return [Measurement(SUITE, "lunarelay decode --demodulate, SigMF ci16 file -> packet file, as a process "
                        "[target >= 2]", rate["cli"], "Mbit/s", "the same decode called in this process",
                        rate["here"])]


def _reading_figures(quick: bool) -> list[Measurement]:
    rng = np.random.default_rng(4)
    link = TmLinkConfig(conv="1/2")
    packets = b"".join(build_packet(0x123, rng.integers(0, 256, 1000, dtype=np.uint8).tobytes(), seq_count=i)
                       for i in range(120 if quick else 300))
    chain = TmSendChain(link)
    cadus = np.concatenate([chain.packets_to_cadus(packets), chain.flush()])
    out = []
    for scheme, esn0_db in ((Scheme.BPSK, 2.0), (Scheme.QPSK, 5.0)):
        modem = ModemConfig(scheme, 4.0, symbol_rate=1e6)
        tx = TmModemTransmitter(link, modem)
        x = np.concatenate([tx.send_preamble(8000), tx.send_cadus(cadus), tx.finish()])
        y = Channel(modem.fs_hz, 4, freq_hz=900.0, noise_sigma=noise_sigma_for_esn0(esn0_db, 4.0)).process(x)

        def run(keep: bool, y=y, modem=modem):
            rx = TmModemReceiver(link, modem, keep_one_reading=keep)
            got = b"".join(rx.push_samples(y[i:i + (1 << 18)]).packets for i in range(0, y.size, 1 << 18))
            got += rx.flush().packets
            if packets not in got:
                raise RuntimeError("the benchmark's chain lost packets")

        times = interleaved_medians({"one": lambda r=run: r(True), "all": lambda r=run: r(False)},
                                    3 if quick else 7)
        rate = {k: len(packets) * 8 / t / 1e6 for k, t in times.items()}
        out.append(Measurement(SUITE, f"IQ to packets, {scheme.name} r1/2, one reading kept", rate["one"],
                               "Mbit/s", "every reading run side by side", rate["all"]))
    return out


def run(quick: bool = False) -> list[Measurement]:
    return (_modulator_figures(quick) + _demod_figures(quick) + _chain_figures(quick) + _cli_figures(quick)
            + _reading_figures(quick))
