"""Emulated lunar surface users (landers, rovers): the far end of the relay's proximity link."""
