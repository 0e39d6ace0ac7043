"""Archive rows of one record of the pings topic, with the worker's verdicts (issue 12).

A record is one ping (a JSON object) or a batch (a JSON array of pings, ``stream.kafka.codec``).
It is decoded here with the worker's own codec, so the parsed fields are the worker's (datum
converted to WGS-84; ``received``, when the ping carries none, the record's timestamp as
``stream.kafka.step.stamp_received`` stamps it), and every ping gets one row:

- ``partition``, ``offset`` of the record and ``index`` of the ping in it (0 for a single ping);
- ``raw``: the ping's own JSON text as received (for a batch, its slice of the array);
- ``verdict``: ``accepted`` or the reason of the worker's dead letter (``replay.verdicts``);
  the record's own decode failure when no letter names it (the codec is the worker's).

A record that did not decode at all (not JSON, empty, too large, not a ping...) is one row with
no parsed fields: ``raw`` is its bytes (as text; invalid UTF-8 as ``\\xNN`` escapes), ``verdict``
its reason, ``vehicle`` the id when the dead letter knew it. Nothing is dropped.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson

from replay.rows import ACCEPTED, ping_row
from replay.verdicts import RecordLetters, Verdict, key_of_ping
from stream.kafka.codec import DeadLetter, decode_records

_RAW_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
# Strings (with escapes) and the structural characters: enough to split an array msgspec will
# not read (NaN, Infinity: what many encoders write, and the worker reads).
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.S)


def received_ms(timestamp_ms: int | None) -> int | None:
    """The ``received`` the worker stamps from a record's timestamp (Faust hands it over in
    seconds; ``stamp_received`` rounds it back to ms): the same arithmetic, the same value."""
    if timestamp_ms is None or timestamp_ms < 0:
        return None
    return round(timestamp_ms / 1000.0 * 1000)


def text_of(value: bytes | None) -> str:
    """Record bytes as archive text: UTF-8 as is, anything else as ``\\xNN`` escapes."""
    return (value or b"").decode("utf-8", "backslashreplace")


def split_array(value: bytes) -> list[bytes] | None:
    """The items of a JSON array as their exact bytes, None when ``value`` is no array.

    Examples
    --------
    >>> split_array(b' [{"a": "x,]"}, {"b": NaN} ] ')
    [b'{"a": "x,]"}', b'{"b": NaN}']
    >>> split_array(b'{"a": 1}') is None
    True
    """
    try:
        return [bytes(item) for item in _RAW_ITEMS.decode(value)]
    except msgspec.DecodeError:
        pass
    depth, start, items = 0, 0, []
    for m in _TOKENS.finditer(value):
        token = m.group()[:1]
        if token == b'"':
            continue
        if token in b"[{":
            if depth == 0:
                if token != b"[" or value[: m.start()].strip():
                    return None
                start = m.end()
            depth += 1
        elif token in b"]}":
            depth -= 1
            if depth == 0:
                last = value[start : m.start()].strip()
                return [*items, last] if last or items else []
        elif depth == 1:  # a comma between items
            items.append(value[start : m.start()].strip())
            start = m.end()
    return None


def record_rows(
    partition: int,
    offset: int,
    value: bytes | None,
    timestamp_ms: int | None,
    partitions: int,
    letters: RecordLetters | None,
) -> list[dict[str, Any]]:
    """The ``pings`` rows of one pings record.

    Parameters
    ----------
    partition, offset : int
        Where the record is in the pings topic.
    value : bytes or None
        The record's value.
    timestamp_ms : int or None
        The record's timestamp (the worker's ``received`` for pings that carry none).
    partitions : int
        Partitions of the pings topic (the codec's routing check).
    letters : RecordLetters or None
        The worker's dead letters naming this record (None: it dead-lettered nothing).

    Returns
    -------
    list of dict
        One row per ping (``replay.rows.ping_row``), in index order.
    """
    decoded = decode_records([(partition, offset, value)], partitions)
    stamp = received_ms(timestamp_ms)
    where = {"partition": partition, "offset": offset}
    failed = next((d for d in decoded.dead if d.index is None), None)
    single = offset in decoded.raw  # a JSON object: one ping (the codec keeps its bytes)
    if failed is not None or not (decoded.pings or decoded.dead):
        verdict = (letters.whole(True) if letters else None) or _own(failed, "not_a_ping")
        vehicle = failed.vehicle if failed is not None else None
        row = ping_row(None, verdict.reason, raw=text_of(value), detail=verdict.detail,
                       vehicle=vehicle, received=stamp, index=0, **where)  # fmt: skip
        return [row]
    dead = {d.index: d for d in decoded.dead}
    count = len(decoded.pings) + len(dead)
    raws = [value] if single else split_array(value or b"")
    if raws is None or len(raws) != count:
        raws = None  # cannot happen for what the codec read; the parsed JSON stands in
    slots: list[Any] = []  # per index: the Ping, or its DeadLetter
    pings = iter(decoded.pings)
    for i in range(count):
        slots.append(dead[i] if i in dead else next(pings))
    verdicts = _verdicts(slots, letters, single)
    rows = []
    for i, (slot, verdict) in enumerate(zip(slots, verdicts, strict=True)):
        parsed = None if isinstance(slot, DeadLetter) else slot
        if raws is not None:
            raw = text_of(raws[i])
        else:
            raw = text_of(slot.raw if parsed is None else orjson.dumps(parsed.to_dict()))
        vehicle = slot.vehicle
        reason, detail = (ACCEPTED, None) if verdict is None else (verdict.reason, verdict.detail)
        rows.append(ping_row(parsed, reason, raw=raw, detail=detail, index=i, vehicle=vehicle,
                             received=stamp, **where))  # fmt: skip
    return rows


def _own(dead: DeadLetter | None, fallback: str) -> Verdict:
    if dead is None:
        return Verdict(fallback, "record without pings")
    return Verdict(dead.reason, dead.detail)


def _verdicts(slots: list, letters: RecordLetters | None, single: bool) -> list[Verdict | None]:
    """Each ping's verdict (None = accepted): its indexed letter, else the whole record's,
    else an engine rejection found by content, else the codec's own decode failure."""
    out: list[Verdict | None] = [None] * len(slots)
    whole = letters.whole(single) if letters else None
    for i, slot in enumerate(slots):
        if letters is not None and i in letters.by_index:
            out[i] = letters.by_index[i]
        elif whole is not None:
            out[i] = whole
        elif isinstance(slot, DeadLetter):
            out[i] = Verdict(slot.reason, slot.detail)
    if letters is None or whole is not None:
        return out
    free: dict[bytes, list[int]] = {}
    for i, slot in enumerate(slots):
        if out[i] is None:
            free.setdefault(key_of_ping(slot), []).append(i)
    for key, verdict in reversed(letters.engine_rejections()):
        candidates = free.get(key)
        if candidates:  # the last identical ping not judged yet (the filter keeps the first)
            out[candidates.pop()] = verdict
    return out
