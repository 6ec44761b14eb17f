"""The ``lunarelay`` command (installed as the package ``lunarelay_tools``): its entry point
(``cli``), one module per subcommand (``commands``) with their shared option types (``options``),
progress line (``progress``), IQ in and out of encode and decode (``rf_io``) and ZeroMQ IQ
stream (``zmq_output``), the benchmark suites (``bench``), and ``lunarelay inspect``'s layers,
sources and outputs (``inspect``; its Wireshark dissector is ``wireshark/lunarelay.lua``)."""
