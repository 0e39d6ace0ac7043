"""Replay mode's pure logic (api/static/replay_logic.js) under node: positions between fixes,
signal gaps, the chunk plan that fetches ahead of the playhead, alerts shown only once fired,
stop durations, the playback clock, the alert window against replay.window (issue 12)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from replay.window import alert_window
from stream.eventtime import iso_ts

LOGIC_JS = Path(__file__).parents[2] / "api" / "static" / "replay_logic.js"
T0 = 1_748_869_200_000  # 2025-06-02T21:00:00+08:00
S, MIN = 1_000, 60_000

# Issue 15: a missing node fails these tests, in CI or not (a skip passed silently); `make test`
# installs it (mk/web.mk, target web-tools).
NODE = shutil.which("node")


def run_js(body: str, **inputs) -> object:
    """Run ``body`` (which must ``return`` a JSON-able value) with ``R`` = the module and each
    input as a variable."""
    if NODE is None:
        pytest.fail("node missing: run `make web-tools` (apt-get install nodejs)", pytrace=False)
    values = "".join(f"const {k} = {json.dumps(v)};" for k, v in inputs.items())
    script = (
        f"const R = require({json.dumps(str(LOGIC_JS))});{values}"
        f"console.log(JSON.stringify((() => {{ {body} }})()));"
    )
    done = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def track(fixes: list[tuple[int, float, float, str]]) -> dict:
    """A page's track Feature from (ms after T0, lat, lng, state) fixes."""
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[f[2], f[1]] for f in fixes]},
        "properties": {
            "kind": "track",
            "datetimes": [iso_ts(T0 + f[0]) for f in fixes],
            "state": [f[3] for f in fixes],
        },
    }


# A truck driving east loaded, stopping, then dark for 10 minutes (a gap), then seen again.
FIXES = [
    (0, 31.50, 120.300, "empty"),
    (15 * S, 31.50, 120.303, "loaded"),
    (30 * S, 31.51, 120.306, "loaded"),
    (30 * S + 10 * MIN, 31.52, 120.400, "violating"),
]
# (what the bureau would ask, ms after T0, expected (lat, lng, state, held) or None)
POSITIONS = [
    ("before its first fix it is not on the map", -1, None),
    ("at its first fix, exactly there", 0, (31.50, 120.300, "empty", False)),
    ("a third of the way to the next fix", 5 * S, (31.50, 120.301, "empty", False)),
    ("half way, by time", 22_500, (31.505, 120.3045, "loaded", False)),
    ("at a fix, exactly there", 30 * S, (31.51, 120.306, "loaded", False)),
    (
        "dark for 10 min: waits at the last fix seen",
        30 * S + 5 * MIN,
        (31.51, 120.306, "loaded", True),
    ),
    ("seen again: there", 30 * S + 10 * MIN, (31.52, 120.400, "violating", False)),
    ("after the last fix: waits there", 31 * S + 10 * MIN, (31.52, 120.400, "violating", True)),
]


def test_position_between_fixes_is_linear_in_time_and_waits_across_a_gap():
    got = run_js(
        "const chunks = new Map([[0, R.pagePoints(feature)]]);"
        "const tr = R.mergeTrack(chunks);"
        "return times.map((t) => R.positionAt(tr, T0 + t));",
        feature=track(FIXES),
        times=[p[1] for p in POSITIONS],
        T0=T0,
    )
    for (why, _, want), pos in zip(POSITIONS, got, strict=True):
        if want is None:
            assert pos is None, why
            continue
        assert (pos["lat"], pos["lng"]) == pytest.approx(want[:2], abs=1e-12), why
        assert (pos["state"], pos["held"]) == want[2:], why


def test_chunks_loaded_out_of_order_merge_into_one_time_ordered_track():
    got = run_js(
        "const chunks = new Map([[1, R.pagePoints(late)], [0, R.pagePoints(early)]]);"
        "const tr = R.mergeTrack(chunks, (lat, lng) => [lat + 1, lng + 2]);"
        "return [Array.from(tr.t), Array.from(tr.dlat), R.positionAt(tr, T0 + 22500)];",
        early=track(FIXES[:2]),
        late=track(FIXES[2:]),
        T0=T0,
    )
    times, dlat, mid = got
    assert times == [T0 + f[0] for f in FIXES]
    assert dlat == pytest.approx([f[1] + 1 for f in FIXES])  # the display datum, per fix
    assert (mid["dlat"], mid["dlng"]) == pytest.approx((32.505, 122.3045))


HOUR = 60 * MIN
# (case, loaded chunk indices, playhead offset, expected buffered-until offset)
BUFFERED = [
    ("nothing loaded: the playhead may not move", [], 10 * MIN, 10 * MIN),
    ("its chunk loaded: to the chunk's end", [0], 10 * MIN, HOUR - 1),
    ("contiguous chunks: to the last one's end", [0, 1, 2], 10 * MIN, 3 * HOUR - 1),
    ("a hole stops it", [0, 2], 10 * MIN, HOUR - 1),
    ("the last chunk ends with the range", [8, 9], 9 * HOUR + 5 * MIN, 9 * HOUR + 30 * MIN),
]


def test_buffered_until_is_the_end_of_the_chunks_loaded_without_a_hole():
    got = run_js(
        "const plan = R.chunkPlan(T0, T0 + 9 * H + 30 * M, H);"
        "return [plan.count, R.chunkSpan(plan, 1).map((x) => x - T0), "
        "cases.map(([_, loaded, t]) => R.bufferedUntil(plan, new Set(loaded), T0 + t) - T0)];",
        cases=[c[:3] for c in BUFFERED],
        T0=T0,
        H=HOUR,
        M=MIN,
    )
    count, span, until = got
    assert count == 10 and span == [HOUR, 2 * HOUR - 1]  # inclusive, never overlapping
    for (why, *_, want), value in zip(BUFFERED, until, strict=True):
        assert value == want, why


def test_wanted_chunks_run_from_the_playhead_to_the_lookahead_then_back_to_the_start():
    got = run_js(
        "const plan = R.chunkPlan(T0, T0 + 10 * H - 1, H);"
        "return [R.wantedChunks(plan, new Set([3]), new Set([4]), T0 + 3 * H + 1, 3 * H),"
        " R.wantedChunks(plan, new Set(), new Set(), T0 + 9 * H, 5 * H),"
        " R.chunkPlan(T0, T0 + 10 * H - 1, 100 * H).count,"
        " R.chunkSpan(R.chunkPlan(T0, T0 + 2 * H, H), 1).map((x) => x - T0),"
        " [3, 4, 5, 6, 2, 0].map((k) => R.urgency(k, 3))];",
        T0=T0,
        H=HOUR,
    )
    # ahead of the playhead (chunk 3, loaded; 4 being fetched) first, then behind it; and one
    # chunk for a range shorter than a chunk (one fetch)
    assert got[:3] == [[5, 6, 2, 1, 0], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 1]
    assert got[4] == [0, 1, 2, 3, 1e9 + 1, 1e9 + 3]
    assert got[3] == [HOUR, 2 * HOUR]  # the last chunk holds the range's last instant


def test_an_alert_is_shown_only_from_its_time_on():
    alerts = [T0 + 10 * MIN, T0 + 20 * MIN, T0 + 20 * MIN]
    times = [T0, T0 + 10 * MIN - 1, T0 + 10 * MIN, T0 + 20 * MIN, T0 + HOUR]
    got = run_js("return times.map((t) => R.firedCount(ts, t));", ts=alerts, times=times)
    assert got == [0, 0, 1, 3, 3]


def test_a_stop_shows_how_long_it_has_lasted():
    stop = {"ts": T0, "ended_ts": T0 + 12 * MIN, "duration_s": 720.0}
    times = [T0 - 1, T0, T0 + 90 * S, T0 + 12 * MIN, T0 + HOUR]
    got = run_js(
        "return [times.map((t) => R.stopSeconds(stop, t)),"
        " R.stopSeconds({ ...stop, ended_ts: null }, T0 + HOUR)];",
        stop=stop,
        times=times,
        T0=T0,
        HOUR=HOUR,
    )
    assert got == [[None, 0, 90, 720, 720], 3600]


def test_the_clock_plays_at_speed_pauses_seeks_and_stops_at_the_end():
    got = run_js(
        "const c = new R.Clock(T0, T0 + H); const out = [];"
        "out.push(c.at(5000));"  # paused at the start
        "c.setSpeed(1000, 0); c.play(0); out.push(c.at(1000));"  # 1 s at 1000x: 1000 s
        "c.pause(2000); out.push(c.at(9000));"  # paused: stays
        "c.seek(T0 + 30 * 60000, 9000); c.play(9000); c.setSpeed(10, 10000); out.push(c.at(11000));"
        "c.setSpeed(1000, 11000); out.push(c.at(100000));"  # never past the end
        "c.seek(T0 - 5, 100000); out.push(c.at(100000));"  # nor before the start
        "return out.map((t) => t - T0);",
        T0=T0,
        H=HOUR,
    )
    assert got == [0, 1_000_000, 2_000_000, 2_810_000, HOUR, 0]  # 1 s at 1000x, 1 s at 10x


def test_beijing_time_shown_and_read_back():
    got = run_js(
        "return [R.beijing(T0), R.beijing(1748880000000 - 1), R.beijingInput(T0),"
        " R.parseBeijing('2025-06-02T21:00'), R.parseBeijing('2025-06-03T00:00:05')];",
        T0=T0,
    )
    assert got[:3] == ["2025-06-02 21:00:00", "2025-06-02 23:59:59", "2025-06-02T21:00:00"]
    assert got[3:] == [T0, 1_748_880_005_000]


ALERTS = [
    {"ts": iso_ts(T0), "ended_ts": None, "evidence": {"pings": []}},
    {"ts": iso_ts(T0), "ended_ts": iso_ts(T0 + 7 * MIN)},
    {"ts": iso_ts(T0), "evidence": {"pings": [{"ts": iso_ts(T0 - 25 * MIN)}, {"ts": None}]}},
    {"ts": iso_ts(T0), "evidence": {"pings": [{"ts": iso_ts(T0 - 30 * HOUR)}]}},  # a day at most
    {"ts": T0, "ended_ts": T0 + HOUR},  # epoch ms, as the REST parameters take
]


def test_the_alert_window_is_the_archive_s_evidence_window():
    got = run_js("return alerts.map(R.alertWindow);", alerts=ALERTS)
    assert [tuple(w) for w in got] == [alert_window(a) for a in ALERTS]
