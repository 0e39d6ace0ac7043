"""The one error type of the JT/T 808 codec: a reason code and a detail for people (issue 14).

Every malformed input ends in a :class:`CodecError`, never in another exception: the gateway
counts errors by ``reason`` and answers 0x8001 result 2 when ``header`` is known.
"""

from __future__ import annotations

from typing import Any

# The reason codes, in the order a frame meets them (docs/jt808.md "Errors").
REASONS = (
    "too_long",  # a frame longer than the cap (the splitter drops it)
    "empty",  # nothing between the two flags
    "bad_escape",  # 0x7D followed by neither 0x01 nor 0x02
    "truncated",  # shorter than its header, or a body field runs past the end
    "bad_length",  # the header's body length disagrees with the bytes present
    "bad_checksum",  # the XOR of header and body differs from the checksum byte
    "bad_body",  # the body is malformed for its message id
    "bad_coordinate",  # a latitude/longitude DWORD above 0x7FFFFFFF (outside +-180 degrees)
    "bad_time",  # a BCD time that is no date (or not BCD)
    "bad_value",  # an encoder was given a value the wire format cannot carry
)


class CodecError(ValueError):
    """A frame or message that cannot be decoded (or a value that cannot be encoded).

    Attributes
    ----------
    reason : str
        One of :data:`REASONS`.
    detail : str
        What was wrong, for a log line.
    header : gateway.header.Header or None
        The frame's header when it was readable (so the gateway can answer with result 2).
    """

    def __init__(self, reason: str, detail: str, header: Any = None):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.header = header
