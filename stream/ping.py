"""A position report (ping) from a vehicle terminal, parsed and normalised to WGS-84.

The wire format is one JSON object per ping (``pings.jsonl``, docs/formats.md "Pings"), declared
once, here, in :data:`FIELDS`: :func:`parse_ping`, :meth:`Ping.to_dict`, the Kafka codec's typed
decoder (``stream.kafka.codec``) and the tests take their field lists from it (issue 11: the
schema used to be written out in eight places that drifted apart).

The contract, in short: ``vehicle``, ``ts``, ``lat``, ``lng`` are required and a bad one refuses
the ping (``bad_field``, the detail naming the field and the value; the vehicle id kept when it
parsed); so is a bad ``datum`` (the coordinates would be wrong). Every other field is optional:
a bad one is dropped with a warning on the ping (``Ping.warnings``) and the position is kept. A
string holding a decimal number is that number. Times are epoch milliseconds or ISO 8601 with an
offset (:func:`parse_ts`, the one time parser of landun; ``stream.eventtime`` re-exports it).

Parsing checks types and shapes only. Plausibility (non-finite or out-of-range coordinates,
clocks in the future, epoch seconds sent for milliseconds, duplicates...) is the engine's hygiene
(``stream.engine.hygiene``), so a NaN latitude parses here and is rejected there with its own
reason.

Timestamps are int epoch milliseconds (UTC) inside landun; :func:`iso_ts` formats them for output
in Beijing time (+08:00).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
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
# Event times landun accepts: years 1970 to 9999 (datetime's range; beyond it the platform's
# clock functions fail with OverflowError or OSError instead of a ValueError).
MIN_MS, MAX_MS = 0, 253_402_300_799_999
# Epoch *seconds* of 2000-01-01 .. 5138 sent where milliseconds are due read as a time in
# 1970-01-11 .. 1973-03-03: the commonest terminal and gateway mistake, named as such (issue 11).
EPOCH_SECONDS = (946_684_800, 10**11)
# A string that is a decimal number ("42.5", "-3", "1e3"): a number sent as text (issue 11).
_NUMERIC = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SHOWN = 60  # characters of an offending value quoted in a detail or warning


class PingError(ValueError):
    """A ping that cannot be parsed.

    Attributes
    ----------
    reason : str
        ``"bad_json"`` (not a JSON object) or ``"bad_field"`` (a field is missing or malformed).
    field : str or None
        The offending field, for ``bad_field``.
    detail : str
        What is wrong, for people: the field, what was expected and the value given.
    vehicle : str or None
        The ping's vehicle id when it parsed (a rejection is filed under it, issue 11).
    """

    def __init__(
        self, reason: str, detail: str, field: str | None = None, vehicle: str | None = None
    ):
        super().__init__(detail)
        self.reason = reason
        self.field = field
        self.detail = detail
        self.vehicle = vehicle


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the ping wire format.

    Attributes
    ----------
    name : str
        The JSON key.
    kind : str
        ``text``, ``time`` (:func:`parse_ts`), ``number`` (a float), ``integer`` (64-bit),
        ``flag`` (true/false) or ``choice`` (one of ``choices``).
    required : bool
        A required field that is missing or bad refuses the ping (``bad_field``).
    error : bool
        A bad value refuses the ping even though the field is optional (``datum``); any other
        bad optional value is dropped with a warning.
    choices : tuple of str
        The allowed values of a ``choice``.
    on_ping : bool
        Kept on :class:`Ping` (``datum`` is not: the coordinates are converted instead).
    """

    name: str
    kind: str
    required: bool = False
    error: bool = False
    choices: tuple[str, ...] = ()
    on_ping: bool = True


FIELDS = (
    Field("vehicle", "text", required=True),
    Field("ts", "time", required=True),
    Field("lat", "number", required=True),
    Field("lng", "number", required=True),
    Field("speed_kmh", "number"),
    Field("heading", "number"),
    Field("acc", "flag"),
    Field("loaded", "choice", choices=LOADED_STATES),
    Field("lift", "flag"),
    Field("cover_open", "flag"),
    Field("backfill", "flag"),
    Field("source", "text"),
    Field("seq", "integer"),
    # When the platform received it (the gateway or the Kafka record stamps it): the future and
    # too-old checks' reference when present (issue 11).
    Field("received", "time"),
    Field("datum", "choice", error=True, choices=DATUMS, on_ping=False),
)


@dataclass(slots=True)
class Ping:
    """One position report, WGS-84, event time in epoch milliseconds.

    Its fields are those of :data:`FIELDS` kept on a ping, in that order, then two that are not
    wire fields: ``ref``, where the ping came from (a file line number, a Kafka offset) so that a
    rejection can point back at it, and ``warnings``, one ``"field: what was wrong, got value"``
    per bad optional field that parsing dropped (issue 11).
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
    received: int | None = None
    ref: int | None = None
    warnings: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ping as a wire-format dict (``ts`` as epoch ms; unset fields left out).

        ``ref`` and ``warnings`` (a list) are included when set: a rejection, an alert's
        evidence or an archive then shows where the ping came from and what was dropped.
        """
        out: dict[str, Any] = {"vehicle": self.vehicle, "ts": self.ts, "lat": self.lat}
        out["lng"] = self.lng
        for name in _OPTIONAL_KEYS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.warnings is not None:
            out["warnings"] = list(self.warnings)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ping:
        """The ping :meth:`to_dict` wrote (a checkpoint's): ``from_dict(to_dict()) == ping``.

        ``warnings`` comes back from JSON as a list and is a tuple again (issue 11: a held ping
        with warnings did not round-trip through the engine's state).
        """
        warnings = d.get("warnings")
        if warnings is not None:
            d = {**d, "warnings": tuple(warnings)}
        return cls(**d)

    def warned_fields(self) -> list[str]:
        """The fields named by :attr:`warnings` (one per warning, in its order; none: [])."""
        return [warning_field(w) for w in self.warnings or ()]


def warning_field(warning: str) -> str:
    """The field a warning is about: each reads ``field: what was wrong, got value``."""
    return warning.split(":", 1)[0]


# Ping's own order: the optional wire fields, then ``ref``.
_OPTIONAL_KEYS = tuple(f.name for f in fields(Ping))[4:-1]


def _check_ping_matches_fields() -> None:
    """Ping holds exactly the wire fields kept on a ping, in :data:`FIELDS` order, then ``ref``
    and ``warnings`` (the Kafka codec builds pings positionally from its typed records)."""
    kept = [f.name for f in FIELDS if f.on_ping]
    own = [f.name for f in fields(Ping)]
    if own != [*kept, "ref", "warnings"] or kept[:4] != ["vehicle", "ts", "lat", "lng"]:
        raise TypeError(f"Ping fields {own} differ from the wire fields {kept}")


_check_ping_matches_fields()


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
        With ``ts`` in epoch ms and coordinates converted to WGS-84; bad optional fields dropped
        and named in ``warnings``.

    Raises
    ------
    PingError
        ``bad_json`` when the text is not a JSON object, ``bad_field`` naming the field, its value
        and (when it parsed) the vehicle otherwise.
    """
    ping, datum = read_ping(raw, ref)
    if datum is not None and datum != "wgs84":
        _to_wgs84(ping, datum)
    return ping


def read_ping(raw: bytes | str | dict[str, Any], ref: int | None = None) -> tuple[Ping, str | None]:
    """:func:`parse_ping` without the datum conversion: the ping as sent, and its datum.

    For a caller that converts many pings at once (the Kafka codec converts a batch's).
    """
    obj = raw if isinstance(raw, dict) else _json_object(raw)
    vehicle = obj.get("vehicle")
    if not isinstance(vehicle, str) or not vehicle:
        raise PingError("bad_field", _detail("vehicle", "a non-empty string", vehicle), "vehicle")
    try:
        ping = Ping(vehicle, _required(obj, "ts"), _required(obj, "lat"), _required(obj, "lng"))
        datum = obj.get("datum")
        if datum is not None:
            datum = _choice(datum, _DATUM)
        warnings = None
        for name, read, spec in _OPTIONAL:
            value = obj.get(name)
            if value is None:
                continue
            try:
                setattr(ping, name, read(value, spec))
            except PingError as exc:  # dropped, the position kept (issue 11)
                warnings = (*warnings, exc.detail) if warnings else (exc.detail,)
    except PingError as exc:
        exc.vehicle = vehicle
        raise
    ping.ref = ref
    ping.warnings = warnings
    return ping, datum


def _json_object(raw: bytes | str) -> dict[str, Any]:
    try:
        obj = loads_json(raw)
    except orjson.JSONDecodeError as exc:
        raise PingError("bad_json", f"not JSON ({exc}): {_show(raw)}") from None
    if not isinstance(obj, dict):
        raise PingError(
            "bad_json", f"expected a JSON object, got {type(obj).__name__} {_show(raw)}"
        )
    return obj


def _required(obj: dict[str, Any], name: str) -> Any:
    value = obj.get(name)
    spec = _SPECS[name]
    if value is None:
        what = "missing" if name not in obj else "null"
        raise PingError("bad_field", f"{name}: required, {what}", name)
    return _READERS[spec.kind](value, spec)


def loads_json(raw: bytes | str) -> Any:
    """JSON text as ``orjson.loads`` reads it, but for non-finite numbers.

    ``NaN``, ``Infinity``, ``-Infinity`` (not JSON, yet what many encoders write for a float
    that is not finite) and numbers too large for a float (``1e400``) are read as the floats
    ``nan``/``inf``, so that a non-finite *optional* field costs that field (a warning) and a
    non-finite coordinate the engine's ``filter_non_finite``, not the whole ping with its vehicle
    and position (issue 11). Anything else orjson refuses stays refused, with orjson's error.

    Raises
    ------
    orjson.JSONDecodeError
        When the text is not JSON, non-finite numbers aside.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = raw.encode() if isinstance(raw, str) else raw
        if not _NON_FINITE.search(text) and "infinity" not in str(exc):
            raise
        try:
            obj = json.loads(text)
            orjson.dumps(obj)  # what orjson refuses besides (surrogates, integers past 64 bits)
        except (ValueError, TypeError, RecursionError, orjson.JSONEncodeError):
            raise exc from None
        return obj


# The non-finite literals Python's json reads (case-sensitive, as it is), and numbers that
# overflow a double; checked only after orjson refused a text (issue 11).
_NON_FINITE = re.compile(rb"NaN|Infinity|[0-9][eE]\+?[0-9]{3}")


def is_numeric(text: str) -> bool:
    """True when ``text`` is a decimal number (``"42.5"``, ``"-3"``, ``"1e3"``): a number sent as
    text, read as that number by every reader of landun (:func:`parse_ts`, the registry)."""
    return _numeric(text)


def parse_ts(value: Any, name: str = "ts") -> int:
    """Epoch milliseconds from epoch ms or an ISO 8601 text with an offset: the one time rule.

    - A number is epoch milliseconds and must be an integer (``1.5`` is refused; ``1.7e12`` is
      fine); a string of a decimal number is that number (``"1717000000000"``).
    - An ISO 8601 text must carry its offset (``Z``, ``+08:00``): local time is ambiguous.
      Fractions of a millisecond are truncated toward the past (``.2509`` is 250 ms).
    - The result must lie in 1970..9999 (:data:`MIN_MS`, :data:`MAX_MS`). Epoch *seconds*
      (1.7e9) lie in it as a date of January 1970: the engine's hygiene names them.

    Raises
    ------
    PingError
        ``bad_field`` naming ``name`` and the value. It is a ``ValueError``.
    """
    if isinstance(value, bool):
        raise PingError("bad_field", _detail(name, _TIME, value), name)
    if isinstance(value, str) and (":" in value or not _numeric(value)):  # ":" skips the regex
        ms = _iso_ms(value, name)
    else:
        ms = _whole(value, name, "epoch milliseconds as an integer")
    if not MIN_MS <= ms <= MAX_MS:
        raise PingError("bad_field", f"{name}: outside 1970..9999, got {_show(value)}", name)
    return ms


_TIME = "epoch milliseconds or ISO 8601 with an offset"


def _iso_ms(text: str, name: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PingError("bad_field", _detail(name, _TIME, text), name) from None
    if moment.tzinfo is None:
        # local time is ambiguous
        what = "ISO 8601 time with no UTC offset"
        raise PingError("bad_field", f"{name}: {what}, got {_show(text)}", name)
    return (moment - _EPOCH) // _MS  # floor: sub-millisecond digits truncated toward the past


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


def _whole(value: Any, name: str, expected: str) -> int:
    """An integer from an int, a float without a fraction or a numeric string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = value
    if isinstance(value, str) and _numeric(value):
        if value.lstrip("+-").isdigit():
            return int(value)
        number = float(value)
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        return int(number)
    raise PingError("bad_field", _detail(name, expected, value), name)


def _numeric(text: str) -> bool:
    return len(text) <= 40 and _NUMERIC.fullmatch(text) is not None


def _number(value: Any, spec: Field) -> float:
    if type(value) is float:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            pass
    elif isinstance(value, str) and _numeric(value):
        number = float(value)
        if math.isfinite(number):
            return number
    raise PingError("bad_field", _detail(spec.name, "a number", value), spec.name)


def _finite(value: Any, spec: Field) -> float:
    """An optional number: a non-finite one (NaN, an overflowing ``1e400``) is as bad as text,
    dropped with a warning (issue 11). Coordinates use :func:`_number`: the engine's hygiene
    rejects them non-finite, with the vehicle named."""
    if type(value) is float and value - value == 0.0:  # finite (NaN and inf give NaN): common
        return value
    number = _number(value, spec)
    if math.isfinite(number):
        return number
    raise PingError("bad_field", _detail(spec.name, "a finite number", value), spec.name)


def _integer(value: Any, spec: Field) -> int:
    number = _whole(value, spec.name, "an integer")
    if not INT64[0] <= number <= INT64[1]:
        raise PingError("bad_field", _detail(spec.name, "a 64-bit integer", value), spec.name)
    return number


def _flag(value: Any, spec: Field) -> bool:
    if value is True or value is False:
        return value
    raise PingError("bad_field", _detail(spec.name, "true or false", value), spec.name)


def _choice(value: Any, spec: Field) -> str:
    if isinstance(value, str) and value in spec.choices:
        return value
    expected = f"one of {'|'.join(spec.choices)}"
    raise PingError("bad_field", _detail(spec.name, expected, value), spec.name)


def _text(value: Any, spec: Field) -> str:
    if isinstance(value, str):
        return value
    raise PingError("bad_field", _detail(spec.name, "a string", value), spec.name)


def looks_like_epoch_seconds(ms: int) -> bool:
    """True when epoch milliseconds ``ms`` are rather epoch seconds (:data:`EPOCH_SECONDS`)."""
    return EPOCH_SECONDS[0] <= ms < EPOCH_SECONDS[1]


def _time(value: Any, spec: Field) -> int:
    ms = parse_ts(value, spec.name)
    if not spec.required and looks_like_epoch_seconds(ms):
        # An optional stamp (received) in seconds would date the ping's reception in 1970 and
        # make every ping "in the future": dropped with a warning, the vehicle's own history
        # judges the ping instead (issue 11). A ts in seconds is the engine's filter_too_old.
        what = "epoch milliseconds, got epoch seconds"
        raise PingError("bad_field", f"{spec.name}: expected {what} {_show(value)}", spec.name)
    return ms


def _detail(name: str, expected: str, value: Any) -> str:
    return f"{name}: expected {expected}, got {_show(value)}"


def _show(value: Any) -> str:
    """The offending value as Python shows it, cut short: a detail names it, never floods."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


_READERS: dict[str, Callable[[Any, Field], Any]] = {
    "text": _text,
    "time": _time,
    "number": _number,
    "integer": _integer,
    "flag": _flag,
    "choice": _choice,
}
_SPECS = {f.name: f for f in FIELDS}
_DATUM = _SPECS["datum"]
# Optional fields kept on the ping, whose bad values are warnings: (name, reader, field).
_OPTIONAL = tuple(
    (f.name, _finite if f.kind == "number" else _READERS[f.kind], f)
    for f in FIELDS
    if not f.required and not f.error and f.on_ping
)


def _to_wgs84(ping: Ping, datum: str) -> None:
    """Convert the ping's coordinates in place; the engine only ever sees WGS-84."""
    from geofence.datum import transform

    if not (math.isfinite(ping.lat) and math.isfinite(ping.lng)):
        return  # hygiene rejects it; there is nothing to convert
    ping.lng, ping.lat = transform(ping.lng, ping.lat, datum, "wgs84")
