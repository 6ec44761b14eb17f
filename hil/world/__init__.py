"""Truth models of the world around the spacecraft: what a receiver on the ground or on the Moon
would really see.  They sit apart from ``onboard.nav``, which holds what the node computes about
itself (its orbit model, clock, broadcast ephemeris and messages), because a truth model is the
yardstick the node's own estimates are judged against and must never be what the node flies.
Today: the GPS sky over a receiver (``gps_sky``)."""
