"""Checkpoints survive a torn write (kill -9 between the vehicle states and the meta)."""

from __future__ import annotations

from stream.engine import EngineState, process
from stream.kafka.checkpoint import PartitionRun, meta_key, vehicle_key
from stream.kafka.codec import decode_records
from tests.stream.kafka.test_runner import night  # noqa: F401 - the fixture


def _run_over(values, ctx, run):
    pings = decode_records([(0, i, v) for i, v in enumerate(values)], 1).pings
    run.states, _ = process(pings, ctx, run.states)
    run.next_offset = len(values)


def test_a_torn_checkpoint_leaves_the_previous_one_whole(night):  # noqa: F811
    values, ctx = night
    table: dict[bytes, bytes] = {}
    run = PartitionRun(0, EngineState())
    _run_over(values[:6], ctx, run)
    meta, items = run.checkpoint(run.states.vehicles, everyone=True)
    table.update(items)
    table[meta_key(0)] = meta
    first = PartitionRun.load(
        0, table[meta_key(0)], lambda v, slot: table.get(vehicle_key(v, slot))
    )

    _run_over(values[:12], ctx, run := PartitionRun(0, EngineState()))
    run.written, run.slots = dict(first.written), dict(first.slots)
    meta2, items2 = run.checkpoint(run.states.vehicles, everyone=True)
    assert items2 and not set(items2) & set(items)  # the new states go to the other slots
    table.update(items2)  # ... and the process dies before the meta is written

    again = PartitionRun.load(
        0, table[meta_key(0)], lambda v, slot: table.get(vehicle_key(v, slot))
    )
    assert again.next_offset == 6
    assert again.snapshot() == first.snapshot()
    table[meta_key(0)] = meta2  # had it been written, the new meta finds the new states
    assert (
        PartitionRun.load(0, meta2, lambda v, s: table.get(vehicle_key(v, s))).snapshot()
        == run.snapshot()
    )
