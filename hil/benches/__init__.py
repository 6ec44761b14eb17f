"""The shipped bench files (TOML, read by ``hil.bench.file``): ``emulated.toml`` (everything on one
machine, the board as its own process on a pty) and ``board-on-ttyUSB0.toml`` (a real board on a
serial port, the SDRs behind GNU Radio flowgraphs)."""
