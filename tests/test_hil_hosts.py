"""Benches that span hosts (hil.bench.hosts): CURVE refuses a process without the bench's key,
and a bench that needs what the main host alone has is refused in one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from hil.bench import hosts
from hil.bench.file import parse_bench
from onboard.bus.endpoints import BusEndpoints, CurveKeyDir, CurveServerKeys
from onboard.bus.proxy import Proxy

CLI = [sys.executable, "-m", "lunarelay_tools.cli"]


def _free_port(count: int = 1) -> int:
    """A port with ``count`` free ports from it (the bus takes two)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + count < 65535 and all(_is_free(port + i) for i in range(count)):
            return port
    raise RuntimeError("no free ports")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _bench_text(main: str, main_address: str, board: str, board_address: str) -> str:
    return (f'[bench]\nname = "across"\ndescription = "the board on its own host"\nmain_host = "{main}"\n'
            f'[[host]]\nname = "{main}"\naddress = "{main_address}"\n'
            f'[[host]]\nname = "{board}"\naddress = "{board_address}"\n'
            f'[flight_computer]\nkind = "emulated"\ntransport = "tcp"\nhost = "{board}"\n')


def test_host_share_without_the_bench_key_is_refused_by_the_bus_and_the_journal_link(tmp_path, monkeypatch):
    monkeypatch.setattr(hosts, "BUS_PORT", _free_port(2))
    monkeypatch.setattr(hosts, "JOURNAL_PORT", _free_port())
    monkeypatch.setattr(hosts, "BOARD_PORT", _free_port())
    monkeypatch.setattr(hosts, "HK_PERIOD_S", 0.1)
    keys = CurveKeyDir.create(tmp_path / "keys")
    foreign = CurveKeyDir.create(tmp_path / "foreign")
    bench = parse_bench(_bench_text("a", "127.0.0.1", "b", "127.0.0.1"), "across.toml")
    assert bench.curve and bench.spans_hosts
    proxy = Proxy(BusEndpoints.from_url(hosts.bus_url(bench)),
                  curve=CurveServerKeys.from_files(keys.server_secret, keys.authorized))
    proxy.start()
    watch = hosts.HostWatch(bench, keys, log=lambda line: None)
    watch.start()
    try:
        stop = threading.Event()
        intruder = hosts.HostShare(bench, "b", foreign, str(tmp_path / "intruder"), log=lambda line: None)
        thread = threading.Thread(target=intruder.serve, args=(stop,), daemon=True)
        thread.start()
        time.sleep(3.0)
        assert "b" not in watch.seen                       # its housekeeping never reached the bus
        with pytest.raises(hosts.HostsError, match="did not send its journal"):
            hosts.fetch_journal(bench, keys, timeout_s=2.0)  # and it will not talk to the bench's key
        stop.set()
        thread.join(10.0)

        stop = threading.Event()
        share = hosts.HostShare(bench, "b", keys, str(tmp_path / "share"), log=lambda line: None)
        thread = threading.Thread(target=share.serve, args=(stop,), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10.0
        while "b" not in watch.seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watch.seen["b"]["board_running"] and watch.seen["b"]["board_starts"] == 1
        assert hosts.fetch_journal(bench, keys) == []       # the board ran no command yet
        with pytest.raises(hosts.HostsError, match="did not send its journal"):
            hosts.fetch_journal(bench, foreign, timeout_s=2.0)
        stop.set()
        thread.join(10.0)
    finally:
        watch.stop()
        proxy.stop()


def test_inspect_decodes_a_bench_host_housekeeping_packet(tmp_path):
    from onboard.bus.packet import pack
    from onboard.bus.registry import default_registry

    apid = default_registry().module("bench_host").apid
    (tmp_path / "bus.pkt").write_bytes(pack(apid, hosts.encode_host_hk("board", 3, True), 0, 2.1e9))
    proc = subprocess.run([*CLI, "inspect", str(tmp_path / "bus.pkt"), "--json", str(tmp_path / "p.jsonl")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = [x for x in map(json.loads, (tmp_path / "p.jsonl").read_text().splitlines()) if "summary" not in x]
    assert [(p["name"], p["fields"]) for p in got] == [
        ("bench_host.hk", {"board_starts": 3, "board_running": True, "host": "board"})]
    assert hosts.decode_host_hk(hosts.encode_host_hk("board", 3, True)) == {
        "host": "board", "board_starts": 3, "board_running": True}


def test_main_host_without_the_curve_keys_refuses_a_bench_that_spans_hosts_in_one_line(tmp_path):
    bench_file = tmp_path / "across.toml"
    bench_file.write_text(_bench_text("a", "127.0.0.1", "b", "127.0.0.1"))
    proc = subprocess.run([*CLI, "hil", str(bench_file), "--quiet", "--duration", "5", "--out",
                           str(tmp_path / "run")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("lunarelay hil: error: ")
    assert "needs its CURVE key directory (--curve-keys DIR)" in proc.stderr


def test_bench_refuses_a_real_board_on_another_host_in_one_line(tmp_path):
    bench_file = tmp_path / "across.toml"
    text = _bench_text("a", "127.0.0.1", "b", "127.0.0.1")
    bench_file.write_text(text.replace('kind = "emulated"\ntransport = "tcp"',
                                       'kind = "serial"\nurl = "/dev/ttyUSB0"'))
    keys = CurveKeyDir.create(tmp_path / "keys")
    proc = subprocess.run([*CLI, "hil", str(bench_file), "--host", "b", "--curve-keys", str(keys.path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode != 0
    assert "the serial flight computer /dev/ttyUSB0 must be on the main host a" in proc.stderr


