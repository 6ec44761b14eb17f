"""The ground side: the station (FOP-1, SDLS protection, CLTUs up, CADUs down), the dump of the
relay's store, and a command sender that talks to the onboard modules over the bus."""
