"""The hardware-in-the-loop bench: bench files (``file``), the taps in the middle of each link
(``taps``), the runner that adds the bench to a scenario run (``runner``), benches that span
hosts (``hosts``: each host's share, the main host watching them over the bus) and the pytest
plugin that runs one test body against the emulated bench or attached hardware (``plugin``)."""
