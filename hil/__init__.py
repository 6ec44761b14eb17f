"""The hardware-in-the-loop bench: bench files, emulated boards and the pytest plugin."""
