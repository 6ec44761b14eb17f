"""The world around the spacecraft and the bench that connects it: the ground station
(``ground``), the lunar surface users (``surface``) and their AFS receiver (``receiver``), emulated
boards (``devices``), the bench (``bench``: bench files, taps, the runner of ``lunarelay hil``,
the pytest plugin; the shipped bench files in ``benches``, GNU Radio flowgraphs for real radios
in ``flowgraphs``), fault injection in the middle of each link (``faults``), truth models of the
world (``world``), the link channels (octets in ``channel``, IQ samples in ``rf_channel``), the
modem's end-to-end error rates (``ber``), link captures (``capture``, pcapng) and the signal plans
of ``lunarelay siggen`` (``scenario_signal``)."""
