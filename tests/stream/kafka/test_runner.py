"""Unit tests of the worker's runner with in-memory tables and outputs (no broker): checkpoint
cadence, the state after an engine error, records read again after a seek.

The real-broker paths (kill -9, takeover, poison records) are tested in test_crash.py and
test_poison.py; these pin the runner's own decisions with a controlled clock."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from geofence import FenceIndex, load_fences
from sim import feed, simulate, writer
from stream.engine import EngineContext, EngineState, process
from stream.eventtime import parse_ts
from stream.kafka import step as step_module
from stream.kafka.checkpoint import PartitionRun, meta_key, vehicle_key
from stream.kafka.codec import decode_records
from stream.kafka.metrics import WorkerMetrics
from stream.kafka.outputs import headers_dict
from stream.kafka.runner import Runner, Source
from stream.kafka.topics import Topics
from stream.registry import Registry

PINGS_PER_RECORD = 40


class MemoryTables:
    """The runner's table port in memory; counts writes per key."""

    def __init__(self):
        self.data: dict[bytes, bytes] = {}
        self.writes: list[bytes] = []

    def read(self, event, key):
        return self.data.get(key)

    def write(self, event, items):
        self.data.update(items)
        self.writes += list(items)
        return []


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def night():
    return small_night()


def small_night():
    """A small simulated night as batch records of one partition, and its engine context."""
    sim = simulate(12, 2.0, 7, parse_ts("2025-06-02T21:00:00+08:00"))
    pings = [p for _, p in feed.arrivals(sim)]
    values = [
        orjson.dumps(pings[i : i + PINGS_PER_RECORD])
        for i in range(0, len(pings), PINGS_PER_RECORD)
    ]
    index = FenceIndex(load_fences(writer.fences(sim.world)))
    ctx = EngineContext(index, Registry.from_mapping(writer.registry(sim.world)))
    return values, ctx


def make_runner(ctx, every=1.0):
    async def send(record):
        outputs.append(record)
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    outputs: list = []
    clock = Clock()
    tables = MemoryTables()
    runner = Runner(
        Topics("t"), 1, tables, send, WorkerMetrics(), checkpoint_every_s=every, clock=clock
    )
    runner.set_context(ctx)
    return runner, tables, clock, outputs


def sources(values, start=0):
    return [Source(0, start + i, v, False) for i, v in enumerate(values)]


def linear(values, ctx, skip=()):
    """The state one pass over the records gives (records at offsets in ``skip`` left out)."""
    kept = [(0, i, v) for i, v in enumerate(values) if i not in skip]
    states, _ = process(decode_records(kept, 1).pings, ctx, EngineState())
    return states.to_dict()


def checkpointed(tables):
    meta = tables.data.get(meta_key(0))
    run = PartitionRun.load(0, meta, lambda v, slot: tables.data[vehicle_key(v, slot)])
    return run


def owned(p):
    return True


def test_batches_within_the_interval_are_checkpointed_once(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx, every=1.0)
    recs = sources(values[:12])

    async def go():
        await runner.handle(recs[:4], owned)  # first batch of the partition: saved at once
        first = len(tables.writes)
        for i in (4, 8):
            clock.now += 0.3
            await runner.handle(recs[i : i + 4], owned)
        assert len(tables.writes) == first  # not due yet
        assert checkpointed(tables).next_offset == 4
        clock.now += 0.5  # 1.1 s after the first checkpoint
        await runner.flush(owned)
        return first

    first = asyncio.run(go())
    run = checkpointed(tables)
    assert run.next_offset == 12
    assert run.snapshot() == linear(values[:12], ctx)
    # the deferred checkpoint wrote each changed vehicle once, not once per batch
    later = tables.writes[first:]
    assert len(later) == len(set(later))


def test_flush_force_writes_what_is_pending(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx, every=3600.0)

    async def go():
        await runner.handle(sources(values[:3]), owned)
        await runner.handle(sources(values[3:6], start=3), owned)
        assert checkpointed(tables).next_offset == 3
        await runner.flush(owned, force=True)

    asyncio.run(go())
    assert checkpointed(tables).next_offset == 6
    assert checkpointed(tables).snapshot() == linear(values[:6], ctx)


def test_engine_error_dead_letters_the_batch_and_keeps_the_state_of_the_others(night, monkeypatch):
    values, ctx = night
    runner, tables, clock, outputs = make_runner(ctx, every=3600.0)
    poison = {6, 7}
    real = step_module.process

    def failing(pings, ctx, states):
        if any(p.ref in poison for p in pings):
            raise RuntimeError("engine bug")
        return real(pings, ctx, states)

    monkeypatch.setattr(step_module, "process", failing)
    recs = sources(values[:12])

    async def go():
        for i in range(0, 12, 2):  # batches 0-1 .. 10-11; 6-7 fails
            await runner.handle(recs[i : i + 2], owned)
        await runner.flush(owned, force=True)

    asyncio.run(go())
    dead = [headers_dict(r.headers) for r in outputs if r.topic == Topics("t").rejected]
    failed = {h["landun-source"] for h in dead if h["landun-reason"] == "engine_error"}
    assert failed == {"t.pings:0:6", "t.pings:0:7"}
    # The records before the failure were processed in batches never checkpointed: the state
    # is rebuilt from them, so it equals one pass without the failed records.
    assert checkpointed(tables).snapshot() == linear(values[:12], ctx, skip=poison)
    assert checkpointed(tables).next_offset == 12


def with_kafka(runner, values, available=None):
    """A fetch port reading ``values`` as the partition's records (offset = index)."""
    calls = []

    async def fetch(p, start, end):
        calls.append((p, start, end))
        return [
            Source(p, o, values[o], False)
            for o in range(start, end)
            if available is None or o in available
        ]

    runner.fetch = fetch
    return calls


def test_records_missing_from_the_stream_are_read_from_kafka(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx)
    calls = with_kafka(runner, values)
    recs = sources(values[:10])

    async def go():
        await runner.handle(recs[:4], owned)  # checkpoint at 4
        runner.forget([0])  # revoked and assigned again: state reloads from the checkpoint
        # Faust resumed past the checkpoint: 4 and 5 never come through the stream.
        await runner.handle(recs[6:8], owned)
        await runner.handle(recs[8:10], owned)
        await runner.flush(owned, force=True)

    asyncio.run(go())
    assert calls == [(0, 4, 7)]  # up to the last record of the batch: holes inside too
    assert checkpointed(tables).next_offset == 10
    assert checkpointed(tables).snapshot() == linear(values[:10], ctx)


def test_stale_and_duplicate_records_run_once(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx)
    calls = with_kafka(runner, values)
    recs = sources(values[:10])

    async def go():
        await runner.handle(recs[:4], owned)
        await runner.handle(recs[2:6] + recs[4:8] + recs[7:10], owned)
        await runner.flush(owned, force=True)

    asyncio.run(go())
    assert calls == []
    assert checkpointed(tables).snapshot() == linear(values[:10], ctx)


def test_records_that_no_longer_exist_are_a_counted_gap(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx)
    with_kafka(runner, values, available={5})  # offset 4 expired
    recs = sources(values[:10])

    async def go():
        await runner.handle(recs[:4], owned)
        await runner.handle(recs[6:10], owned)
        await runner.flush(owned, force=True)

    asyncio.run(go())
    assert runner.metrics.gaps._value.get() == 1
    assert checkpointed(tables).next_offset == 10
    assert checkpointed(tables).snapshot() == linear(values[:10], ctx, skip={4})


def test_a_failed_read_from_kafka_is_retried_not_skipped(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx)
    calls = with_kafka(runner, values)
    flaky = runner.fetch
    failures = [True]

    async def fetch(p, start, end):
        if failures and failures.pop():
            raise TimeoutError("Kafka did not answer")
        return await flaky(p, start, end)

    runner.fetch = fetch
    recs = sources(values[:10])

    async def go():
        await runner.handle(recs[:4], owned)
        await runner.handle(recs[6:8], owned)  # 4, 5 missing; the read fails: nothing run
        assert checkpointed(tables).next_offset == 4
        await runner.handle(recs[8:10], owned)  # read again: 4..7 come from Kafka
        await runner.flush(owned, force=True)

    asyncio.run(go())
    assert runner.metrics.gaps._value.get() == 0
    assert calls == [(0, 4, 9)]
    assert checkpointed(tables).snapshot() == linear(values[:10], ctx)


class Event:
    """A stand-in for a Faust event (only its identity matters to the runner)."""

    def __init__(self, offset):
        self.offset = offset


def test_events_are_acked_only_once_a_durable_checkpoint_covers_them(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx, every=1.0)
    acked = []

    async def ack(event):
        acked.append(event.offset)

    runner.ack = ack
    recs = [Source(0, i, v, False, Event(i)) for i, v in enumerate(values[:9])]

    async def go():
        await runner.handle(recs[:3], owned)  # first checkpoint at once
        assert acked == [0, 1, 2]
        await runner.handle(recs[3:6], owned)  # not due: processed, not acked
        assert acked == [0, 1, 2]
        runner.reset([0])  # a failure: the state goes back to the checkpoint (next offset 3)
        clock.now += 2
        await runner.handle(recs[6:9], owned)  # 3..5 read again from Kafka, all checkpointed
        assert sorted(acked) == list(range(9))

    with_kafka(runner, values)
    asyncio.run(go())
    assert checkpointed(tables).snapshot() == linear(values[:9], ctx)


def test_a_partition_behind_the_log_without_input_is_reported(night):
    values, ctx = night
    runner, tables, clock, _ = make_runner(ctx)

    async def go():
        await runner.handle(sources(values[:4]), owned)

    asyncio.run(go())
    assert not runner.behind(0, 4, idle_s=5)  # caught up
    assert not runner.behind(0, 9, idle_s=5)  # behind, but input came just now
    clock.now += 6
    assert runner.behind(0, 9, idle_s=5)
    assert runner.behind(1, 3, idle_s=5)  # never seen, records in the log
    runner.assigned([1])
    assert not runner.behind(1, 3, idle_s=5)  # just assigned: its records are on their way
    clock.now += 6
    assert runner.behind(1, 3, idle_s=5)
    assert not runner.behind(1, 0, idle_s=5) and not runner.behind(1, None, idle_s=5)
