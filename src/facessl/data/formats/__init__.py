"""One module per real benchmark format: a writer (used by the synthetic generator) and a reader
(used by evaluation, for real and synthetic data alike). Readers return the shared forms below."""
