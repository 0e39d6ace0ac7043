"""What the worker writes to Kafka: engine events as records, dead letters with their reasons.

- ``alert`` events go to the alerts topic, key = vehicle id, value = the alert JSON (one record
  per version; the ``id`` is the idempotency key, the last version of an id is its final state);
- ``trip``, ``stop`` and ``fence`` events go to the events topic, key = vehicle id, value = the
  payload plus ``"event": kind``;
- rejected pings and records go to the dead-letter topic: value = the original bytes, headers
  ``landun-reason``, ``landun-detail``, ``landun-source`` (``topic:partition:offset``) and, for a
  ping of a batch record, ``landun-index``.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from stream.engine.events import EventKind
from stream.kafka.codec import DeadLetter
from stream.kafka.topics import Topics

DETAIL_CHARS = 500


@dataclass(slots=True)
class OutRecord:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


def event_records(topics: Topics, events: list, batch: str = "") -> list[OutRecord]:
    """Records for the engine's ``alert``, ``trip``, ``stop`` and ``fence`` events.

    ``batch`` (``partition:first-last`` offsets of the pings records that produced them) goes
    into the ``landun-batch`` header: where an output came from, and what latency is measured
    against (bench/stream.py).
    """
    out = []
    source = [("landun-batch", batch.encode())] if batch else []
    for kind, payload in events:
        if kind == EventKind.REJECTED:
            continue
        key = payload["vehicle"].encode("utf-8")
        if kind == EventKind.ALERT:
            out.append(OutRecord(topics.alerts, key, orjson.dumps(payload), list(source)))
        else:
            value = orjson.dumps({"event": kind, **payload})
            headers = [("landun-event", kind.encode()), *source]
            out.append(OutRecord(topics.events, key, value, headers))
    return out


def engine_dead_letters(events: list, partition: int, raw: dict[int, bytes]) -> list[DeadLetter]:
    """Dead letters for the engine's ``rejected`` events (hygiene: duplicates, jumps, ...).

    ``raw`` maps offsets of single-ping records to their bytes; a ping of a batch record is
    dead-lettered as its parsed JSON.
    """
    out = []
    for kind, payload in events:
        if kind != EventKind.REJECTED:
            continue
        ping = dict(payload["ping"])
        offset = ping.pop("ref", None)
        offset = payload.get("ref", offset)
        body = raw.get(offset) if offset is not None else None
        if body is None:
            body = orjson.dumps(ping)
        out.append(
            DeadLetter(
                payload["reason"],
                payload.get("detail") or "",
                partition,
                -1 if offset is None else offset,
                body,
                ping.get("vehicle"),
            )
        )
    return out


def dead_letter_record(topics: Topics, dead: DeadLetter) -> OutRecord:
    """The dead-letter topic's record for ``dead``."""
    headers = [
        ("landun-reason", dead.reason.encode()),
        ("landun-detail", dead.detail[:DETAIL_CHARS].encode("utf-8", "replace")),
        ("landun-source", f"{topics.pings}:{dead.partition}:{dead.offset}".encode()),
    ]
    if dead.index is not None:
        headers.append(("landun-index", str(dead.index).encode()))
    key = dead.vehicle.encode("utf-8") if dead.vehicle else None
    return OutRecord(topics.rejected, key, dead.raw, headers)


def headers_dict(headers) -> dict[str, str]:
    """Headers of a consumed record as ``{name: text}`` (for readers of the dead letter)."""
    return {k: (v or b"").decode("utf-8", "replace") for k, v in headers or ()}
