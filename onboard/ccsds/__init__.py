"""CCSDS packet and frame definitions: construct declarations of every header (``headers``), time
codes (``timecode``) and the Python side of the framing layers whose per-frame work is in the C core
(``onboard.core.spp``, ``tm``, ``tc``, ``aos``, ``prox1``)."""
