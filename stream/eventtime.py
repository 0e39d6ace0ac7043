"""Event-time values at the edges (API, live view): epoch milliseconds inside, ISO 8601 +08:00
outside.

``stream.ping`` has its own, faster parser for the wire format (it raises ``PingError``); these
raise ``ValueError`` and are what the API and the live view show.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
# Event times landun accepts: years 1970 to 9999 (datetime's range; beyond it the platform's
# clock functions fail with OverflowError or OSError instead of a ValueError).
MIN_MS, MAX_MS = 0, 253_402_300_799_999


def to_iso(ms: int) -> str:
    """Format epoch milliseconds as Beijing-time ISO 8601, milliseconds only when non-zero.

    >>> to_iso(1748784605000)
    '2025-06-01T21:30:05+08:00'

    Raises
    ------
    ValueError
        ``ms`` outside 1970-01-01 .. 9999-12-31 (UTC).
    """
    _in_range(ms)
    moment = datetime.fromtimestamp(ms / 1000, tz=BEIJING)
    return moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def parse_ts(value: int | float | str) -> int:
    """Parse an ISO 8601 string with an offset, or epoch milliseconds, into epoch milliseconds.

    Raises
    ------
    ValueError
        The value is neither, or an ISO string lacks its offset (local time is ambiguous).
    """
    if isinstance(value, bool):
        raise ValueError(f"timestamp must be ISO 8601 or epoch ms, got {value!r}")
    if isinstance(value, int | float):
        if not MIN_MS <= value <= MAX_MS:  # also NaN and infinities
            raise ValueError(f"timestamp {value!r} ms is outside 1970..9999")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be ISO 8601 or epoch ms, got {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset")
    return _in_range(round((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000))


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
