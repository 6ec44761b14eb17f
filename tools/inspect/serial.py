"""KISS and SLIP streams: serial framings that carry whole packets (or frames) between delimiters.

SLIP (RFC 1055) and KISS (the TNC protocol of Chepponis and Karn, 1987) share their specials:
0xC0 ends a frame, 0xDB escapes, 0xDB 0xDC stands for 0xC0 and 0xDB 0xDD for 0xDB.  A KISS frame
starts with a command octet (port in the high nibble, 0 in the low one for data).  Unframing is
done over a whole buffer at once with numpy; the delimiters, escapes and command octets are filed
as framing (``capture``) and the payloads are handed on as records.
"""

from __future__ import annotations

import numpy as np

from lunarelay_tools.inspect.accounting import Ledger

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
FRAMINGS = ("kiss", "slip")


def unframe(data: np.ndarray, framing: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(payload octets back to back, record starts in them, record lengths, record input offsets,
    octets used): whole frames of ``data`` (uint8) between delimiters; a frame not closed by a
    delimiter is left for the next call (octets used stops before it)."""
    ends = np.nonzero(data == END)[0]
    if not ends.size:
        return (np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64),
                np.empty(0, dtype=np.int64), 0)
    used = int(ends[-1]) + 1
    raw = data[:used]
    # escapes: 0xDB followed by 0xDC / 0xDD
    esc = np.zeros(used, dtype=bool)
    esc[:-1] = (raw[:-1] == ESC) & ((raw[1:] == ESC_END) | (raw[1:] == ESC_ESC))
    value = raw.copy()
    after = np.nonzero(esc)[0] + 1
    value[after] = np.where(raw[after] == ESC_END, END, ESC)
    keep = ~esc & (raw != END)
    frame_starts = np.concatenate([[0], ends[:-1] + 1])
    frame_ends = ends                       # exclusive: the delimiter
    if framing == "kiss":
        # the first octet of every non-empty frame is the command octet
        has = frame_ends > frame_starts
        keep[frame_starts[has]] = False
        data_frame = np.zeros(len(frame_starts), dtype=bool)
        data_frame[has] = (raw[frame_starts[has]] & 0x0F) == 0
    else:
        data_frame = np.ones(len(frame_starts), dtype=bool)
    pos = np.cumsum(keep) - keep             # output position of each input octet
    out = value[keep]
    rec_start = pos[frame_starts] if used else np.empty(0, dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(keep)])
    rec_len = csum[frame_ends] - csum[frame_starts]
    sel = (rec_len > 0) & data_frame
    first_payload = frame_starts + (1 if framing == "kiss" else 0)
    return out, rec_start[sel].astype(np.int64), rec_len[sel].astype(np.int64), \
        first_payload[sel].astype(np.int64), used


def file_framing(ledger: Ledger, data: np.ndarray, used: int, rec_len: np.ndarray) -> None:
    """Every octet of ``data[:used]`` that is not a payload octet is framing."""
    ledger.add("capture", used - int(rec_len.sum()))


def looks_framed(head: bytes) -> bool:
    """A stream that starts on a delimiter (as RFC 1055 and KISS senders do) or shows a frame
    boundary (END END, or END then a KISS data command) among its first octets."""
    if len(head) < 8:
        return False
    arr = np.frombuffer(head[:4096], dtype=np.uint8)
    if int((arr == END).sum()) < 2:
        return False
    return bool(arr[0] == END or b"\xc0\xc0" in head[:4096] or b"\xc0\x00" in head[:4096])
