"""The compiled fast path gives exactly the reference engine's results."""

from __future__ import annotations

import pytest

from tests.stream.engine.test_alerts import CASES
from tests.stream.engine.test_determinism import mixed_input, split_run, whole_run
from tests.stream.engine.world import context, parked, run


@pytest.mark.parametrize("name", list(CASES))
def test_scenarios_same_with_the_kernel(name):
    build, _ = CASES[name]
    pings = build()
    reference = run(pings, context(fast=False))
    fast = run(pings, context(fast=True))
    assert fast.alerts == reference.alerts
    assert fast.trips == reference.trips
    assert sorted(map(str, fast.rejected)) == sorted(map(str, reference.rejected))


@pytest.mark.parametrize("batch_size", [4096, 37, 5])
def test_mixed_input_same_with_the_kernel(batch_size):
    reference = whole_run(mixed_input(), fast=False)
    assert whole_run(mixed_input(), fast=True, batch_size=batch_size) == reference


@pytest.mark.parametrize("k", [1, 150, 333, 500, 640])
def test_split_runs_same_with_the_kernel(k):
    reference = whole_run(mixed_input(), fast=False)
    assert split_run(mixed_input(), k, fast=True) == reference


def test_the_kernel_does_apply_pings():
    """Not vacuous: most pings of a quiet drive are applied by the kernel, not deferred."""
    from stream.engine import process
    from stream.engine.fastpath import FastStore

    deferred = []
    original = FastStore._deferred

    def counting(self, kept, fsid, idx, act, out):
        deferred.extend(idx)
        return original(self, kept, fsid, idx, act, out)

    FastStore._deferred = counting
    try:
        pings = parked(hours=2).pings  # idling in the depot: nothing happens
        process(pings, context(fast=True))
    finally:
        FastStore._deferred = original
    assert len(deferred) < len(pings) / 4
