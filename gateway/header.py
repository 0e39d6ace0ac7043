"""The JT/T 808 message header: 2011/2013 and 2019 layouts, subpackage fields (issue 14).

2011/2013: msg id WORD, properties WORD, phone BCD[6], serial WORD (12 bytes).
2019: msg id WORD, properties WORD (bit 14 set), protocol version BYTE, phone BCD[10], serial
WORD (17 bytes). Either is followed by total WORD and index WORD when bit 13 is set.

Some terminals set bit 14 and send a 2013 header (PROTOCOL.md N6), so :func:`parse` does not
trust the flag alone: it takes the layout for which header + body + checksum is exactly the
frame's length, preferring the one the flag names.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from gateway.bcd import encode_phone, phone_digits
from gateway.errors import CodecError

V2013, V2019 = "2013", "2019"  # "2013" is the 2011/2013 header (the same bytes)
LEN_MASK = 0x03FF
ENCRYPTION_SHIFT = 10
SUBPACKAGE_BIT = 1 << 13
VERSION_BIT = 1 << 14
MAX_BODY = LEN_MASK

_HEAD4 = struct.Struct(">HH")
_SUB = struct.Struct(">HH")
_SERIAL = struct.Struct(">H")
# Phone BCD bytes to key (bounded: cleared when full).
_PHONES: dict[bytes, str] = {}
_PHONES_MAX = 100_000


@dataclass(slots=True)
class Header:
    """A decoded message header.

    Attributes
    ----------
    msg_id : int
        Message id (0x0200...).
    version : str
        ``"2013"`` (the 2011/2013 layout) or ``"2019"``.
    phone : str
        Terminal phone digits, leading zeros stripped: the device key.
    phone_bcd : bytes
        The phone as sent (6 or 10 bytes), echoed in replies.
    serial : int
        The sender's message serial number.
    body_len : int
        The body length the properties declare.
    encryption : int
        Bits 10-12 of the properties: 0 none, 1 RSA.
    protocol_version : int or None
        The 2019 protocol version byte; None for 2013.
    total, index : int or None
        Subpackage count and this packet's index (from 1), when bit 13 is set.
    version_flag : bool
        Bit 14 as sent: true with ``version == "2013"`` is a terminal that lies about its version.
    warnings : list of str
        Lenient or consistency decisions taken while decoding (``version_flag_mismatch``,
        ``bad_length``, ``bad_checksum``, ``bare_escape``).
    """

    msg_id: int
    version: str
    phone: str
    phone_bcd: bytes
    serial: int
    body_len: int
    encryption: int = 0
    protocol_version: int | None = None
    total: int | None = None
    index: int | None = None
    version_flag: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def subpackaged(self) -> bool:
        """Bit 13: the body is one packet of a longer message."""
        return self.total is not None

    @property
    def size(self) -> int:
        """The header's length in bytes."""
        base = 17 if self.version == V2019 else 12
        return base + 4 if self.total is not None else base


def header_size(version: str, subpackaged: bool) -> int:
    """Length of a header of ``version`` with or without the subpackage fields."""
    return (17 if version == V2019 else 12) + (4 if subpackaged else 0)


def parse(data: bytes, lenient: bool = False) -> Header:
    """Decode the header of an unescaped frame (header + body + checksum, flags stripped).

    The layout is the one for which header + declared body + 1 checksum byte is exactly
    ``len(data)``: the one bit 14 names if it fits, else the other (a lying terminal; the header
    then carries the warning ``version_flag_mismatch``). If neither fits the frame is
    ``bad_length``, except with ``lenient``, where the flag's layout is kept, the body is what is
    present, and the header carries the warning ``bad_length`` (Traccar's tolerance of a wrong
    length, PROTOCOL.md 1.1).

    Raises
    ------
    CodecError
        ``truncated`` when ``data`` is shorter than the header (+ checksum) it announces,
        ``bad_length`` as above; the error's ``header`` is set when the header was readable.
    """
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    if n < 13:
        raise CodecError("truncated", f"{n} bytes: shorter than a header and checksum")
    msg_id, props = _HEAD4.unpack_from(data)
    body_len = props & LEN_MASK
    flag = bool(props & VERSION_BIT)
    extra = 4 if props & SUBPACKAGE_BIT else 0
    size = (17 if flag else 12) + extra
    warning = None
    if size + body_len + 1 != n:
        other = (12 if flag else 17) + extra
        if other + body_len + 1 == n:
            size, warning = other, "version_flag_mismatch"
        else:
            warning = "bad_length"
    version = V2019 if size - extra == 17 else V2013
    if n < size + 1:
        raise CodecError(
            "truncated", f"{n} bytes: shorter than a {version} header ({size}) and checksum"
        )
    if version == V2019:
        proto, phone_bcd, pos = data[4], data[5:15], 15
    else:
        proto, phone_bcd, pos = None, data[4:10], 10
    (serial,) = _SERIAL.unpack_from(data, pos)
    total = index = None
    if extra:
        total, index = _SUB.unpack_from(data, pos + 2)
    phone = _PHONES.get(phone_bcd)
    if phone is None:
        phone = _remember_phone(phone_bcd)
    header = Header(
        msg_id, version, phone, phone_bcd, serial, body_len,
        (props >> ENCRYPTION_SHIFT) & 0b111, proto, total, index, flag, [],
    )  # fmt: skip
    if warning == "bad_length":
        present = n - size - 1
        if not lenient:
            raise CodecError(
                "bad_length", f"body length {body_len} declared, {present} present", header
            )
        header.body_len = present
    if warning:
        header.warnings.append(warning)
    return header


def _remember_phone(phone_bcd: bytes) -> str:
    """The phone key of ``phone_bcd``, cached: a gateway sees the same terminals all day."""
    if len(_PHONES) >= _PHONES_MAX:
        _PHONES.clear()
    phone = _PHONES[phone_bcd] = phone_digits(phone_bcd)
    return phone


def encode(
    msg_id: int,
    phone: str | bytes,
    serial: int,
    body_len: int,
    version: str = V2013,
    protocol_version: int = 1,
    total: int | None = None,
    index: int | None = None,
    encryption: int = 0,
) -> bytes:
    """The header bytes of a message.

    Parameters
    ----------
    phone : str or bytes
        Digits (left-padded with zeros to 12 or 20), or the raw BCD bytes of a request to echo.
    version : str
        ``"2013"`` (also 2011) or ``"2019"`` (bit 14 and the protocol version byte).
    total, index : int, optional
        Subpackage fields (bit 13) when both are given.

    Raises
    ------
    CodecError
        ``bad_value`` for a field that does not fit its width.
    """
    width = 10 if version == V2019 else 6
    phone_bcd = phone if isinstance(phone, bytes) else encode_phone(phone, width)
    if len(phone_bcd) != width:
        raise CodecError(
            "bad_value", f"phone: {version} needs BCD[{width}], got {len(phone_bcd)} bytes"
        )
    if not 0 <= body_len <= MAX_BODY:
        raise CodecError("bad_value", f"body length {body_len} outside 0..{MAX_BODY}")
    for name, value in (("msg_id", msg_id), ("serial", serial), ("total", total), ("index", index)):
        if value is not None and not 0 <= value <= 0xFFFF:
            raise CodecError("bad_value", f"{name}: outside 0..65535, got {value}")
    props = body_len | (encryption & 0b111) << ENCRYPTION_SHIFT
    sub = total is not None and index is not None
    if sub:
        props |= SUBPACKAGE_BIT
    out = bytearray(_HEAD4.pack(msg_id, props))
    if version == V2019:
        if not 0 <= protocol_version <= 0xFF:
            raise CodecError(
                "bad_value", f"protocol_version: outside 0..255, got {protocol_version}"
            )
        out[2] |= VERSION_BIT >> 8
        out.append(protocol_version)
    out += phone_bcd
    out += _SERIAL.pack(serial)
    if sub:
        out += _SUB.pack(total, index)
    return bytes(out)
