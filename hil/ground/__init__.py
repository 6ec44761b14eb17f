"""Ground-side tools: for now a command sender that talks to the onboard modules over the bus."""
