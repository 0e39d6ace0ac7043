"""What range of pings a pack holds, per alert type (issue 12; replay.evidence.span).

Told the way an investigator would: an alert raised at a deadline needs the pings up to the
deadline and a re-run that goes on to it; an alert on a trip needs the trip from its load."""

from __future__ import annotations

import pytest

from replay.evidence.span import pack_span
from replay.window import AFTER_MS, BEFORE_MS
from stream.engine import Thresholds
from stream.eventtime import parse_ts

T = "2025-06-02T21:00:00+08:00"
MIN = 60_000


def ms(text: str) -> int:
    return parse_ts(text)


def alert(kind: str, ended: str | None = None, **evidence) -> dict:
    return {"type": kind, "ts": T, "ended_ts": ended, "evidence": evidence}


TRIP = [{"kind": "muck", "load_ts": "2025-06-02T19:40:00+08:00", "status": "open"}]
ROUND = [{"kind": "kitchen", "start_ts": "2025-06-02T17:00:00+08:00", "status": "open"}]

CASES = [
    # (what happened, alert, its trip/round, from, to)
    (
        "an overspeed off any trip: the evidence window",
        alert("overspeed", ended="2025-06-02T21:02:00+08:00"),
        None,
        ms(T) - BEFORE_MS,
        ms("2025-06-02T21:02:00+08:00") + AFTER_MS,
    ),
    (
        "an overspeed on a trip: from the load, 30 min before its dwell",
        alert("overspeed"),
        TRIP,
        ms("2025-06-02T19:40:00+08:00") - BEFORE_MS,
        ms(T) + AFTER_MS,
    ),
    (
        "a load never unloaded: raised at the deadline, so on past it",
        alert("unmatched_source", deadline="2025-06-03T01:00:00+08:00"),
        TRIP,
        ms("2025-06-02T19:40:00+08:00") - BEFORE_MS,
        ms("2025-06-03T01:00:00+08:00") + AFTER_MS,
    ),
    (
        "a round never delivered: from its first collection to past its deadline",
        alert("undelivered_collection", deadline="2025-06-02T23:00:00+08:00"),
        ROUND,
        ms("2025-06-02T17:00:00+08:00") - BEFORE_MS,
        ms("2025-06-02T23:00:00+08:00") + AFTER_MS,
    ),
    (
        "a load without a permit: raised on leaving the site",
        alert("unpermitted_load", departed="2025-06-02T21:50:00+08:00"),
        None,
        ms(T) - BEFORE_MS,
        ms("2025-06-02T21:50:00+08:00") + AFTER_MS,
    ),
    (
        "a truck never seen again: past the signal-lost limit and the dock wait",
        alert("signal_lost"),
        None,
        ms(T) - BEFORE_MS,
        ms(T) + 10 * MIN + 60 * MIN + AFTER_MS,
    ),
    (
        "a truck seen again: its reappearance is the end",
        alert("signal_lost", ended="2025-06-02T21:25:00+08:00"),
        None,
        ms(T) - BEFORE_MS,
        ms("2025-06-02T21:25:00+08:00") + AFTER_MS,
    ),
    (
        "a delivery with no collection since the last one: from that delivery",
        alert("unsourced_delivery", last_delivery="2025-06-02T15:00:00+08:00"),
        None,
        ms("2025-06-02T15:00:00+08:00") - BEFORE_MS,
        ms(T) + AFTER_MS,
    ),
]


@pytest.mark.parametrize(("story", "alert", "trip", "lo", "hi"), CASES, ids=[c[0] for c in CASES])
def test_the_range_per_alert_type(story, alert, trip, lo, hi):
    span = pack_span(alert, trip, Thresholds())
    assert (span.from_ms, span.to_ms) == (lo, hi)
    assert span.reasons[0].startswith("the alert's evidence window")


def test_a_trip_still_under_way_at_the_start_moves_it_back():
    """The vehicle's previous load was not delivered before the window opens: start before it."""
    earlier = [{"kind": "muck", "load_ts": "2025-06-02T19:00:00+08:00", "status": "unmatched"}]
    closed = [{"kind": "muck", "load_ts": "2025-06-02T17:00:00+08:00",
               "unload_ts": "2025-06-02T17:40:00+08:00", "status": "delivered"}]  # fmt: skip

    def others(at_ms):
        return [v for v in (earlier, closed) if ms(v[0]["load_ts"]) < at_ms]

    span = pack_span(alert("overspeed"), None, Thresholds(), others)
    assert span.from_ms == ms("2025-06-02T19:00:00+08:00") - BEFORE_MS
    assert "still under way" in span.reasons[-1]
    alone = pack_span(alert("overspeed"), None, Thresholds(), lambda at_ms: [closed])
    assert alone.from_ms == ms(T) - BEFORE_MS  # a delivered trip does not
