"""The worker counts the warnings of the pings it accepts, by field, on /metrics (issue 11
review: a gateway sending ``"lift": 1`` blinds every tipper rule and was seen nowhere)."""

from __future__ import annotations

import asyncio

import orjson
from prometheus_client import generate_latest

from tests.stream.kafka.test_runner import make_runner, owned, small_night, sources


def test_warnings_are_counted_by_field_on_the_worker_metrics():
    values, ctx = small_night()
    pings = [p for v in values[:6] for p in orjson.loads(v)]
    for i, p in enumerate(pings):
        if i % 5 == 0:
            p["lift"] = 1  # a gateway's 1 for true
        if i % 10 == 0:
            p["speed_kmh"] = "fast"
    records = [orjson.dumps(pings[i : i + 40]) for i in range(0, len(pings), 40)]
    runner, _, _, _ = make_runner(ctx)

    async def go():
        await runner.handle(sources(records), owned)

    asyncio.run(go())
    lift = sum(1 for i in range(len(pings)) if i % 5 == 0)
    speed = sum(1 for i in range(len(pings)) if i % 10 == 0)
    exposed = generate_latest(runner.metrics.registry).decode()
    assert f'landun_ping_warnings_total{{field="lift"}} {float(lift)}' in exposed
    assert f'landun_ping_warnings_total{{field="speed_kmh"}} {float(speed)}' in exposed
    assert 'field="acc"' not in exposed  # only fields that were warned about


def test_no_warnings_no_samples():
    values, ctx = small_night()
    runner, _, _, _ = make_runner(ctx)
    asyncio.run(runner.handle(sources(values[:3]), owned))
    assert "landun_ping_warnings_total{" not in generate_latest(runner.metrics.registry).decode()
