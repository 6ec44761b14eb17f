"""The world around the spacecraft and the bench: the ground station, surface users, the link
channels (octets in ``channel``, IQ samples in ``rf_channel``) and end-to-end error-rate
measurement of the modem (``ber``)."""
