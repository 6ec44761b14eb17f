"""Emulated boards: devices the spacecraft talks to over a link, standing in for the real hardware
a bench attaches (today the flight computer, ``flight_computer``)."""
