"""The duty officer's console in real headless Chromium (issue 13): the page's world, shared by
the console tests (roles and the case workflow, evidence, the page's clock, counters and card).
Screenshots go to out/test/console_*.png for a person to look at."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta, timezone

import pytest

from api.app import create_app
from api.memory import memory_ports
from tests.api import browser as chromium
from tests.api.browser import sync_playwright
from tests.api.browser import wait_until as poll
from tests.api.conftest import (
    LX,
    Clock,
    make_settings,
    make_users,
    ping,
    seed,
)

KINDS = ("muck", "muck", "kitchen", "oil")  # of the extra Liangxi fleet, by index modulo 4
FLEET = 24
DAY = "2025-06-01"  # the Beijing day of the seeded data (BASE_MS is 20:00 that day)
BEIJING = timezone(timedelta(hours=8))

# Who may take each action on an open case (api/cases.py ACTORS), as the card must offer it.
OPEN_ACTIONS = {
    "admin": {"dispatched", "dismissed"},
    "city": {"dispatched", "dismissed"},
    "liangxi": {"dispatched", "dismissed"},
    "xishan": {"dispatched", "dismissed"},
    "enforce": {"dispatched"},
    "enforce_lx": {"dispatched"},
    "viewer": set(),
}


def fleet_vehicle(i: int) -> dict:
    """A registered Liangxi vehicle with a plate in the painted form (苏B·D3007)."""
    return {
        "id": f"LXF-{i:02d}",
        "kind": KINDS[i % 4],
        "company": "梁溪清运" if i % 2 else "梁溪渣土运输",
        "district": LX,
        "terminal_phone": f"01390000{i:04d}",
        "plate": f"苏B·D30{i:02d}",
    }


def fleet_fix(i: int) -> dict:
    """The fleet's one fix each: speeds 0/20/40 km/h; every fourth loaded; LXF-04 loaded and
    in violation; LXF-23 offline."""
    extra = {"loaded": "full"} if i % 4 == 0 else {}
    if i == 4:
        extra["state"] = "violation"
    if i == 23:
        extra["state"] = "offline"
    return extra | {"speed_kmh": (i % 3) * 20.0}


def build_app(clock: Clock, with_data: bool = True):
    app = create_app(make_settings(), memory_ports(make_users(), clock=clock), clock)
    if not with_data:
        return app
    seed(app)
    # LX-1's trip under way, as the engine records one: loaded at site-lx under permit P-LX.
    app.state.ports.trips.put(
        {"id": "T-LX", "vehicle": "LX-1", "kind": "muck", "site": "site-lx", "permit": "P-LX"}
        | {"load_ts": "2025-06-01T19:40:00+08:00", "status": "open", "overdue": False}
    )
    for i in range(FLEET):
        record = fleet_vehicle(i)
        app.state.ports.vehicles.put(record)
        app.state.feed.position(ping(record["id"], 3, lat=31.57 + 0.002 * i, **fleet_fix(i)))
    return app


@contextlib.contextmanager
def browser_page(base: str, username: str, problems: list[str], timezone: str = "Europe/London"):
    """A logged-in page in its own browser context. The browser's zone is not Beijing's, so a
    time shown in Beijing time proves the page converts it."""
    with sync_playwright() as pw:
        browser = chromium.launch(pw)
        context = browser.new_context(viewport=chromium.VIEWPORT, timezone_id=timezone)
        page = context.new_page()
        PROBLEMS.clear()
        chromium.catch_problems(page, problems, f"{username}: ")
        chromium.catch_problems(page, PROBLEMS, f"{username}: ")
        chromium.log_in(page, base, username)
        page.wait_for_selector("#app:not([hidden])")
        try:
            yield page
        finally:
            browser.close()


PROBLEMS: list[str] = []  # the page's script errors, named when a wait fails


def wait_until(page, expression: str) -> None:
    """``poll`` for up to a minute (the machine is shared; MapLibre may take long to start)."""
    try:
        poll(page, expression, rounds=600)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; page problems: {PROBLEMS}") from None


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "(nodes) => nodes.map((n) => n.textContent)")


def ids(page, selector: str, key: str = "id") -> list[str]:
    return page.eval_on_selector_all(selector, f"(nodes) => nodes.map((n) => n.dataset.{key})")


@pytest.fixture
def world():
    # The server's wall clock starts at the browser's (the real one), so that a deadline the
    # page accepts as "after now" is after now for the server too; the test then moves it.
    clock = Clock(time.time())
    app = build_app(clock)
    with chromium.serving(app) as base:
        yield app, clock, base
