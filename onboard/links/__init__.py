"""Link drivers: how lunarelay's signals, frames and packets leave the process and come back (CADU
outputs, ZeroMQ IQ streams, SigMF recordings, the link to the flight computer)."""
