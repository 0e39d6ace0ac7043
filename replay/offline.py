"""The offline driver: the engine over a file of pings, as they would arrive (issue 12).

``landun detect`` runs it (the CLI keeps argument parsing and output), and so does anything
else that judges a file: an evidence pack's own pings, a test. Pings are taken in file order
(arrival order), handed to the engine in chunks of :data:`CHUNK` (results do not depend on it).
Time-driven rules tick with the watermark; the final tick uses the last watermark, or
``until_ms`` when later. What the engine says about one vehicle depends only on its pings, the
reference data and that time range (issue 11).

With ``archive``, the same run also writes the archive (``replay.embedded_sink``): every
non-blank line with its verdict, the events, and the reference snapshot. Archiving never changes
what is detected.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from geofence import FenceError, FenceIndex, load_fences
from replay.embedded_sink import EmbeddedSink
from replay.reference import reference_events
from stream.engine import EngineContext, EngineState, EventKind, Thresholds, finish, process
from stream.eventtime import iso_ts, parse_ts
from stream.ping import Ping, parse_ping
from stream.registry import Registry
from stream.registry_checks import RegistryError
from stream.wire_values import PingError

CHUNK = 16_384  # pings handed to the engine at a time (results do not depend on it)


class Detection:
    """What a run found: final alerts and trips by id, rejections, warnings, counts.

    Attributes
    ----------
    alerts, trips : dict
        Id -> the alert / trip (or kitchen round) in its final state.
    rejected : list of dict
        Every rejected line (``line``, ``reason``, ``detail``, ``vehicle``, ``raw``) or ping
        (``line``, ``reason``, ``detail``, ``vehicle``, ``ping``).
    warned : list of dict
        Pings kept without a bad optional field (``ref``, ``vehicle``, ``ts``, ``warnings``).
    warned_fields : Counter
        Those warnings by field (issue 11).
    lines, blank : int
        Non-blank lines read, blank lines skipped.
    until : int
        The final tick: the end of the time range processed (-1 when nothing was).
    """

    def __init__(self) -> None:
        self.lines = 0
        self.blank = 0
        self.alerts: dict[str, dict] = {}
        self.trips: dict[str, dict] = {}
        self.rejected: list[dict] = []
        self.warned: list[dict] = []  # pings that lost a bad optional field (issue 11)
        self.warned_fields: Counter[str] = Counter()
        self.until = -1

    def reject_line(self, number: int, exc: PingError, line: bytes) -> None:
        """A line that did not parse (``bad_json`` / ``bad_field``)."""
        raw = line.decode("utf-8", errors="replace").rstrip("\r\n")
        self.rejected.append(
            {
                "line": number,
                "reason": exc.reason,
                "detail": exc.detail,
                "vehicle": exc.vehicle,  # kept whenever the id parsed (issue 11)
                "raw": raw[:2000],
            }
        )

    def warn(self, ping: Ping) -> None:
        """Count a ping's warnings by field and keep it for ``--warnings``."""
        self.warned_fields.update(ping.warned_fields())
        record = {"ref": ping.ref, "vehicle": ping.vehicle, "ts": iso_ts(ping.ts)}
        self.warned.append({**record, "warnings": list(ping.warnings or ())})

    def absorb(self, events: list) -> None:
        """Take an engine call's events: the latest version of each alert and trip wins."""
        for kind, payload in events:
            if kind == EventKind.ALERT:
                self.alerts[payload["id"]] = payload
            elif kind == EventKind.TRIP:
                self.trips[payload["id"]] = payload
            elif kind == EventKind.REJECTED:
                ping = payload["ping"]
                self.rejected.append(
                    {
                        "line": payload["ref"],
                        "reason": payload["reason"],
                        "detail": payload["detail"],
                        "vehicle": ping["vehicle"],
                        "ping": ping,
                    }
                )

    def sorted_alerts(self) -> list[dict]:
        """Final alerts sorted by ``ts`` then ``id`` (the order of ``alerts.jsonl``)."""
        return sorted(self.alerts.values(), key=lambda a: (parse_ts(a["ts"]), a["id"]))

    def sorted_trips(self) -> list[dict]:
        """Final trips and rounds sorted by their start then ``id``."""
        return sorted(self.trips.values(), key=lambda t: (_start(t), t["id"]))

    def sorted_rejected(self) -> list[dict]:
        """Rejections by line number (those without one last)."""
        return sorted(self.rejected, key=lambda r: (r["line"] is None, r["line"] or 0))


def detect_file(
    pings_path: str | os.PathLike,
    ctx: EngineContext,
    *,
    until_ms: int | None = None,
    archive: str | os.PathLike | None = None,
    reference: tuple[Sequence[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> Detection:
    """Run the engine over a pings file, line by line in file order.

    Parameters
    ----------
    pings_path : path
        ``pings.jsonl``: one ping per line, in arrival order; blank lines are skipped, a bad
        line is a rejection (never an abort).
    ctx : EngineContext
        Fences, registry, thresholds.
    until_ms : int, optional
        End of the time range processed (``stream.engine.finish``).
    archive : path, optional
        Also write the archive there (``replay.embedded_sink``; ``ingest`` = 0-based line
        number, one batch per engine chunk).
    reference : (features, registry), optional
        The GeoJSON Features and parsed registry.json ``ctx`` was built from: archived as the
        snapshot in force over the whole run (without it, no reference is archived).

    Returns
    -------
    Detection

    Raises
    ------
    OSError
        The pings file cannot be read, or the archive cannot be written.
    """
    found = Detection()
    states = EngineState()
    sink = None
    if archive is not None:
        snapshot = reference_events(*reference, 0) if reference is not None else ()
        sink = EmbeddedSink(archive, snapshot, ref_base=1)
    with Path(pings_path).open("rb") as handle:
        batch: list[Ping] = []
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                found.blank += 1
                continue
            found.lines += 1
            try:
                ping = parse_ping(line, ref=number)
            except PingError as exc:
                found.reject_line(number, exc, line)
                if sink is not None:
                    sink.line(number - 1, _text(line), error=exc)
                continue
            if ping.warnings:
                found.warn(ping)
            if sink is not None:
                sink.line(number - 1, _text(line), ping=ping)
            batch.append(ping)
            if len(batch) >= CHUNK:
                states = _run(batch, ctx, states, found, sink)
                batch = []
        states = _run(batch, ctx, states, found, sink)
    states, events = finish(ctx, states, until_ms=until_ms)
    found.absorb(events)
    if sink is not None:
        sink.settle(events, None, final=True)
        sink.write_ready()
    found.until = states.watermark
    return found


class ReferenceFileError(ValueError):
    """A fences, registry or thresholds file that cannot be read or is invalid (the message
    names the file and every problem)."""


def context_from_files(
    fences: str | os.PathLike,
    registry: str | os.PathLike,
    thresholds: str | os.PathLike | None = None,
) -> EngineContext:
    """The engine context of a fences GeoJSON file, a registry.json and a thresholds file.

    Raises
    ------
    ReferenceFileError
        A file cannot be read or is invalid; a permit or contract naming a fence that is not in
        the fences file, or one of the wrong kind, is invalid (issue 11).
    """
    try:
        index = load_fences(fences)
    except OSError as exc:
        raise ReferenceFileError(f"cannot read fences {fences}: {exc.strerror or exc}") from None
    except FenceError as exc:
        raise ReferenceFileError(str(exc)) from None
    try:
        # A permit or contract naming a fence that is not in the fences file (or one of the
        # wrong kind) is refused, as a missing vehicle is (issue 11).
        known = Registry.load(registry, fences={f.id: f.kind for f in index})
    except OSError as exc:
        raise ReferenceFileError(
            f"cannot read registry {registry}: {exc.strerror or exc}"
        ) from None
    except RegistryError as exc:
        raise ReferenceFileError(str(exc)) from None
    settings = read_thresholds(thresholds) if thresholds else Thresholds()
    return EngineContext(FenceIndex(index), known, settings)


def read_thresholds(path: str | os.PathLike) -> Thresholds:
    """Engine settings from a JSON file overriding the defaults (``Thresholds.from_mapping``).

    Raises
    ------
    ReferenceFileError
        The file cannot be read, is not JSON or names a bad setting.
    """
    try:
        return Thresholds.from_mapping(orjson.loads(Path(path).read_bytes()))
    except (OSError, orjson.JSONDecodeError, ValueError, TypeError) as exc:
        raise ReferenceFileError(f"bad thresholds file {path}: {exc}") from None


def _run(
    batch: list[Ping],
    ctx: EngineContext,
    states: EngineState,
    found: Detection,
    sink: EmbeddedSink | None,
) -> EngineState:
    states, events = process(batch, ctx, states)
    found.absorb(events)
    if sink is not None:
        sink.settle(events, states)
        sink.write_ready()
    return states


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


def _start(trip: dict) -> int:
    ts = trip.get("load_ts") or trip.get("start_ts")
    return parse_ts(ts) if ts else 0
