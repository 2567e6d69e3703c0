"""Load benchmarks of the public hot path and their one-command runner (``python -m bench.run``)."""
