"""The CCSDS layers the spacecraft uses, above the C core's per-frame work (``onboard.core``: space
packets, TM, TC, AOS, Proximity-1, coding): its TM send chain and TC receive chain (``chain``) and
SDLS authentication with its security associations (``sdls``)."""
