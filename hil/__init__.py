"""The world around the spacecraft and the bench that connects it: the ground station
(``ground``), the lunar surface users (``surface``), emulated boards (``devices``), truth models of
the world (``world``), the channel's impairments (``channel``) and the signal plans of
``lunarelay siggen`` (``scenario_signal``)."""
