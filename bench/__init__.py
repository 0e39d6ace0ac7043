"""Benchmarks (run as scripts or via `landun ... bench`); results go to docs/benchmarks.md."""
