"""Encoding JT/T 808 messages: whole frames, the platform's replies, terminal-side bodies.

The replies (0x8001 general response, 0x8100 registration response, 0x8003 retransmission
request) answer a decoded request's :class:`~gateway.header.Header`: same version, same phone
bytes as it came, the request's serial and id echoed in the body, the platform's own counter in
the header (issue 14). The terminal-side bodies (0x0100, 0x0102, 0x0001) are for tests, the
terminal simulator and ``landun jt808 encode``.
"""

from __future__ import annotations

from gateway import frame, header
from gateway.errors import CodecError
from gateway.header import V2013, V2019, Header
from gateway.messages import (
    ACK_BODY,
    AREA_IDS,
    GENERAL_RESPONSE,
    REG_ACK_BODY,
    REG_OK,
    REGISTER_RESPONSE,
    REGISTRATION_WIDTHS,
    RETRANSMIT_REQUEST,
)


def encode_frame(
    msg_id: int,
    phone: str | bytes,
    serial: int,
    body: bytes = b"",
    version: str = V2013,
    protocol_version: int = 1,
) -> bytes:
    """A whole wire frame (flags, escaping, checksum) for one unsubpackaged message.

    Raises
    ------
    CodecError
        ``bad_value`` for a body over 1023 bytes or a field that does not fit.
    """
    head = header.encode(msg_id, phone, serial, len(body), version, protocol_version)
    return frame.build(head + body)


def reply_frame(request: Header, msg_id: int, serial: int, body: bytes) -> bytes:
    """A platform frame answering ``request``: same version, same phone bytes as it came."""
    proto = request.protocol_version if request.protocol_version is not None else 1
    return encode_frame(msg_id, request.phone_bcd, serial, body, request.version, proto)


def general_response(request: Header, result: int, serial: int) -> bytes:
    """0x8001 for ``request``: echoes its serial and id; ``serial`` is the platform's own counter.

    ``result``: 0 ok, 1 failure, 2 bad message, 3 unsupported, 4 alarm confirmed.
    """
    return reply_frame(
        request, GENERAL_RESPONSE, serial, ACK_BODY.pack(request.serial, request.msg_id, result)
    )


def registration_response(
    request: Header, result: int, serial: int, auth_code: str | None = None
) -> bytes:
    """0x8100 for a 0x0100 ``request``: result, and the auth code (GBK) only when result is 0."""
    body = REG_ACK_BODY.pack(request.serial, result)
    if result == REG_OK:
        if not auth_code:
            raise CodecError("bad_value", "auth_code: required when result is 0")
        body += auth_code.encode("gbk")
    return reply_frame(request, REGISTER_RESPONSE, serial, body)


def retransmit_request(
    request: Header, first_serial: int, missing: list[int], serial: int
) -> bytes:
    """0x8003: ask the terminal to resend packets ``missing`` of the message whose packet 1 had
    serial ``first_serial`` (from an expired :class:`gateway.reassembly.Pending`).

    The count is a BYTE in 2011/2013 and a WORD in 2019 (PROTOCOL.md 1.2); indices are WORDs.
    """
    width = 2 if request.version == V2019 else 1
    if not 0 < len(missing) < (1 << 8 * width):
        raise CodecError(
            "bad_value", f"missing: 1..{(1 << 8 * width) - 1} indices, got {len(missing)}"
        )
    body = first_serial.to_bytes(2, "big") + len(missing).to_bytes(width, "big")
    body += b"".join(i.to_bytes(2, "big") for i in missing)
    return reply_frame(request, RETRANSMIT_REQUEST, serial, body)


def terminal_response_body(ack_serial: int, ack_msg_id: int, result: int) -> bytes:
    """The 5-byte body of 0x0001 and 0x8001."""
    return ACK_BODY.pack(ack_serial, ack_msg_id, result)


def registration_body(
    province: int,
    city: int,
    manufacturer: str,
    model: str,
    terminal_id: str,
    plate_color: int,
    plate: str,
    layout: str = "2013",
) -> bytes:
    """A 0x0100 body in the field widths of ``layout`` (``2011``/``2013``/``2019``), 0-padded."""
    widths = REGISTRATION_WIDTHS[layout]
    out = bytearray(AREA_IDS.pack(province, city))
    for value, width in zip((manufacturer, model, terminal_id), widths, strict=True):
        raw = value.encode("gbk")
        if len(raw) > width:
            raise CodecError("bad_value", f"{value!r} longer than {width} bytes")
        out += raw.ljust(width, b"\x00")
    out.append(plate_color)
    out += plate.encode("gbk")
    return bytes(out)


def authentication_body(
    auth_code: str, version: str = V2013, imei: str = "", software_version: str = ""
) -> bytes:
    """A 0x0102 body: the code alone (2013), or length, code, IMEI[15], version[20] (2019)."""
    code = auth_code.encode("gbk")
    if version != V2019:
        return code
    if len(code) > 0xFF:
        raise CodecError("bad_value", "auth_code: longer than 255 bytes")
    return (
        bytes((len(code),))
        + code
        + imei.encode("ascii").ljust(15, b"\x00")[:15]
        + software_version.encode("ascii").ljust(20, b"\x00")[:20]
    )
