"""The world around the spacecraft and the bench that connects it: the ground station, lunar
surface users and their AFS receiver, and the channel between them."""
