"""Shared simulator runs: simulated once per test session (a few seconds each)."""

from __future__ import annotations

import pytest

from landun.commands.sim import parse_start
from landun.commands.sim import write_files as write
from sim import DEFAULT_START, simulate, truth_counts

START_MS = parse_start(DEFAULT_START)


@pytest.fixture(scope="session")
def sim60():
    """60 vehicles over 8 hours (18:00-02:00): enough for every violation type."""
    return simulate(60, 8, 5, START_MS)


@pytest.fixture(scope="session")
def sim60_dir(sim60, tmp_path_factory):
    out = tmp_path_factory.mktemp("sim60")
    counts = {"pings": write(sim60, out), **truth_counts(sim60)}
    return out, counts
