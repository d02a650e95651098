"""Benchmarks: speeds and scores, run by ``make bench`` (never timed assertions in tests)."""
