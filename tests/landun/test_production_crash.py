"""Crashes on the production path (issue 10): kill -9 the alert sink, the API and a worker in turn
while a fleet that raises over a hundred alerts is fed and an officer dispatches cases; after the
restarts no alert version, case or audit entry is lost or duplicated, and the alerts are what
`landun detect` says of the same pings."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter

import orjson
import pytest
from sqlalchemy import create_engine, text

from api.ports import alert_version
from landun.cli import main as landun
from tests.landun.deployment import login, ready
from tests.stream.kafka.conftest import read_topic, wait_for

FEED_RATE = 8000  # pings/s: the feed lasts ~25 s, long enough to kill each process during it


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """300 vehicles over 6 hours (~200,000 pings, 126 alerts) and `landun detect`'s alerts."""
    out = tmp_path_factory.mktemp("fleet")
    assert (
        landun(["sim", "--vehicles", "300", "--hours", "6", "--seed", "7", "--out", str(out)]) == 0
    )
    args = ["--fences", str(out / "fences.geojson"), "--registry", str(out / "registry.json")]
    assert landun(["detect", *args, "--pings", str(out / "pings.jsonl"),
                   "--out", str(out / "alerts.jsonl")]) == 0  # fmt: skip
    return out


class Clerk(threading.Thread):
    """An officer dispatching every open case, through API outages.

    ``confirmed`` holds the alerts whose dispatch the API acknowledged (200), or refused as
    already dispatched after an attempt whose answer was lost in a crash: each happened once.
    """

    def __init__(self, api, token: str):
        super().__init__(daemon=True)
        self.api, self.token = api, token
        self.confirmed: set[str] = set()
        self.unsure: set[str] = set()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(OSError):  # the API is down: try again shortly
                self._round()
            time.sleep(0.2)

    def _round(self) -> None:
        for aid in list(self.unsure):  # an attempt whose answer was lost: did it happen?
            status, body = self.api.get(f"/api/alerts/{aid}", self.token)
            if status == 200 and orjson.loads(body)["case"]["state"] == "dispatched":
                self.confirmed.add(aid)
                self.unsure.discard(aid)
        status, body = self.api.get("/api/alerts?state=open&limit=500", self.token)
        if status != 200:
            return
        for alert in orjson.loads(body):
            aid = alert["id"]
            self.unsure.add(aid)
            deadline = int((time.time() + 7200) * 1000)  # issue 13's form: team and deadline
            action = {
                "state": "dispatched",
                "note": "派遣",
                "assignee": "三中队",
                "deadline": deadline,
            }
            status, _ = self.api.post(f"/api/alerts/{aid}/case", action, self.token)
            if status == 200:
                self.confirmed.add(aid)
                self.unsure.discard(aid)


def versions_on_the_topic(bootstrap: str, topics) -> set[tuple[str, str]]:
    return {
        (a["id"], alert_version(a))
        for a in (orjson.loads(r.value) for r in read_topic(bootstrap, topics.alerts))
    }


def test_kill_9_of_sink_api_and_worker_loses_and_duplicates_nothing(deployment, fleet, bootstrap):
    d = deployment
    d.user("officer", "city")
    api, sink, worker = d.api(), d.sink(), d.worker()
    ready(api)
    ready(sink)
    clerk = Clerk(api, login(api, "officer"))
    clerk.start()
    feed = d.ingest_in_background(fleet, FEED_RATE)
    ready(worker)

    for victim in ("sink", "api", "worker"):
        time.sleep(5)
        assert feed.poll() is None, "the feed ended before every process was killed"
        if victim == "worker":
            worker.kill()
            worker = d.worker()
        else:
            process = sink if victim == "sink" else api
            process.kill()
            process.start()
            ready(process)
    assert feed.wait(300) == 0, (d.tmp / "ingest.log").read_text()[-2000:]

    expected = {
        a["id"]: a for a in map(orjson.loads, (fleet / "alerts.jsonl").read_bytes().splitlines())
    }
    assert len(expected) > 100
    db = create_engine(d.database_url)

    def stored() -> dict[str, dict]:
        with db.connect() as c:
            return {i: b for i, b in c.execute(text("SELECT id, body FROM alerts"))}

    wait_for(lambda: stored() == expected, 240, "the alerts of `landun detect` in PostgreSQL")
    # Every version the workers produced is stored once (the topic may hold re-sent copies).
    wait_for(lambda: bool(clerk.confirmed) and not clerk.unsure, 60, "the clerk to settle")
    clerk.stop.set()
    clerk.join(10)
    with db.connect() as c:
        versions = set(c.execute(text("SELECT alert_id, version FROM alert_versions")).all())
        audit = Counter(c.execute(text("SELECT alert_id, state FROM case_audit")).all())
        cases = dict(c.execute(text("SELECT alert_id, state FROM cases")).all())
        seqs = [s for (s,) in c.execute(text("SELECT seq FROM feed_events ORDER BY seq"))]
        kinds = Counter(k for (k,) in c.execute(text("SELECT kind FROM feed_events")))
    assert versions == versions_on_the_topic(bootstrap, d.topics)
    assert set(cases) == set(expected)
    # One filing per alert, one dispatch per acknowledged dispatch: nothing lost or doubled.
    assert {(aid, "open"): 1 for aid in expected} == {
        k: n for k, n in audit.items() if k[1] == "open"
    }
    dispatched = {k: n for k, n in audit.items() if k[1] == "dispatched"}
    assert dispatched == {(aid, "dispatched"): 1 for aid in clerk.confirmed}
    assert {a for a, s in cases.items() if s == "dispatched"} == clerk.confirmed
    # The feed is gapless, one event per stored change.
    assert seqs == list(range(1, len(seqs) + 1))
    assert kinds["case"] == len(clerk.confirmed)
