"""Benchmarks: figures and ratios measured in one run on the same machine (never timed assertions in tests)."""
