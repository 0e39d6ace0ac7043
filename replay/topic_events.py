"""Archive events from the worker's output topics and the reference topics (issue 12).

- ``{ns}.alerts``: value = one alert version (JSON) -> ``("alert", payload)``;
- ``{ns}.events``: value = the payload plus ``"event": kind`` (``trip``, ``stop``, ``fence``)
  -> ``(kind, payload)``;
- ``{ns}.fences``: key = fence id, value = a GeoJSON Feature, tombstone = removed
  -> ``("fence_version", {"id", "ts", "feature"})``;
- ``{ns}.registry``: key = ``<section>/<id>``, value = the entry, tombstone = removed
  -> ``("registry_version", {"section", "id", "ts", "entry"})``.

A reference version is dated by its record's timestamp: when it took effect for the workers
(they follow the topics within a second or so). A reference record the workers refuse (it does
not validate) is treated by them as absent (``stream.kafka.reference.ReferenceBook``); the
archive records the same thing, a removal, and keeps the record itself among the refused ones.

A record that cannot be an archive row at all (not JSON, a field missing) is *refused*: the
caller keeps it, with its reason, in ``DIR/_refused`` (``replay.consumer``); never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import pyarrow as pa

from replay.rows import FENCE_VERSION, REGISTRY_VERSION, event_rows
from replay.tables import TABLES
from stream.kafka.reference import ReferenceBook

ENGINE_EVENTS = ("trip", "stop", "fence")


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a record is no archive row: a reason code and a detail for people."""

    reason: str
    detail: str


Outcome = tuple[list[tuple[str, dict]], Refused | None]


def alert_event(value: bytes | None) -> Outcome:
    """The alert version of an alerts-topic record."""
    payload, refused = _object(value)
    if refused is not None:
        return [], refused
    return [("alert", payload)], None


def engine_event(value: bytes | None) -> Outcome:
    """The trip, stop or fence event of an events-topic record."""
    payload, refused = _object(value)
    if refused is not None:
        return [], refused
    kind = payload.pop("event", None)
    if kind not in ENGINE_EVENTS:
        return [], Refused("unknown_event", f"event {kind!r}, expected one of {ENGINE_EVENTS}")
    return [(kind, payload)], None


def fence_version(book: ReferenceBook, key: bytes | None, value: bytes | None, ts: int) -> Outcome:
    """The fence version of a fences-topic record, as the workers apply it (``book`` holds
    what they hold: a record is judged against the same topic history)."""
    ok = book.apply_fence(key, value)
    fid = (key or b"").decode("utf-8", "replace")
    if not fid:
        return [], Refused("no_key", "fences record without a key")
    feature = orjson.loads(value) if ok and value is not None else None
    events = [(FENCE_VERSION, {"id": fid, "ts": ts, "feature": feature})]
    return events, None if ok else Refused("refused", book.refused[-1])


def registry_version(
    book: ReferenceBook, key: bytes | None, value: bytes | None, ts: int
) -> Outcome:
    """The registry version of a registry-topic record (``section/id`` key), as the workers
    apply it."""
    ok = book.apply_entry(key, value)
    section, _, ident = (key or b"").decode("utf-8", "replace").partition("/")
    if not ok and not (section and ident):
        return [], Refused("bad_key", book.refused[-1])
    entry = orjson.loads(value) if ok and value is not None else None
    events = [(REGISTRY_VERSION, {"section": section, "id": ident, "ts": ts, "entry": entry})]
    return events, None if ok else Refused("refused", book.refused[-1])


def _object(value: bytes | None) -> tuple[dict, Refused | None]:
    if not value:
        return {}, Refused("empty", "record without a value")
    try:
        payload = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return {}, Refused("bad_json", f"not JSON: {exc}")
    if not isinstance(payload, dict):
        return {}, Refused("not_an_object", f"expected a JSON object, got {type(payload).__name__}")
    return payload, None


def check_rows(events: list[tuple[str, dict]]) -> Refused | None:
    """None when the events make archive rows (what ``write_batch`` will do with them), else
    why not: a record the writer would choke on (a field missing or of the wrong type) must
    not stop the batch it is in. The consumer checks a whole batch at once, and record by
    record only when that fails (issue 12: per record it was a third of the write time)."""
    try:
        for table, rows in event_rows(events).items():
            if rows:
                pa.Table.from_pylist(rows, schema=TABLES[table])
    except (KeyError, TypeError, ValueError, pa.ArrowException) as exc:  # missing, wrong type
        return Refused("bad_field", f"{type(exc).__name__}: {exc}")
    return None
