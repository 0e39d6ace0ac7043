"""What a pack reads from the archive (issue 12; replay.evidence.reads): a vehicle's pings in the
order they arrived, an alert's versions in the order they were archived."""

from __future__ import annotations

from replay.evidence.reads import alert_versions, vehicle_pings
from replay.layout import SourceRange
from replay.writer import write_batch
from tests.replay.archive_world import MIDNIGHT, at, row

MIN = 60_000


def test_pings_come_in_arrival_order_with_every_verdict(tmp_path):
    """A blind-area batch arrives after the live fixes it predates; a duplicate was rejected."""
    live = [
        row("V1", MIDNIGHT + k * MIN, at(0, 100 * k), ingest=n) for n, k in ((0, 3), (2, 4), (3, 5))
    ]
    batch = [row("V1", MIDNIGHT + k * MIN, at(0, 100 * k), ingest=4 + k) for k in range(3)]
    dup = row("V1", MIDNIGHT + 5 * MIN, at(0, 500), ingest=7, verdict="filter_duplicate")
    other = row("V2", MIDNIGHT, at(500, 0), ingest=8)
    # Two files, the later range first on disk by name ("s10" < "s2"): order is by ingest.
    write_batch(tmp_path, SourceRange(2, 7), [*live[1:], *batch, dup])
    write_batch(tmp_path, SourceRange(10, 10), [other])
    write_batch(tmp_path, SourceRange(0, 1), [live[0]])
    got = vehicle_pings(tmp_path, "V1", MIDNIGHT - MIN, MIDNIGHT + 10 * MIN)
    assert [(r["ts"] - MIDNIGHT) // MIN for r in got] == [3, 4, 5, 0, 1, 2, 5]
    assert got[-1]["verdict"] == "filter_duplicate"
    narrow = vehicle_pings(tmp_path, "V1", MIDNIGHT + 4 * MIN, MIDNIGHT + 5 * MIN)
    assert [(r["ts"] - MIDNIGHT) // MIN for r in narrow] == [4, 5, 5]  # event time in the range


def test_the_live_fixes_a_late_batch_was_judged_against_come_too(tmp_path):
    """Fixes dated after the range that arrived before a batch dated in it: the engine saw them
    first (the batch is a backfill because of them); fixes that arrived after it are left out."""
    live = [row("V1", MIDNIGHT + k * MIN, at(0, 100 * k), ingest=k) for k in range(6)]
    batch = [row("V1", MIDNIGHT - 20 * MIN + k * MIN, at(0, -100 + 10 * k), ingest=6 + k)
             for k in range(2)]  # fmt: skip
    after = row("V1", MIDNIGHT + 6 * MIN, at(0, 600), ingest=8)
    write_batch(tmp_path, SourceRange(0, 8), [*live, *batch, after])
    got = vehicle_pings(tmp_path, "V1", MIDNIGHT - 30 * MIN, MIDNIGHT + MIN)
    assert [(r["ts"] - MIDNIGHT) // MIN for r in got] == [0, 1, 2, 3, 4, 5, -20, -19]
    plain = vehicle_pings(tmp_path, "V1", MIDNIGHT, MIDNIGHT + 2 * MIN)  # nothing arrives late
    assert [(r["ts"] - MIDNIGHT) // MIN for r in plain] == [0, 1, 2]


def test_alert_versions_in_archive_order_each_once(tmp_path):
    alert = {"id": "a1", "type": "overspeed", "vehicle": "V1", "district": "梁溪",
             "ts": MIDNIGHT, "ended_ts": None}  # fmt: skip
    ended = {**alert, "ended_ts": MIDNIGHT + 5 * MIN}
    resolved = {**ended, "evidence": {"resolved_by": {"source": "blind-area batch"}}}
    write_batch(tmp_path, SourceRange(2, 9), events=[("alert", alert)])
    write_batch(tmp_path, SourceRange(10, 19), events=[("alert", ended), ("alert", resolved)])
    write_batch(tmp_path, SourceRange(20, 29), events=[("alert", alert)])  # redelivered
    assert alert_versions(tmp_path, "a1") == [alert, ended, resolved]
    assert alert_versions(tmp_path, "nope") == []
