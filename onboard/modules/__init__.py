"""Onboard process modules.  Each runs as its own OS process (``python -m onboard.modules.<name>``)
on the software bus, built on the skeleton in ``base``."""

# registry name -> Python module that runs it
MODULES = {
    "scheduler": "onboard.modules.scheduler",
    "store": "onboard.modules.store",
    "proximity": "onboard.modules.proximity",
    "uplink": "onboard.modules.uplink",
    "downlink": "onboard.modules.downlink",
}
