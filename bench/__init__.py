"""Benchmarks that print their figures; results are kept in docs/benchmarks.md."""
