"""SDLS authentication with AES-GCM (CCSDS 355.0-B-2, authentication service).

A protected frame is

    frame primary header | security header           | frame data | security trailer
                         | SPI (2) | IV | ARSN        |            | MAC (truncated per SA)

(355.0-B-2 §4.1.1.2 security header, §4.1.2 trailer).  In authentication mode the MAC is
GCM's tag with an empty plaintext (GMAC), the additional authenticated data being the
frame primary header masked with the SA's authentication bit mask, the security header and
the frame data (§4.2.3.2).  Frame data stays in clear.

Anti-replay (§4.2.3.4.2 note, §2.3.2.3): every SA keeps the last anti-replay sequence
number (ARSN) it accepted; a frame is accepted only if its ARSN is above it and at most
the SA's window above it, and only after its MAC checks.  When the SA's ARSN length is 0
the IV, a counter incremented per frame, is the ARSN (the IV of a GCM key must never
repeat anyway, NIST SP 800-38D §8.2.1 deterministic construction).

Keys and SAs come from a key file (TOML)::

    [[key]]
    id = 1
    value = "000102...0f"      # 16, 24 or 32 octets, hex
    state = "active"           # or "deactivated": its SAs reject everything

    [[sa]]
    spi = 1
    key_id = 1
    iv_length = 12             # octets, 8..16
    arsn_length = 0            # octets, 0..8; 0: the IV is the ARSN
    arsn_window = 16
    mac_length = 16            # octets: 16, or truncated to 15..12, 8 or 4
    auth_mask = "ffffffffff"   # optional; default all ones over the header

``Sdls.process`` never raises for a bad frame: it returns a ``Verified`` whose status and
reason say why it was refused, and counts it.  With a ``state_path`` the per-SA counters
(last accepted ARSN, last IV sent) are written, atomically, after every change and read back
at start, so a restart neither reopens the replay window nor reuses an IV.  An IV's counter is
synced to the disk before its frame exists (a reused IV under power loss breaks GCM: NIST SP
800-38D §8.2.1); an accepted ARSN is synced too unless ``sync_rx_state`` is off, which makes it
durable against a process kill only, like a receiver's FARM-1 state and command logs (the
uplink's choice: the sync's wait, milliseconds on a busy disk, was most of its command round
trip's tail).
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import hmac
import json
import os
import pathlib

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from onboard.errors import LunarelayError
from onboard.tomlfields import REQUIRED, Table, TomlDoc

SPI_LEN = 2
MAC_LENGTHS = (4, 8, 12, 13, 14, 15, 16)   # NIST SP 800-38D §5.2.1.2 tag lengths


class SdlsConfigError(LunarelayError):
    pass


class VerifyStatus(enum.Enum):
    OK = "ok"
    TOO_SHORT = "too short"
    UNKNOWN_SPI = "unknown SPI"
    KEY_NOT_ACTIVE = "key not active"
    BAD_MAC = "MAC does not verify"
    REPLAY = "replayed ARSN"
    OUTSIDE_WINDOW = "ARSN outside window"


@dataclasses.dataclass(frozen=True)
class Verified:
    status: VerifyStatus
    reason: str
    spi: int | None = None
    arsn: int | None = None
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is VerifyStatus.OK


@dataclasses.dataclass
class SecurityAssociation:
    spi: int
    key_id: int
    iv_length: int = 12
    arsn_length: int = 0
    arsn_window: int = 16
    mac_length: int = 16
    auth_mask: bytes | None = None
    last_rx_arsn: int = 0        # highest ARSN accepted (receive side)
    tx_counter: int = 0          # last ARSN/IV sent (send side)

    def __post_init__(self):
        if not 0 <= self.spi <= 0xFFFF:
            raise SdlsConfigError(f"SPI {self.spi} does not fit 16 bits")
        if not 8 <= self.iv_length <= 16:
            raise SdlsConfigError(f"SA {self.spi}: IV length {self.iv_length} is not 8..16 octets")
        if not 0 <= self.arsn_length <= 8:
            raise SdlsConfigError(f"SA {self.spi}: ARSN length {self.arsn_length} is not 0..8 octets")
        if self.mac_length not in MAC_LENGTHS:
            raise SdlsConfigError(f"SA {self.spi}: MAC length {self.mac_length} is not one of {MAC_LENGTHS}")
        if self.arsn_window < 1:
            raise SdlsConfigError(f"SA {self.spi}: ARSN window must be at least 1")

    @property
    def header_length(self) -> int:
        return SPI_LEN + self.iv_length + self.arsn_length

    @property
    def overhead(self) -> int:
        """Octets the security header and trailer add to a frame."""
        return self.header_length + self.mac_length

    @property
    def _arsn_bits(self) -> int:
        return 8 * (self.arsn_length or self.iv_length)


@dataclasses.dataclass(frozen=True)
class Key:
    id: int
    value: bytes
    active: bool


def _hex(t: Table, key: str, default=REQUIRED) -> bytes | None:
    text = t.get(key, str, default)
    if text is None:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise t.fail(key, f"{text[:40]!r} is not hex octets") from None


def parse_key_file(text: str, source: str) -> tuple[dict[int, Key], dict[int, SecurityAssociation]]:
    """Keys and SAs of a key file; errors name file, line and field (``onboard.tomlfields``)."""
    doc = TomlDoc(text, source, SdlsConfigError)
    keys: dict[int, Key] = {}
    for t in doc.root.tables("key"):
        key_id = t.get("id", int, lo=0, hi=0xFFFF)
        value = _hex(t, "value")
        if len(value) not in (16, 24, 32):
            raise t.fail("value", f"an AES key is 16, 24 or 32 octets, not {len(value)}")
        state = t.get("state", str, "active", choices=("active", "deactivated"))
        if key_id in keys:
            raise t.fail("id", f"key {key_id} is defined twice")
        keys[key_id] = Key(key_id, value, state == "active")
        t.finish()
    sas: dict[int, SecurityAssociation] = {}
    for t in doc.root.tables("sa"):
        sa = SecurityAssociation(
            spi=t.get("spi", int, lo=0, hi=0xFFFF), key_id=t.get("key_id", int),
            iv_length=t.get("iv_length", int, 12, lo=8, hi=16),
            arsn_length=t.get("arsn_length", int, 0, lo=0, hi=8),
            arsn_window=t.get("arsn_window", int, 16, lo=1, hi=2**63 - 1),
            mac_length=t.get("mac_length", int, 16, choices=MAC_LENGTHS),
            auth_mask=_hex(t, "auth_mask", None))
        if sa.key_id not in keys:
            raise t.fail("key_id", f"no key {sa.key_id} in the key file")
        if sa.spi in sas:
            raise t.fail("spi", f"SA {sa.spi} is defined twice")
        sas[sa.spi] = sa
        t.finish()
    doc.root.finish()
    return keys, sas


class Sdls:
    """One end of an SDLS link: the SAs, their keys, and counters of what was refused and why."""

    def __init__(self, keys: dict[int, Key], sas: dict[int, SecurityAssociation],
                 state_path: str | os.PathLike | None = None, sync_rx_state: bool = True):
        self.keys = keys
        self.sync_rx_state = sync_rx_state
        self.sas = sas
        self._gcm = {k.id: AESGCM(k.value) for k in keys.values()}
        self.accepted = 0
        self.rejected: collections.Counter[VerifyStatus] = collections.Counter()
        self.state_path = pathlib.Path(state_path) if state_path else None
        if self.state_path and self.state_path.exists():
            self._load_state()

    @classmethod
    def from_key_file(cls, path: str | os.PathLike, state_path: str | os.PathLike | None = None,
                      sync_rx_state: bool = True) -> Sdls:
        path = pathlib.Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SdlsConfigError(f"{path}: cannot read key file: {exc.strerror}") from None
        return cls(*parse_key_file(text, str(path)), state_path=state_path, sync_rx_state=sync_rx_state)

    # The counters outlive the process: a receiver that forgot its last ARSN after a restart
    # would accept every recorded frame again, and a sender that forgot its IV would reuse it.
    def _load_state(self) -> None:
        try:
            doc = json.loads(self.state_path.read_text())
            for spi, (rx, tx) in doc.items():
                if int(spi) in self.sas:
                    self.sas[int(spi)].last_rx_arsn, self.sas[int(spi)].tx_counter = int(rx), int(tx)
        except (OSError, ValueError, TypeError) as exc:
            raise SdlsConfigError(f"{self.state_path}: unreadable SA state ({exc}); refusing to start "
                                  "with anti-replay counters at zero") from None

    def _save_state(self, sync: bool = True) -> None:
        if self.state_path is None:
            return
        doc = {str(spi): [sa.last_rx_arsn, sa.tx_counter] for spi, sa in self.sas.items()}
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def sa(self, spi: int) -> SecurityAssociation:
        try:
            return self.sas[spi]
        except KeyError:
            raise SdlsConfigError(f"no security association with SPI {spi}") from None

    @staticmethod
    def _masked(header: bytes, mask: bytes | None) -> bytes:
        if mask is None:
            return bytes(header)
        # bits beyond the mask are not authenticated (§4.2.3.2: the mask covers the header)
        return bytes(h & (mask[i] if i < len(mask) else 0) for i, h in enumerate(header))

    def _tag(self, sa: SecurityAssociation, iv: bytes, aad: bytes) -> bytes:
        return self._gcm[sa.key_id].encrypt(iv, b"", aad)[:sa.mac_length]

    def apply(self, spi: int, header: bytes, data: bytes) -> bytes:
        """Security header + data + MAC for a frame whose (final) primary header is ``header``."""
        sa = self.sa(spi)
        key = self.keys[sa.key_id]
        if not key.active:
            raise SdlsConfigError(f"SA {spi}: key {key.id} is not active")
        sa.tx_counter += 1
        if sa.tx_counter >> sa._arsn_bits:
            raise SdlsConfigError(f"SA {spi}: sequence number space exhausted; rekey")
        self._save_state()                       # before the frame exists: an IV is never reused
        iv = sa.tx_counter.to_bytes(sa.iv_length, "big")
        arsn = sa.tx_counter.to_bytes(sa.arsn_length, "big") if sa.arsn_length else b""
        security_header = spi.to_bytes(SPI_LEN, "big") + iv + arsn
        mac = self._tag(sa, iv, self._masked(header, sa.auth_mask) + security_header + data)
        return security_header + bytes(data) + mac

    def process(self, header: bytes, protected: bytes) -> Verified:
        """Check the security header and trailer after ``header``; the frame data if they verify."""
        result = self._verify(bytes(header), bytes(protected))
        if result.ok:
            self.accepted += 1
        else:
            self.rejected[result.status] += 1
        return result

    def _verify(self, header: bytes, protected: bytes) -> Verified:
        if len(protected) < SPI_LEN:
            return Verified(VerifyStatus.TOO_SHORT, f"{len(protected)} octets cannot hold an SPI")
        spi = int.from_bytes(protected[:SPI_LEN], "big")
        sa = self.sas.get(spi)
        if sa is None:
            return Verified(VerifyStatus.UNKNOWN_SPI, f"no security association with SPI {spi}", spi)
        if len(protected) < sa.overhead:
            return Verified(VerifyStatus.TOO_SHORT, f"{len(protected)} octets are fewer than SA {spi}'s "
                            f"{sa.overhead}-octet security header and trailer", spi)
        if not self.keys[sa.key_id].active:
            return Verified(VerifyStatus.KEY_NOT_ACTIVE, f"SA {spi}: key {sa.key_id} is not active", spi)
        iv = protected[SPI_LEN:SPI_LEN + sa.iv_length]
        arsn_field = protected[SPI_LEN + sa.iv_length:sa.header_length]
        arsn = int.from_bytes(arsn_field if sa.arsn_length else iv, "big")
        body, mac = protected[:-sa.mac_length], protected[-sa.mac_length:]
        if not hmac.compare_digest(self._tag(sa, iv, self._masked(header, sa.auth_mask) + body), mac):
            return Verified(VerifyStatus.BAD_MAC, f"SA {spi}: MAC does not verify (tampered frame or "
                            "wrong key)", spi, arsn)
        if arsn <= sa.last_rx_arsn:
            return Verified(VerifyStatus.REPLAY, f"SA {spi}: ARSN {arsn} is not above the last accepted "
                            f"{sa.last_rx_arsn} (replay)", spi, arsn)
        if arsn - sa.last_rx_arsn > sa.arsn_window:
            return Verified(VerifyStatus.OUTSIDE_WINDOW, f"SA {spi}: ARSN {arsn} is more than the window "
                            f"{sa.arsn_window} above the last accepted {sa.last_rx_arsn}", spi, arsn)
        sa.last_rx_arsn = arsn
        self._save_state(sync=self.sync_rx_state)
        return Verified(VerifyStatus.OK, "ok", spi, arsn, body[sa.header_length:])
