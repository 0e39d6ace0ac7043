"""Moved to :mod:`stream.eventtime` (the live view needs it too, and ``stream`` never imports
``api``). Kept only for ``api/routes/*``, which other work is editing now: import
``stream.eventtime`` there and delete this module."""

from stream.eventtime import BEIJING, parse_ts, to_iso

__all__ = ["BEIJING", "parse_ts", "to_iso"]
