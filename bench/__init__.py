"""Benchmarks (not part of the test suite): run each with `python -m bench.<name>`."""
