"""Truth models of the world around the spacecraft: what really happens, apart from what the
spacecraft computes about itself.

``onboard/nav/`` holds the node's own knowledge: its J2-only orbit model, its clock model, the
broadcast ephemeris it fits and the messages it sends.  This package holds the truth those are
measured against and that the bench's signals and contacts are made from: the JPL DE421
ephemerides (Earth, Sun, the Moon's orientation), the lunar reference frames, the truth orbit
propagation (lunar gravity field, Earth and Sun pull), the GPS sky seen from an Earth receiver,
the AFS sky seen from a lunar receiver, and the contacts that geometry allows.  Flight code never
imports it; the bench, the tools and the tests do.
"""
