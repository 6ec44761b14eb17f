"""SDLS authentication (CCSDS 355.0-B-2) with AES-GCM: the primitive on published vectors, then
round trip, tampering, wrong keys, replay and the anti-replay window."""

from __future__ import annotations

import tomllib

import pytest
from conftest import VECTORS
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from onboard.ccsds.sdls import (
    Key,
    Sdls,
    SdlsConfigError,
    SecurityAssociation,
    VerifyStatus,
    parse_key_file,
)

GCM = tomllib.loads((VECTORS / "gcm" / "gcm_vectors.toml").read_text())["vector"]
TC_HEADER = bytes.fromhex("2AA1040F00")        # a TC primary header: SCID 0x2A1, VC 1, length 15, seq 0
KEY = bytes(range(32))


def link(**sa_fields) -> tuple[Sdls, Sdls]:
    """Sender and receiver ends sharing key 1 and SA 5."""
    def end() -> Sdls:
        return Sdls({1: Key(1, KEY, True)}, {5: SecurityAssociation(spi=5, key_id=1, **sa_fields)})
    return end(), end()


@pytest.mark.parametrize("v", GCM, ids=[v["name"] for v in GCM])
def test_aes_gcm_primitive_matches_published_vector(v):
    sealed = AESGCM(bytes.fromhex(v["key"])).encrypt(bytes.fromhex(v["iv"]), bytes.fromhex(v["plaintext"]),
                                                     bytes.fromhex(v["aad"]) or None)
    tag = bytes.fromhex(v["tag"])
    assert sealed[:-16] == bytes.fromhex(v["ciphertext"])
    assert sealed[-16:][:len(tag)] == tag


@pytest.mark.parametrize("v", [v for v in GCM if not v["plaintext"]], ids=lambda v: v["name"])
def test_sdls_mac_is_gmac_of_published_vector(v):
    tag = bytes.fromhex(v["tag"])
    sdls = Sdls({1: Key(1, bytes.fromhex(v["key"]), True)},
                {9: SecurityAssociation(spi=9, key_id=1, mac_length=len(tag))})
    assert sdls._tag(sdls.sa(9), bytes.fromhex(v["iv"]), bytes.fromhex(v["aad"])) == tag


def test_protected_frame_round_trips_with_data_in_clear():
    tx, rx = link()
    protected = tx.apply(5, TC_HEADER, b"command bytes")
    assert protected[:2] == b"\x00\x05"                           # SPI
    assert protected[2:14] == (1).to_bytes(12, "big")             # IV, the first of the counter
    assert protected[14:-16] == b"command bytes"
    result = rx.process(TC_HEADER, protected)
    assert result.ok and result.data == b"command bytes" and result.arsn == 1
    assert rx.accepted == 1


@pytest.mark.parametrize("where", ["header", "spi-neighbour", "iv", "data", "mac"])
def test_tampered_frame_is_rejected_and_counted(where):
    tx, rx = link()
    header, protected = bytearray(TC_HEADER), bytearray(tx.apply(5, TC_HEADER, b"fire thrusters"))
    if where == "header":
        header[2] ^= 0x01
    else:
        protected[{"spi-neighbour": 2, "iv": 13, "data": 16, "mac": -1}[where]] ^= 0x80
    result = rx.process(bytes(header), bytes(protected))
    assert result.status is VerifyStatus.BAD_MAC
    assert "MAC does not verify" in result.reason
    assert result.data == b""
    assert rx.rejected[VerifyStatus.BAD_MAC] == 1 and rx.accepted == 0


def test_header_bits_outside_the_auth_mask_may_change():
    tx, rx = link(auth_mask=bytes.fromhex("ffff00ffff"))
    protected = tx.apply(5, TC_HEADER, b"x")
    changed = TC_HEADER[:2] + b"\x77" + TC_HEADER[3:]
    assert rx.process(changed, protected).ok


def test_frame_under_a_different_key_is_rejected():
    tx, _ = link()
    rx = Sdls({1: Key(1, bytes(32), True)}, {5: SecurityAssociation(spi=5, key_id=1)})
    assert rx.process(TC_HEADER, tx.apply(5, TC_HEADER, b"x")).status is VerifyStatus.BAD_MAC


def test_replayed_frame_is_rejected_and_counted():
    tx, rx = link()
    first = tx.apply(5, TC_HEADER, b"once")
    assert rx.process(TC_HEADER, first).ok
    again = rx.process(TC_HEADER, first)
    assert again.status is VerifyStatus.REPLAY
    assert "replay" in again.reason
    assert rx.rejected[VerifyStatus.REPLAY] == 1


def test_older_frame_after_newer_is_a_replay():
    tx, rx = link()
    frames = [tx.apply(5, TC_HEADER, bytes([i])) for i in range(3)]
    assert rx.process(TC_HEADER, frames[2]).ok
    assert rx.process(TC_HEADER, frames[1]).status is VerifyStatus.REPLAY


def test_frames_lost_within_the_window_are_tolerated_beyond_it_refused():
    tx, rx = link(arsn_window=4)
    frames = [tx.apply(5, TC_HEADER, bytes([i])) for i in range(10)]
    assert rx.process(TC_HEADER, frames[3]).ok                    # ARSN 4: three lost, inside window
    result = rx.process(TC_HEADER, frames[9])                     # ARSN 10: six above 4
    assert result.status is VerifyStatus.OUTSIDE_WINDOW
    assert rx.process(TC_HEADER, frames[4]).ok


def test_separate_arsn_field_is_the_anti_replay_counter():
    tx, rx = link(arsn_length=4, mac_length=8)
    protected = tx.apply(5, TC_HEADER, b"abc")
    assert len(protected) == 2 + 12 + 4 + 3 + 8
    assert protected[14:18] == (1).to_bytes(4, "big")
    assert rx.process(TC_HEADER, protected).ok
    assert rx.process(TC_HEADER, protected).status is VerifyStatus.REPLAY


def test_unknown_spi_short_frame_and_inactive_key_are_rejected_with_reasons():
    tx, rx = link()
    protected = tx.apply(5, TC_HEADER, b"x")
    assert rx.process(TC_HEADER, b"\x00\x06" + protected[2:]).status is VerifyStatus.UNKNOWN_SPI
    assert rx.process(TC_HEADER, protected[:20]).status is VerifyStatus.TOO_SHORT
    assert rx.process(TC_HEADER, b"\x00").status is VerifyStatus.TOO_SHORT
    rx.keys[1] = Key(1, KEY, False)
    assert rx.process(TC_HEADER, protected).status is VerifyStatus.KEY_NOT_ACTIVE
    assert sum(rx.rejected.values()) == 4


def test_random_bytes_are_rejected_without_raising(rng):
    _, rx = link()
    for n in range(0, 80):
        data = rng.integers(0, 256, n, dtype="uint8").tobytes()
        assert not rx.process(TC_HEADER, b"\x00\x05" + data).ok
    assert rx.accepted == 0


KEY_FILE = """
[[key]]
id = 3
value = "000102030405060708090a0b0c0d0e0f"

[[sa]]
spi = 1
key_id = 3
mac_length = 12
"""


def test_key_file_loads_keys_and_sas(tmp_path):
    path = tmp_path / "keys.toml"
    path.write_text(KEY_FILE)
    sdls = Sdls.from_key_file(path)
    assert sdls.sa(1).mac_length == 12 and sdls.keys[3].value == bytes(range(16))


@pytest.mark.parametrize(("text", "message"), [
    (KEY_FILE.replace('"000102030405060708090a0b0c0d0e0f"', '"0001"'),
     r"keys.toml:4: key\[0\].value: .* not 2"),
    (KEY_FILE.replace("key_id = 3", "key_id = 4"), r"keys.toml:8: sa\[0\].key_id: no key 4"),
    (KEY_FILE.replace("mac_length = 12", "mac_length = 11"),
     r"keys.toml:9: sa\[0\].mac_length: 11 is not one of"),
])
def test_bad_key_file_names_the_line_and_field(text, message):
    with pytest.raises(SdlsConfigError, match=message):
        parse_key_file(text, "keys.toml")


def test_anti_replay_state_survives_a_restart(tmp_path):
    state_rx, state_tx = tmp_path / "rx.json", tmp_path / "tx.json"

    def end(state) -> Sdls:
        return Sdls({1: Key(1, KEY, True)}, {5: SecurityAssociation(spi=5, key_id=1)}, state_path=state)

    tx, rx = end(state_tx), end(state_rx)
    recorded = tx.apply(5, TC_HEADER, b"open valve")
    assert rx.process(TC_HEADER, recorded).ok
    restarted_rx, restarted_tx = end(state_rx), end(state_tx)
    assert restarted_rx.process(TC_HEADER, recorded).status is VerifyStatus.REPLAY
    fresh = restarted_tx.apply(5, TC_HEADER, b"close valve")
    assert fresh[2:14] != recorded[2:14]                          # the IV is not reused
    assert restarted_rx.process(TC_HEADER, fresh).ok


def test_anti_replay_state_written_without_a_sync_still_survives_a_process_restart(tmp_path):
    state = tmp_path / "rx.json"
    tx = Sdls({1: Key(1, KEY, True)}, {5: SecurityAssociation(spi=5, key_id=1)})
    rx = Sdls({1: Key(1, KEY, True)}, {5: SecurityAssociation(spi=5, key_id=1)}, state_path=state,
              sync_rx_state=False)
    recorded = tx.apply(5, TC_HEADER, b"open valve")
    assert rx.process(TC_HEADER, recorded).ok
    restarted = Sdls({1: Key(1, KEY, True)}, {5: SecurityAssociation(spi=5, key_id=1)}, state_path=state)
    assert restarted.process(TC_HEADER, recorded).status is VerifyStatus.REPLAY


def test_corrupt_sa_state_refuses_to_start(tmp_path):
    state = tmp_path / "rx.json"
    state.write_text("{not json")
    with pytest.raises(SdlsConfigError, match="refusing to start"):
        Sdls({1: Key(1, KEY, True)}, {5: SecurityAssociation(spi=5, key_id=1)}, state_path=state)
