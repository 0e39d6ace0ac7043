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
offset (``stream.wire_values.parse_ts``, the one time parser of landun; ``stream.eventtime``
re-exports it).

Parsing checks types and shapes only. Plausibility (non-finite or out-of-range coordinates,
clocks in the future, epoch seconds sent for milliseconds, duplicates...) is the engine's hygiene
(``stream.engine.hygiene``), so a NaN latitude parses here and is rejected there with its own
reason.

Timestamps are int epoch milliseconds (UTC) inside landun; ``stream.eventtime.iso_ts`` formats them
for output in Beijing time (+08:00). Reading one field's value: ``stream.wire_values``; the JSON
text: ``stream.wire_json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import orjson

from stream.wire_json import loads_json
from stream.wire_values import READERS, PingError, detail, read_choice, read_finite, show

LOADED_STATES = ("empty", "half", "full")
DATUMS = ("wgs84", "gcj02", "bd09")


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the ping wire format.

    Attributes
    ----------
    name : str
        The JSON key.
    kind : str
        ``text``, ``time`` (``stream.wire_values.parse_ts``), ``number`` (a float), ``integer``
        (64-bit), ``flag`` (true/false) or ``choice`` (one of ``choices``).
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
        raise PingError("bad_field", detail("vehicle", "a non-empty string", vehicle), "vehicle")
    try:
        ping = Ping(vehicle, _required(obj, "ts"), _required(obj, "lat"), _required(obj, "lng"))
        datum = obj.get("datum")
        if datum is not None:
            datum = read_choice(datum, _DATUM)
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
        raise PingError("bad_json", f"not JSON ({exc}): {show(raw)}") from None
    if not isinstance(obj, dict):
        raise PingError("bad_json", f"expected a JSON object, got {type(obj).__name__} {show(raw)}")
    return obj


def _required(obj: dict[str, Any], name: str) -> Any:
    value = obj.get(name)
    spec = _SPECS[name]
    if value is None:
        what = "missing" if name not in obj else "null"
        raise PingError("bad_field", f"{name}: required, {what}", name)
    return READERS[spec.kind](value, spec)


_SPECS = {f.name: f for f in FIELDS}
_DATUM = _SPECS["datum"]
# Optional fields kept on the ping, whose bad values are warnings: (name, reader, field).
_OPTIONAL = tuple(
    (f.name, read_finite if f.kind == "number" else READERS[f.kind], f)
    for f in FIELDS
    if not f.required and not f.error and f.on_ping
)


def _to_wgs84(ping: Ping, datum: str) -> None:
    """Convert the ping's coordinates in place; the engine only ever sees WGS-84."""
    from geofence.datum import transform

    if not (math.isfinite(ping.lat) and math.isfinite(ping.lng)):
        return  # hygiene rejects it; there is nothing to convert
    ping.lng, ping.lat = transform(ping.lng, ping.lat, datum, "wgs84")
