"""Records of the pings topic: raw bytes in, validated pings or dead letters out.

A record's value is one ping (a JSON object, docs/formats.md) or a batch of pings (a JSON array
of such objects) for vehicles of the record's partition. The worker reads values as raw bytes
and validates them here, so that nothing undecodable reaches Faust's own deserialiser (which
would ack and drop it) and every failure is a :class:`DeadLetter` with its reason:

``empty``, ``too_large`` (over :data:`MAX_PING_BYTES` for one ping or :data:`MAX_RECORD_BYTES`
for a batch), ``bad_json`` (not JSON, not UTF-8), ``non_finite`` (a non-finite literal Python's
JSON reader does not take either, e.g. ``nan``, ``inf``), ``not_a_ping`` (JSON, but neither an
object nor an array of objects; or an empty or too long batch), ``bad_field``
(``stream.ping.parse_ping`` refused a required field or the datum; the detail names the field
and its value, the dead letter the vehicle when its id parsed) and
``misrouted`` (a ping on another partition than its vehicle's: its state lives elsewhere).

Datum conversion (GCJ-02/BD-09 to WGS-84) is done for a whole batch at once; the result is the
same, bit for bit, as ``parse_ping``'s one-ping conversion (tests check it). A bad optional
field is no dead letter: ``parse_ping`` drops it with a warning on the ping (issue 11). Nor is
a non-finite number written as ``NaN``, ``Infinity`` or ``1e400`` (not JSON, but what many
encoders write): the text is read as ``parse_ping`` reads it (``stream.wire_json.loads_json``), so a
non-finite optional field is a warning and a non-finite coordinate the engine's
``filter_non_finite``, the vehicle and position kept (issue 11).

The fields, their types and what is an error are ``stream.ping.FIELDS``; the typed decoder is
derived from it, and anything it does not take goes to ``stream.ping`` itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec.structs import astuple

from geofence.datum import bd09_to_gcj02_point, gcj02_to_wgs84_point
from stream.eventtime import MAX_MS, MIN_MS, parse_ts
from stream.kafka.topics import MAX_RECORD_BYTES, partition_for
from stream.ping import FIELDS, Field, Ping, read_ping
from stream.wire_json import loads_json
from stream.wire_values import EPOCH_SECONDS, INT64, PingError

MAX_PING_BYTES = 16_384  # one ping is a few hundred bytes
MAX_BATCH_PINGS = 10_000
_NON_FINITE = re.compile(rb"(?<![\w\"])-?(NaN|Infinity|inf|nan)(?![\w\"])")


@dataclass(slots=True)
class DeadLetter:
    """A record, or one ping of a batch record, that could not be used."""

    reason: str
    detail: str
    partition: int
    offset: int
    raw: bytes  # the record's bytes, or the ping's JSON for a ping of a batch
    vehicle: str | None = None
    index: int | None = None  # position in a batch record


@dataclass(slots=True)
class Decoded:
    """Pings in arrival order and dead letters of a run of records."""

    pings: list[Ping] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    # offset -> raw bytes of single-ping records (what a later engine rejection dead-letters)
    raw: dict[int, bytes] = field(default_factory=dict)


def decode_records(records: Iterable[tuple[int, int, bytes | None]], partitions: int) -> Decoded:
    """Decode ``(partition, offset, value)`` records of the pings topic.

    Parameters
    ----------
    records : iterable of (int, int, bytes or None)
        In arrival order.
    partitions : int
        Partition count of the pings topic (for the routing check).

    Returns
    -------
    Decoded
        Pings carry ``ref`` = the record's offset; failures are dead letters.
    """
    out = Decoded()
    converts: list[tuple[Ping, str]] = []
    for partition, offset, value in records:
        if not _decode_typed(partition, offset, value, partitions, out, converts):
            _decode(partition, offset, value, partitions, out, converts)
    if converts:
        to_wgs84(converts)
    return out


Int64 = Annotated[int, msgspec.Meta(ge=INT64[0], le=INT64[1])]
EpochMs = Annotated[int, msgspec.Meta(ge=MIN_MS, le=MAX_MS)]
# An optional stamp (received) below EPOCH_SECONDS' end may be epoch seconds: stream.ping
# decides (a warning), so the typed decoder does not take it.
StampMs = Annotated[int, msgspec.Meta(ge=EPOCH_SECONDS[1], le=MAX_MS)]
_TYPES = {"text": str, "time": EpochMs | str, "number": float, "integer": Int64, "flag": bool}


def _wire_type(f: Field) -> Any:
    """The msgspec type of a wire field: strict, so that anything parse_ping would take with a
    conversion, a warning or an error fails it and goes to the general path."""
    if f.kind == "choice":
        kind = Literal[f.choices]  # type: ignore[valid-type]
    elif f.kind == "text" and f.required:
        kind = Annotated[str, msgspec.Meta(min_length=1)]
    elif f.kind == "time" and not f.required:
        kind = StampMs | str
    else:
        kind = _TYPES[f.kind]
    return (f.name, kind) if f.required else (f.name, kind | None, None)


# The wire format for msgspec's typed decoder, derived from stream.ping.FIELDS (the one
# declaration, issue 11). Its numbers are finite (msgspec refuses 1e999), its choices checked.
# A numeric string, a bad optional field or an unknown key fails it: stream.ping decides.
WirePing = msgspec.defstruct(
    "WirePing", [_wire_type(f) for f in FIELDS], forbid_unknown_fields=True
)
# One C-level pass from bytes to typed pings: ~5x faster than orjson + per-field checks.
_TYPED = msgspec.json.Decoder(list[WirePing] | WirePing)
_NO_DATUM = (None, "wgs84")
# A WirePing's values start with those of a Ping, in Ping's order (stream.ping checks it);
# the rest (datum) is not kept on a ping.
_KEPT = sum(f.on_ping for f in FIELDS)
_DATUM_AT = [f.name for f in FIELDS].index("datum")
_TIME_AT = tuple((i, f.name) for i, f in enumerate(FIELDS) if f.kind == "time")
if not all(f.on_ping for f in FIELDS[:_KEPT]):
    raise TypeError("stream.ping.FIELDS: the fields kept on a Ping must come first")


def _decode_typed(
    partition: int,
    offset: int,
    value: bytes | None,
    partitions: int,
    out: Decoded,
    converts: list,
) -> bool:
    """Decode a well-formed record of well-formed pings of this partition (the common case)
    with msgspec. False, having changed nothing, for anything else: :func:`_decode` then
    decides, with the precise reason for every bad record or ping (tests hold the two equal)."""
    if not value or len(value) > MAX_RECORD_BYTES:
        return False
    try:
        obj = _TYPED.decode(value)
    except msgspec.DecodeError:  # includes ValidationError
        return False
    single = not isinstance(obj, list)
    items = [obj] if single else obj
    if not items or len(items) > MAX_BATCH_PINGS or (single and len(value) > MAX_PING_BYTES):
        return False
    pings, datums = [], []
    for w in items:
        values = astuple(w)
        ping = Ping(*values[:_KEPT], offset)
        for i, name in _TIME_AT:
            if type(values[i]) is str:  # ISO 8601, or a numeric string
                ms = _iso_ms(values[i])
                if ms is None or ms < EPOCH_SECONDS[1]:  # maybe seconds: stream.ping decides
                    return False
                setattr(ping, name, ms)
        if _home(ping.vehicle, partitions) != partition:
            return False
        pings.append(ping)
        datums.append(values[_DATUM_AT])
    if single:
        out.raw[offset] = value
    out.pings += pings
    for ping, datum in zip(pings, datums, strict=True):
        if datum not in _NO_DATUM:
            converts.append((ping, datum))
    return True


def _iso_ms(text: str) -> int | None:
    """Epoch ms of an ISO 8601 ``ts`` (cached: a batch's pings share few distinct seconds);
    None when ``parse_ts`` refuses it (the general path then reports why)."""
    ms = _TIMES.get(text)
    if ms is None:
        try:
            ms = parse_ts(text)
        except PingError:
            return None
        if len(_TIMES) > 100_000:
            _TIMES.clear()
        _TIMES[text] = ms
    return ms


def _home(vehicle: str, partitions: int) -> int:
    home = _HOMES.get((vehicle, partitions))
    if home is None:
        if len(_HOMES) > 200_000:
            _HOMES.clear()
        home = _HOMES[(vehicle, partitions)] = partition_for(vehicle, partitions)
    return home


def _decode(
    partition: int,
    offset: int,
    value: bytes | None,
    partitions: int,
    out: Decoded,
    converts: list,
) -> None:
    def dead(reason: str, detail: str) -> None:
        out.dead.append(DeadLetter(reason, detail, partition, offset, value or b""))

    if not value:
        return dead("empty", "record without a value")
    if len(value) > MAX_RECORD_BYTES:
        return dead("too_large", f"{len(value)} bytes, at most {MAX_RECORD_BYTES}")
    try:
        obj = loads_json(value)  # NaN, Infinity and 1e400 read as parse_ping reads them
    except orjson.JSONDecodeError as exc:
        if _NON_FINITE.search(value) or "infinity" in str(exc):
            return dead("non_finite", f"NaN or Infinity is not a JSON number: {exc}")
        return dead("bad_json", f"not JSON: {exc}")
    if isinstance(obj, dict):
        if len(value) > MAX_PING_BYTES:
            return dead("too_large", f"{len(value)} bytes for one ping, at most {MAX_PING_BYTES}")
        out.raw[offset] = value
        items = [obj]
    elif isinstance(obj, list):
        if not obj or len(obj) > MAX_BATCH_PINGS:
            return dead("not_a_ping", f"a batch of {len(obj)} pings (1 to {MAX_BATCH_PINGS})")
        items = obj
    else:
        return dead("not_a_ping", f"expected a JSON object or array, got {type(obj).__name__}")
    single = len(items) == 1 and isinstance(obj, dict)
    for index, item in enumerate(items):
        where = None if single else index
        raw = value if single else None
        ping = _ping(item, partition, offset, where, raw, partitions, out, converts)
        if ping is not None:
            out.pings.append(ping)


def _ping(
    item: object,
    partition: int,
    offset: int,
    index: int | None,
    raw: bytes | None,
    partitions: int,
    out: Decoded,
    converts: list,
) -> Ping | None:
    def dead(reason: str, detail: str, vehicle: str | None = None) -> None:
        body = raw if raw is not None else orjson.dumps(item)
        out.dead.append(DeadLetter(reason, detail, partition, offset, body, vehicle, index))

    if not isinstance(item, dict):
        dead("not_a_ping", f"expected a JSON object, got {type(item).__name__}")
        return None
    try:
        ping, datum = read_ping(item, offset)  # the datum converted with the batch's, below
    except PingError as exc:
        dead(exc.reason, exc.detail, exc.vehicle)
        return None
    home = _home(ping.vehicle, partitions)
    if home != partition:
        dead("misrouted", f"vehicle {ping.vehicle!r} belongs to partition {home}", ping.vehicle)
        return None
    if datum not in _NO_DATUM:
        converts.append((ping, datum))
    return ping


_HOMES: dict[tuple[str, int], int] = {}  # (vehicle, partitions) -> partition (murmur2 is slow)
_TIMES: dict[str, int] = {}  # ISO text -> epoch ms: a batch's pings share few distinct seconds


def to_wgs84(converts: list[tuple[Ping, str]]) -> None:
    """Convert GCJ-02/BD-09 pings to WGS-84 in place, one by one exactly as ``parse_ping``
    does (so a ping's coordinates never depend on the batch it came in)."""
    for ping, datum in converts:
        if not _finite(ping):
            continue  # parse_ping leaves them alone for the engine's hygiene to reject
        lng, lat = ping.lng, ping.lat
        if datum == "bd09":
            lng, lat = bd09_to_gcj02_point(lng, lat)
        ping.lng, ping.lat = gcj02_to_wgs84_point(lng, lat)


def _finite(p: Ping) -> bool:
    return math.isfinite(p.lat) and math.isfinite(p.lng)


def encode_batch(pings: list[dict]) -> bytes:
    """A batch record's value: the pings as one JSON array."""
    return orjson.dumps(pings)
