"""lunarelay onboard software: the C core binding, CCSDS, navigation, bus, modules and links."""

__version__ = "0.1.0"
