"""lunarelay's flight software and nothing else: the binding of the C core (``core``), the CCSDS
layers the spacecraft uses (``ccsds``), its navigation (``nav``), the software bus (``bus``), the
process modules (``modules``) and the executive that runs them, the command dictionary and log
(``commands``), events, the emulation clock, the link drivers (``links``), and the configuration
the processes read (scenarios, typed TOML fields, files written whole).  It never imports ``hil``
or the tools (``pyproject.toml``, ``[tool.importlinter]``)."""

__version__ = "0.1.0"
