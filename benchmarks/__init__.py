"""Benchmarks: each compares tunefw with a reference in the same run and prints JSON lines."""
