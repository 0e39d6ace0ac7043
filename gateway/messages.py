"""Decoding a whole frame into a message (issue 14; encoding is :mod:`gateway.encoders`).

:func:`decode_frame` runs unescape -> header -> length -> checksum -> body. Bodies are decoded
for the messages the gateway handles: 0x0001 terminal response, 0x0002 heartbeat, 0x0003 logout,
0x0100 registration, 0x0102 authentication, 0x0200 location, 0x0704 batch, and the platform's
own 0x8001, 0x8003 and 0x8100 (so a capture of both directions decodes). Other ids, encrypted
bodies and subpackage fragments keep their raw body (``Message.supported`` is false for the
first two: the gateway answers result 3).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway import frame, header, location
from gateway.errors import CodecError
from gateway.header import V2019, Header

TERMINAL_RESPONSE, HEARTBEAT, LOGOUT = 0x0001, 0x0002, 0x0003
REGISTER, AUTHENTICATE, LOCATION, BATCH = 0x0100, 0x0102, 0x0200, 0x0704
GENERAL_RESPONSE, REGISTER_RESPONSE, RETRANSMIT_REQUEST = 0x8001, 0x8100, 0x8003

# Result codes of 0x8001 (and 0x0001, which stops at 3).
OK, FAILURE, BAD_MESSAGE, UNSUPPORTED, ALARM_CONFIRMED = 0, 1, 2, 3, 4
# Result codes of 0x8100.
REG_OK, REG_VEHICLE_TAKEN, REG_NO_VEHICLE, REG_TERMINAL_TAKEN, REG_NO_TERMINAL = 0, 1, 2, 3, 4

# Body layouts shared with gateway.encoders: ack serial, ack id, result (0x0001/0x8001); ack
# serial, result (0x8100); province, city (0x0100).
ACK_BODY = struct.Struct(">HHB")
REG_ACK_BODY = struct.Struct(">HB")
AREA_IDS = struct.Struct(">HH")
# 0x0100 field widths: manufacturer, model, terminal id (PROTOCOL.md 1.3).
REGISTRATION_WIDTHS = {"2011": (5, 8, 7), "2013": (5, 20, 7), "2019": (11, 30, 30)}


@dataclass(slots=True)
class Message:
    """A decoded frame.

    Attributes
    ----------
    header : Header
        Its header (``header.warnings`` lists lenient decisions taken).
    body : bytes
        The raw body (after unescaping).
    fields : dict
        The decoded body: for 0x0200 ``{"location": Location}``, for 0x0704 ``{"batch": Batch}``,
        otherwise plain values (see docs/jt808.md); empty for an undecoded body.
    supported : bool
        False for a message id this codec does not decode or an encrypted body (reply result 3).
    """

    header: Header
    body: bytes
    fields: dict[str, Any] = field(default_factory=dict)
    supported: bool = True


def decode_frame(raw: bytes, lenient: bool = False) -> Message:
    """Decode one frame: the escaped bytes between two flags (flags may be included).

    Parameters
    ----------
    raw : bytes
        From :class:`gateway.frame.FrameSplitter`, or a whole ``7E ... 7E`` frame.
    lenient : bool
        The per-terminal switch for real-world quirks (docs/jt808.md "Lenient"): a bare 0x7D
        checksum, a wrong XOR, a body length that disagrees with the bytes present,
        two's-complement coordinates. Each quirk accepted leaves a warning on the header.

    Raises
    ------
    CodecError
        With the reason (``empty``, ``bad_escape``, ``truncated``, ``bad_length``,
        ``bad_checksum``, ``bad_body``, ``bad_coordinate``) and, once readable, the header.
    """
    if type(raw) is not bytes:
        raw = bytes(raw)
    if raw and raw[0] == 0x7E:
        raw = raw[1:]
    if raw and raw[-1] == 0x7E:
        raw = raw[:-1]
    if not raw:
        raise CodecError("empty", "no bytes between the flags")
    if b"\x7e" in raw:
        raise CodecError("bad_escape", "0x7E inside a frame")
    bare_escape = lenient and raw[-1] == frame.ESC and frame._stray_escape(raw) == len(raw) - 1
    data = frame.unescape(raw, lenient) if b"\x7d" in raw else raw
    head = header.parse(data, lenient)
    if bare_escape:
        head.warnings.append("bare_escape")
    size = head.size
    body = data[size : size + head.body_len]
    actual = frame.checksum(data[:-1])
    if actual != data[-1]:
        if not lenient:
            raise CodecError(
                "bad_checksum", f"XOR is {actual:02x}, frame says {data[-1]:02x}", head
            )
        head.warnings.append("bad_checksum")
    if head.msg_id == LOCATION and not head.encryption and head.total is None:
        try:  # the hot path: skip the dispatch table
            return Message(head, body, {"location": location.decode(body, lenient)})
        except CodecError as exc:
            exc.header = head
            raise
    return decode_body(head, body, lenient)


def decode_for_terminal(raw: bytes, lenient_of: Callable[[str], bool]) -> Message:
    """Decode strictly; a frame that fails is accepted leniently only from a lenient terminal.

    The gateway does not know which terminal a frame is from before decoding it, so the
    per-terminal switch is applied after the fact: a frame that decodes strictly is returned
    as is; one that does not is decoded again with ``lenient=True`` and returned only when
    ``lenient_of(phone)`` says its terminal is lenient. The lenient pass costs nothing on good
    frames.

    Raises
    ------
    CodecError
        The strict error, when the frame fails leniently too or its terminal is not lenient.
    """
    try:
        return decode_frame(raw)
    except CodecError as strict:
        try:
            msg = decode_frame(raw, lenient=True)
        except CodecError:
            raise strict from None
        if lenient_of(msg.header.phone):
            return msg
        raise strict from None


def decode_body(head: Header, body: bytes, lenient: bool = False) -> Message:
    """Decode ``body`` by ``head.msg_id`` (also for a body rebuilt from subpackages).

    Raises
    ------
    CodecError
        ``truncated``/``bad_body``/``bad_coordinate`` with ``header`` set.
    """
    if head.subpackaged or head.encryption:
        return Message(head, body, {}, supported=not head.encryption)
    decoder = _DECODERS.get(head.msg_id)
    if decoder is None:
        return Message(head, body, {}, supported=False)
    try:
        fields = decoder(head, body, lenient)
    except CodecError as exc:
        exc.header = head
        raise
    except (IndexError, struct.error, ValueError) as exc:
        raise CodecError("bad_body", f"0x{head.msg_id:04x} body: {exc}", head) from None
    return Message(head, body, fields)


def _text(raw: bytes) -> str:
    """A fixed-width STRING: GBK, 0x00 padding trimmed at both ends.

    ASCII '0' padding (some libraries, PROTOCOL.md 1.1) is kept: it cannot be told from data.
    """
    return raw.strip(b"\x00").decode("gbk", errors="replace")


def _ack(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    if len(body) < ACK_BODY.size:
        raise CodecError("truncated", f"response body of {len(body)} bytes, 5 needed")
    serial, msg_id, result = ACK_BODY.unpack_from(body)
    return {"ack_serial": serial, "ack_msg_id": msg_id, "result": result}


def _empty(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    # Some vendors append bytes to a heartbeat (battery, signal): kept, not an error.
    return {"extra": body.hex()} if body else {}


def registration_layout(head: Header, body: bytes) -> str:
    """``2011``, ``2013`` or ``2019``: which 0x0100 field widths ``body`` uses.

    2019 follows the header. 2011 and 2013 share a header and differ in the model's width, so
    the body tells: after province and city, 2013's fixed fields take 33 bytes (5 + 20 + 7 +
    colour) and 2011's 21. Size alone (SmallChi's "more than 33 bytes left is 2013",
    PROTOCOL.md 1.2) misreads a 2011 body with a long plate (an unplated truck sends its
    17-character VIN) and a 2013 body with an empty plate, so the plate colour byte decides
    first: 2013 when its colour byte holds a colour code, else 2011 when 2011's does; size only
    when neither does. A plate's text (GBK or ASCII) never holds a byte 0-9.
    """
    if head.version == V2019:
        return "2019"
    rest = len(body) - 4
    if rest >= 33 and _is_colour(body[4 + 5 + 20 + 7]):
        return "2013"
    if rest >= 21 and _is_colour(body[4 + 5 + 8 + 7]):
        return "2011"
    return "2013" if rest > 33 else "2011"


def _is_colour(byte: int) -> bool:
    """A plate colour code (0 none, 1 blue, 2 yellow, 3 black, 4 white, 5 green, 9 other), which
    no character of a plate or VIN is."""
    return byte <= 9


def _registration(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    layout = registration_layout(head, body)
    maker_w, model_w, id_w = REGISTRATION_WIDTHS[layout]
    fixed = 4 + maker_w + model_w + id_w + 1
    if len(body) < fixed:
        raise CodecError("truncated", f"registration body of {len(body)} bytes, {fixed} needed")
    province, city = AREA_IDS.unpack_from(body)
    pos = 4
    maker = _text(body[pos : pos + maker_w])
    pos += maker_w
    model = _text(body[pos : pos + model_w])
    pos += model_w
    terminal_id = _text(body[pos : pos + id_w])
    pos += id_w
    return {
        "layout": layout,
        "province": province,
        "city": city,
        "manufacturer": maker,
        "model": model,
        "terminal_id": terminal_id,
        "plate_color": body[pos],
        "plate": _text(body[pos + 1 :]),
    }


def _authentication(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    # 2019: code length BYTE, code, IMEI BYTE[15], software version BYTE[20]. A body that does
    # not add up that way is read as 2013's whole-body code (a terminal lying about bit 14).
    if head.version == V2019 and body and len(body) == 1 + body[0] + 15 + 20:
        n = body[0]
        return {
            "auth_code": _text(body[1 : 1 + n]),
            "imei": _text(body[1 + n : 16 + n]),
            "software_version": _text(body[16 + n :]),
        }
    return {"auth_code": _text(body)}


def _location(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    return {"location": location.decode(body, lenient)}


def _batch(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    return {"batch": location.decode_batch(body, lenient)}


def _register_response(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    if len(body) < REG_ACK_BODY.size:
        raise CodecError("truncated", f"registration response of {len(body)} bytes, 3 needed")
    serial, result = REG_ACK_BODY.unpack_from(body)
    out: dict[str, Any] = {"ack_serial": serial, "result": result}
    if result == REG_OK:
        out["auth_code"] = _text(body[3:])
    return out


def _retransmit(head: Header, body: bytes, lenient: bool) -> dict[str, Any]:
    width = 2 if head.version == V2019 else 1
    if len(body) < 2 + width:
        raise CodecError("truncated", f"retransmission request of {len(body)} bytes")
    count = int.from_bytes(body[2 : 2 + width], "big")
    indices = body[2 + width :]
    if len(indices) != 2 * count:
        raise CodecError("bad_body", f"{count} indices declared, {len(indices)} bytes present")
    return {
        "first_serial": int.from_bytes(body[:2], "big"),
        "indices": [int.from_bytes(indices[i : i + 2], "big") for i in range(0, len(indices), 2)],
    }


_DECODERS = {
    TERMINAL_RESPONSE: _ack,
    HEARTBEAT: _empty,
    LOGOUT: _empty,
    REGISTER: _registration,
    AUTHENTICATE: _authentication,
    LOCATION: _location,
    BATCH: _batch,
    GENERAL_RESPONSE: _ack,
    REGISTER_RESPONSE: _register_response,
    RETRANSMIT_REQUEST: _retransmit,
}


__all__ = ["Message", "decode_frame", "decode_for_terminal", "decode_body", "registration_layout"]
