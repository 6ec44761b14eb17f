"""What the navigation node computes about itself and broadcasts: its orbit model (``lunar_orbit``,
with the Earth's and the Sun's pull from analytic series in ``third_bodies``) and clock
(``node_clock``), the broadcast ephemeris fitted to them (``afs_ephemeris``), the AFS navigation
frame and its messages (``afs_frame``, ``afs_message``, ``afs_node``), GPS LNAV messages with
their user algorithm (``gps_lnav``, ``gps_ephemeris``), and the LSIS exchange formats
(``lsis_formats``).  Truth models of the world (what a receiver really sees) are ``hil.world``'s."""
