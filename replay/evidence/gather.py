"""What an evidence pack is made of, read from the archive (issue 12): :func:`gather`.

The alert as it stands and its versions, its trip, the range of pings that raises it again
(``replay.evidence.span``), the vehicle's pings over it, and the reference data in force
(:func:`reference_for`) trimmed to the vehicle (``replay.evidence.trim``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from replay import queries
from replay.evidence import reads
from replay.evidence.span import Span, pack_span
from replay.evidence.track import fixes
from replay.evidence.trim import Reference, trim_reference
from replay.queries import ArchiveQueryError
from replay.reference import reference_as_of
from stream.engine import Thresholds
from stream.eventtime import parse_ts

DAY_MS = 86_400_000
LATEST_MS = 253_402_300_799_999  # 9999-12-31: "as of" the latest archived version


class AlertNotArchived(ArchiveQueryError):
    """The alert id is not in the archive's alerts table."""


@dataclass(frozen=True, slots=True)
class Gathered:
    """The contents of a pack before it is written.

    Attributes
    ----------
    alert, versions
        The alert as it stands (``replay.queries.alert``) and every archived version.
    span : Span
        The range of pings and the re-run's ``--until``.
    rows, points
        The vehicle's ping rows in arrival order; its accepted fixes in time order.
    ref : Reference
        The reference data, trimmed.
    as_of : int or None
        When that reference was in force (None: the latest archived).
    thresholds : Thresholds
        The engine settings.
    """

    alert: dict[str, Any]
    versions: list[dict[str, Any]]
    span: Span
    rows: list[dict[str, Any]]
    points: list[dict[str, Any]]
    ref: Reference
    as_of: int | None
    thresholds: Thresholds


def gather(
    archive: str | os.PathLike, alert_id: str, thresholds: Thresholds | None = None
) -> Gathered:
    """Read everything the pack of ``alert_id`` holds.

    Raises
    ------
    AlertNotArchived
        The alert is not in the archive.
    ArchiveQueryError
        The archive is not a directory.
    """
    alert = queries.alert(archive, alert_id)  # the final version, as the replay API shows it
    if alert is None:
        raise AlertNotArchived(f"alert {alert_id!r} is not in the archive {str(archive)!r}")
    th = thresholds or Thresholds()
    at = parse_ts(alert["ts"])
    vehicle = str(alert["vehicle"])
    trip = None
    if alert.get("trip"):
        trip = reads.trip_versions(archive, alert["trip"], at - DAY_MS, at)
    span = pack_span(
        alert,
        trip,
        th,
        lambda ms: list(reads.vehicle_trips(archive, vehicle, ms - DAY_MS, ms).values()),
    )
    rows = reads.vehicle_pings(archive, vehicle, span.from_ms, span.to_ms)
    points = fixes(rows)
    as_of, features, registry = reference_for(archive, vehicle, (at, span.to_ms))
    track = [(p["lat"], p["lng"]) for p in points]
    ref = trim_reference(features, registry, vehicle, track, alert)
    versions = reads.alert_versions(archive, alert_id)
    return Gathered(alert, versions, span, rows, points, ref, as_of, th)


def reference_for(
    archive: str | os.PathLike, vehicle: str, times: tuple[int, ...]
) -> tuple[int | None, list[dict[str, Any]], dict[str, Any]]:
    """``(as_of, features, registry)``: the reference in force at the first of ``times`` (the
    alert's time, then the end of the range) whose registry holds the vehicle, else the latest
    archived (``as_of`` None).

    A Kafka archive dates each reference version by when it was published: data that arrives
    late (a blind-area batch right after a deployment started) or a past night fed through
    Kafka is dated before the reference the live engine judged it with, and "as of the alert"
    would hold no vehicle at all — whose every ping the re-run would reject.
    """
    for ts in times:
        features, registry = reference_as_of(archive, ts)
        if any(v.get("id") == vehicle for v in registry.get("vehicles") or ()):
            return ts, features, registry
    features, registry = reference_as_of(archive, LATEST_MS)
    return None, features, registry
