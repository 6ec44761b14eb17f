"""lunarelay onboard software: the C core binding, CCSDS, navigation, bus, modules and links, and
the data files they read (scenarios and typed TOML fields, files written whole)."""

__version__ = "0.1.0"
