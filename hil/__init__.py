"""The hardware-in-the-loop bench: bench files, emulated boards, link captures (pcapng) and the
pytest plugin."""
