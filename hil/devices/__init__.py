"""Emulated boards: devices the spacecraft talks to over a link, standing in for the real hardware
a bench attaches: the flight computer, in the uplink's process (``flight_computer``) or as its own
process on a pty or a TCP port speaking the serial link's framing (``board``)."""
