"""Link drivers: how lunarelay's signals and frames leave the process (ZeroMQ IQ streams, files)."""
