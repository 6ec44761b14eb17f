"""Reference implementations that only the tests use: slow, plain numpy oracles that the product's
fast paths are checked against (the AFS baseband, FFT acquisition)."""
