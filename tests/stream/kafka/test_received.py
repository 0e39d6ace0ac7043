"""The worker stamps ``received`` with the Kafka record's timestamp (issue 11): the clock checks'
reference, so a truck's one fix dated two days ahead is ``filter_future`` in the worker as in a
replay of its log, whatever else the partition carries."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from stream.engine import EngineState
from stream.eventtime import parse_ts
from stream.kafka.checkpoint import PartitionRun
from stream.kafka.runner import Source
from stream.kafka.step import Step, run_step
from tests.stream.kafka.test_runner import make_runner, night, owned  # noqa: F401 (fixture)

DAY_MS = 24 * 3600 * 1000


def first_ping(values) -> dict:
    """A vehicle's first ping of the night, as a terminal sends it (no ``received`` yet)."""
    wire = orjson.loads(values[0])[0]
    wire.pop("received", None)
    return wire


def ts_ms(wire: dict) -> int:
    return wire["ts"] if isinstance(wire["ts"], int) else parse_ts(wire["ts"])


def ahead(wire: dict, days: int = 2) -> dict:
    return {**wire, "ts": ts_ms(wire) + days * DAY_MS}


# (case, the ping as sent, record timestamp in seconds or None, reasons expected)
CASES = [
    ("stamped: two days ahead of its record", "ahead", "at-fix", ["filter_future"]),
    ("no record timestamp: a first ping has no history", "ahead", None, []),
    ("the gateway's own stamp is kept", "ahead-received", "at-fix", []),
    ("on time", "on-time", "at-fix", []),
]


def _ping(kind: str, wire: dict) -> dict:
    if kind == "ahead":
        return ahead(wire)
    if kind == "ahead-received":  # the gateway received it two days on: not the future
        return {**ahead(wire), "received": ts_ms(wire) + 2 * DAY_MS}
    return wire


@pytest.mark.parametrize(("case", "kind", "stamp", "reasons"), CASES, ids=[c[0] for c in CASES])
def test_run_step_stamps_received_from_the_record(night, case, kind, stamp, reasons):  # noqa: F811
    values, ctx = night
    wire = first_ping(values)
    seconds = ts_ms(wire) / 1000 if stamp else None
    record = Source(0, 0, orjson.dumps(_ping(kind, wire)), False, None, seconds)
    run = PartitionRun(0, EngineState())
    events, decoded = run_step(ctx, 1, run, [record], Step(run, None))
    assert [e["reason"] for k, e in events if k == "rejected"] == reasons
    (p,) = decoded.pings
    if kind == "ahead-received":
        assert p.received == ts_ms(wire) + 2 * DAY_MS
    else:
        assert p.received == (round(seconds * 1000) if stamp else None)


def test_the_runner_dead_letters_a_fix_ahead_of_its_record(night):  # noqa: F811
    """Through the runner: the stamped fix goes to the dead-letter topic as filter_future."""
    values, ctx = night
    runner, _tables, _clock, outputs = make_runner(ctx)
    wire = first_ping(values)
    value = orjson.dumps(ahead(wire))
    asyncio.run(runner.handle([Source(0, 0, value, False, None, ts_ms(wire) / 1000)], owned))
    dead = [r for r in outputs if r.topic == runner.topics.rejected]
    assert len(dead) == 1
    assert b"filter_future" in b"".join(v for _, v in dead[0].headers)
