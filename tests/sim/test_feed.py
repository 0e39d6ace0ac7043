"""The feed generator: arrival order, and pacing by an injected clock."""

from __future__ import annotations

import orjson
import pytest

from sim.feed import arrivals, paced
from stream.eventtime import parse_ts


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_paced_waits_for_arrival_times_scaled_by_rate():
    clock = FakeClock()
    items = [(10_000, {"n": 1}), (11_000, {"n": 2}), (11_000, {"n": 3}), (15_000, {"n": 4})]
    out = list(paced(items, 2.0, clock, clock.sleep))
    assert [p["n"] for p in out] == [1, 2, 3, 4]
    assert clock.slept == [0.5, 2.0]


def test_paced_rejects_a_non_positive_rate():
    with pytest.raises(ValueError, match="rate"):
        list(paced([(0, {})], 0, lambda: 0.0, lambda s: None))


def test_arrivals_are_non_decreasing_and_match_the_file(sim60, sim60_dir):
    out, _ = sim60_dir
    feed = list(arrivals(sim60))
    times = [t for t, _ in feed]
    assert times == sorted(times)
    lines = (out / "pings.jsonl").read_bytes().splitlines()
    assert lines == [orjson.dumps(p) for _, p in feed]
    backfilled = [p for _, p in arrivals(sim60) if p.get("backfill")]
    assert backfilled and any(
        parse_ts(a["ts"]) > parse_ts(b["ts"])
        for a, b in zip(backfilled, backfilled[1:], strict=False)
    )  # batches of different blind areas interleave by arrival, not by event time
