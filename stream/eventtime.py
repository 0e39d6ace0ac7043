"""Event-time values at the edges (API, live view): epoch milliseconds inside, ISO 8601 +08:00
outside.

:func:`parse_ts` is ``stream.wire_values.parse_ts``, landun's one time parser and rule (issue 11:
this module used to round fractional milliseconds that the ping parser refused). It raises
``PingError``, a ``ValueError`` naming the value. :func:`iso_ts` formats times for output.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from stream.wire_values import MAX_MS, MIN_MS, parse_ts

__all__ = ["BEIJING", "BEIJING_OFFSET_MS", "MAX_MS", "MIN_MS", "iso_ts", "parse_ts", "to_iso"]

BEIJING = timezone(timedelta(hours=8))
BEIJING_OFFSET_MS = 8 * 3600 * 1000


def to_iso(ms: int) -> str:
    """Format epoch milliseconds as Beijing-time ISO 8601, milliseconds only when non-zero.

    >>> to_iso(1748784605000)
    '2025-06-01T21:30:05+08:00'

    It is :func:`iso_ts`, integer arithmetic: exact to the millisecond over the whole
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
