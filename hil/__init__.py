"""The world around the spacecraft and the bench that connects it: the ground station, lunar
surface users and their AFS receiver, the truth world (``world``), the link channels (octets in
``channel``, IQ samples in ``rf_channel``), the modem's end-to-end error rates (``ber``) and link
captures (``capture``, pcapng)."""
