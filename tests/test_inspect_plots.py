"""`lunarelay inspect --plot DIR`: the packet rate per APID, the link's quality over time and a
housekeeping field, as PNG files, from a stream with damage in it."""

from __future__ import annotations

import json
import struct
import subprocess
import sys

import numpy as np

from onboard.bus.packet import pack
from onboard.bus.registry import default_registry
from onboard.ccsds.chain import TmLinkConfig, TmSendChain

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_are_written_for_rates_link_quality_and_a_housekeeping_field(tmp_path):
    reg = default_registry()
    tick = reg.message("SCHED_TICK").apid
    packets = []
    for i in range(600):
        t = 2_100_000_000.0 + i * 0.5
        packets.append(pack(tick, struct.pack(">IB", i, 1), i, t))
        packets.append(pack(0x101 + i % 2, bytes(100), i // 2, t))
    tx = TmSendChain(TmLinkConfig(scid=0x2A1, ocf=True))
    cadus = bytearray(np.concatenate([tx.packets_to_cadus(b"".join(packets)), tx.flush()]).tobytes())
    for k in (10, 30, 31):                       # three CADUs beyond what RS corrects
        cadus[k * 1279 + 40:k * 1279 + 300] = bytes(260)
    src, plots, summary = tmp_path / "s.cadu", tmp_path / "plots", tmp_path / "s.json"
    src.write_bytes(bytes(cadus))
    r = subprocess.run([sys.executable, "-m", "lunarelay_tools.cli", "inspect", str(src), "--plot",
                        str(plots), "--plot-field", "sched_tick.tick", "--summary", str(summary)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["hk_sched_tick.tick.png", "link_quality.png", "packet_rate.png"]
    for name in names:
        data = (plots / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000
    assert sorted(json.loads(summary.read_text())["plots"]) == sorted(str(plots / n) for n in names)
