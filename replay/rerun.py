"""Re-run the engine over archived pings: `landun replay` (issue 12).

The archive keeps every ping as received with its arrival (Kafka partition, offset, index in
the record; or an embedded run's ingest number). Replayed in that order, with the reference
data and thresholds the live system had, the engine says again what it said live, alert ids
included: what it says about a vehicle depends only on that vehicle's pings, the reference data
and the time range (issue 11), and per vehicle the arrival order is the live one. With
``event_order`` the pings go in event-time order instead: what the complete data reveals once
blind-area re-sends and late pings are in their place (a ping the live system rejected as stale
may be accepted then).

Every archived ping with parsed fields is re-run whatever its live verdict (the engine judges
again); a row that did not parse (``bad_json``...) cannot be and is counted as ``unparsed``.
Pings are streamed from DuckDB in record batches of :data:`CHUNK`, never all held at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson

from replay.layout import DAY_MS, data_files, days_between
from replay.offline import CHUNK, Detection
from replay.queries import ArchiveQueryError
from replay.reference import engine_context, reference_as_of
from stream.engine import EngineContext, EngineState, finish, process
from stream.eventtime import iso_ts, parse_ts
from stream.ping import Ping, read_ping
from stream.wire_json import loads_json
from stream.wire_values import PingError

MAX_WINDOW_MS = 31 * DAY_MS  # a month, as the investigation queries: narrow it beyond
_COLUMNS = (
    "vehicle", "ts", "lat", "lng", "speed_kmh", "heading", "acc", "loaded", "lift",
    "cover_open", "backfill", "source", "seq", "received",
)  # fmt: skip
_OPTIONAL = _COLUMNS[4:]  # the optional wire fields kept on a Ping: dropped ones are warnings
_ARRIVAL = '"partition" NULLS FIRST, "offset" NULLS FIRST, "index" NULLS FIRST, ingest NULLS FIRST'


def replay(
    archive: str | os.PathLike,
    from_ms: int | str,
    to_ms: int | str,
    *,
    vehicles: Sequence[str] | None = None,
    event_order: bool = False,
    ctx: EngineContext | None = None,
) -> dict[str, Any]:
    """Re-run the engine over the archived pings of a window.

    Parameters
    ----------
    archive : path
        The archive directory.
    from_ms, to_ms : int or str
        The window, inclusive (epoch ms or ISO 8601 with an offset; at most 31 days): pings
        whose event time lies in it are re-run, and ``to`` ends the time range processed
        (``stream.engine.finish(until_ms=to)``). Give the live run's end to get its alerts.
    vehicles : sequence of str, optional
        Only these vehicles (None: all). One vehicle alone gives its alerts of the fleet run.
    event_order : bool
        Event-time order (ties by vehicle, then arrival) instead of arrival order.
    ctx : EngineContext, optional
        Reference data and thresholds; by default the reference as of ``from``
        (``replay.reference.context_as_of``) and the default thresholds.

    Returns
    -------
    dict
        ``from``, ``to`` (ISO 8601 +08:00), ``order`` (``arrival`` | ``event``), ``pings``
        (re-run), ``accepted``, ``rejected`` (by the re-run), ``unparsed`` (rows in the window
        that did not parse, not re-run), ``alerts`` (final alerts sorted by ts, id), ``trips``
        (how many trips and rounds).

    Raises
    ------
    ArchiveQueryError
        A malformed, reversed or too long window, an empty vehicle list, or (without ``ctx``)
        pings in the window but no registry in force at ``from`` in the archive.
    """
    start, end = _window(from_ms, to_ms)
    if vehicles is not None:
        vehicles = sorted({v.strip() for v in vehicles if v.strip()})
        if not vehicles:
            raise ArchiveQueryError("vehicles: give at least one vehicle id, or none for all")
    files = data_files(archive, "pings", days_between(start, end))
    if ctx is None:
        features, registry = reference_as_of(archive, start)
        if files and not registry.get("vehicles"):  # every ping would be an unknown vehicle
            raise ArchiveQueryError(
                f"the archive has no registry in force at {iso_ts(start)} (reference versions "
                "are dated when the platform got them): give --fences and --registry"
            )
        ctx = engine_context(features, registry)
    found, states, pings = Detection(), EngineState(), 0
    unparsed = 0
    if files:
        with duckdb.connect() as con:
            con.execute("SET enable_progress_bar = false")  # never on a CLI's stdout
            for batch in _pings(con, files, start, end, vehicles, event_order):
                pings += len(batch)
                states, events = process(batch, ctx, states)
                found.absorb(events)
            unparsed = _unparsed(con, files, start, end, vehicles)
    states, events = finish(ctx, states, until_ms=end)
    found.absorb(events)
    rejected = len(found.rejected)
    return {
        "from": iso_ts(start),
        "to": iso_ts(end),
        "order": "event" if event_order else "arrival",
        "pings": pings,
        "accepted": pings - rejected,
        "rejected": rejected,
        "unparsed": unparsed,
        "alerts": found.sorted_alerts(),
        "trips": len(found.trips),
    }


def _window(from_ms: int | str, to_ms: int | str) -> tuple[int, int]:
    try:
        start, end = parse_ts(from_ms, "from"), parse_ts(to_ms, "to")
    except PingError as exc:
        raise ArchiveQueryError(exc.detail) from None
    if end < start:
        raise ArchiveQueryError(f"to {iso_ts(end)} is before from {iso_ts(start)}")
    if end - start > MAX_WINDOW_MS:
        raise ArchiveQueryError(
            f"window of {(end - start) / DAY_MS:.1f} days: at most 31; replay a month at a time"
        )
    return start, end


def _where(files: list[str], start: int, end: int, vehicles, parsed: bool) -> tuple[str, list]:
    source = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    sql = f" FROM read_parquet({source}, hive_partitioning=false) WHERE "
    if parsed:
        sql += "ts BETWEEN ? AND ?"
    else:  # a row that did not parse is dated by when it was received, if known
        sql += "ts IS NULL AND received BETWEEN ? AND ?"
    params: list[Any] = [start, end]
    if vehicles is not None:
        sql += f" AND vehicle IN ({', '.join('?' for _ in vehicles)})"
        params += list(vehicles)
    return sql, params


def _pings(
    con: duckdb.DuckDBPyConnection,
    files: list[str],
    start: int,
    end: int,
    vehicles: list[str] | None,
    event_order: bool,
) -> Iterator[list[Ping]]:
    """The window's parsed pings as :class:`Ping` (``ref`` = ingest number or offset), in
    batches of :data:`CHUNK`, in arrival (or event) order."""
    where, params = _where(files, start, end, vehicles, parsed=True)
    order = f"ts, vehicle, {_ARRIVAL}" if event_order else _ARRIVAL
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    sql = f'SELECT {columns}, coalesce(ingest, "offset") AS ref, raw{where} ORDER BY {order}'
    reader = con.sql(sql, params=params).to_arrow_reader(CHUNK)
    for records in reader:
        cols = [records.column(i).to_pylist() for i in range(records.num_columns)]
        yield [_ping(values) for values in zip(*cols, strict=True)]


def _ping(values: tuple) -> Ping:
    """A Ping from an archive row: its parsed fields, ``ref``, and the warnings parsing gave
    (not a column: read again from ``raw``, alert evidence shows them, issue 11).

    Parsing again costs ~10x decoding; it is done only for a record with an optional field
    that has a value in ``raw`` and none in the columns (the field was dropped: a warning).
    """
    *fields, ref, raw = values
    ping = Ping(*fields, ref=ref)
    if raw:
        try:
            record = loads_json(raw)
        except ValueError:  # not JSON: no warnings known
            return ping
        if isinstance(record, dict) and any(
            record.get(name) is not None and getattr(ping, name) is None for name in _OPTIONAL
        ):
            # a raw that does not parse alone (not a ping's own JSON): no warnings known
            with contextlib.suppress(PingError):
                ping.warnings = read_ping(record)[0].warnings
    return ping


def _unparsed(con, files: list[str], start: int, end: int, vehicles) -> int:
    where, params = _where(files, start, end, vehicles, parsed=False)
    return con.execute(f"SELECT count(*){where}", params).fetchone()[0]


def write_alerts(path: str | os.PathLike, alerts: list[dict]) -> None:
    """``alerts.jsonl`` as ``landun detect --out`` writes it: one alert per line."""
    with Path(path).open("wb") as out:
        for alert in alerts:
            out.write(orjson.dumps(alert))
            out.write(b"\n")
