"""Messages as JSON-able dicts and back: what `landun jt808 decode` prints and `encode` reads.

:func:`to_dict` of a decoded :class:`~gateway.messages.Message` and :func:`from_dict` of that
dict give back the same frame bytes for every message this codec decodes (tests hold it on the
PROTOCOL.md vectors), so a field engineer can decode a capture, edit one field and re-encode it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway import encoders, frame, header, location, messages
from gateway.errors import CodecError
from gateway.header import V2013, V2019, Header
from gateway.items import VendorProfile, named_extras
from gateway.location import Batch, Location

MSG_NAMES = {
    messages.TERMINAL_RESPONSE: "terminal_response",
    messages.HEARTBEAT: "heartbeat",
    messages.LOGOUT: "logout",
    messages.REGISTER: "registration",
    messages.AUTHENTICATE: "authentication",
    messages.LOCATION: "location",
    messages.BATCH: "batch",
    messages.GENERAL_RESPONSE: "general_response",
    messages.REGISTER_RESPONSE: "registration_response",
    messages.RETRANSMIT_REQUEST: "retransmit_request",
}
_HEX_FIELDS = ("ack_msg_id",)


def iso_utc(ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with ``Z`` (whole seconds: the wire has no fractions)."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> int:
    """ISO 8601 with an offset (``Z``, ``+08:00``) to epoch ms.

    Raises
    ------
    CodecError
        ``bad_value`` for text without an offset or no time at all.
    """
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise CodecError("bad_value", f"time: expected ISO 8601, got {text!r}") from None
    if when.tzinfo is None:
        raise CodecError("bad_value", f"time: needs an offset (Z, +08:00), got {text!r}")
    return int(when.timestamp() * 1000)


def position_dict(loc: Location, version: str, vendor: VendorProfile | None = None) -> dict:
    """One position: coordinates, time (ISO UTC), alarm/status with names, extras."""
    out: dict[str, Any] = {
        "lat": loc.lat,
        "lng": loc.lng,
        "speed_kmh": loc.speed_kmh,
        "heading": loc.heading,
        "altitude_m": loc.altitude_m,
        "time": iso_utc(loc.time_ms) if loc.time_ms is not None else None,
        "alarm": loc.alarm,
        "status": loc.status,
        "alarms": location.alarm_names(loc.alarm, version),
        "flags": location.status_flags(loc.status),
        "extras": named_extras(loc.items, vendor),
    }
    if loc.time_ms is None:
        out["time_raw"] = loc.time_raw.hex()
    if loc.tail:
        out["tail"] = loc.tail.hex()
    if loc.warnings:
        out["warnings"] = list(loc.warnings)
    return out


def to_dict(msg: messages.Message, vendor: VendorProfile | None = None) -> dict[str, Any]:
    """The JSON view of a decoded message (docs/jt808.md "landun jt808 decode")."""
    head = msg.header
    out: dict[str, Any] = {
        "msg_id": f"0x{head.msg_id:04X}",
        "msg_name": MSG_NAMES.get(head.msg_id, "unknown"),
        "version": head.version,
        "protocol_version": head.protocol_version,
        "phone": head.phone,
        "phone_bcd": head.phone_bcd.hex(),
        "serial": head.serial,
        "encryption": head.encryption,
        "subpackage": {"total": head.total, "index": head.index} if head.subpackaged else None,
        "supported": msg.supported,
    }
    if head.warnings:
        out["warnings"] = list(head.warnings)
    fields = msg.fields
    if "location" in fields:
        out["positions"] = [position_dict(fields["location"], head.version, vendor)]
    elif "batch" in fields:
        batch: Batch = fields["batch"]
        out.update(
            batch_type=batch.kind,
            backfill=batch.backfill,
            count=batch.count,
            positions=[position_dict(p, head.version, vendor) for p in batch.positions],
        )
        if batch.rejected:
            out["rejected"] = [
                {"index": i, "reason": e.reason, "detail": e.detail} for i, e in batch.rejected
            ]
        if batch.warnings:
            out["batch_warnings"] = list(batch.warnings)
    elif fields:
        for key, value in fields.items():
            out[key] = f"0x{value:04X}" if key in _HEX_FIELDS else value
    else:
        out["body"] = msg.body.hex()
    return out


# --- back to bytes ---------------------------------------------------------------------------


def _int(value: Any, name: str) -> int:
    """An int from a JSON number or a ``"0x..."``/decimal string."""
    if isinstance(value, bool):
        raise CodecError("bad_value", f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise CodecError("bad_value", f"{name}: expected an integer, got {value!r}")


def _num(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError("bad_value", f"{name}: expected a number, got {value!r}")
    return float(value)


def position_from_dict(d: dict[str, Any]) -> Location:
    """A :class:`Location` from a position dict (``extras`` read back by their ``raw`` hex)."""
    try:
        items = {int(k, 16): bytes.fromhex(v["raw"]) for k, v in (d.get("extras") or {}).items()}
        tail = bytes.fromhex(d.get("tail") or "")
        time_raw = bytes.fromhex(d.get("time_raw") or "")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CodecError("bad_value", f"position extras/tail/time_raw: {exc}") from None
    time = d.get("time")
    return Location(
        alarm=_int(d.get("alarm", 0), "alarm"),
        status=_int(d.get("status", 0), "status"),
        lat=_num(d.get("lat"), "lat"),
        lng=_num(d.get("lng"), "lng"),
        altitude_m=_int(d.get("altitude_m", 0), "altitude_m"),
        speed_kmh=_num(d.get("speed_kmh", 0), "speed_kmh"),
        heading=_int(d.get("heading", 0), "heading"),
        time_ms=parse_iso(time) if time is not None else None,
        time_raw=time_raw,
        items=items,
        tail=tail,
    )


def body_from_dict(msg_id: int, version: str, d: dict[str, Any]) -> bytes:
    """The body bytes a dict of :func:`to_dict`'s shape describes (``version``: 2011, 2013 or
    2019; a registration without ``layout`` takes the version's field widths)."""
    if d.get("body") is not None:
        try:
            return bytes.fromhex(d["body"])
        except (ValueError, TypeError):
            raise CodecError("bad_value", f"body: expected hex, got {d['body']!r}") from None
    if msg_id == messages.LOCATION:
        positions = d.get("positions") or []
        if len(positions) != 1:
            raise CodecError("bad_value", "0x0200 takes exactly one position")
        return location.encode(position_from_dict(positions[0]))
    if msg_id == messages.BATCH:
        positions = [position_from_dict(p) for p in d.get("positions") or []]
        return location.encode_batch(positions, _int(d.get("batch_type", 0), "batch_type"))
    if msg_id in (messages.TERMINAL_RESPONSE, messages.GENERAL_RESPONSE):
        return encoders.terminal_response_body(
            _int(d.get("ack_serial"), "ack_serial"),
            _int(d.get("ack_msg_id"), "ack_msg_id"),
            _int(d.get("result", 0), "result"),
        )
    if msg_id in (messages.HEARTBEAT, messages.LOGOUT):
        return bytes.fromhex(d.get("extra") or "")
    if msg_id == messages.REGISTER:
        return encoders.registration_body(
            _int(d.get("province", 0), "province"),
            _int(d.get("city", 0), "city"),
            str(d.get("manufacturer", "")),
            str(d.get("model", "")),
            str(d.get("terminal_id", "")),
            _int(d.get("plate_color", 0), "plate_color"),
            str(d.get("plate", "")),
            d.get("layout") or version,
        )
    if msg_id == messages.AUTHENTICATE:
        two019 = version == V2019 and "imei" in d
        return encoders.authentication_body(
            str(d.get("auth_code", "")),
            V2019 if two019 else V2013,
            str(d.get("imei", "")),
            str(d.get("software_version", "")),
        )
    if msg_id == messages.REGISTER_RESPONSE:
        result = _int(d.get("result", 0), "result")
        body = _int(d.get("ack_serial"), "ack_serial").to_bytes(2, "big") + bytes((result,))
        code = d.get("auth_code") if result == 0 else None
        return body + (str(code).encode("gbk") if code else b"")
    if msg_id == messages.RETRANSMIT_REQUEST:
        indices = [_int(i, "indices") for i in d.get("indices") or []]
        width = 2 if version == V2019 else 1
        body = _int(d.get("first_serial"), "first_serial").to_bytes(2, "big")
        body += len(indices).to_bytes(width, "big")
        return body + b"".join(i.to_bytes(2, "big") for i in indices)
    raise CodecError("bad_value", f"0x{msg_id:04X}: no fields known; give its body as hex")


def from_dict(d: dict[str, Any]) -> bytes:
    """The wire frame a dict of :func:`to_dict`'s shape describes.

    ``phone_bcd`` (hex) wins over ``phone`` so a decoded frame re-encodes byte for byte;
    ``subpackage`` ``{"total", "index"}`` sets bit 13; ``encryption`` bits 10-12.

    Raises
    ------
    CodecError
        ``bad_value`` naming the field that is missing or does not fit.
    """
    if not isinstance(d, dict):
        raise CodecError("bad_value", "expected a JSON object")
    msg_id = _int(d.get("msg_id"), "msg_id")
    version = str(d.get("version") or V2013)
    if version not in (V2013, V2019, "2011"):
        raise CodecError("bad_value", f"version: expected 2011, 2013 or 2019, got {version!r}")
    layout_version = version  # "2011" only tells a registration body's widths
    version = V2019 if version == V2019 else V2013
    phone: str | bytes
    if d.get("phone_bcd"):
        try:
            phone = bytes.fromhex(d["phone_bcd"])
        except (ValueError, TypeError):
            raise CodecError(
                "bad_value", f"phone_bcd: expected hex, got {d['phone_bcd']!r}"
            ) from None
    else:
        phone = str(d.get("phone", ""))
    body = body_from_dict(msg_id, layout_version, d)
    sub = d.get("subpackage") or {}
    head = header.encode(
        msg_id,
        phone,
        _int(d.get("serial", 0), "serial"),
        len(body),
        version,
        _int(1 if d.get("protocol_version") is None else d["protocol_version"], "protocol_version"),
        total=_int(sub["total"], "total") if sub else None,
        index=_int(sub["index"], "index") if sub else None,
        encryption=_int(d.get("encryption", 0), "encryption"),
    )
    return frame.build(head + body)


__all__ = ["Header", "to_dict", "from_dict", "position_dict", "position_from_dict", "iso_utc"]
