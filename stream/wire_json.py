"""The JSON text of the wire format, read leniently where a ping would otherwise be lost
(issue 11): non-finite numbers that many encoders write are read as floats, so that they cost
one field (a warning) or the engine's hygiene, not the whole ping."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson


def loads_json(raw: bytes | str) -> Any:
    """JSON text as ``orjson.loads`` reads it, but for non-finite numbers.

    ``NaN``, ``Infinity``, ``-Infinity`` (not JSON, yet what many encoders write for a float
    that is not finite) and numbers too large for a float (``1e400``) are read as the floats
    ``nan``/``inf``, so that a non-finite *optional* field costs that field (a warning) and a
    non-finite coordinate the engine's ``filter_non_finite``, not the whole ping with its vehicle
    and position (issue 11). Anything else orjson refuses stays refused, with orjson's error.

    Raises
    ------
    orjson.JSONDecodeError
        When the text is not JSON, non-finite numbers aside.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = raw.encode() if isinstance(raw, str) else raw
        if not _NON_FINITE.search(text) and "infinity" not in str(exc):
            raise
        try:
            obj = json.loads(text)
            orjson.dumps(obj)  # what orjson refuses besides (surrogates, integers past 64 bits)
        except (ValueError, TypeError, RecursionError, orjson.JSONEncodeError):
            raise exc from None
        return obj


# The non-finite literals Python's json reads (case-sensitive, as it is), and numbers that
# overflow a double; checked only after orjson refused a text (issue 11).
_NON_FINITE = re.compile(rb"NaN|Infinity|[0-9][eE]\+?[0-9]{3}")
