"""The runner's hand-over to the live view (in memory, no broker): every vehicle's latest
accepted ping, vehicles with new alerts (the alerts colour them), alerts of a failed publish.
The Redis side is tested in tests/live."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from stream.eventtime import parse_ts
from tests.stream.kafka.test_runner import (
    checkpointed,
    make_runner,
    owned,
    small_night,
    sources,
)


@pytest.fixture(scope="module")
def night():
    return small_night()


class MemoryLiveView:
    """The live-view port in memory: the newest position per vehicle, as Redis keeps it, the
    alerts by id, and what each publish carried; the first ``failures`` publishes that carry
    alerts raise."""

    def __init__(self, failures=0):
        self.positions: dict[str, int] = {}
        self.alerts: dict[str, dict] = {}
        self.calls: list[tuple[set, set]] = []
        self.failures = failures

    def use_registry(self, registry):
        pass

    async def publish(self, positions, alerts):
        if self.failures and alerts:
            self.failures -= 1
            raise ConnectionError("redis is down")
        self.calls.append(({p.vehicle for p in positions}, {a["vehicle"] for a in alerts}))
        for p in positions:
            self.positions[p.vehicle] = max(p.ts, self.positions.get(p.vehicle, -1))
        for a in alerts:
            self.alerts[a["id"]] = a


def _split_night(night):
    """The night's pings in small batches, one vehicle silent after an ordinary live ping."""
    pings = [p for v in night[0] for p in orjson.loads(v)]
    quiet = pings[0]["vehicle"]
    live = [p for p in pings if p["vehicle"] == quiet and not p.get("backfill")]
    stop = parse_ts(live[15]["ts"])  # it goes silent after an ordinary live ping
    pings = [p for p in pings if p["vehicle"] != quiet or parse_ts(p["ts"]) <= stop]
    # Small batches (a few seconds of event time each), so that the tick releasing its last
    # ping comes in a later batch than the ping.
    return [orjson.dumps(pings[i : i + 4]) for i in range(0, len(pings), 4)], quiet, stop


def _run_all(runner, clock, recs):
    async def go():
        for rec in recs:
            clock.now += 0.4
            await runner.handle([rec], owned)
        await runner.flush(owned, force=True)

    asyncio.run(go())


def _final_alerts(outputs):
    final = {}
    for record in outputs:
        if record.topic.endswith("alerts"):
            alert = orjson.loads(record.value)
            final[alert["id"]] = alert
    return final


def test_the_live_view_ends_at_every_vehicles_latest_accepted_ping(night):
    """A tick releases buffered pings of vehicles without a record in the batch; their
    positions must reach the live view too, not wait for the vehicle's next ping."""
    _, ctx = night
    values, quiet, stop = _split_night(night)
    runner, tables, clock, outputs = make_runner(ctx)
    view = runner.live = MemoryLiveView()
    _run_all(runner, clock, sources(values))
    vehicles = checkpointed(tables).states.vehicles
    beats = {vid: vs.beat.ts for vid, vs in vehicles.items() if vs.beat is not None}
    assert len(beats) >= 10 and beats[quiet] == stop
    assert view.positions == beats
    assert len(view.calls) <= len(values)
    # A vehicle with a new alert is handed over with it (it is drawn as in violation now).
    with_alerts = [(shown, alerted & beats.keys()) for shown, alerted in view.calls if alerted]
    assert with_alerts and all(alerted <= shown for shown, alerted in with_alerts)
    assert view.alerts == _final_alerts(outputs)


def test_alerts_of_a_failed_live_view_publish_are_sent_with_the_next(night):
    _, ctx = night
    values, _, _ = _split_night(night)
    runner, tables, clock, outputs = make_runner(ctx)
    view = runner.live = MemoryLiveView(failures=3)
    _run_all(runner, clock, sources(values))
    final = _final_alerts(outputs)
    assert final and view.alerts == final
    vehicles = checkpointed(tables).states.vehicles
    assert view.positions == {v: vs.beat.ts for v, vs in vehicles.items() if vs.beat is not None}
