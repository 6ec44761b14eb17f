"""The LunaNet AFS signal as the receiver sees it: codes, rates, epochs and the pilot's tiered code.

LSIS-AFS V1.0 §2.3: AFS-I carries the navigation symbols at 500 sps, one per 2046-chip Gold code
epoch at 1.023 Mcps; AFS-Q is the pilot, a 10230-chip Weil code at 5.115 Mcps in quadrature,
overlaid with a 4-chip secondary code (one chip per 2 ms epoch) and a 1500-chip tertiary code
(one chip per 8 ms): the tiered code repeats every 6000 epochs, 12 s, and starts with the frame
(LSIS-220), so the pilot's phase in its tiered code is the symbol's place in its frame.
"""

from __future__ import annotations

import functools

import numpy as np

from hil.world.lunar_sky import AFS_CARRIER_HZ
from hil.world.lunar_sky import pilot_signs as afs_pilot_signs
from onboard.core import codes
from onboard.nav import afs_frame

CARRIER_HZ = AFS_CARRIER_HZ  # LSIS-020
EPOCH_S = 0.002
CHIP_RATE_HZ = {"afs-i": codes.AFS_I_CHIP_RATE_HZ, "afs-q": codes.AFS_Q_CHIP_RATE_HZ}
FRAME_EPOCHS = afs_frame.FRAME_SYMBOLS  # one symbol per epoch
SPEED_OF_LIGHT_M_S = 299792458.0


def code_chips(prn: int, signal: str) -> np.ndarray:
    """Logic-level chips (0/1) of the AFS-I Gold code or the AFS-Q primary Weil code of ``prn``."""
    if signal == "afs-i":
        return codes.afs_i(prn)
    if signal == "afs-q":
        return codes.afs_q_primary(prn)
    raise ValueError(f"unknown AFS signal {signal!r}")


@functools.cache
def pilot_signs(prn: int) -> np.ndarray:
    """The pilot's sign (+1/-1) in each of the 6000 epochs of its tiered period, from the frame start."""
    signs = afs_pilot_signs(prn)
    signs.flags.writeable = False
    return signs
