"""A position report (ping) from a vehicle terminal, parsed and normalised to WGS-84.

The wire format is one JSON object per ping (``pings.jsonl``, docs/formats.md): ``vehicle``,
``ts`` (ISO 8601 with an offset, or int epoch milliseconds), ``lat``, ``lng``; optional
``datum`` (wgs84 | gcj02 | bd09, default wgs84), ``speed_kmh``, ``heading``, ``acc``, ``loaded``
(empty | half | full), ``lift``, ``cover_open``, ``backfill``, ``source``, ``seq`` and ``received``
(when the platform received it, same formats as ``ts``: the gateway or the Kafka record stamps
it; the future/too-old checks use it when present, issue 11).

Parsing checks types and shapes only. Plausibility (non-finite or out-of-range coordinates,
clocks in the future, duplicates...) is the engine's hygiene (``stream.engine.hygiene``), so a
NaN latitude parses here and is rejected there with its own reason.

Timestamps are int epoch milliseconds (UTC) inside landun; :func:`iso_ts` formats them for output
in Beijing time (+08:00).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

BEIJING = timezone(timedelta(hours=8))
BEIJING_OFFSET_MS = 8 * 3600 * 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

LOADED_STATES = ("empty", "half", "full")
DATUMS = ("wgs84", "gcj02", "bd09")
# Integers must fit 64 bits: JSON encoders of state and outputs (orjson) refuse larger ones.
INT64 = (-(2**63), 2**63 - 1)
_BOOL_FIELDS = ("acc", "lift", "cover_open", "backfill")
_FLOAT_FIELDS = ("speed_kmh", "heading")


class PingError(ValueError):
    """A ping that cannot be parsed.

    Attributes
    ----------
    reason : str
        ``"bad_json"`` (not a JSON object) or ``"bad_field"`` (a field is missing or malformed).
    field : str or None
        The offending field, for ``bad_field``.
    detail : str
        What is wrong, for people.
    """

    def __init__(self, reason: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.reason = reason
        self.field = field
        self.detail = detail


@dataclass(slots=True)
class Ping:
    """One position report, WGS-84, event time in epoch milliseconds.

    ``ref`` is not part of the wire format: it is where the ping came from (a file line number,
    a Kafka offset) so that a rejection can point back at it.
    """

    vehicle: str
    ts: int
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
    seq: int | None = None
    ref: int | None = None
    received: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ping as a wire-format dict (``ts`` as epoch ms; unset fields left out)."""
        out: dict[str, Any] = {"vehicle": self.vehicle, "ts": self.ts, "lat": self.lat}
        out["lng"] = self.lng
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


_OPTIONAL = (
    "speed_kmh",
    "heading",
    "acc",
    "loaded",
    "lift",
    "cover_open",
    "backfill",
    "source",
    "seq",
    "ref",
    "received",
)


def parse_ping(raw: bytes | str | dict[str, Any], ref: int | None = None) -> Ping:
    """Parse one wire-format ping.

    Parameters
    ----------
    raw : bytes, str or dict
        A JSON text (one line of ``pings.jsonl``) or an already decoded object.
    ref : int, optional
        Where the ping came from (line number, offset), kept on the Ping.

    Returns
    -------
    Ping
        With ``ts`` in epoch ms and coordinates converted to WGS-84.

    Raises
    ------
    PingError
        ``bad_json`` when the text is not a JSON object, ``bad_field`` naming the field otherwise.
    """
    if isinstance(raw, dict):
        obj = raw
    else:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise PingError("bad_json", f"not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise PingError("bad_json", f"expected a JSON object, got {type(obj).__name__}")
    vehicle = obj.get("vehicle")
    if not isinstance(vehicle, str) or not vehicle:
        raise PingError("bad_field", "vehicle: required non-empty string", "vehicle")
    if "ts" not in obj:
        raise PingError("bad_field", "ts: required", "ts")
    ts = parse_ts(obj["ts"], "ts")
    lat = _number(obj, "lat", required=True)
    lng = _number(obj, "lng", required=True)
    ping = Ping(vehicle, ts, lat, lng)
    for name in _FLOAT_FIELDS:
        setattr(ping, name, _number(obj, name, required=False))
    for name in _BOOL_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, bool):
            raise PingError("bad_field", f"{name}: expected true/false, got {value!r}", name)
        setattr(ping, name, value)
    ping.loaded = _choice(obj, "loaded", LOADED_STATES)
    source = obj.get("source")
    if source is not None and not isinstance(source, str):
        raise PingError("bad_field", f"source: expected a string, got {source!r}", "source")
    ping.source = source
    seq = obj.get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
        raise PingError("bad_field", f"seq: expected an integer, got {seq!r}", "seq")
    if seq is not None and not INT64[0] <= seq <= INT64[1]:
        raise PingError("bad_field", f"seq: out of the 64-bit range: {seq!r}", "seq")
    ping.seq = seq
    ping.ref = ref
    received = obj.get("received")
    if received is not None:  # when the platform received it: the clock checks' reference
        ping.received = parse_ts(received, "received")
    datum = _choice(obj, "datum", DATUMS)
    if datum not in (None, "wgs84"):
        _to_wgs84(ping, datum)
    return ping


def parse_ts(value: Any, name: str = "ts") -> int:
    """Epoch milliseconds from an int (epoch ms) or an ISO 8601 string with an offset.

    Raises
    ------
    PingError
        ``bad_field`` naming ``name`` when the value is neither, or the ISO text has no offset.
    """
    if isinstance(value, bool):
        raise PingError("bad_field", f"{name}: expected epoch ms or ISO 8601, got {value!r}", name)
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise PingError("bad_field", f"{name}: epoch ms out of range: {value!r}", name)
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and INT64[0] <= value <= INT64[1]:
            return int(value)
        raise PingError("bad_field", f"{name}: epoch ms must be an integer, got {value!r}", name)
    if not isinstance(value, str):
        raise PingError("bad_field", f"{name}: expected epoch ms or ISO 8601, got {value!r}", name)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PingError("bad_field", f"{name}: not ISO 8601: {value!r}", name) from None
    if moment.tzinfo is None:
        raise PingError("bad_field", f"{name}: ISO 8601 time needs an offset: {value!r}", name)
    return (moment - _EPOCH) // _MS


def iso_ts(ms: int | None) -> str | None:
    """Format epoch ms as ISO 8601 in Beijing time, e.g. ``2025-06-01T21:30:05+08:00``.

    Milliseconds are shown only when non-zero. ``None`` stays ``None``.
    """
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    minute, secs = divmod(seconds, 60)
    prefix = _MINUTES.get(minute)
    if prefix is None:  # formatting dates is slow; a run touches few distinct minutes
        prefix = _minute_prefix(minute)
    if millis:
        return f"{prefix}{_SECONDS[secs]}.{millis:03d}+08:00"
    return prefix + _SECONDS[secs] + "+08:00"


def _minute_prefix(minute: int) -> str:
    """``YYYY-MM-DDTHH:MM:`` (Beijing time) of an epoch minute, cached."""
    day, rem = divmod(minute + 480, 1440)
    hours, minutes = divmod(rem, 60)
    prefix = (_EPOCH_NAIVE + timedelta(days=day)).strftime("%Y-%m-%dT")
    prefix = f"{prefix}{hours:02d}:{minutes:02d}:"
    if len(_MINUTES) >= 200_000:
        _MINUTES.clear()
    _MINUTES[minute] = prefix
    return prefix


_EPOCH_NAIVE = datetime(1970, 1, 1)
_MINUTES: dict[int, str] = {}
_SECONDS = tuple(f"{s:02d}" for s in range(60))


def _number(obj: dict[str, Any], name: str, required: bool) -> float | None:
    value = obj.get(name)
    if value is None:
        if required:
            raise PingError("bad_field", f"{name}: required number", name)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PingError("bad_field", f"{name}: expected a number, got {value!r}", name)
    return float(value)


def _choice(obj: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise PingError(
            "bad_field", f"{name}: expected one of {'|'.join(allowed)}, got {value!r}", name
        )
    return value


def _to_wgs84(ping: Ping, datum: str) -> None:
    """Convert the ping's coordinates in place; the engine only ever sees WGS-84."""
    from geofence.datum import transform

    if not (math.isfinite(ping.lat) and math.isfinite(ping.lng)):
        return  # hygiene rejects it; there is nothing to convert
    ping.lng, ping.lat = transform(ping.lng, ping.lat, datum, "wgs84")
