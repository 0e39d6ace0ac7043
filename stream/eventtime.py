"""Event-time values at the edges (API, live view): epoch milliseconds inside, ISO 8601 +08:00
outside.

:func:`parse_ts` is ``stream.ping.parse_ts``, landun's one time parser and rule (issue 11: this
module used to round fractional milliseconds that the ping parser refused). It raises
``PingError``, a ``ValueError`` naming the value.
"""

from __future__ import annotations

from datetime import timedelta, timezone

from stream.ping import MAX_MS, MIN_MS, iso_ts, parse_ts

__all__ = ["BEIJING", "MAX_MS", "MIN_MS", "parse_ts", "to_iso"]

BEIJING = timezone(timedelta(hours=8))


def to_iso(ms: int) -> str:
    """Format epoch milliseconds as Beijing-time ISO 8601, milliseconds only when non-zero.

    >>> to_iso(1748784605000)
    '2025-06-01T21:30:05+08:00'

    It is ``stream.ping.iso_ts``, integer arithmetic: exact to the millisecond over the whole
    range (``datetime.fromtimestamp(ms / 1000)`` went through a float and was a millisecond off
    for some times past the year 4000).

    Raises
    ------
    ValueError
        ``ms`` outside 1970-01-01 .. 9999-12-31 (UTC), or in the hours of 9999-12-31 that are
        already the year 10000 in Beijing time (no calendar of Python's holds them).
    """
    _in_range(ms)
    try:
        return iso_ts(ms)
    except OverflowError:
        raise ValueError(f"timestamp {ms} ms is past the year 9999 in Beijing time") from None


def _in_range(ms: int) -> int:
    """``ms`` if it is an event time landun accepts, else ValueError (docs: MIN_MS/MAX_MS).

    >>> _in_range(10**20)
    Traceback (most recent call last):
    ...
    ValueError: timestamp 100000000000000000000 ms is outside 1970..9999
    """
    if not MIN_MS <= ms <= MAX_MS:
        raise ValueError(f"timestamp {ms} ms is outside 1970..9999")
    return ms
