"""What the browser tests share: the headless Chromium they launch and its flags, the app served
on a free port, a page whose script errors are collected, signing in, polling the page (issue 13:
each browser test had its own copy of these).

The browser is the system's Chromium driven by Playwright by executable path, never a download.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from tests.api.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
# The map is WebGL (MapLibre, issue 13). Headless Chromium 156 here has no GPU: WebGL2 runs on
# SwiftShader (ANGLE over Vulkan), which `--enable-unsafe-swiftshader` allows explicitly. With
# `--use-angle=swiftshader` (or `--use-gl=swiftshader`) the page's compositing went through
# SwiftShader too and a frame took ~300 ms (replay at 1000x fell a seek behind); with
# `--disable-gpu` the compositor stays in software while WebGL still gets SwiftShader, ~18 ms a
# frame (tests/api/test_map_browser.py records the frame times at 10,000 vehicles).
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1600, "height": 900}
OUTPUT = Path(os.environ.get("LANDUN_TEST_OUTPUT", Path(__file__).parents[2] / "out" / "test"))

if not Path(CHROMIUM).exists():
    # `make test` installs it (mk/web.mk). Missing, the module fails to collect, in CI and on a
    # developer's machine alike: a skip would hide the browser test (issue 15).
    raise RuntimeError(f"{CHROMIUM} missing: run `make web-browser`")
from playwright.sync_api import sync_playwright  # noqa: E402  (a dev dependency: never skipped)

__all__ = [
    "ARGS",
    "CHROMIUM",
    "OUTPUT",
    "VIEWPORT",
    "catch_problems",
    "launch",
    "log_in",
    "serving",
    "sync_playwright",
    "wait_until",
]


def launch(pw):
    """The system's headless Chromium with `ARGS`, from a started ``sync_playwright()``."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def catch_problems(page, problems: list[str], prefix: str = "") -> None:
    """Append the page's uncaught exceptions and console errors to ``problems`` (``prefix``
    first, e.g. the user's name), for the test to assert there were none."""
    page.on("pageerror", lambda exc: problems.append(f"{prefix}{exc}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"{prefix}{m.text}"))


def log_in(page, base: str, username: str) -> None:
    """Open the console at ``base`` and sign in as ``username`` through the login form."""
    page.goto(base + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-button")


def wait_until(page, expression: str, rounds: int = 300) -> None:
    """Poll ``expression`` in the page (``page.evaluate`` runs outside the page's CSP, which
    forbids the eval that ``wait_for_function`` needs) until it is true."""
    for _ in range(rounds):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true in the page: {expression}")


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """The app under uvicorn on a free port, in a thread; yields the base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(400):
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
