"""Fault injection on the bench's links: a seeded, scheduled fault plan (``schedule``, the bench
file's ``[[fault]]`` tables) and the proxies that carry it out in the middle of each link."""
