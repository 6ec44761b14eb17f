"""The ground side of TC frame protection: SDLS authentication (CCSDS 355.0-B-2) of a plain TC
frame before it goes up, checked on board by the uplink module (``onboard.ccsds.sdls``)."""

from __future__ import annotations

import dataclasses

from hil.ground.fop import check_frame_fits
from onboard.ccsds.sdls import Sdls
from onboard.core import tc
from onboard.core.crc import crc16_ccitt

# the layout of the frames FOP-1 builds: no segment header, a FECF (232.0-B-4 §4.1)
PLAIN_FRAMES = tc.TcConfig(scid=0, vcid=0, fecf=True, segment_header=False)


class TcProtector:
    """Wraps a plain TC frame's data in SDLS (355.0-B-2 §4.1) under the final primary header (its
    frame length grown by the security header and trailer), then appends a new FECF."""

    def __init__(self, sdls: Sdls, spi: int):
        self.sdls, self.spi = sdls, spi

    @property
    def overhead(self) -> int:
        """Octets protection adds to a frame: the SA's security header and trailer."""
        return self.sdls.sa(self.spi).overhead

    def protect(self, frame: bytes) -> bytes:
        """The protected frame; ``tc.FrameError`` if it would exceed 1024 octets or ``frame`` is
        not a whole plain TC frame with a good FECF."""
        check_frame_fits(len(frame), self.overhead)
        plain, length = tc.parse_frame(frame, PLAIN_FRAMES)
        if length != len(frame) or not plain.crc_ok:
            raise tc.FrameError(f"{len(frame)} octets are not one plain TC frame with a good FECF (its "
                                f"header says {length} octets)")
        header = dataclasses.replace(plain.header, frame_len=len(frame) + self.overhead).pack()
        body = header + self.sdls.apply(self.spi, header, plain.data)
        return body + crc16_ccitt(body).to_bytes(2, "big")
