"""`lunarelay inspect`'s paths, each against a baseline measured in the same run.

- CADU file -> packets with per-APID statistics (RS(255,223) I=5, randomized TM frames of mixed
  packets), the command's own file path with detection included, in Gbit/s of file; baseline:
  the same file through ``TmReceiveChain``, the chain ``lunarelay decode`` runs.
- packets -> decoded fields -> Parquet, on a file of the project's housekeeping packets (every
  module's layout, mixed APIDs in time order), in packets/s; baseline: CCSDSPy on the same file,
  as its documentation has a mixed file read (``split_by_apid``, then ``FixedLength.load`` per
  APID with the same field definitions), written to Parquet with pyarrow.
- packets -> JSON lines, the same file; baseline: per-packet Python (``struct.unpack_from`` of the
  same fields, ``json.dumps``).
- both again as a user runs them, ``lunarelay inspect FILE --parquet DIR`` and ``--json F`` as a
  process (start-up, detection, the tables printed); baseline: the same inspection in this process.
- live: CADUs sent over UDP to ``StreamInspection`` fed by the live reader, at 10x the default
  scenario's downlink (10 frames/s) and as fast as the sender can; frames missed are counted from
  the master channel frame count.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import numpy as np

from lunarelay_tools.bench import Measurement, interleaved_medians
from onboard.errors import LunarelayError
from onboard.executive import module_command

SUITE = "inspect"
DESCRIPTION = "inspect: CADU file to packets, packets to Parquet and JSON lines, live mode keeping up"
DEFAULT_DOWNLINK_FPS = 10.0          # onboard/scenarios/default.toml [downlink] frame_rate_hz
CADU_LEN = 4 + 5 * 255
CCSDSPY = "CCSDSPy split_by_apid + FixedLength + pyarrow"


def ccsdspy_fields(ptype):
    """CCSDSPy field definitions equal to a lunarelay packet type's (bit offsets from the packet's
    first bit, primary header included, as CCSDSPy counts them)."""
    from ccsdspy import PacketField

    kinds = {"uint": "uint", "int": "int", "float": "float", "bool": "uint", "str": "str"}
    return [PacketField(name=f.name, data_type=kinds[f.kind], bit_length=f.bit_length,
                        bit_offset=f.bit_offset, byte_order=f.byte_order)
            for f in ptype.fields if f.bit_length is not None]


def struct_format(ptype) -> str:
    """The ``struct`` format of a packet type's fields (whole octets, one after the other)."""
    codes = {("uint", 8): "B", ("uint", 16): "H", ("uint", 32): "I", ("uint", 64): "Q", ("int", 8): "b",
             ("int", 16): "h", ("int", 32): "i", ("int", 64): "q", ("float", 32): "f", ("float", 64): "d",
             ("bool", 8): "?"}
    return ">" + "".join(codes[f.kind, f.bit_length] for f in ptype.fields)


def cadu_file(path: str, n_packets: int, seed: int = 7) -> int:
    from onboard.ccsds.chain import TmLinkConfig, TmSendChain
    from onboard.core.spp import build_packet

    rng = np.random.default_rng(seed)
    sizes = rng.integers(64, 2048, n_packets)
    packets = b"".join(build_packet(0x100 + i % 4, rng.integers(0, 256, int(sizes[i]), dtype=np.uint8)
                                    .tobytes(), seq_count=(i // 4) & 0x3FFF) for i in range(n_packets))
    tx = TmSendChain(TmLinkConfig(scid=0x2A1, vcids=(2,), ocf=True))
    cadus = np.concatenate([tx.packets_to_cadus(packets), tx.flush()])
    cadus.tofile(path)
    return int(cadus.size)


def hk_packet_file(path: str, n_packets: int, seed: int = 3) -> list:
    """Housekeeping packets of every module in the registry, in time order, with counters that
    move as real ones do; returns the packet types used (the fixed layouts: a bench host's
    housekeeping ends in text of any length, which neither baseline reads)."""
    from lunarelay_tools.inspect.dictionaries import project_dictionary
    from onboard.bus.packet import pack

    types = [t for t in project_dictionary().types
             if t.name.endswith(".hk") and all(f.bit_length is not None for f in t.fields)]
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(types), n_packets)
    counters = {t.name: np.zeros(len(t.fields), dtype=np.int64) for t in types}
    fmts = {t.name: struct_format(t) for t in types}
    seqs = dict.fromkeys(counters, 0)
    out = bytearray()
    t0 = 2_100_000_000.0
    for i, k in enumerate(pick.tolist()):
        t = types[k]
        c = counters[t.name]
        c += rng.integers(0, 3, c.size)
        values = [float(v) if f.kind == "float" else int(v) & ((1 << (f.bit_length - (f.kind == "int"))) - 1)
                  for v, f in zip(c.tolist(), t.fields, strict=True)]
        out += pack(t.apids[0], struct.pack(fmts[t.name], *values), seqs[t.name] & 0x3FFF, t0 + i * 0.01)
        seqs[t.name] += 1
    with open(path, "wb") as f:
        f.write(out)
    return types


def _inspect(path: str, writer_factory=None, dictionary=None):
    from lunarelay_tools.inspect.command import inspect_file
    from lunarelay_tools.inspect.outputs import Outputs
    from lunarelay_tools.inspect.session import Options

    outputs = Outputs(dictionary)
    if writer_factory is not None:
        outputs.add(writer_factory())
    try:
        summary, ok, _ = inspect_file(path, Options(), outputs, dictionary)
    finally:
        outputs.close()
    if not ok:
        raise LunarelayError(f"inspect did not recognise the bench file {path}")
    return summary


def _lunarelay_inspect(path: str, *args: str) -> None:
    """``lunarelay inspect PATH ARGS`` as a user runs it; its tables go nowhere."""
    done = subprocess.run(**module_command("lunarelay_tools.cli", "inspect", path, *args),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        raise LunarelayError(f"lunarelay inspect {' '.join(args)} failed in the bench: "
                             f"{done.stderr.strip()[-300:]}")


def _decode_chain(path: str) -> dict:
    from hil.ground.chain import TmReceiveChain
    from onboard.ccsds.chain import TmLinkConfig

    rx = TmReceiveChain(TmLinkConfig(scid=0x2A1, vcids=(2,), ocf=True))
    with open(path, "rb") as f:
        while piece := f.read(8 << 20):
            rx.push_bytes(piece)
    return rx.stats()


def _ccsdspy_parquet(path: str, types, out: str) -> int:
    import ccsdspy
    import ccsdspy.utils
    import pyarrow as pa
    import pyarrow.parquet as pq

    by_apid = {t.apids[0]: t for t in types}
    tables, n = [], 0
    for apid, stream in ccsdspy.utils.split_by_apid(path).items():
        t = by_apid.get(apid)
        if t is None:
            continue
        decoded = ccsdspy.FixedLength(ccsdspy_fields(t)).load(stream)
        cols = {f"{t.name}.{k}": pa.array(v.astype(v.dtype.newbyteorder("="))) for k, v in decoded.items()}
        cols["apid"] = pa.array(np.full(len(next(iter(decoded.values()))), apid, dtype=np.uint16))
        tables.append(pa.table(cols))
        n += tables[-1].num_rows
    pq.write_table(pa.concat_tables(tables, promote_options="default"), out)
    return n


def _python_json(path: str, types, out: str) -> int:
    by_apid = {t.apids[0]: t for t in types}
    fmts = {t.name: struct_format(t) for t in types}
    with open(path, "rb") as f:
        data = f.read()
    at, n = 0, 0
    with open(out, "w") as f:
        while at < len(data):
            w0, w1, length = struct.unpack_from(">HHH", data, at)
            apid = w0 & 0x7FF
            t = by_apid[apid]
            values = struct.unpack_from(fmts[t.name], data, at + 12)
            f.write(json.dumps({"apid": apid, "seq_count": w1 & 0x3FFF, "length": length + 7, "name": t.name,
                                "fields": dict(zip((x.name for x in t.fields), values, strict=True))}) + "\n")
            at += length + 7
            n += 1
    return n


def _live(cadus: bytes, rate_fps: float | None) -> tuple[float, int, int]:
    """(frames decoded per second of sending, frames sent, frames missed) over UDP."""
    from lunarelay_tools.inspect.live import UdpSource
    from lunarelay_tools.inspect.session import Options, StreamInspection

    src = UdpSource("127.0.0.1:0")
    stream = StreamInspection("live", Options(probe_octets=16 << 10))
    src.start()
    n = len(cadus) // CADU_LEN
    sent = threading.Event()

    def send():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.perf_counter()
        for k in range(n):
            s.sendto(cadus[k * CADU_LEN:(k + 1) * CADU_LEN], src.address)
            if rate_fps:
                delay = t0 + (k + 1) / rate_fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        s.close()
        sent.set()

    t0 = time.perf_counter()
    threading.Thread(target=send, daemon=True).start()
    idle_since = None
    while True:
        try:
            data = src.queue.get(timeout=0.05)
            pieces = [data]
            while not src.queue.empty():
                pieces.append(src.queue.get_nowait())
            stream.push(b"".join(p for p in pieces if p))
            idle_since = None
        except Exception:  # noqa: BLE001 - queue.Empty: nothing new
            if sent.is_set():
                idle_since = idle_since or time.perf_counter()
                if time.perf_counter() - idle_since > 0.5:
                    break
    elapsed = time.perf_counter() - t0 - 0.5
    src.close()
    src.join(1.0)
    stream.finish()
    st = stream.layer_stats()
    got = st["cadu"]["cadus"]
    mc = st["master_channel"]
    missed = (n - got) + mc["mc_frames_lost"]
    return got / elapsed, n, missed


def run(quick: bool = False) -> list[Measurement]:
    try:
        import ccsdspy  # noqa: F401 - the baseline of the Parquet figure
        logging.getLogger("ccsdspy").setLevel(logging.ERROR)   # its count-wrap warnings, per APID
    except ImportError:
        raise LunarelayError("the inspect bench compares with CCSDSPy: pip install ccsdspy") from None
    from lunarelay_tools.inspect.dictionaries import project_dictionary
    from lunarelay_tools.inspect.outputs import JsonLinesWriter, ParquetWriter

    repeat = 3 if quick else 5
    out = []
    with tempfile.TemporaryDirectory(prefix="lunarelay-bench-inspect-") as d:
        cadu = os.path.join(d, "link.cadu")
        size = cadu_file(cadu, 8000 if quick else 40000)
        got = _inspect(cadu)["streams"][0]
        want = _decode_chain(cadu)
        same = (got["packets"]["packets"] == want["packets"]
                and got["layers"]["cadu"]["cadus"] == want["cadus_found"])
        if not same:
            raise LunarelayError("inspect and the decode chain disagree on the bench file; bench aborted")
        t = interleaved_medians({"inspect": lambda: _inspect(cadu), "decode": lambda: _decode_chain(cadu)},
                                repeat)
        out.append(Measurement(SUITE, "CADU file -> packets with stats, RS I=5 (inspect, detection included)",
                               size * 8 / t["inspect"] / 1e9, "Gbit/s", "lunarelay decode's TmReceiveChain",
                               size * 8 / t["decode"] / 1e9))

        pkt = os.path.join(d, "hk.pkt")
        n = 200_000 if quick else 1_000_000
        types = hk_packet_file(pkt, n)
        dictionary = project_dictionary()
        pq_out, cc_out = os.path.join(d, "ours"), os.path.join(d, "ccsdspy.parquet")
        pq_one = os.path.join(d, "ours.parquet")
        js_out, py_out = os.path.join(d, "ours.jsonl"), os.path.join(d, "python.jsonl")
        if _ccsdspy_parquet(pkt, types, cc_out) != n:
            raise LunarelayError("CCSDSPy did not read every bench packet; bench aborted")
        if _inspect(pkt, lambda: ParquetWriter(pq_out), dictionary)["streams"][0]["packets"]["packets"] != n:
            raise LunarelayError("inspect did not read every bench packet; bench aborted")
        cli_pq, cli_js = os.path.join(d, "cli"), os.path.join(d, "cli.jsonl")
        outputs = {"parquet": pq_out, "parquet_one": pq_one, "ccsdspy": cc_out, "json": js_out,
                   "python": py_out, "cli_parquet": cli_pq, "cli_json": cli_js}
        # the command a user types, as a process (its start-up, detection, tables and summary)
        cli = {"cli_parquet": ("--parquet", cli_pq), "cli_json": ("--json", cli_js)}
        for args in cli.values():
            _lunarelay_inspect(pkt, *args)
        with open(cli_js, "rb") as f:
            lines = sum(1 for _ in f)
        if lines != n + 1:                                         # every packet, then the summary
            raise LunarelayError("lunarelay inspect --json did not write every bench packet; bench aborted")

        def remove_output(key: str) -> None:
            # each timed run writes a new output, as a user's does, not over the last run's
            shutil.rmtree(outputs[key]) if os.path.isdir(outputs[key]) else os.unlink(outputs[key])

        t = interleaved_medians({
            "parquet": lambda: _inspect(pkt, lambda: ParquetWriter(pq_out), dictionary),
            "parquet_one": lambda: _inspect(pkt, lambda: ParquetWriter(pq_one), dictionary),
            "ccsdspy": lambda: _ccsdspy_parquet(pkt, types, cc_out),
            "json": lambda: _inspect(pkt, lambda: JsonLinesWriter(js_out), dictionary),
            "python": lambda: _python_json(pkt, types, py_out),
            **{key: (lambda args=args: _lunarelay_inspect(pkt, *args)) for key, args in cli.items()},
        }, max(2, repeat - 2), before=remove_output)
        out.append(Measurement(SUITE, f"packets -> decoded fields -> Parquet ({n} HK packets, mixed APIDs)",
                               n / t["parquet"] / 1e6, "M packets/s", CCSDSPY, n / t["ccsdspy"] / 1e6))
        out.append(Measurement(SUITE, f"packets -> decoded fields -> one Parquet file ({n} HK packets)",
                               n / t["parquet_one"] / 1e6, "M packets/s", CCSDSPY, n / t["ccsdspy"] / 1e6))
        out.append(Measurement(SUITE, f"packets -> JSON lines ({n} HK packets)", n / t["json"] / 1e6,
                               "M packets/s", "per-packet struct.unpack + json.dumps", n / t["python"] / 1e6))
        for key, what in (("cli_parquet", "Parquet"), ("cli_json", "JSON lines")):
            out.append(Measurement(SUITE, f"lunarelay inspect FILE {cli[key][0]} as a process ({what}, "
                                   f"start-up included)", n / t[key] / 1e6, "M packets/s",
                                   "the same inspection called in this process",
                                   n / t[key.removeprefix("cli_")] / 1e6))

        live = np.fromfile(cadu, dtype=np.uint8)[:CADU_LEN * (300 if quick else 1000)].tobytes()
        fps10, sent, missed10 = _live(live[:CADU_LEN * (200 if quick else 400)], 10 * DEFAULT_DOWNLINK_FPS)
        fps_max, sent_max, missed_max = _live(live, None)
        ten = 10 * DEFAULT_DOWNLINK_FPS
        out.append(Measurement(SUITE, f"live UDP at 10x the default downlink: {missed10} of {sent} frames "
                               "missed", fps10, "frames/s", "10x the default scenario's downlink", ten))
        out.append(Measurement(SUITE, f"live UDP, sender unpaced: {missed_max} of {sent_max} frames missed",
                               fps_max, "frames/s", "10x the default scenario's downlink", ten))
    return out

