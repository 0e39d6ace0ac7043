"""Independent checks of a worker run, read back from Kafka: final alerts, the checkpointed
state, and the state a linear rebuild of each partition gives (the Faust consistency pattern)."""

from __future__ import annotations

from pathlib import Path

import orjson

from geofence import FenceIndex, load_fences
from stream.engine import EngineContext, EngineState, finish, process
from stream.kafka.checkpoint import PartitionRun, meta_key, vehicle_key
from stream.kafka.codec import decode_records
from stream.kafka.runner import CONTROL_HEADER, FINAL
from stream.kafka.topics import Topics
from stream.registry import Registry
from tests.stream.kafka.conftest import PARTITIONS, end_offsets, read_topic


def alert_versions(bootstrap: str, topics: Topics) -> tuple[dict[str, dict], list[str]]:
    """The last version of every alert id, and the ids of all records in topic order."""
    final: dict[str, dict] = {}
    ids = []
    for rec in read_topic(bootstrap, topics.alerts):
        alert = orjson.loads(rec.value)
        final[alert["id"]] = alert
        ids.append(alert["id"])
    return final, ids


def latest(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    """Compacted-topic view: the last value per key (tombstones remove)."""
    out: dict[bytes, bytes] = {}
    for rec in read_topic(bootstrap, topic):
        if rec.value is None:
            out.pop(rec.key, None)
        else:
            out[rec.key] = rec.value
    return out


def checkpoint_offsets(bootstrap: str, topics: Topics) -> dict[int, tuple[int, int]]:
    """Per pings partition: (the offset its checkpoint covers up to, the partition's end)."""
    metas = latest(bootstrap, topics.changelog("state"))
    out = {}
    for p, end in end_offsets(bootstrap, topics.pings).items():
        meta = metas.get(meta_key(p))
        out[p] = (0 if meta is None else orjson.loads(meta)["next_offset"], end)
    return out


def caught_up(bootstrap: str, topics: Topics) -> bool:
    """True when every partition's checkpoint covers the whole pings partition."""
    return all(done >= end for done, end in checkpoint_offsets(bootstrap, topics).values())


def checkpointed(bootstrap: str, topics: Topics) -> dict[int, dict]:
    """Each partition's engine state as its checkpoint in the changelogs has it."""
    table = latest(bootstrap, topics.changelog("state"))
    out = {}
    for p in range(PARTITIONS):
        meta = table.get(meta_key(p))
        if meta is not None:
            run = PartitionRun.load(p, meta, lambda v, slot: table.get(vehicle_key(v, slot)))
            out[p] = run.snapshot()
    return out


def context(sim: Path) -> EngineContext:
    fences = FenceIndex(load_fences(sim / "fences.geojson"))
    return EngineContext(fences, Registry.load(sim / "registry.json"))


def linear(bootstrap: str, topics: Topics, ctx: EngineContext) -> dict[int, dict]:
    """Each partition's state from running all its records once, in order, in one process."""
    by_partition: dict[int, list] = {}
    for rec in read_topic(bootstrap, topics.pings):
        by_partition.setdefault(rec.partition, []).append(rec)
    out = {}
    for p, records in by_partition.items():
        states = EngineState()
        segment = []
        for rec in [*records, None]:
            final = rec is not None and dict(rec.headers or ()).get(CONTROL_HEADER) == FINAL
            if rec is not None and not final:
                segment.append((p, rec.offset, rec.value))
                continue
            states, _ = process(decode_records(segment, PARTITIONS).pings, ctx, states)
            segment = []
            if final:
                states, _ = finish(ctx, states)
        out[p] = states.to_dict()
    return out
