"""Stops of vehicles over a window, and one alert by id, from the archive (issue 12)."""

from __future__ import annotations

import pytest

from replay import queries
from replay.layout import DAY_MS, SourceRange
from replay.queries import ArchiveQueryError, alert, stops
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.replay.archive_world import MIDNIGHT, at

MIN = 60_000


def stop(vehicle: str, start_min: float, minutes: float | None, loaded=True, known=False) -> tuple:
    lat, lng = at(100 * start_min, 0)
    ts = MIDNIGHT + int(start_min * MIN)
    ended = None if minutes is None else ts + int(minutes * MIN)
    return (
        "stop",
        {
            "vehicle": vehicle,
            "ts": iso_ts(ts),
            "ended_ts": iso_ts(ended),
            "lat": lat,
            "lng": lng,
            "duration_s": None if minutes is None else minutes * 60.0,
            "loaded": loaded,
            "at_known_place": known,
        },
    )


# A night around midnight (minutes from 00:00 on 2025-06-03, Beijing time).
NIGHT = [
    stop("V1", -90, 10),  # 22:30-22:40, before the window
    stop("V1", -20, 30, known=True),  # 23:40-00:10: began before the window, ends inside
    stop("V1", 15, 6),
    stop("V2", 20, 8, loaded=False),
    stop("V3", 25, 5),
    stop("V1", 50, None),  # still open when the archive was written
    stop("V1", 130, 5),  # after the window
]


@pytest.fixture
def night(tmp_path):
    write_batch(tmp_path, SourceRange(0, 0), [], NIGHT)
    return tmp_path


def test_the_stops_of_a_vehicle_that_overlap_the_window(night):
    got = stops(night, MIDNIGHT, MIDNIGHT + 120 * MIN, vehicles=["V1"])
    assert [(s["ts"][11:16], s["ended_ts"] and s["ended_ts"][11:16]) for s in got] == [
        ("23:40", "00:10"),
        ("00:15", "00:21"),
        ("00:50", None),
    ]
    assert got[0] == {
        "vehicle": "V1",
        "ts": "2025-06-02T23:40:00+08:00",
        "ended_ts": "2025-06-03T00:10:00+08:00",
        "duration_s": 1800.0,
        "lat": NIGHT[1][1]["lat"],
        "lng": NIGHT[1][1]["lng"],
        "loaded": True,
        "at_known_place": True,
    }


def test_the_stops_of_several_vehicles_in_time_order(night):
    got = stops(night, MIDNIGHT, MIDNIGHT + 60 * MIN, vehicles=["V2", "V1", "V9"])
    assert [(s["vehicle"], s["ts"][11:16]) for s in got] == [
        ("V1", "23:40"),
        ("V1", "00:15"),
        ("V2", "00:20"),
        ("V1", "00:50"),
    ]
    assert stops(night, MIDNIGHT, MIDNIGHT + 40 * MIN, vehicles=[]) == []


def test_a_scope_shows_only_the_stops_overlapping_its_intervals(night):
    scope = {"V1": [(MIDNIGHT + 14 * MIN, MIDNIGHT + 16 * MIN)], "V3": [(0, 1)]}
    got = stops(night, MIDNIGHT, MIDNIGHT + 120 * MIN, vehicles=["V1", "V3"], scope=scope)
    assert [(s["vehicle"], s["ts"][11:16]) for s in got] == [("V1", "00:15")]


def test_more_stops_than_an_answer_holds_is_refused(night, monkeypatch):
    monkeypatch.setattr(queries, "MAX_STOPS", 2)
    with pytest.raises(ArchiveQueryError, match="narrow the window"):
        stops(night, MIDNIGHT - DAY_MS, MIDNIGHT + DAY_MS, vehicles=["V1"])
    assert len(stops(night, MIDNIGHT, MIDNIGHT + 30 * MIN, vehicles=["V1"])) == 2


def test_a_bad_window_is_refused(night):
    with pytest.raises(ArchiveQueryError, match="swap"):
        stops(night, MIDNIGHT, MIDNIGHT - 1, vehicles=["V1"])


def dumping(ended: bool, day: int = 0) -> dict:
    ts = MIDNIGHT + day * DAY_MS
    return {
        "id": f"A-{day}",
        "type": "suspected_dumping",
        "vehicle": "V1",
        "district": "梁溪",
        "ts": iso_ts(ts),
        "ended_ts": iso_ts(ts + 5 * MIN) if ended else None,
    }


def test_an_alert_is_its_latest_version_from_any_day(tmp_path):
    write_batch(tmp_path, SourceRange(0, 0), [], [("alert", dumping(False, day=-3))])
    write_batch(tmp_path, SourceRange(1, 1), [], [("alert", dumping(True, day=-3))])
    write_batch(tmp_path, SourceRange(2, 2), [], [("alert", dumping(False, day=2))])
    # a re-run re-emits the open version after the ended one: it does not reopen the alert
    write_batch(tmp_path, SourceRange(3, 3), [], [("alert", dumping(False, day=-3))])
    assert alert(tmp_path, "A--3") == dumping(True, day=-3)
    assert alert(tmp_path, "A-2") == dumping(False, day=2)
    assert alert(tmp_path, "A-9") is None


def test_an_archive_without_alerts_knows_none(tmp_path):
    assert alert(tmp_path, "A-1") is None
    with pytest.raises(ArchiveQueryError, match="LANDUN_ARCHIVE_DIR"):
        alert(tmp_path / "nowhere", "A-1")
