"""Re-running archived pings (issue 12): the archive of a `landun detect --archive` run,
replayed in arrival order over the run's time range, gives its alerts again, ids and contents
included; one vehicle alone gives its alerts of the fleet run; event order shows what late
pings hid; rows that never parsed are counted, not re-run; the pings stream in chunks."""

from __future__ import annotations

import contextlib
import io
import re

import orjson
import pytest

from landun.cli import main
from replay import offline, rerun
from replay.layout import SourceRange
from replay.queries import ArchiveQueryError
from replay.rows import ping_row
from replay.writer import write_batch
from stream.eventtime import parse_ts
from stream.ping import Ping
from tests.stream.engine.test_alerts import FULL, lift_at, loaded_at_site, overspeed
from tests.stream.engine.world import LAT, context, fences_geojson, parked, registry_mapping

START = "2025-06-02T18:00:00+08:00"


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A simulated night (30 vehicles, 3 h) run through `landun detect --archive`."""
    tmp = tmp_path_factory.mktemp("night")
    sim = ["sim", "--vehicles", "30", "--hours", "3", "--seed", "4", "--start", START]
    assert main([*sim, "--out", str(tmp)]) == 0
    args = ["detect", "--fences", str(tmp / "fences.geojson"), "--registry",
            str(tmp / "registry.json"), "--pings", str(tmp / "pings.jsonl"), "--out",
            str(tmp / "alerts.jsonl"), "--trips", str(tmp / "trips.jsonl"), "--archive",
            str(tmp / "archive")]  # fmt: skip
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(args) == 0
    until = int(re.search(r"^until: \S+ \((\d+)\)$", err.getvalue(), re.M).group(1))
    alerts = [orjson.loads(x) for x in (tmp / "alerts.jsonl").read_bytes().splitlines()]
    trips = (tmp / "trips.jsonl").read_bytes().splitlines()
    return tmp, alerts, len(trips), until


def test_the_archived_night_replayed_gives_the_live_alerts_ids_and_contents(night):
    tmp, alerts, trips, until = night
    assert len(alerts) >= 10 and len({a["type"] for a in alerts}) >= 5
    got = rerun.replay(tmp / "archive", parse_ts(START) - 3_600_000, until)
    assert got["alerts"] == alerts
    assert got["trips"] == trips
    assert got["order"] == "arrival" and got["pings"] == got["accepted"] + got["rejected"]
    assert got["pings"] > 5_000 and got["rejected"] > 0


def test_one_vehicle_alone_gives_its_alerts_of_the_fleet_run(night):
    tmp, alerts, _, until = night
    vehicles = sorted({a["vehicle"] for a in alerts})[:3]
    for vehicle in vehicles:
        got = rerun.replay(tmp / "archive", START, until, vehicles=[vehicle])
        assert got["alerts"] == [a for a in alerts if a["vehicle"] == vehicle], vehicle


def test_a_truck_gone_dark_alone_to_the_fleet_runs_end_says_what_the_fleet_said(tmp_path):
    """M1 loads and is never heard of again while M2 idles all night: replayed alone to the
    fleet run's end, M1's signal_lost and unmatched_source are the fleet run's (issue 11)."""
    pings = sorted(
        [*loaded_at_site().drive(LAT, 120.29, **FULL).pings, *parked("M2", hours=14).pings],
        key=lambda p: p.ts,
    )
    (tmp_path / "pings.jsonl").write_text(
        "\n".join(orjson.dumps(p.to_dict()).decode() for p in pings)
    )
    reference = (fences_geojson()["features"], registry_mapping())
    fleet = offline.detect_file(
        tmp_path / "pings.jsonl", context(), archive=tmp_path / "a", reference=reference
    )
    m1 = [a for a in fleet.sorted_alerts() if a["vehicle"] == "M1"]
    assert {a["type"] for a in m1} >= {"signal_lost", "unmatched_source"}
    alone = rerun.replay(tmp_path / "a", pings[0].ts, fleet.until, vehicles=["M1"])
    assert alone["alerts"] == m1


def test_the_pings_stream_in_chunks(night, monkeypatch):
    tmp, alerts, _, until = night
    sizes: list[int] = []
    process = rerun.process

    def counting(batch, ctx, states):
        sizes.append(len(batch))
        return process(batch, ctx, states)

    monkeypatch.setattr(rerun, "CHUNK", 500)
    monkeypatch.setattr(rerun, "process", counting)
    got = rerun.replay(tmp / "archive", START, until)
    assert got["alerts"] == alerts
    assert max(sizes) <= 500 and sum(sizes) == got["pings"] and len(sizes) > 10


def late_lift_lines() -> tuple[list[str], int]:
    """A loaded truck raises its tipper for a minute on the road; the two fixes of it reach the
    platform 75+ s late, after fixes newer than them: in arrival order they are stale."""
    pings = lift_at(LAT, 120.29)
    lifts = [i for i, p in enumerate(pings) if p.lift]
    first, last = lifts[0], lifts[-1]
    after = next(j for j in range(last + 1, len(pings)) if pings[j].ts - pings[first].ts > 75_000)
    order = [*pings[:first], *pings[last + 1 : after + 1], *pings[first : last + 1]]
    order += pings[after + 1 :]
    return [orjson.dumps(p.to_dict()).decode() for p in order], len(lifts)


def test_event_order_shows_what_the_late_pings_hid(tmp_path):
    lines, lifts = late_lift_lines()
    (tmp_path / "pings.jsonl").write_text("\n".join(lines) + "\n")
    reference = (fences_geojson()["features"], registry_mapping())
    live = offline.detect_file(
        tmp_path / "pings.jsonl", context(), archive=tmp_path / "a", reference=reference
    )
    assert [r["reason"] for r in live.rejected] == ["stale"] * lifts
    assert live.alerts == {}
    window = (parse_ts(orjson.loads(lines[0])["ts"]), live.until)
    arrival = rerun.replay(tmp_path / "a", *window)
    event = rerun.replay(tmp_path / "a", *window, event_order=True)
    assert (arrival["rejected"], arrival["alerts"]) == (lifts, [])
    assert (event["order"], event["rejected"]) == ("event", 0)
    assert [a["type"] for a in event["alerts"]] == ["suspected_dumping"]
    assert event["alerts"][0]["evidence"]["lift"] is True


def test_warnings_come_back_from_the_raw_record(tmp_path):
    """A gateway sent ``"lift": "yes"`` on the speeding truck's fixes: parsing dropped it with a
    warning, which the overspeed's evidence shows; the re-run must show it too."""
    lines = []
    for p in overspeed(75, 120):
        record = p.to_dict()
        record["lift"] = "yes"
        lines.append(orjson.dumps(record).decode())
    (tmp_path / "pings.jsonl").write_text("\n".join(lines) + "\n")
    reference = (fences_geojson()["features"], registry_mapping())
    live = offline.detect_file(
        tmp_path / "pings.jsonl", context(), archive=tmp_path / "a", reference=reference
    )
    alerts = live.sorted_alerts()
    assert [a["type"] for a in alerts] == ["overspeed"]
    assert all(p.get("warnings") for p in alerts[0]["evidence"]["pings"])
    again = rerun.replay(tmp_path / "a", parse_ts(orjson.loads(lines[0])["ts"]), live.until)
    assert again["alerts"] == alerts


def test_rows_that_never_parsed_are_counted_not_rerun(tmp_path):
    t0 = parse_ts(START)
    good = Ping("M1", t0 + 60_000, 31.49, 120.31, received=t0 + 60_500, **FULL)
    rows = [
        ping_row(good, "accepted", raw=orjson.dumps(good.to_dict()).decode(), ingest=0),
        ping_row(None, "bad_json", raw="{oops", ingest=1, received=t0 + 61_000),
        ping_row(
            None, "bad_field", raw='{"vehicle":"M2"}', ingest=2, vehicle="M2", received=t0 + 62_000
        ),  # fmt: skip
        ping_row(None, "bad_json", raw="{late", ingest=3, received=t0 + 9_000_000),  # outside
    ]
    write_batch(tmp_path, SourceRange(0, 3), rows)
    got = rerun.replay(tmp_path, t0, t0 + 3_600_000, ctx=context())
    assert (got["pings"], got["unparsed"]) == (1, 2)
    assert (
        rerun.replay(tmp_path, t0, t0 + 3_600_000, vehicles=["M2"], ctx=context())["unparsed"] == 1
    )


def test_pings_without_reference_data_in_force_are_refused_not_all_unknown(tmp_path):
    """A past night published now has its reference dated now: as of its own time there is
    none, and re-running it would reject every ping as an unknown vehicle."""
    t0 = parse_ts(START)
    good = Ping("M1", t0 + 60_000, 31.49, 120.31)
    raw = orjson.dumps(good.to_dict()).decode()
    write_batch(tmp_path, SourceRange(0, 0), [ping_row(good, "accepted", raw=raw, ingest=0)])
    with pytest.raises(ArchiveQueryError, match="--fences and --registry"):
        rerun.replay(tmp_path, t0, t0 + 3_600_000)
    assert rerun.replay(tmp_path, t0, t0 + 3_600_000, ctx=context())["accepted"] == 1


def test_an_empty_archive_replays_to_nothing(tmp_path):
    got = rerun.replay(tmp_path, START, "2025-06-03T06:00:00+08:00")
    assert {k: got[k] for k in ("pings", "accepted", "rejected", "unparsed", "trips")} == dict(
        pings=0, accepted=0, rejected=0, unparsed=0, trips=0
    )
    assert got["alerts"] == [] and got["from"] == START


@pytest.mark.parametrize(
    "start, end, vehicles, message",
    [
        ("2025-06-03T06:00:00+08:00", START, None, "before"),
        (START, "2025-07-10T06:00:00+08:00", None, "31"),
        ("yesterday", START, None, "from"),
        (START, "2025-06-03T06:00:00", None, "to"),
        (START, "2025-06-03T06:00:00+08:00", [" ", ""], "vehicle"),
    ],
)
def test_a_bad_request_says_what_to_change(tmp_path, start, end, vehicles, message):
    with pytest.raises(ArchiveQueryError, match=re.escape(message)):
        rerun.replay(tmp_path, start, end, vehicles=vehicles)
