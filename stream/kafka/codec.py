"""Records of the pings topic: raw bytes in, validated pings or dead letters out.

A record's value is one ping (a JSON object, docs/formats.md) or a batch of pings (a JSON array
of such objects) for vehicles of the record's partition. The worker reads values as raw bytes
and validates them here, so that nothing undecodable reaches Faust's own deserialiser (which
would ack and drop it) and every failure is a :class:`DeadLetter` with its reason:

``empty``, ``too_large`` (over :data:`MAX_PING_BYTES` for one ping or :data:`MAX_RECORD_BYTES`
for a batch), ``bad_json`` (not JSON, not UTF-8), ``non_finite`` (NaN or Infinity, which JSON does
not have), ``not_a_ping`` (JSON, but neither an object nor an array of objects; or an empty or too
long batch), ``bad_field`` (``stream.ping.parse_ping`` refused a field; the detail names it) and
``misrouted`` (a ping on another partition than its vehicle's: its state lives elsewhere).

Datum conversion (GCJ-02/BD-09 to WGS-84) is done for a whole batch at once; the result is the
same, bit for bit, as ``parse_ping``'s one-ping conversion (tests check it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

import msgspec
import orjson

from geofence.datum import bd09_to_gcj02_point, gcj02_to_wgs84_point
from stream.kafka.topics import MAX_RECORD_BYTES, partition_for
from stream.ping import DATUMS, INT64, LOADED_STATES, Ping, PingError, parse_ping, parse_ts

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


class WirePing(msgspec.Struct, forbid_unknown_fields=True):
    """The wire format of a ping (docs/formats.md), for msgspec's typed JSON decoder."""

    vehicle: str
    ts: Int64 | str
    lat: float
    lng: float
    speed_kmh: float | None = None
    heading: float | None = None
    acc: bool | None = None
    loaded: str | None = None
    lift: bool | None = None
    cover_open: bool | None = None
    backfill: bool | None = None
    source: str | None = None
    seq: Int64 | None = None
    datum: str | None = None


# One C-level pass from bytes to typed pings: ~5x faster than orjson + per-field checks.
_TYPED = msgspec.json.Decoder(list[WirePing] | WirePing)
_NO_DATUM = (None, "wgs84")


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
    pings = []
    for w in items:
        ping = _typed_ping(w, offset)
        if ping is None or _home(ping.vehicle, partitions) != partition:
            return False
        pings.append(ping)
    if single:
        out.raw[offset] = value
    out.pings += pings
    for w, ping in zip(items, pings, strict=True):
        if w.datum not in _NO_DATUM:
            converts.append((ping, w.datum))
    return True


def _typed_ping(w: WirePing, ref: int) -> Ping | None:
    lat, lng, ts = w.lat, w.lng, w.ts
    if not w.vehicle or not (math.isfinite(lat) and math.isfinite(lng)):
        return None
    if w.loaded not in _LOADED or (w.datum is not None and w.datum not in DATUMS):
        return None
    if type(ts) is str:
        ts = _iso_ms(ts)
        if ts is None:
            return None
    return Ping(
        w.vehicle, ts, lat, lng, w.speed_kmh, w.heading, w.acc, w.loaded, w.lift,
        w.cover_open, w.backfill, w.source, w.seq, ref,
    )  # fmt: skip


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
        obj = orjson.loads(value)
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
        ping = _ping(item, partition, offset, where, value if single else None, partitions, out)
        if ping is not None:
            out.pings.append(ping)
            datum = item.get("datum")
            if datum not in (None, "wgs84"):
                converts.append((ping, datum))


def _ping(
    item: object,
    partition: int,
    offset: int,
    index: int | None,
    raw: bytes | None,
    partitions: int,
    out: Decoded,
) -> Ping | None:
    def dead(reason: str, detail: str, vehicle: str | None = None) -> None:
        body = raw if raw is not None else orjson.dumps(item)
        out.dead.append(DeadLetter(reason, detail, partition, offset, body, vehicle, index))

    if not isinstance(item, dict):
        dead("not_a_ping", f"expected a JSON object, got {type(item).__name__}")
        return None
    datum = item.get("datum")
    if datum is not None and datum not in DATUMS:
        dead("bad_field", f"datum: expected one of {'|'.join(DATUMS)}, got {datum!r}")
        return None
    # Without the datum parse_ping keeps the coordinates; the batch converts them below.
    fields = {k: v for k, v in item.items() if k != "datum"} if datum else item
    ping = fast_ping(fields, offset)
    if ping is None:
        try:
            ping = parse_ping(fields, ref=offset)
        except PingError as exc:
            vehicle = item.get("vehicle")
            dead(exc.reason, exc.detail, vehicle if isinstance(vehicle, str) else None)
            return None
    home = _home(ping.vehicle, partitions)
    if home != partition:
        dead("misrouted", f"vehicle {ping.vehicle!r} belongs to partition {home}", ping.vehicle)
        return None
    return ping


_HOMES: dict[tuple[str, int], int] = {}  # (vehicle, partitions) -> partition (murmur2 is slow)
_TIMES: dict[str, int] = {}  # ISO text -> epoch ms: a batch's pings share few distinct seconds
_FIELDS = frozenset(
    ("vehicle", "ts", "lat", "lng", "speed_kmh", "heading", "acc", "loaded", "lift",
     "cover_open", "backfill", "source", "seq")
)  # fmt: skip
_FLAGS = ("acc", "lift", "cover_open", "backfill")
_LOADED = (None, *LOADED_STATES)


def fast_ping(obj: dict, ref: int) -> Ping | None:
    """The Ping ``parse_ping(obj, ref)`` gives, for the common shape of a ping; None for
    anything unusual (another type, an unknown key), which then goes to ``parse_ping`` itself,
    the reference for every error and corner case (tests compare the two)."""
    if not obj.keys() <= _FIELDS:
        return None
    vehicle, ts, lat, lng = obj.get("vehicle"), obj.get("ts"), obj.get("lat"), obj.get("lng")
    if type(vehicle) is not str or not vehicle or type(lat) is not float:
        return None
    if type(lng) is not float:
        return None
    if type(ts) is str:
        ms = _iso_ms(ts)
        if ms is None:
            return None
    elif type(ts) is int and INT64[0] <= ts <= INT64[1]:
        ms = ts
    else:
        return None
    speed, heading = obj.get("speed_kmh"), obj.get("heading")
    if speed is not None:
        if type(speed) is int:
            speed = float(speed)
        elif type(speed) is not float:
            return None
    if heading is not None:
        if type(heading) is int:
            heading = float(heading)
        elif type(heading) is not float:
            return None
    for name in _FLAGS:
        flag = obj.get(name)
        if flag is not None and type(flag) is not bool:
            return None
    loaded, source, seq = obj.get("loaded"), obj.get("source"), obj.get("seq")
    if loaded not in _LOADED or (source is not None and type(source) is not str):
        return None
    if seq is not None and (type(seq) is not int or not INT64[0] <= seq <= INT64[1]):
        return None
    return Ping(
        vehicle, ms, lat, lng, speed_kmh=speed, heading=heading, acc=obj.get("acc"),
        loaded=loaded, lift=obj.get("lift"), cover_open=obj.get("cover_open"),
        backfill=obj.get("backfill"), source=source, seq=seq, ref=ref,
    )  # fmt: skip


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
