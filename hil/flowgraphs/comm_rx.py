"""The TC uplink from the air: an SDR source (S-band Earth-to-space by default) to ZeroMQ PUSH,
for the spacecraft's modem receiver (onboard/ccsds/rf.py) to demodulate."""

from __future__ import annotations

import _radio

if __name__ == "__main__":
    args = _radio.arguments(__doc__.splitlines()[0], 2050e6, "tcp://127.0.0.1:5603").parse_args()
    raise SystemExit(_radio.run(_radio.radio_to_zmq("comm_rx", args)))
