"""Store-and-forward over the proximity link: surface users' PLTUs -> proximity module -> store
(committed, then acknowledged) -> the ground's dump.  The receiver alone first, then the modules
as real processes, with the store killed under traffic: no acknowledged packet is lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import numpy as np
import pytest
from test_executive import TIMEOUT, Running

from hil.channel import Impairments
from hil.surface.user import SurfaceUser, check_payload, payload
from onboard.bus.packet import pack, tai_from_unix, unpack
from onboard.core.prox1 import Prox1Header, build_pltu
from onboard.modules.proximity import ProximityReceiver

SCID = 0x2A1


def user_packet(apid: int, n: int, length: int = 40) -> bytes:
    return pack(apid, payload(apid, n, length), n, 1.9e9 + n)


def pltu(*packets: bytes, scid: int = SCID, pdu_type: int = 0) -> bytes:
    return build_pltu(Prox1Header(scid=scid, pdu_type=pdu_type, src_dst_id=1), b"".join(packets))


def test_payload_check_finds_every_changed_octet():
    data = payload(0x101, 77, 120)
    assert check_payload(0x101, data) == 77
    assert check_payload(0x102, data) is None
    for i in (0, 5, 119):
        bad = bytearray(data)
        bad[i] ^= 0x10
        assert check_payload(0x101, bytes(bad)) is None


def test_receiver_takes_every_packet_of_a_good_pltu():
    rx = ProximityReceiver(SCID)
    packets = [user_packet(0x101, n) for n in range(5)]
    assert rx.receive(pltu(*packets[:2]) + pltu(*packets[2:])) == packets
    assert rx.counts["pltus"] == 2 and rx.counts["packets_relayed"] == 5


def test_receiver_rejects_bad_crc_foreign_frames_and_non_user_apids():
    rx = ProximityReceiver(SCID)
    good = pltu(user_packet(0x101, 1))
    corrupt = bytearray(good)
    corrupt[12] ^= 0x01
    foreign = pltu(user_packet(0x101, 2), scid=SCID ^ 1)
    protocol = pltu(user_packet(0x101, 3), pdu_type=1)
    housekeeping = pltu(pack(0x012, b"not a user's", 0, 0.0), user_packet(0x102, 4))
    got = rx.receive(bytes(corrupt) + foreign + protocol + housekeeping + good)
    assert got == [user_packet(0x102, 4), user_packet(0x101, 1)]
    assert rx.counts["pltus_rejected"] >= 1 and rx.counts["frames_foreign"] == 2
    assert rx.counts["packets_rejected"] == 1
    assert any("CRC-32" in r for r in rx.rejections) and any("0x012" in r for r in rx.rejections)


@pytest.mark.sanitize
def test_receiver_survives_random_and_cut_input():
    rx = ProximityReceiver(SCID)
    rng = np.random.default_rng(11)
    good = pltu(user_packet(0x101, 9), user_packet(0x101, 10))
    for n in (0, 1, 3, 7, 100, 5000):
        assert rx.receive(rng.integers(0, 256, n, dtype=np.uint8).tobytes()) == []
    for cut in range(len(good)):
        rx.receive(good[:cut])
    # a frame whose packet length field runs past the frame: refused, nothing delivered from it
    frame = bytearray(user_packet(0x101, 11))
    frame[5] += 3
    assert rx.receive(pltu(bytes(frame))) == []
    assert rx.receive(good) == [user_packet(0x101, 9), user_packet(0x101, 10)]


def stored_numbers(db_path: str, apid: int) -> set[int]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT raw FROM packet WHERE apid = ?", (apid,)).fetchall()
    return {check_payload(apid, unpack(raw).data) for (raw,) in rows}


def run_users(running: Running, users: list[SurfaceUser], seconds: float, until=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until()):
        for user in users:
            user.step(tai_from_unix(time.time()))
        time.sleep(0.01)


@pytest.fixture
def relay():
    running = Running("--modules", "scheduler,store,proximity")
    yield running
    running.stop()


def surface_users(running: Running, impairments=None) -> list[SurfaceUser]:
    url = f"ipc://{running.run_dir}/proximity"
    return [SurfaceUser("lander", 0x101, 200, 200.0, url, url + "-ack", SCID, resend_after_s=0.5,
                        impairments=impairments),
            SurfaceUser("rover", 0x102, 60, 100.0, url, url + "-ack", SCID, resend_after_s=0.5)]


def test_packets_are_acknowledged_only_once_committed_and_stored_once(relay):
    users = surface_users(relay, Impairments(drop=0.2, ber=1e-5, seed=4))
    run_users(relay, users, 3.0)
    # then only acknowledgements and resends until everything made is held by the relay
    for user in users:
        user.rate = 0.0
    run_users(relay, users, TIMEOUT, until=lambda: all(not u.unacknowledged for u in users))
    db = os.path.join(relay.run_dir, "store.sqlite")
    for user in users:
        assert user.generated > 100 and not user.unacknowledged
        assert user.acknowledged == set(range(user.generated))
        assert stored_numbers(db, user.apid) == user.acknowledged
    assert users[0].impairments.dropped > 0 and users[0].resent > 0
    hk = relay.hk("proximity", lambda hk: hk["pltus_rejected"] + hk["packets_relayed"] > 0)
    assert hk["packets_relayed"] >= sum(u.generated for u in users)
    store = relay.hk("store", lambda hk: hk["stored"] == sum(u.generated for u in users))
    assert store["received"] == store["stored"] + store["duplicates"]
    for user in users:
        user.close()


def test_store_killed_under_traffic_loses_no_acknowledged_packet(relay):
    users = surface_users(relay)
    run_users(relay, users, 1.0)
    store_pid = int(relay.accepted("store.NOOP").text.rsplit("pid ", 1)[1])
    before = {u.apid: set(u.acknowledged) for u in users}
    os.kill(store_pid, signal.SIGKILL)
    run_users(relay, users, 2.0)                      # traffic goes on while the store restarts
    for user in users:
        user.rate = 0.0
    run_users(relay, users, TIMEOUT, until=lambda: all(not u.unacknowledged for u in users))
    db = os.path.join(relay.run_dir, "store.sqlite")
    for user in users:
        assert before[user.apid] and not user.unacknowledged
        stored = stored_numbers(db, user.apid)
        assert before[user.apid] <= stored            # what was acknowledged before the kill survived it
        assert stored == user.acknowledged == set(range(user.generated))
    for user in users:
        user.close()
