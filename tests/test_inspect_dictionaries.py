"""Packet dictionaries of `lunarelay inspect`: the project's registry and command dictionary decode
housekeeping, events and commands as the onboard code does; CCSDSPy-style CSV decodes as CCSDSPy
does; an XTCE-described packet decodes as space-packet-parser does (calibrations, enumerations);
yellow and red limits are counted."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from hil.ground.housekeeping import decode_housekeeping, hk_layout
from onboard.bus.packet import pack, unpack
from onboard.commands import default_dictionary
from onboard.core.spp import build_packet
from onboard.events import Event, EventId, Severity
from onboard.modules.base import COMMON_HK
from tests.conftest import ROOT, VECTORS, require_peer

XTCE = VECTORS / "xtce" / "rover_hk.xml"


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=600)


def json_packets(path) -> list[dict]:
    return [x for x in map(json.loads, path.read_text().splitlines()) if "summary" not in x]


def test_the_project_dictionary_decodes_housekeeping_events_and_commands_as_the_modules_do(tmp_path):
    from onboard.bus.client import PipeStats
    from onboard.bus.registry import default_registry

    reg = default_registry()
    rng = np.random.default_rng(2)
    packets, expected = [], []
    for i, module in enumerate(("store", "downlink", "uplink", "scheduler")):
        own = hk_layout(module)
        codes = ">" + "".join(c for _, c in own)
        values = [int(rng.integers(0, 200)) for _ in own]
        data = (COMMON_HK.pack(*(int(v) for v in rng.integers(0, 100, 5)))
                + PipeStats(*map(int, rng.integers(0, 1000, 6))).to_hk()
                + PipeStats(*map(int, rng.integers(0, 1000, 6))).to_hk() + struct.pack(codes, *values))
        packets.append(pack(reg.module(module).apid, data, i, 2.1e9 + i))
        want = decode_housekeeping(module, data)
        flat = {}
        for k, v in want.items():
            if isinstance(v, PipeStats):
                flat.update({f"{k}.{f}": getattr(v, f) for f in ("received", "malformed", "lost", "dropped",
                                                                  "high_water", "depth")})
            else:
                flat[k] = v
        expected.append((f"{module}.hk", flat))
    event = Event(reg.module("store").apid, EventId.CMD_ACCEPTED, Severity.COMMAND,
                  "NOOP seq 3: accepted: ok")
    packets.append(pack(reg.module("store").event_apid, event.to_bytes(), 0, 2.1e9))
    expected.append(("store.event", {"source_apid": event.source_apid, "event_id": "CMD_ACCEPTED",
                                     "severity": "COMMAND", "text": event.text}))
    commands = default_dictionary()
    user = commands.encode("flight_computer", "SET_MODE", mode=2)
    packets.append(pack(reg.module("flight_computer").apid, user, 5, 2.1e9, packet_type=1))
    cmd, args = commands.decode("flight_computer", unpack(packets[-1]).data)
    expected.append((f"flight_computer.{cmd.name}", {"opcode": cmd.opcode, **args}))
    src = tmp_path / "bus.pkt"
    src.write_bytes(b"".join(packets))
    out = tmp_path / "p.jsonl"
    r = lunarelay("inspect", str(src), "--json", str(out))
    assert r.returncode == 0, r.stderr
    got = json_packets(out)
    assert [(p["name"], p["fields"]) for p in got] == expected


def test_an_xtce_packet_decodes_as_space_packet_parser_decodes_it(tmp_path):
    try:
        import space_packet_parser as spp
    except ImportError:
        spp = None
    require_peer("space-packet-parser", spp is not None, "pip install space-packet-parser")
    rng = np.random.default_rng(5)
    packets = []
    for i in range(400):
        mode_hazard = int(rng.integers(0, 4)) << 4 | int(rng.integers(0, 16))    # MODE is enumerated 0..3
        body = struct.pack(">IBHhfdH", int(rng.integers(0, 1 << 32)), mode_hazard,
                           int(rng.integers(0, 1 << 16)), int(rng.integers(-1 << 15, 1 << 15)),
                           float(rng.normal(0, 100)), float(rng.normal(0, 1e6)),
                           int(rng.integers(0, 1 << 16)))
        body += bytes(rng.integers(0x41, 0x5B, 8, dtype=np.uint8))
        packets.append(build_packet(0x102, body, seq_count=i))
    # other APIDs in between are not RoverHK packets and stay undecoded
    stream = b"".join(p + build_packet(0x103, b"\x00" * 9, seq_count=i) for i, p in enumerate(packets))
    src, out = tmp_path / "rover.pkt", tmp_path / "parquet"
    src.write_bytes(stream)
    r = lunarelay("inspect", str(src), "--define", str(XTCE), "--parquet", str(out),
                  "--no-project-dictionary")
    assert r.returncode == 0, r.stderr
    ours = pq.read_table(out / "RoverHK.parquet").to_pylist()
    assert len(ours) == len(packets)
    assert pq.read_table(out / "undecoded.parquet").num_rows == len(packets)
    definition = spp.load_xtce(XTCE)
    names = ("MET", "MODE", "HAZARD_FLAGS", "BATTERY_V", "TEMP_C", "WHEEL_SPEED", "ODOMETER", "SOL", "CAMERA",
             "TAG")
    for row, pkt in zip(ours, packets, strict=True):
        theirs = definition.parse_bytes(pkt)
        for name in names:
            mine, ref = row[f"RoverHK.{name}"], theirs[name]
            if isinstance(ref, float) and not isinstance(ref, bool):
                assert math.isclose(mine, float(ref), rel_tol=1e-12, abs_tol=1e-12), name
            else:
                assert mine == (str(ref) if isinstance(ref, str) else int(ref)), name
            if f"RoverHK.{name}.raw" in row:        # calibrated and enumerated: the raw value too
                assert row[f"RoverHK.{name}.raw"] == ref.raw_value, name


def test_csv_definitions_decode_as_ccsdspy_decodes_them(tmp_path):
    try:
        import ccsdspy
    except ImportError:
        ccsdspy = None
    require_peer("ccsdspy", ccsdspy is not None, "pip install ccsdspy")
    csv = tmp_path / "rover.csv"
    csv.write_text("name, data_type, bit_length, bit_offset\n"
                   "MET, uint, 32, 48\nMODE, uint, 3, 80\nFLAG, uint, 1, 83\nLEVEL, int, 12, 84\n"
                   "CURRENT, int, 16, 96\nPRESSURE, float, 32, 112\nCOUNT, uint, 24, 144\n")
    rng = np.random.default_rng(8)
    packets = [build_packet(0x0AB, rng.integers(0, 256, 15, dtype=np.uint8).tobytes(), seq_count=i)
               for i in range(300)]
    src, out = tmp_path / "p.pkt", tmp_path / "out"
    src.write_bytes(b"".join(packets))
    r = lunarelay("inspect", str(src), "--define", f"0xab={csv}", "--parquet", str(out))
    assert r.returncode == 0, r.stderr
    ours = pq.read_table(out / "rover.parquet")
    theirs = ccsdspy.FixedLength.from_file(str(csv)).load(str(src))
    for name in ("MET", "MODE", "FLAG", "LEVEL", "CURRENT", "PRESSURE", "COUNT"):
        a, b = ours.column(f"rover.{name}").to_numpy(), np.asarray(theirs[name])
        assert np.array_equal(a, b, equal_nan=True), name


def test_yellow_and_red_limits_are_counted_per_apid(tmp_path):
    csv = tmp_path / "thermal.csv"
    csv.write_text("name,data_type,bit_length,unit,calibration,yellow_low,yellow_high,red_low,red_high\n"
                   "T_BATT,int,16,degC,0 0.1,-10,40,-20,60\n")
    temps = [0, 100, 450, 700, -150, -250, 200]            # raw: x 0.1 degC
    levels = [0, 0, 1, 2, 1, 2, 0]
    src, summary = tmp_path / "t.pkt", tmp_path / "s.json"
    src.write_bytes(b"".join(build_packet(0x44, struct.pack(">h", t), seq_count=i)
                             for i, t in enumerate(temps)))
    r = lunarelay("inspect", str(src), "--define", f"0x44={csv}", "--summary", str(summary))
    assert r.returncode == 0, r.stderr
    row = json.loads(summary.read_text())["streams"][0]["apids"][0]
    assert (row["limit_yellow"], row["limit_red"]) == (levels.count(1), levels.count(2))
    assert "thermal.T_BATT: 2 yellow, 2 red" in r.stdout


@pytest.mark.parametrize("define, message", [
    ("bad.csv", "needs its APID"),
    ("0x10=bad.csv", "needs the columns name, data_type, bit_length"),
    ("0x10=missing.csv", "no such file"),
    ("broken.xml", "broken.xml"),
])
def test_a_bad_definition_is_one_clear_line(tmp_path, define, message):
    (tmp_path / "bad.csv").write_text("field,type\nA,uint\n")
    (tmp_path / "broken.xml").write_text("<xtce:SpaceSystem>")
    src = tmp_path / "p.pkt"
    src.write_bytes(build_packet(0x10, b"\x01"))
    r = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "inspect", str(src), "--define", define],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode in (1, 2)
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_limit_rows_are_read_field_by_field_and_a_bad_row_names_its_line_and_field():
    from lunarelay_tools.inspect.dictionaries import DictionaryError, limit_rows, project_dictionary

    assert limit_rows('[[limit]]\npacket = "store.hk"\nfield = "refused"\nyellow_high = 0\n', "l.toml") == [
        {"packet": "store.hk", "field": "refused", "yellow_low": None, "yellow_high": 0.0, "red_low": None,
         "red_high": None}]
    for text, message in (('[[limit]]\npacket = "store.hk"\nfield = "refused"\nyelow_high = 0\n',
                           r"l\.toml:4: limit\[0\]\.yelow_high: unknown field"),
                          ('[[limit]]\npacket = "store.hk"\nfield = "refused"\nred_high = nan\n',
                           r"l\.toml:4: limit\[0\]\.red_high: nan is not a finite number"),
                          ('[[limit]]\nfield = "refused"\n', r"l\.toml:1: limit\[0\]\.packet: missing")):
        with pytest.raises(DictionaryError, match=message):
            limit_rows(text, "l.toml")
    # the shipped file reads, and every row it holds gives some housekeeping field its limits
    text = (ROOT / "tools" / "inspect" / "limits.toml").read_text()
    limited = {(t.name, f.name) for t in project_dictionary().types for f in t.fields if f.limits}
    for row in limit_rows(text, "limits.toml"):
        assert any(field == row["field"] and (name == row["packet"] or row["packet"].startswith("*.")
                                              and name.endswith(row["packet"][1:]))
                   for name, field in limited), row


def test_limit_levels_take_the_worse_of_yellow_and_red_for_floats_and_integers():
    from lunarelay_tools.inspect.dictionaries import Limits

    both = Limits(yellow_low=0.0, yellow_high=10.0, red_low=-5.0, red_high=20.0)
    got = both.levels(np.array([-6.0, -1.0, 0.0, 5.0, 10.5, 20.0, 21.0, float("nan")]))
    assert got.tolist() == [2, 1, 0, 0, 1, 1, 2, 0]
    assert both.levels(np.array([0, 11, 65535], dtype=np.uint16)).tolist() == [0, 1, 2]
    assert Limits(red_high=3).levels(np.array([True, False])).tolist() == [0, 0]
    assert Limits(yellow_high=1.5).levels(np.array([1, 2], dtype=np.int8)).tolist() == [0, 1]
