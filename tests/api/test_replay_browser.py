"""Replay mode in real headless Chromium (Debian's, driven by Playwright), over an archive built
in the test and served by the API: log in, open replay for two trucks, play at 1000x and see each
truck's marker where its archived fixes put it at every moment, the alert only once it fired,
seek on the slider; the live alert card's 回放 link opens its evidence window (issue 12)."""

from __future__ import annotations

import bisect

import pytest

from api.app import create_app
from api.memory import memory_ports
from replay.layout import SourceRange
from replay.window import alert_window
from replay.writer import write_batch
from stream.eventtime import iso_ts
from tests.api import browser as chromium
from tests.api.browser import OUTPUT, sync_playwright, wait_until
from tests.api.conftest import (
    BASE_MS,
    LX,
    Clock,
    alert,
    fence_feature,
    make_settings,
    make_users,
    seed,
)
from tests.replay.archive_world import row

pytestmark = pytest.mark.timeout(240)

FIX_MS = 15_000  # a fix every 15 s
FIXES = 161  # 40 minutes, 20:00 to 20:40 Beijing time
END = BASE_MS + (FIXES - 1) * FIX_MS
STOP = (120, 144)  # LX-1 stands still from 20:30 to 20:36
ALERT_TS = BASE_MS + 20 * 60_000  # a route deviation from 20:20 to 20:25
LIVE_MINUTE = 22  # a live alert on LX-1 at 20:22, whose card links to replay
COLOURS = {"empty": (148, 163, 184), "loaded": (245, 158, 11), "violating": (239, 68, 68)}
STOP_COLOUR = (192, 132, 252)
NEW_FENCE_TS = BASE_MS + 25 * 60_000  # a terminal drawn in at 20:25


def lx1(k: int) -> tuple[float, float]:
    """LX-1's k-th fix: driving north-east, standing still during the stop."""
    k = min(k, STOP[0]) if k <= STOP[1] else k - (STOP[1] - STOP[0])
    return 31.575 + 0.0001 * k, 120.30 + 0.0005 * k


def lx2(k: int) -> tuple[float, float]:
    return 31.56 + 0.0002 * k, 120.31


def fixes(vehicle: str) -> list[tuple[int, float, float]]:
    where = lx1 if vehicle == "LX-1" else lx2
    return [(BASE_MS + k * FIX_MS, *where(k)) for k in range(FIXES)]


def build_archive(folder) -> dict:
    """Two trucks' night, the alert and the stop the engine reported, the fences of the run."""
    pings, ingest = [], 0
    for vehicle in ("LX-1", "LX-2"):
        for k, (ts, lat, lng) in enumerate(fixes(vehicle)):
            loaded = ("empty" if k < 20 else "full") if vehicle == "LX-1" else None
            pings.append(row(vehicle, ts, (lat, lng), ingest, loaded=loaded))
            ingest += 1
    deviation = {
        "id": "RP-1",
        "type": "route_deviation",
        "vehicle": "LX-1",
        "district": LX,
        "severity": "high",
        "ts": iso_ts(ALERT_TS),
        "ended_ts": iso_ts(ALERT_TS + 5 * 60_000),
        "lat": lx1(80)[0],
        "lng": lx1(80)[1],
    }
    stop = {
        "vehicle": "LX-1",
        "ts": BASE_MS + STOP[0] * FIX_MS,
        "ended_ts": BASE_MS + STOP[1] * FIX_MS,
        "lat": lx1(STOP[0])[0],
        "lng": lx1(STOP[0])[1],
        "duration_s": 360.0,
        "loaded": True,
        "at_known_place": False,
    }
    fence = fence_feature("site-lx", "site", LX, lng=120.30, lat=31.575)
    terminal = fence_feature("term-new", "terminal", LX, lng=120.33, lat=31.58)
    events = [
        ("alert", deviation),
        ("stop", stop),
        ("fence_version", {"id": "site-lx", "ts": 0, "feature": fence}),
        ("fence_version", {"id": "term-new", "ts": NEW_FENCE_TS, "feature": terminal}),
    ]
    write_batch(folder, SourceRange(0, ingest - 1), pings, events)
    return deviation


def expected(vehicle: str, t: float) -> tuple[float, float] | None:
    """Where the archived fixes put ``vehicle`` at ``t``: linear in time between them."""
    track = fixes(vehicle)
    times = [f[0] for f in track]
    i = bisect.bisect_right(times, t) - 1
    if i < 0:
        return None
    if i == len(track) - 1 or t == times[i]:
        return track[i][1:]
    (t0, lat0, lng0), (t1, lat1, lng1) = track[i], track[i + 1]
    f = (t - t0) / (t1 - t0)
    return lat0 + f * (lat1 - lat0), lng0 + f * (lng1 - lng0)


@pytest.fixture
def server(tmp_path, monkeypatch):
    archive = tmp_path / "archive"
    deviation = build_archive(archive)
    monkeypatch.setenv("LANDUN_ARCHIVE_DIR", str(archive))
    clock = Clock()
    app = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    seed(app)
    with chromium.serving(app) as base:
        yield app, base, deviation


SAMPLE = """(() => {
  const r = window.landun.replay;
  return { t: r.session.playhead, playing: r.session.clock.playing, markers: r.markers(),
    shown: [...document.querySelectorAll('#replay-alerts li')].map((li) => li.dataset.id) };
})()"""
PIXEL = """(([lat, lng, dy]) => {
  const map = window.landun.map;
  const [x, y0] = map.screen(...map.toDisplay(lat, lng));
  const y = y0 + (dy || 0);
  const ratio = window.devicePixelRatio || 1;
  return Array.from(map.ctx.getImageData(Math.floor(x * ratio), Math.floor(y * ratio), 1, 1).data);
})"""


FENCES_READ = """(() => {
  const s = window.landun.replay.session;
  const step = Math.max(60000, s.clock.speed * 1000);
  return !s.fenceBusy && s.fenceKey === Math.floor(s.playhead / step) * step;
})()"""


def near(pixel: list[int], colour: tuple[int, int, int]) -> bool:
    """A canvas pixel of ``colour`` (a copied bitmap may shift a channel by a few units)."""
    return all(abs(a - b) <= 12 for a, b in zip(pixel[:3], colour, strict=True))


PLAYHEAD_LOADED = """(() => {
  const s = window.landun.replay.session;
  return s.loaded.has(LandunReplayLogic.chunkOf(s.plan, s.playhead));
})()"""


def midway(k: int) -> list[float]:
    """Half way between LX-1's fixes k and k + 1: on the stretch drawn between them."""
    (lat0, lng0), (lat1, lng1) = lx1(k), lx1(k + 1)
    return [(lat0 + lat1) / 2, (lng0 + lng1) / 2]


def fences_as_read(page) -> list[str]:
    """The ids of the fences drawn, once those as of the playhead are in."""
    wait_until(page, FENCES_READ)
    return page.evaluate("window.landun.replay.session.fences.map((f) => f.id).sort()")


def seek(page, seconds: int) -> dict:
    """Drag the slider to ``seconds`` after the range's start; the page's state once the
    playhead's chunk is in and a frame or two have shown it."""
    page.evaluate(
        "(v) => { const s = document.getElementById('replay-slider');"
        " s.value = String(v); s.dispatchEvent(new Event('input')); }",
        seconds,
    )
    wait_until(page, PLAYHEAD_LOADED)
    page.wait_for_timeout(150)
    return page.evaluate(SAMPLE)


def log_in_for_replay(page, base: str, username: str) -> None:
    chromium.log_in(page, base, username)
    wait_until(page, "window.landun.replay !== undefined")


def open_replay(page, vehicles: str) -> None:
    """The replay panel's form, as an officer fills it: vehicles, 20:00 to 20:40 Beijing time."""
    page.click("#replay-open")
    page.fill("#replay-vehicles", vehicles)
    page.fill("#replay-from", "2025-06-01T20:00:00")
    page.fill("#replay-to", "2025-06-01T20:40:00")
    page.click("#replay-load")
    wait_until(page, "window.landun.replay.session.loaded.size >= 1")


def check_markers(sample: dict) -> None:
    """Every marker is where the archived fixes put its vehicle at the sample's playhead."""
    assert {m["vehicle"] for m in sample["markers"]} == {"LX-1", "LX-2"}
    for m in sample["markers"]:
        want = expected(m["vehicle"], sample["t"])
        assert (m["lat"], m["lng"]) == pytest.approx(want, abs=1e-9), (sample["t"], m)


def test_play_a_night_at_1000x_seek_and_open_an_alert_s_window(server):
    app, base, deviation = server
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        page = browser.new_page(viewport=chromium.VIEWPORT)
        problems: list[str] = []
        chromium.catch_problems(page, problems)
        log_in_for_replay(page, base, "enforce")
        # Small chunks and pages, so the night comes in several fetches of several pages.
        page.evaluate(
            "window.landun.replay.chunkMs = 10 * 60000; window.landun.replay.pageLimit = 25"
        )
        open_replay(page, "LX-1, LX-2")
        start = page.evaluate(SAMPLE)
        label = page.inner_text(".replay-time")

        page.select_option("#replay-speed", "1000")
        page.click("#replay-play")
        samples = [page.evaluate(SAMPLE)]
        while samples[-1]["playing"] or len(samples) == 1:
            page.wait_for_timeout(40)
            samples.append(page.evaluate(SAMPLE))
            assert len(samples) < 2000, "the replay never reached the end"
        loaded = page.evaluate(
            "['LX-1', 'LX-2'].map((v) =>"
            " Array.from(window.landun.replay.session.tracks.get(v).track.t))"
        )
        stats = page.evaluate("window.landun.replay.session.stats")

        back = seek(page, 10 * 60)  # 20:10: before the alert
        ahead = seek(page, 22 * 60 + 7)  # 20:22:07, between two fixes, during the deviation
        truck = next(m for m in ahead["markers"] if m["vehicle"] == "LX-1")
        colour = page.evaluate(PIXEL, [truck["lat"], truck["lng"]])
        # The track so far in its states; nothing yet where the truck will stop at 20:30.
        trail = [page.evaluate(PIXEL, midway(k)) for k in (10, 30)]
        stop_then = [page.evaluate(PIXEL, [*lx1(STOP[0]), dy]) for dy in (0, 6)]
        fences_then = fences_as_read(page)
        page.mouse.move(700, 400)  # drag the map 60 px right, 40 px down
        page.mouse.down()
        page.mouse.move(730, 420)
        page.mouse.move(760, 440)
        page.mouse.up()
        page.wait_for_timeout(150)
        panned = [page.evaluate(PIXEL, midway(k)) for k in (10, 30)]
        page.screenshot(path=str(OUTPUT / "replay.png"))
        page.select_option("#replay-speed", "1")  # at 1x the fences are re-read each minute
        seek(page, 38 * 60)  # 20:38: the stop is over, the new terminal is there
        stop_later = page.evaluate(PIXEL, [*lx1(STOP[0]), 6])
        fences_later = fences_as_read(page)
        page.screenshot(path=str(OUTPUT / "replay-later.png"))

        app.state.feed.alert(alert("A-RP", "LX-1", LX, minute=LIVE_MINUTE))
        page.click('.alert-item[data-id="A-RP"]')
        page.click("#detail .replay-link")
        wait_until(page, "window.landun.replay.session.loaded.size >= 1")
        opened = page.evaluate(
            "(() => { const s = window.landun.replay.session;"
            " return [s.vehicles, s.plan.from, s.plan.to, window.landun.replay.markers()]; })()"
        )
        seek(page, 30 * 60)  # the window starts 30 min before the alert
        # and the chunk behind, which holds the deviation at 20:20 (fetched after a seek too)
        wait_until(page, "document.querySelector('#replay-alerts li') !== null")
        at_alert = page.evaluate(SAMPLE)
        chinese = page.inner_text("#replay-alerts li")
        page.click("#app [data-lang-toggle]")
        page.wait_for_timeout(150)
        english = [
            page.inner_text(q) for q in ("#replay-alerts li", ".replay-time", "#replay-play")
        ]
        browser.close()

    archived = [[f[0] for f in fixes(v)] for v in ("LX-1", "LX-2")]
    assert loaded == archived  # every fix once, across chunk and page boundaries
    assert stats["requests"] >= 2 * 4 * 2  # 4 chunks x 2 vehicles, each in more than one page
    assert start["t"] == BASE_MS and start["shown"] == []
    check_markers(start)
    assert "北京时间" in label and "2025-06-01 20:00:00" in label

    # Playing: the markers move along the archived tracks, the alert shows from its time on.
    assert samples[-1]["t"] == END
    between = [s for s in samples if (s["t"] - BASE_MS) % FIX_MS]
    assert len(between) >= 5  # samples between two fixes: interpolation is tested (and at 20:22:07)
    for sample in samples:
        check_markers(sample)
        assert sample["shown"] == (["RP-1"] if sample["t"] >= ALERT_TS else []), sample["t"]
    assert any(s["t"] < ALERT_TS for s in samples) and any(s["t"] >= ALERT_TS for s in samples)
    lngs = [next(m["lng"] for m in s["markers"] if m["vehicle"] == "LX-1") for s in samples]
    assert lngs[-1] - lngs[0] > 0.05  # it drove some 5 km east

    # Seeking: back before the alert hides it again; forward shows it and the truck violating.
    assert back["t"] == BASE_MS + 10 * 60_000 and back["shown"] == []
    check_markers(back)
    assert ahead["t"] == BASE_MS + (22 * 60 + 7) * 1000 and ahead["shown"] == ["RP-1"]
    check_markers(ahead)
    assert truck["state"] == "violating"
    assert near(colour, COLOURS["violating"])  # drawn on the canvas, in its colour
    assert near(trail[0], COLOURS["empty"]) and near(trail[1], COLOURS["loaded"]), trail
    assert near(panned[0], COLOURS["empty"]) and near(panned[1], COLOURS["loaded"]), panned
    assert not any(near(c, x) for c in stop_then for x in (*COLOURS.values(), STOP_COLOUR))
    assert near(stop_later, STOP_COLOUR)  # the stop's ring, once it has begun
    assert fences_then == ["site-lx"] and fences_later == ["site-lx", "term-new"]

    # The live alert card's replay link opens the alert's evidence window on its vehicle.
    live = app.state.ports.alerts.get("A-RP")
    assert opened[:3] == [["LX-1"], *alert_window(live)]
    assert opened[3] == []  # 19:52: before the truck's first archived fix, it is not drawn
    assert at_alert["t"] == BASE_MS + LIVE_MINUTE * 60_000 and at_alert["shown"] == ["RP-1"]
    truck = at_alert["markers"][0]
    assert (truck["vehicle"], truck["lat"], truck["lng"]) == (
        "LX-1",
        *expected("LX-1", at_alert["t"]),
    )
    assert chinese == f"20:20:00 偏离核准路线 · LX-1 · {LX}"  # Beijing time, Chinese first
    assert english == [
        "20:20:00 Route deviation · LX-1 · Liangxi",
        "Beijing time 2025-06-01 20:22:00",
        "Play",
    ]
    assert problems == []


def test_a_truck_of_another_district_is_not_shown_to_a_district_officer(server):
    """锡山's officer asks for 梁溪's LX-1 with no alert of theirs on it: told they may not see
    it (the API's 404, which never says whether it exists), and nothing is drawn."""
    _, base, _ = server
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        page = browser.new_page(viewport=chromium.VIEWPORT)
        log_in_for_replay(page, base, "xishan")
        open_replay(page, "LX-1")
        seek(page, 20 * 60)
        status = page.inner_text("#replay-status")
        markers = page.evaluate("window.landun.replay.markers()")
        page.click("#replay-close")  # back to the live map
        live = page.evaluate("[window.landun.map.replayLayer, window.landun.replay.session]")
        hidden = page.is_hidden("#replay")
        browser.close()
    assert status.endswith("LX-1: 无权查看或无记录") and markers == []
    assert live == [None, None] and hidden
