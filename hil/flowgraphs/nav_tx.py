"""The navigation signal to the air: the AFS baseband `lunarelay siggen --zmq` (or the relay)
pushes, from ZeroMQ to an SDR sink at 2492.028 MHz (LunaNet AFS)."""

from __future__ import annotations

import _radio

if __name__ == "__main__":
    args = _radio.arguments(__doc__.splitlines()[0], 2492.028e6, "tcp://127.0.0.1:5601").parse_args()
    raise SystemExit(_radio.run(_radio.zmq_to_radio("nav_tx", args)))
