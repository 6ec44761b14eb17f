"""Truth models of the world around the spacecraft: what really happens, apart from what the
spacecraft computes about itself.

``onboard/nav/`` holds the node's own knowledge: its orbit model, its clock model, the broadcast
ephemeris it fits and the messages it sends.  This package holds the truth those are measured
against and that the bench's signals and contacts are made from: the JPL DE421 ephemerides
(``ephemeris``: Earth, Sun, the Moon's orientation), the lunar reference frames (``frames``), the
truth orbit propagation (``propagation``, ``gravity``: lunar gravity field, Earth and Sun pull)
of the constellation (``constellation``), the GPS sky seen from an Earth receiver (``gps_sky``),
the AFS sky seen from a lunar receiver (``lunar_sky``), synthesiser channels that follow that
geometry (``signal_geometry``), the contacts it allows and the navigation geometry it gives a
surface user (``contacts``), and a scenario's world with its run's contact plan
(``scenario_world``).  They sit apart from
``onboard.nav`` because a truth model is the yardstick the node's own estimates are judged
against and must never be what the node flies: flight code never imports it; the bench, the
tools and the tests do.
"""
