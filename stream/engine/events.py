"""The engine's output events: ``Event(kind, payload)`` (issue 11: typed, not ``(str, dict)``).

An event is still a 2-tuple, so ``kind, payload = event`` keeps working, and ``kind`` is a
``StrEnum``: it equals its string (``EventKind.ALERT == "alert"``) and serialises as it (orjson,
``json``), so files, Kafka records and the API see the same bytes as before. Consumers dispatch
on the members rather than on string literals.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class EventKind(StrEnum):
    """What an engine event reports (docs/formats.md)."""

    ALERT = "alert"  # an alert raised, or updated (same id) e.g. with its ``ended_ts``
    TRIP = "trip"  # a muck trip or a kitchen/oil round record, as it changes
    STOP = "stop"  # a stop of at least ``stop_report_ms``, when it ends
    FENCE = "fence"  # enter / exit / cross of a fence (Tile38's vocabulary)
    REJECTED = "rejected"  # a ping the hygiene filters rejected, with its reason code


class Event(NamedTuple):
    """One engine event: its kind and its JSON-ready payload."""

    kind: EventKind
    payload: dict
