"""The built-in scenario of ``lunarelay emulate`` and the public SDLS keys of the emulation (data)."""
