"""Independent checks of a worker run, read back from Kafka: final alerts, the checkpointed
state, and the state a linear rebuild of each partition gives (the Faust consistency pattern)."""

from __future__ import annotations

from pathlib import Path

import orjson

from api.ports import supersedes
from geofence import FenceIndex, load_fences
from stream.engine import EngineContext, EngineState, EventKind, finish, process
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


# Fields of an alert allowed to differ between a worker's run and `landun detect` on the same pings:
# none. An alert carries no delivery stamp (no receive time, offset or wall-clock time): its id,
# times, place and evidence all come from the pings' event times and the reference data, so a
# crash, a batch size or a partition assignment must change none of them (issue 15).
DELIVERY_FIELDS: tuple[str, ...] = ()


def differences(got: dict[str, dict], want: dict[str, dict]) -> list[str]:
    """What tells ``got`` (alerts by id) from ``want``: ids missing, ids extra, and for the ids in
    both, each field (each evidence key) whose value differs, except :data:`DELIVERY_FIELDS`."""
    out = [f"missing {i}: {_what(want[i])}" for i in sorted(want.keys() - got.keys())]
    out += [f"extra {i}: {_what(got[i])}" for i in sorted(got.keys() - want.keys())]
    for i in sorted(got.keys() & want.keys()):
        a, b = got[i], want[i]
        for key in sorted((a.keys() | b.keys()) - set(DELIVERY_FIELDS)):
            if key == "evidence" and isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
                out += [f"{i} evidence.{k}: {a[key].get(k)!r} != {b[key].get(k)!r}"
                        for k in sorted(a[key].keys() | b[key].keys())
                        if a[key].get(k) != b[key].get(k)]  # fmt: skip
            elif a.get(key, KeyError) != b.get(key, KeyError):
                out.append(f"{i} {key}: {a.get(key, '<absent>')!r} != {b.get(key, '<absent>')!r}")
    return out


def _what(alert: dict) -> str:
    return f"{alert.get('type')} {alert.get('vehicle')} {alert.get('ts')}"


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
    return rerun(bootstrap, topics, ctx)[0]


def rerun(
    bootstrap: str,
    topics: Topics,
    ctx: EngineContext,
    changed: tuple[dict[int, int], EngineContext] | None = None,
) -> tuple[dict[int, dict], dict[str, dict]]:
    """Each partition's records run once, in order, in one process: the states and the final
    alerts (the last version of each id). ``changed`` is ``(offsets, context)``: from
    ``offsets[p]`` on, partition ``p``'s records run with the other context (reference data that
    changed while a worker ran)."""
    by_partition: dict[int, list] = {}
    for rec in read_topic(bootstrap, topics.pings):
        by_partition.setdefault(rec.partition, []).append(rec)
    out, alerts = {}, {}
    for p, records in by_partition.items():
        states, now = EngineState(), ctx
        segment = []
        for rec in [*records, None]:
            final = rec is not None and dict(rec.headers or ()).get(CONTROL_HEADER) == FINAL
            switch = changed is not None and rec is not None and rec.offset == changed[0].get(p)
            if rec is not None and not final and not switch:
                segment.append((p, rec.offset, rec.value))
                continue
            states, events = process(decode_records(segment, PARTITIONS).pings, now, states)
            _keep_alerts(events, alerts)
            segment = [(p, rec.offset, rec.value)] if switch and not final else []
            if switch:
                now = changed[1]
            if final:
                states, events = finish(now, states)
                _keep_alerts(events, alerts)
        out[p] = states.to_dict()
    return out, alerts


def _keep_alerts(events: list, alerts: dict[str, dict]) -> None:
    for kind, payload in events:
        if kind == EventKind.ALERT and supersedes(payload, alerts.get(payload["id"])):
            alerts[payload["id"]] = payload
