"""The embedded demo: simulator → engine → API in one process."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from api.app import create_app
from api.settings import Settings
from landun import embedded
from replay.layout import SourceRange
from replay.reference import reference_as_of
from replay.rerun import replay
from stream.eventtime import parse_ts, to_iso
from tests.ports import free_port, lost_port
from tests.ports import free_port as real


def test_a_step_feeds_positions_and_alerts_to_the_api():
    app = create_app(Settings(demo=True))
    night = embedded.prepare(40, 3, 5, "2025-06-02T18:00:00+08:00")
    app.state.feed.load_reference(night.fences, night.registry)
    counts = embedded.step(night, [p for _, p in night.pings[:4000]], app.state.feed)
    live = app.state.ports.live.query()
    assert counts["pings"] > 3000 and counts["pings"] + counts["rejected"] == 4000
    assert {p["vehicle"] for p in live} <= {v["id"] for v in night.registry["vehicles"]}
    assert len(live) >= 30
    assert all(-90 <= p["lat"] <= 90 and p["state"] for p in live)


def test_the_map_shows_accepted_pings_only():
    """Positions are the engine's latest accepted pings: a GPS jump or a clock far ahead is
    never shown, even though it passed the checks made at arrival."""
    app = create_app(Settings(demo=True))
    night = embedded.prepare(5, 1, 5, "2025-06-02T18:00:00+08:00")
    app.state.feed.load_reference(night.fences, night.registry)
    first = {}
    for _, p in night.pings:
        first.setdefault(p["vehicle"], p)
    a, b = list(first.values())[:2]
    t, lat, lng = parse_ts(a["ts"]), a["lat"], a["lng"]

    def ping(v, dt_s, dlat=0.0):
        return {"vehicle": v["vehicle"], "ts": t + dt_s * 1000, "lat": lat + dlat, "lng": lng}

    def shown():
        return {p["vehicle"]: (p["ts"], p["lat"]) for p in app.state.ports.live.query()}

    embedded.step(night, [ping(a, 0), ping(a, 10, dlat=0.5)], app.state.feed)  # A: a 55 km jump
    assert shown() == {a["vehicle"]: (to_iso(t), lat)}
    # The jump is rejected when A's next ping releases it, in a step whose ping of the same
    # index (B's newest) is not affected.
    counts = embedded.step(night, [ping(b, 20), ping(b, 30), ping(a, 40)], app.state.feed)
    assert counts["rejected"] == 1 and counts["pings"] == 3
    assert shown() == {a["vehicle"]: (to_iso(t), lat), b["vehicle"]: (to_iso(t + 20_000), lat)}
    embedded.step(night, [ping(a, 20 * 86_400)], app.state.feed)  # a clock 20 days ahead
    embedded.step(night, [ping(b, 50), ping(a, 60)], app.state.feed)  # + a tick (minute)
    assert shown() == {
        a["vehicle"]: (to_iso(t + 40_000), lat),
        b["vehicle"]: (to_iso(t + 50_000), lat),
    }


def test_the_demo_archives_its_first_night_and_replay_gives_its_alerts(tmp_path, monkeypatch):
    """A night played at 1,200x in several engine steps, archived in small batches from the
    writer thread: every ping is in the archive once with its verdict, the reference is, and
    re-running the archive gives the alerts the demo raised, ids and contents included. The
    second night (the same hours, another seed) is not archived."""
    monkeypatch.setattr(embedded, "ARCHIVE_LINES", 100)
    monkeypatch.setattr(embedded, "ARCHIVE_EVERY_S", 0.2)
    monkeypatch.setattr(embedded, "STEP_S", 0.05)
    app = create_app(Settings(demo=True))
    nights: list[embedded.Night] = []
    raised: dict[int, dict[str, dict]] = {1: {}, 2: {}}  # night -> alert id -> latest version
    feed_alert = app.state.feed.alert

    def record(alert):
        raised[len(nights)][alert["id"]] = alert
        return feed_alert(alert)

    monkeypatch.setattr(app.state.feed, "alert", record)
    prepare = embedded.prepare
    monkeypatch.setattr(embedded, "prepare", lambda *a: nights.append(prepare(*a)) or nights[-1])
    written_before_the_end: list[int] = []  # pings files on disk when a night finishes
    night_finish = embedded.finish

    def finish(*a, **kw):
        written_before_the_end.append(len(list(tmp_path.glob("pings/*/*.parquet"))))
        return night_finish(*a, **kw)

    monkeypatch.setattr(embedded, "finish", finish)
    start = "2025-06-02T18:00:00+08:00"
    asyncio.run(embedded.run(app.state.feed, 12, 1.5, 3, start, 3000.0, nights=2, archive=tmp_path))
    first, second = nights
    assert first.sink is not None and second.sink is None
    assert written_before_the_end[0] > 0  # written from the thread while the night played
    files = sorted(str(p) for p in tmp_path.glob("pings/*/*.parquet"))
    with duckdb.connect() as con:
        rows = con.sql(f"SELECT ingest, verdict FROM read_parquet({files!r})").fetchall()
    assert sorted(i for i, _ in rows) == list(range(len(first.pings)))
    assert len({SourceRange.from_file_name(p.rsplit("/", 1)[1]) for p in files}) > 3
    assert {v for _, v in rows} >= {"accepted"}
    alert_files = sorted(str(p) for p in tmp_path.glob("alerts/*/*.parquet"))
    with duckdb.connect() as con:
        alert_rows = con.sql(f"SELECT id, version, payload FROM read_parquet({alert_files!r})")
        versions = alert_rows.fetchall()
    # Issue 15: the archive's alerts by content, not only their ids: each version once, and the
    # final version of each id (the ended one when there is one) what the demo raised.
    assert len(versions) == len({(i, v) for i, v, _ in versions}), "a version archived twice"
    archived: dict[str, dict] = {}
    for i, _, payload in versions:
        alert = json.loads(payload)
        if i not in archived or alert["ended_ts"]:
            archived[i] = alert
    assert archived == raised[1]
    features, registry = reference_as_of(tmp_path, parse_ts(start))
    assert len(features) == len(first.fences["features"])
    assert registry["vehicles"] == sorted(first.registry["vehicles"], key=lambda v: v["id"])
    again = replay(tmp_path, parse_ts(start) - 3_600_000, first.states.watermark)
    assert again["alerts"] and again["pings"] == len(first.pings)
    assert again["alerts"] == sorted(raised[1].values(), key=lambda a: (parse_ts(a["ts"]), a["id"]))


def test_an_archive_that_cannot_be_written_stops_archiving_not_the_demo(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(embedded, "ARCHIVE_LINES", 100)
    monkeypatch.setattr(embedded, "ARCHIVE_EVERY_S", 0.2)
    monkeypatch.setattr(embedded, "STEP_S", 0.05)
    (tmp_path / "taken").write_text("a file where the archive should be")
    app = create_app(Settings(demo=True))
    start = "2025-06-02T18:00:00+08:00"
    run = embedded.run(app.state.feed, 8, 1, 3, start, 3000.0, nights=1, archive=tmp_path / "taken")
    asyncio.run(run)  # the night is played to its end
    assert "archiving stopped" in caplog.text
    assert len(app.state.ports.live.query()) >= 5


def test_a_demo_stopped_mid_night_archives_every_ping_it_saw(tmp_path, monkeypatch):
    """Stopped (Ctrl-C) before the night ends, the demo writes what it has: every ping handed
    to it, those the engine had not decided yet marked ``held``."""
    monkeypatch.setattr(embedded, "STEP_S", 0.05)
    app = create_app(Settings(demo=True))
    nights: list[embedded.Night] = []
    prepare = embedded.prepare
    monkeypatch.setattr(embedded, "prepare", lambda *a: nights.append(prepare(*a)) or nights[-1])
    start = "2025-06-02T18:00:00+08:00"

    async def play_then_stop():
        task = asyncio.create_task(
            embedded.run(app.state.feed, 12, 3, 3, start, 300.0, nights=1, archive=tmp_path)
        )
        while not nights or nights[0].arrived < 200:
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(play_then_stop())
    night = nights[0]
    assert 200 <= night.arrived < len(night.pings)  # stopped mid-night
    files = sorted(str(p) for p in tmp_path.glob("pings/*/*.parquet"))
    with duckdb.connect() as con:
        rows = con.sql(f"SELECT ingest, verdict FROM read_parquet({files!r})").fetchall()
    assert sorted(i for i, _ in rows) == list(range(night.arrived))
    verdicts = {v for _, v in rows}
    assert "accepted" in verdicts and "held" in verdicts  # the vehicles' newest fixes


def _get(url: str, token: str | None = None, data: dict | None = None):
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.load(resp)


def _serves(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _start_demo(tmp_path) -> tuple[int, subprocess.Popen, Path]:
    """`landun demo` on a port chosen free; started again on another when that one was taken
    before the demo bound it (issue 15: the choose-then-bind race)."""
    for attempt in range(3):
        port = free_port()
        log = tmp_path / f"demo-{attempt}.log"
        cmd = [
            sys.executable, "-m", "landun.cli", "demo", "--no-browser", "--no-bench",
            "--port", str(port), "--vehicles", "40", "--hours", "3", "--rate", "600",
            "--archive", str(tmp_path / "archive"),  # never the checkout's var/archive
        ]  # fmt: skip
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 90
        while proc.poll() is None and not _serves(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not lost_port(proc, log):
            return port, proc, log
    pytest.fail("no free port for the demo in three tries")


def test_a_demo_whose_port_was_taken_starts_on_another(tmp_path, monkeypatch):
    with socket.socket() as squatter:  # took the chosen port before the demo bound it
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        chosen = iter([taken])
        monkeypatch.setattr(
            sys.modules[__name__], "free_port", lambda: next(chosen, None) or real()
        )
        port, proc, log = _start_demo(tmp_path)
    try:
        assert port != taken and _serves(port)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_landun_demo_serves_a_moving_fleet(tmp_path):
    port, proc, log = _start_demo(tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, counts = time.monotonic() + 90, {}
        while time.monotonic() < deadline:
            try:
                token = _get(
                    f"{base}/api/auth/login", data={"username": "city", "password": "city-demo"}
                )["access_token"]
                counts = _get(f"{base}/api/live/counts", token)
                if counts["total"] >= 30:
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()
            time.sleep(1)
        assert counts.get("total", 0) >= 30, counts
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        out = log.read_text()
    assert "login city / city-demo" in out and f"http://127.0.0.1:{port}/" in out
    assert f"archive: {tmp_path / 'archive'}" in out
