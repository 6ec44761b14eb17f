"""The ground side: the station (``station``: commands up as CLTUs, CADUs down), FOP-1 (``fop``),
SDLS protection (``protection``), its receive and send chains (``chain``) and their modulated
ends (``rf``: the downlink demodulated to frames and packets, CLTUs modulated for the uplink, the
station's two links as samples through their channels),
CADU reception (``cadu``), housekeeping decoding (``housekeeping``), the dump of the relay's store
(``playback``), and a command sender that talks to the onboard modules over the bus (``command``)."""
