"""`lunarelay inspect` on the CADU file `lunarelay emulate` writes for the default scenario, with no
flags: it finds the downlink's link, tables every APID and explains every octet; tshark with the
shipped dissector, spacepackets and CCSDSPy read what it writes and agree with it field by field."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from hil import capture as cap
from lunarelay_tools.inspect import headers
from lunarelay_tools.inspect.dictionaries import project_dictionary
from onboard.bus.registry import default_registry
from tests.conftest import ROOT, require_command, require_peer

pytestmark = pytest.mark.slow
CADU = 4 + 5 * 255


def lunarelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", *args], capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("emulated")
    cadu = d / "default.cadu"
    r = lunarelay("emulate", "--quiet", "--cadu-file", str(cadu), "--nav-dir", str(d / "afs"))
    assert r.returncode == 0, r.stderr
    out = {"dir": d, "cadu": cadu, "summary": d / "summary.json", "json": d / "packets.jsonl",
           "pcapng": d / "link.pcapng", "split": d / "split"}
    r = lunarelay("inspect", str(cadu), "--summary", str(out["summary"]), "--json", str(out["json"]),
                  "--pcapng", str(out["pcapng"]), "--split-dir", str(out["split"]))
    assert r.returncode == 0, r.stderr
    out["stdout"] = r.stdout
    return out


def packet_lines(run) -> list[dict]:
    lines = [json.loads(line) for line in run["json"].read_text().splitlines()]
    return [x for x in lines if "summary" not in x]


def test_inspect_finds_the_downlink_tables_every_apid_and_explains_every_octet(run):
    s = json.loads(run["summary"].read_text())
    size = run["cadu"].stat().st_size
    stream = s["streams"][0]
    link = stream["link"]
    scenario_scid = 0x2A1
    assert (link["format"], link["frame"], link["frame_length"], link["rs_e"], link["interleave"]) == \
        ("cadu", "tm", 1115, 16, 5)
    assert link["randomize"] and link["ocf"] and link["fecf"] and link["scid"] == scenario_scid
    assert stream["layers"]["cadu"]["cadus"] == size // CADU
    assert stream["layers"]["master_channel"]["crc_failures"] == 0
    # the emulated channel is clean and the downlink gives each frame its master channel count when
    # it goes out (132.0-B-3 §4.1.2.4): no frame is missing or out of order on the master channel or
    # on any virtual channel, no packet is cut, and every octet is explained without a loss
    mc = stream["layers"]["master_channel"]
    assert (mc["mc_gaps"], mc["mc_frames_lost"], mc["mc_out_of_order"]) == (0, 0, 0)
    vcs = stream["layers"]["virtual_channels"]
    assert len(vcs) >= 3
    for vc, st in vcs.items():
        assert (st["vc_gaps"], st["vc_frames_lost"], st["vc_out_of_order"]) == (0, 0, 0), vc
        assert (st["fhp_errors"], st["packet_start_lost"], st["packet_end_lost"], st["bad_packets"]) == \
            (0, 0, 0, 0), vc
    acc = s["accounting"]
    assert acc["input_octets"] == size and acc["unaccounted"] == 0
    assert acc["by_kind"]["problem"] == 0 and acc["ranges"] == [], acc["ranges"][:5]
    assert acc["by_kind"]["packet"] + acc["by_kind"]["structure"] + acc["by_kind"]["idle"] == size
    assert stream["layers"]["cadu"]["sync_losses"] == stream["layers"]["cadu"]["rs_failed_cadus"] == 0
    # the housekeeping of every module, their events and the store's playback of the users' packets
    apids = {a["apid"]: a for a in stream["apids"]}
    reg = default_registry()
    for module in ("executive", "scheduler", "store", "uplink", "downlink", "proximity"):
        hk = apids[reg.module(module).apid]
        assert hk["name"] == f"{module}.hk" and hk["packets"] > 10 and hk["sequence_gaps"] == 0
    assert apids[reg.message("STORE_PLAYBACK").apid]["packets"] > 100
    assert any(a["name"].endswith(".event") for a in apids.values())
    for text in ("detected CADU stream", "pin it with", "packets by APID", "where every input octet went",
                 "unaccounted 0"):
        assert text in run["stdout"]
    # the printed flags pin the same result without detection
    again = run["dir"] / "again.json"
    r = lunarelay("inspect", str(run["cadu"]), "--summary", str(again), *stream["flags"])
    assert r.returncode == 0, r.stderr
    assert json.loads(again.read_text())["streams"][0]["packets"] == stream["packets"]


@pytest.mark.interop
def test_tshark_with_the_dissector_agrees_on_every_frame_and_packet_of_the_run(run):
    exe = require_command("tshark", "tshark")
    c = cap.read_capture(run["pcapng"])
    tm = [r for r in c.records if c.interfaces[r.interface].linktype == cap.LINKTYPE_TM]
    rows = np.array([np.frombuffer(bytes(r.data), dtype=np.uint8) for r in tm])
    assert len(rows) == run["cadu"].stat().st_size // CADU
    names = [f"lunarelay.tm.{f.name}" for f in headers.bit_layout(headers.TmPrimaryHeader)] + \
        ["lunarelay.tm.ocf", "lunarelay.tm.fecf", "lunarelay.tm.fecf_ok"] + \
        [f"lunarelay.clcw.{f.name}" for f in headers.bit_layout(headers.Clcw)]
    cmd = [exe, "-n", "-X", f"lua_script:{ROOT / 'tools/wireshark/lunarelay.lua'}", "-r", str(run["pcapng"]),
           "-Y", "lunarelay.tm", "-T", "fields", "-E", "separator=;", "-E", "occurrence=f"]
    for n in names:
        cmd += ["-e", n]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    got = np.array([[int(v, 0) for v in line.split(";")] for line in r.stdout.splitlines()])
    want = headers.extract(headers.TmPrimaryHeader, rows)
    clcw = headers.extract(headers.Clcw, rows, at=1115 - 6)
    expected = np.column_stack([*want.values(),
                                [int.from_bytes(f[-6:-2].tobytes(), "big") for f in rows],
                                [int.from_bytes(f[-2:].tobytes(), "big") for f in rows],
                                np.ones(len(rows), dtype=np.int64), *clcw.values()]).astype(np.int64)
    assert got.shape == expected.shape
    assert (got == expected).all()
    # the packet records: tshark's space packet fields equal inspect's JSON lines
    spp = [f.name for f in headers.bit_layout(headers.SpacePacketPrimaryHeader)]
    cmd = cmd[:cmd.index("-Y") + 1] + ["lunarelay.spp", "-T", "fields", "-E", "separator=;"]
    for n in spp:
        cmd += ["-e", f"lunarelay.spp.{n}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    ts = [dict(zip(spp, map(int, line.split(";")), strict=True)) for line in r.stdout.splitlines()]
    lines = packet_lines(run)
    assert len(ts) == len(lines)
    keys = ("apid", "seq_count", "seq_flags", "type", "sec_hdr_flag")
    for t, p in zip(ts, lines, strict=True):
        assert [t[k] for k in keys] + [t["data_length"]] == [p[k] for k in keys] + [p["length"] - 7]


@pytest.mark.interop
def test_spacepackets_and_ccsdspy_read_the_packets_inspect_split_out_and_agree(run):
    try:
        from spacepackets.ccsds.spacepacket import SpacePacketHeader
    except ImportError:
        SpacePacketHeader = None
    require_peer("spacepackets", SpacePacketHeader is not None, "pip install spacepackets")
    try:
        import ccsdspy
        import ccsdspy.utils
    except ImportError:
        ccsdspy = None
    require_peer("ccsdspy", ccsdspy is not None, "pip install ccsdspy")
    lines = packet_lines(run)
    by_apid: dict[int, list[dict]] = {}
    for p in lines:
        by_apid.setdefault(p["apid"], []).append(p)
    assert len(by_apid) >= 10
    for apid, ours in by_apid.items():
        path = run["split"] / f"apid-{apid:#05x}.bin"
        data = path.read_bytes()
        # spacepackets, packet by packet
        at, theirs = 0, []
        while at < len(data):
            h = SpacePacketHeader.unpack(data[at:at + 6])
            theirs.append(h)
            at += h.packet_len
        assert at == len(data) and len(theirs) == len(ours)
        for h, p in zip(theirs, ours, strict=True):
            assert (h.apid, h.seq_count, int(h.seq_flags), int(h.packet_type), int(h.sec_header_flag),
                    h.packet_len, h.ccsds_version) == \
                (p["apid"], p["seq_count"], p["seq_flags"], p["type"], p["sec_hdr_flag"], p["length"], 0)
        # CCSDSPy, whole file
        hdr = ccsdspy.utils.read_primary_headers(str(path))
        assert hdr["CCSDS_APID"].tolist() == [p["apid"] for p in ours]
        assert hdr["CCSDS_SEQUENCE_COUNT"].tolist() == [p["seq_count"] for p in ours]
        assert hdr["CCSDS_SEQUENCE_FLAG"].tolist() == [p["seq_flags"] for p in ours]
        assert hdr["CCSDS_PACKET_TYPE"].tolist() == [p["type"] for p in ours]
        assert hdr["CCSDS_SECONDARY_FLAG"].tolist() == [p["sec_hdr_flag"] for p in ours]
        assert hdr["CCSDS_PACKET_LENGTH"].tolist() == [p["length"] - 7 for p in ours]
    # and CCSDSPy decodes one module's housekeeping to the same values as inspect
    from lunarelay_tools.bench.inspect import ccsdspy_fields

    store = default_registry().module("store").apid
    ptype = next(t for t in project_dictionary().types if t.name == "store.hk")
    decoded = ccsdspy.FixedLength(ccsdspy_fields(ptype)).load(str(run["split"] / f"apid-{store:#05x}.bin"))
    for field in ptype.fields:
        assert decoded[field.name].tolist() == [p["fields"][field.name] for p in by_apid[store]], field.name
