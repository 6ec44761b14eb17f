"""The CCSDS layers the spacecraft uses, above the C core's per-frame work (``onboard.core``: space
packets, TM, TC, AOS, Proximity-1, coding, the modem): its TM send chain and TC receive chain
(``chain``), their ends as IQ samples (``rf``: CADUs to the modulator, the uplink's CLTUs back
from the demodulator, and the modem settings both ends of a link agree on) and SDLS
authentication with its security associations (``sdls``)."""
