"""GNU Radio flowgraphs for the bench's real radios: ``nav_tx`` (the navigation signal to an SDR
sink), ``comm_tx`` (the TM downlink's IQ to an SDR sink), ``comm_rx`` (an SDR source to the TC
uplink's IQ), each between a ZeroMQ stream and the radio; they run with GNU Radio's Python
(``python3 hil/flowgraphs/nav_tx.py --device driver=uhd ...``)."""
