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
    text = raw.hex()
    if not text.isdigit() or len(text) != 12:
        raise CodecError("bad_time", f"time: not BCD YYMMDDhhmmss, got {text}")
    year = 2000 + int(text[0:2])
    month, day = int(text[2:4]), int(text[4:6])
    hour, minute, second = int(text[6:8]), int(text[8:10]), int(text[10:12])
    if not (1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month] and hour < 24):
        raise CodecError("bad_time", f"time: no such date, got {text}")
    if minute > 59 or second > 59 or (month == 2 and day == 29 and year % 4 != 0):
        raise CodecError("bad_time", f"time: no such date, got {text}")
    days = _days_from_civil(year, month, day)
    local = ((days * 24 + hour) * 60 + minute) * 60 + second
    return local * 1000 - BEIJING_OFFSET_MS


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
