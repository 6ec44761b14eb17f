"""What `lunarelay inspect` writes: JSON lines (one object per packet, then the summary), CSV wide and
long, Parquet as one file or one file per packet type, the packets of each APID byte for byte, and
pcapng with every frame and packet; the same packets and values in every one."""

from __future__ import annotations

import csv
import datetime
import json
import subprocess
import sys

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from hil import capture as cap
from onboard.bus.packet import pack
from onboard.bus.registry import default_registry
from onboard.ccsds.chain import TmLinkConfig, TmSendChain
from onboard.events import Event, EventId, Severity

REG = default_registry()


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def link(tmp_path_factory):
    """A CADU stream of bus packets: scheduler ticks, pings, events with awkward text, user data."""
    rng = np.random.default_rng(6)
    tick, ping = REG.message("SCHED_TICK").apid, REG.message("PING").apid
    texts = ['quote " backslash \\ newline\n tab\t', "ünïcödé ✓", "plain"]
    packets = []
    for i in range(300):
        t = 2_100_000_000.0 + i * 0.25
        if i % 3 == 0:
            packets.append(pack(tick, (i // 3).to_bytes(4, "big") + bytes([i % 2]), i // 3, t))
        elif i % 3 == 1:
            packets.append(pack(0x101, rng.integers(0, 256, 60, dtype=np.uint8).tobytes(), i // 3, t))
        elif i % 30 == 2:
            e = Event(REG.module("store").apid, EventId.CMD_REJECTED, Severity.WARNING_LO,
                      texts[(i // 30) % 3])
            packets.append(pack(REG.module("store").event_apid, e.to_bytes(), i // 30, t))
        else:
            packets.append(pack(ping, i.to_bytes(4, "big"), i // 3, t))
    tx = TmSendChain(TmLinkConfig(scid=0x2A1, ocf=True))
    cadus = np.concatenate([tx.packets_to_cadus(b"".join(packets)), tx.flush()]).tobytes()
    d = tmp_path_factory.mktemp("outputs")
    src = d / "link.cadu"
    src.write_bytes(cadus)
    r = lunarelay("inspect", str(src), "--json", "--csv", str(d / "wide.csv"), "--parquet",
                  str(d / "one.parquet"), "--split-dir", str(d / "split"), "--pcapng", str(d / "link.pcapng"))
    assert r.returncode == 0, r.stderr
    r2 = lunarelay("inspect", str(src), "--csv", str(d / "long.csv"), "--csv-layout", "long", "--parquet",
                   str(d / "dir"))
    assert r2.returncode == 0, r2.stderr
    return {"dir": d, "packets": packets, "stdout": r.stdout, "stderr": r.stderr, "cadus": cadus,
            "texts": texts}


def test_json_lines_are_one_object_per_packet_then_the_summary(link):
    lines = link["stdout"].splitlines()
    objs = [json.loads(line) for line in lines]           # every line is one JSON object
    assert "summary" in objs[-1] and len(objs) == len(link["packets"]) + 1
    assert [o["packet_index"] for o in objs[:-1]] == list(range(len(link["packets"])))
    # CUC TAI 2.1e9 s after 1958 is 2.1e9 - 378691200 - 37 Unix seconds (TAI-UTC 37 s), then 0.25 s apart
    first = datetime.datetime.fromtimestamp(2_100_000_000 - 378_691_200 - 37, datetime.UTC)
    assert objs[0]["time"] == first.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert objs[1]["time"] == first.strftime("%Y-%m-%dT%H:%M:%S.250Z")
    assert {o["name"] for o in objs[:-1]} == {"sched_tick", "user_data", "store.event", "ping"}
    texts = [o["fields"]["text"] for o in objs[:-1] if o["name"] == "store.event"]
    assert texts and set(texts) <= set(link["texts"]) and len(set(texts)) == 3
    ticks = [o["fields"]["tick"] for o in objs[:-1] if o["name"] == "sched_tick"]
    assert ticks == list(range(100))
    # the terminal report went to stderr, the summary says where every octet went
    assert "where every input octet went" in link["stderr"]
    assert objs[-1]["summary"]["accounting"]["unaccounted"] == 0


def test_csv_and_parquet_hold_the_same_packets_and_values(link):
    d = link["dir"]
    one = pq.read_table(d / "one.parquet").sort_by("packet_index").to_pylist()
    dataset = ds.dataset(str(d / "dir"), format="parquet").to_table()
    assert len(one) == dataset.num_rows == len(link["packets"])
    with open(d / "wide.csv", newline="") as f:
        wide = list(csv.DictReader(f))
    assert len(wide) == len(one)
    for row, w in zip(one, wide, strict=True):
        assert int(w["packet_index"]) == row["packet_index"] and int(w["seq_count"]) == row["seq_count"]
        if row["name"] == "sched_tick":
            assert int(w["sched_tick.tick"]) == row["sched_tick.tick"]
    with open(d / "long.csv", newline="") as f:
        long = list(csv.DictReader(f))
    ticks = [int(r["value"]) for r in long if r["name"] == "sched_tick" and r["field"] == "tick"]
    assert ticks == [r["sched_tick.tick"] for r in one if r["name"] == "sched_tick"]
    events = [r["value"] for r in long if r["field"] == "text"]
    assert set(events) == set(link["texts"])


def test_split_files_hold_each_apids_packets_byte_for_byte(link):
    by_apid: dict[int, bytes] = {}
    for p in link["packets"]:
        apid = int.from_bytes(p[:2], "big") & 0x7FF
        by_apid[apid] = by_apid.get(apid, b"") + p
    for apid, data in by_apid.items():
        assert (link["dir"] / "split" / f"apid-{apid:#05x}.bin").read_bytes() == data


def test_pcapng_holds_every_frame_and_every_packet(link):
    c = cap.read_capture(link["dir"] / "link.pcapng")
    kinds = [c.interfaces[r.interface].linktype for r in c.records]
    assert kinds.count(cap.LINKTYPE_TM) == len(link["cadus"]) // 1279
    packets = [bytes(r.data) for r in c.records
               if c.interfaces[r.interface].linktype == cap.LINKTYPE_SPACE_PACKET]
    assert packets == link["packets"]
    tm = next(i for i in c.interfaces if i.linktype == cap.LINKTYPE_TM)
    assert tm.params["frame_length"] == "1115" and tm.params["ocf"] == "1" and tm.params["scid"] == "0x2a1"
