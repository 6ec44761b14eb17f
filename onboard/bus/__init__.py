"""The onboard software bus: CCSDS space packets over a ZeroMQ XPUB/XSUB proxy."""
