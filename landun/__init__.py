"""Composition root: the `landun` command line and the process wiring."""
