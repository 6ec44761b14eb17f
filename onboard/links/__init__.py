"""Link drivers: how lunarelay's signals, frames and packets leave the process and come back
(ZeroMQ IQ streams, SigMF recordings, CADU outputs, the link to the flight computer and its serial
driver)."""
