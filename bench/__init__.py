"""Benchmarks (`make bench`): each writes `bench/results/<name>.json`; numbers are ratios within one run."""
