"""Link drivers: how lunarelay's signals and frames leave the process (ZeroMQ IQ streams, SigMF
files, CADUs, the serial flight-computer link) and the modulated CCSDS links (``rf``: CADUs and
CLTUs to and from IQ samples)."""
