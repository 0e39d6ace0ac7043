"""One value of the wire format as terminals send it (issue 11): the readers by kind, landun's
time rule (:func:`parse_ts`), numbers sent as text, and :class:`PingError`, which names the
field and the value it refuses.

The fields themselves (which is required, which kind) are ``stream.ping.FIELDS``; a reader takes
one such field spec and a value and returns the value typed, or raises ``PingError``.
``stream.eventtime`` re-exports :func:`parse_ts` with the formatting of times.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stream.ping import Field

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

# Integers must fit 64 bits: JSON encoders of state and outputs (orjson) refuse larger ones.
INT64 = (-(2**63), 2**63 - 1)
# Event times landun accepts: years 1970 to 9999 (datetime's range; beyond it the platform's
# clock functions fail with OverflowError or OSError instead of a ValueError).
MIN_MS, MAX_MS = 0, 253_402_300_799_999
# Epoch *seconds* of 2000-01-01 .. 5138 sent where milliseconds are due read as a time in
# 1970-01-11 .. 1973-03-03: the commonest terminal and gateway mistake, named as such (issue 11).
EPOCH_SECONDS = (946_684_800, 10**11)
# A string that is a decimal number ("42.5", "-3", "1e3"): a number sent as text (issue 11).
_NUMERIC = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SHOWN = 60  # characters of an offending value quoted in a detail or warning


class PingError(ValueError):
    """A ping that cannot be parsed.

    Attributes
    ----------
    reason : str
        ``"bad_json"`` (not a JSON object) or ``"bad_field"`` (a field is missing or malformed).
    field : str or None
        The offending field, for ``bad_field``.
    detail : str
        What is wrong, for people: the field, what was expected and the value given.
    vehicle : str or None
        The ping's vehicle id when it parsed (a rejection is filed under it, issue 11).
    """

    def __init__(
        self, reason: str, detail: str, field: str | None = None, vehicle: str | None = None
    ):
        super().__init__(detail)
        self.reason = reason
        self.field = field
        self.detail = detail
        self.vehicle = vehicle


def is_numeric(text: str) -> bool:
    """True when ``text`` is a decimal number (``"42.5"``, ``"-3"``, ``"1e3"``): a number sent as
    text, read as that number by every reader of landun (:func:`parse_ts`, the registry)."""
    return _numeric(text)


def parse_ts(value: Any, name: str = "ts") -> int:
    """Epoch milliseconds from epoch ms or an ISO 8601 text with an offset: the one time rule.

    - A number is epoch milliseconds and must be an integer (``1.5`` is refused; ``1.7e12`` is
      fine); a string of a decimal number is that number (``"1717000000000"``).
    - An ISO 8601 text must carry its offset (``Z``, ``+08:00``): local time is ambiguous.
      Fractions of a millisecond are truncated toward the past (``.2509`` is 250 ms).
    - The result must lie in 1970..9999 (:data:`MIN_MS`, :data:`MAX_MS`). Epoch *seconds*
      (1.7e9) lie in it as a date of January 1970: the engine's hygiene names them.

    Raises
    ------
    PingError
        ``bad_field`` naming ``name`` and the value. It is a ``ValueError``.
    """
    if isinstance(value, bool):
        raise PingError("bad_field", detail(name, _TIME, value), name)
    if isinstance(value, str) and (":" in value or not _numeric(value)):  # ":" skips the regex
        ms = _iso_ms(value, name)
    else:
        ms = _whole(value, name, "epoch milliseconds as an integer")
    if not MIN_MS <= ms <= MAX_MS:
        raise PingError("bad_field", f"{name}: outside 1970..9999, got {show(value)}", name)
    return ms


_TIME = "epoch milliseconds or ISO 8601 with an offset"


def _iso_ms(text: str, name: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PingError("bad_field", detail(name, _TIME, text), name) from None
    if moment.tzinfo is None:
        # local time is ambiguous
        what = "ISO 8601 time with no UTC offset"
        raise PingError("bad_field", f"{name}: {what}, got {show(text)}", name)
    return (moment - _EPOCH) // _MS  # floor: sub-millisecond digits truncated toward the past


def _whole(value: Any, name: str, expected: str) -> int:
    """An integer from an int, a float without a fraction or a numeric string."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = value
    if isinstance(value, str) and _numeric(value):
        if value.lstrip("+-").isdigit():
            return int(value)
        number = float(value)
    if isinstance(number, float) and math.isfinite(number) and number.is_integer():
        return int(number)
    raise PingError("bad_field", detail(name, expected, value), name)


def _numeric(text: str) -> bool:
    return len(text) <= 40 and _NUMERIC.fullmatch(text) is not None


def _number(value: Any, spec: Field) -> float:
    if type(value) is float:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            pass
    elif isinstance(value, str) and _numeric(value):
        number = float(value)
        if math.isfinite(number):
            return number
    raise PingError("bad_field", detail(spec.name, "a number", value), spec.name)


def read_finite(value: Any, spec: Field) -> float:
    """An optional number: a non-finite one (NaN, an overflowing ``1e400``) is as bad as text,
    dropped with a warning (issue 11). Coordinates use ``_number``: the engine's hygiene
    rejects them non-finite, with the vehicle named."""
    if type(value) is float and value - value == 0.0:  # finite (NaN and inf give NaN): common
        return value
    number = _number(value, spec)
    if math.isfinite(number):
        return number
    raise PingError("bad_field", detail(spec.name, "a finite number", value), spec.name)


def _integer(value: Any, spec: Field) -> int:
    number = _whole(value, spec.name, "an integer")
    if not INT64[0] <= number <= INT64[1]:
        raise PingError("bad_field", detail(spec.name, "a 64-bit integer", value), spec.name)
    return number


def _flag(value: Any, spec: Field) -> bool:
    if value is True or value is False:
        return value
    raise PingError("bad_field", detail(spec.name, "true or false", value), spec.name)


def read_choice(value: Any, spec: Field) -> str:
    """A ``choice`` field's value: one of ``spec.choices``, else ``PingError``."""
    if isinstance(value, str) and value in spec.choices:
        return value
    expected = f"one of {'|'.join(spec.choices)}"
    raise PingError("bad_field", detail(spec.name, expected, value), spec.name)


def _text(value: Any, spec: Field) -> str:
    if isinstance(value, str):
        return value
    raise PingError("bad_field", detail(spec.name, "a string", value), spec.name)


def looks_like_epoch_seconds(ms: int) -> bool:
    """True when epoch milliseconds ``ms`` are rather epoch seconds (:data:`EPOCH_SECONDS`)."""
    return EPOCH_SECONDS[0] <= ms < EPOCH_SECONDS[1]


def _time(value: Any, spec: Field) -> int:
    ms = parse_ts(value, spec.name)
    if not spec.required and looks_like_epoch_seconds(ms):
        # An optional stamp (received) in seconds would date the ping's reception in 1970 and
        # make every ping "in the future": dropped with a warning, the vehicle's own history
        # judges the ping instead (issue 11). A ts in seconds is the engine's filter_too_old.
        what = "epoch milliseconds, got epoch seconds"
        raise PingError("bad_field", f"{spec.name}: expected {what} {show(value)}", spec.name)
    return ms


def detail(name: str, expected: str, value: Any) -> str:
    """What a bad value's error says: ``field: expected what, got value``."""
    return f"{name}: expected {expected}, got {show(value)}"


def show(value: Any) -> str:
    """The offending value as Python shows it, cut short: a detail names it, never floods."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


READERS: dict[str, Callable[[Any, Field], Any]] = {
    "text": _text,
    "time": _time,
    "number": _number,
    "integer": _integer,
    "flag": _flag,
    "choice": read_choice,
}
