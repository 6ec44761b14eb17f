"""The spacecraft's TM downlink to the air: the modem's IQ (onboard/ccsds/rf.py) from ZeroMQ to
an SDR sink (S-band space-to-Earth by default)."""

from __future__ import annotations

import _radio

if __name__ == "__main__":
    args = _radio.arguments(__doc__.splitlines()[0], 2250e6, "tcp://127.0.0.1:5602").parse_args()
    raise SystemExit(_radio.run(_radio.zmq_to_radio("comm_tx", args)))
