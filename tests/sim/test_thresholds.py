"""The simulator's copy of the engine thresholds equals the engine's defaults (issue 11)."""

from __future__ import annotations

import pytest

from sim import thresholds
from stream.engine.config import Thresholds


@pytest.mark.parametrize("name", sorted(thresholds.ENGINE_NAMES))
def test_the_simulator_plans_against_the_engines_default(name):
    assert thresholds.ENGINE_NAMES[name] == getattr(Thresholds(), name)


def test_the_trick_deadlines_are_the_engines():
    from sim import tricks

    assert Thresholds().trip_deadline_ms == tricks.TRIP_DEADLINE_MS
    assert Thresholds().round_deadline_ms == tricks.ROUND_DEADLINE_MS
