"""The lunar user's AFS receiver: a surface receiver's view of the relay's navigation signal.

A lunar user's receiver is part of the world around the spacecraft, so it lives in ``hil`` and
is the test oracle for what the nodes broadcast: acquisition, tracking (C correlators and loops
in the core), frame decoding with soft LDPC, pseudoranges and the position fix in the Moon-fixed
frame, and the error budget against the truth a recording carries.  ``lunarelay receive`` runs it
on recordings and streams.
"""
