"""8421 BCD fields of JT/T 808: phone numbers and GMT+8 times (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.errors import CodecError

BEIJING_OFFSET_MS = 8 * 3600 * 1000
# What BCD[6] YYMMDDhhmmss can carry: 2000-01-01 00:00:00 to 2099-12-31 23:59:59 GMT+8.
TIME_RANGE_MS = (946_656_000_000, 4_102_416_000_000)
# Days before each month in a non-leap year (index 1..12).
_CUM_DAYS = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Byte -> its two BCD digits as a number (0..99), or 0xFF when a nibble is above 9.
_BCD_VALUE = bytes(
    (b >> 4) * 10 + (b & 15) if b >> 4 < 10 and b & 15 < 10 else 0xFF for b in range(256)
)
# Decoded (yy, mm, dd) bytes -> days since 1970 (valid dates only; bounded cache).
_DAYS: dict[bytes, int] = {}


def phone_digits(raw: bytes) -> str:
    """The terminal phone as digits with leading zeros stripped (the device key, issue 14).

    A 2013 terminal sends BCD[6] and the same terminal after a 2019 firmware BCD[10]; stripped,
    both give the same key. A nibble above 9 (some terminals pad with F) is kept as a hex letter,
    so a phone never fails to decode; ``"0"`` stands for all zeros.
    """
    return raw.hex().lstrip("0") or "0"


def encode_phone(phone: str, width: int) -> bytes:
    """BCD[width] for a phone number, left-padded with zeros.

    Raises
    ------
    CodecError
        ``bad_value`` when ``phone`` is not digits or does not fit ``width`` bytes.
    """
    digits = phone.strip()
    if not digits.isdigit() or not digits.isascii() or len(digits) > 2 * width:
        raise CodecError("bad_value", f"phone: expected at most {2 * width} digits, got {phone!r}")
    return bytes.fromhex(digits.rjust(2 * width, "0"))


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (no datetime: the hot path)."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 - 719_162
    return days + _CUM_DAYS[month] + (1 if leap and month > 2 else 0) + day - 1


def time_ms(raw: bytes) -> int:
    """Epoch milliseconds (UTC) of a BCD[6] YYMMDDhhmmss time in GMT+8 (years 2000-2099).

    Raises
    ------
    CodecError
        ``bad_time`` when a nibble is not a decimal digit or the fields make no date.
    """
    values = raw.translate(_BCD_VALUE)
    if len(values) != 6 or 0xFF in values:
        raise CodecError("bad_time", f"time: not BCD YYMMDDhhmmss, got {raw.hex()}")
    yy, month, day, hour, minute, second = values
    days = _DAYS.get(values[:3])
    if days is None:
        days = _date_days(2000 + yy, month, day, raw)
    if hour > 23 or minute > 59 or second > 59:
        raise CodecError("bad_time", f"time: no such date, got {raw.hex()}")
    return (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 - BEIJING_OFFSET_MS


def _date_days(year: int, month: int, day: int, raw: bytes) -> int:
    """Days since 1970 of a BCD date, checked and cached (positions of one night share dates)."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not (1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month]) or (
        month == 2 and day == 29 and not leap
    ):
        raise CodecError("bad_time", f"time: no such date, got {raw.hex()}")
    if len(_DAYS) >= 10_000:
        _DAYS.clear()
    days = _DAYS[raw[:3].translate(_BCD_VALUE)] = _days_from_civil(year, month, day)
    return days


def encode_time(ms: int) -> bytes:
    """BCD[6] GMT+8 YYMMDDhhmmss of epoch milliseconds (whole seconds; years 2000-2099).

    Raises
    ------
    CodecError
        ``bad_value`` when the time is outside 2000-2099 in Beijing.
    """
    if not TIME_RANGE_MS[0] <= ms < TIME_RANGE_MS[1]:
        raise CodecError("bad_value", f"time: outside 2000..2099 (GMT+8), got {ms}")
    local = datetime.fromtimestamp((ms + BEIJING_OFFSET_MS) // 1000, tz=UTC)
    return bytes.fromhex(local.strftime("%y%m%d%H%M%S"))
