"""The archive's tables (issue 12): their columns, the sort order of their files, the Kafka topic
their offsets come from, and the Parquet settings of batch and compacted files.

The contract is written out in docs/formats.md, "Archive"; this module and ``replay.layout``
(directories, days and file names) are its single source in code. Columns are plain (integers,
floats, strings, booleans; times int64 epoch ms): DuckDB, Spark or Trino read the files with no
landun code.
"""

from __future__ import annotations

import pyarrow as pa

# Resolution of the ``cell`` column (issue 12). Res 9 cells are ~0.1 km² (edge ~174 m): a 500 m
# who-was-here circle is covered by a disk of ~4 rings (~61 cells), few enough for an IN-list
# that prunes row groups of the cell-sorted copy, and a cell holds few enough pings per day that
# the exact distance filter reads little beyond the circle. Res 8 (edge ~460 m) reads ~7x the
# area for a 300 m query; res 10 makes a 2 km disk ~1,000 cells.
CELL_RESOLUTION = 9

# Parquet settings (issue 12, measured by bench/replay.py on road-grid tracks). A batch file is
# short-lived (compaction merges it): fast zstd, small row groups. A compacted file is written
# once and read for months: zstd level 9 (the raw JSON shrinks ~25 % from level 3; the level
# costs compaction time, not the write path), row groups of 64k rows (16k rows cost ~13 % more
# bytes; a vehicle-day track still decodes one or two groups), and DELTA_BINARY_PACKED for the
# time-like integers, which rise within a vehicle (ts: ~0.6 instead of ~2.5 bytes per ping).
# All are standard Parquet encodings that DuckDB, Spark and Trino read.
ROW_GROUP_ROWS = 16 * 1024
BATCH_ZSTD_LEVEL = 1
COMPACT_ROW_GROUP_ROWS = 64 * 1024
COMPACT_ZSTD_LEVEL = 9
DELTA_COLUMNS = frozenset({"ts", "received", "seq"})

_LOADED = pa.string()  # "empty" | "half" | "full" | null

PINGS = pa.schema(
    [
        ("vehicle", pa.string()),
        ("ts", pa.int64()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("speed_kmh", pa.float64()),
        ("heading", pa.float64()),
        ("loaded", _LOADED),
        ("lift", pa.bool_()),
        ("cover_open", pa.bool_()),
        ("acc", pa.bool_()),
        ("backfill", pa.bool_()),
        ("source", pa.string()),
        ("seq", pa.int64()),
        ("received", pa.int64()),
        ("cell", pa.int64()),
        ("verdict", pa.string()),
        ("detail", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("index", pa.int32()),
        ("ingest", pa.int64()),
        ("raw", pa.string()),
    ]
)
"""Every ping as received, one row each, sorted by (vehicle, ts) within a file."""

CELLS = pa.schema(
    [
        ("cell", pa.int64()),
        ("ts", pa.int64()),
        ("vehicle", pa.string()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("loaded", _LOADED),
        ("lift", pa.bool_()),
    ]
)
"""The accepted pings again, few columns, sorted by (cell, ts): who-was-here reads these."""

ALERTS = pa.schema(
    [
        ("id", pa.string()),
        ("version", pa.string()),
        ("type", pa.string()),
        ("vehicle", pa.string()),
        ("district", pa.string()),
        ("ts", pa.int64()),
        ("payload", pa.string()),
    ]
)
"""Every version of every alert: ``version`` is a hash of ``payload`` (the alert's JSON)."""

TRIPS = pa.schema(
    [
        ("id", pa.string()),
        ("version", pa.string()),
        ("vehicle", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("ts", pa.int64()),
        ("payload", pa.string()),
    ]
)
"""Every version of every trip (muck) or round (kitchen/oil)."""

FENCE_EVENTS = pa.schema(
    [
        ("vehicle", pa.string()),
        ("fence", pa.string()),
        ("detect", pa.string()),
        ("kind", pa.string()),
        ("ts", pa.int64()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("late", pa.bool_()),
    ]
)
"""Fence enter/exit/cross events (Tile38's vocabulary, as the engine emits them)."""

STOPS = pa.schema(
    [
        ("vehicle", pa.string()),
        ("ts", pa.int64()),
        ("ended_ts", pa.int64()),
        ("lat", pa.float64()),
        ("lng", pa.float64()),
        ("duration_s", pa.float64()),
        ("loaded", pa.bool_()),  # the engine's stop: loaded at any of its pings (issue 12)
        ("at_known_place", pa.bool_()),
    ]
)
"""Stops the engine reported (at least its ``stop_report_ms``), dated by their start."""

FENCES = pa.schema(
    [
        ("id", pa.string()),
        ("ts", pa.int64()),
        ("version", pa.string()),
        ("deleted", pa.bool_()),
        ("payload", pa.string()),
    ]
)
"""Every version of every fence (the GeoJSON Feature as text; ``deleted`` and no payload for a
removal), dated by when it took effect: evidence packs and replays use the fences *as they were*."""

REGISTRY = pa.schema(
    [
        ("section", pa.string()),
        ("id", pa.string()),
        ("ts", pa.int64()),
        ("version", pa.string()),
        ("deleted", pa.bool_()),
        ("payload", pa.string()),
    ]
)
"""Every version of every registry entry (``section``: vehicles, permits, contracts; the entry
as in registry.json, as text), dated by when it took effect."""

TABLES: dict[str, pa.Schema] = {
    "pings": PINGS,
    "cells": CELLS,
    "alerts": ALERTS,
    "trips": TRIPS,
    "fence_events": FENCE_EVENTS,
    "stops": STOPS,
    "fences": FENCES,
    "registry": REGISTRY,
}
# The sort order of each table's files (issue 12: by vehicle for tracks, by cell for areas).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "pings": ("vehicle", "ts", "partition", "offset", "index", "ingest"),
    "cells": ("cell", "ts", "vehicle"),
    "alerts": ("vehicle", "ts", "id"),
    "trips": ("vehicle", "ts", "id"),
    "fence_events": ("vehicle", "ts", "fence"),
    "stops": ("vehicle", "ts"),
    "fences": ("id", "ts", "version"),
    "registry": ("section", "id", "ts", "version"),
}

# The Kafka topic (``{ns}.<name>``) each table's ``p{partition}-{first}-{last}`` files take
# their offsets from (issue 12): ``DIR/_committed.json`` (``replay.committed``) is keyed by it,
# and a file is final once its ``last`` is below the committed next offset of that topic.
SOURCE_TOPIC: dict[str, str] = {
    "pings": "pings",
    "cells": "pings",
    "alerts": "alerts",
    "trips": "events",
    "fence_events": "events",
    "stops": "events",
    "fences": "fences",
    "registry": "registry",
}


def parquet_options(table: str, *, compacted: bool) -> dict:
    """Keyword arguments of ``pyarrow.parquet.write_table`` for a file of ``table``.

    Examples
    --------
    >>> opts = parquet_options("pings", compacted=True)
    >>> opts["row_group_size"], opts["column_encoding"]["ts"], "ts" in opts["use_dictionary"]
    (65536, 'DELTA_BINARY_PACKED', False)
    >>> parquet_options("pings", compacted=False)["compression_level"]
    1
    """
    if not compacted:
        return {"compression": "zstd", "compression_level": BATCH_ZSTD_LEVEL,
                "row_group_size": ROW_GROUP_ROWS}  # fmt: skip
    names = TABLES[table].names
    delta = [n for n in names if n in DELTA_COLUMNS]
    return {
        "compression": "zstd",
        "compression_level": COMPACT_ZSTD_LEVEL,
        "row_group_size": COMPACT_ROW_GROUP_ROWS,
        "use_dictionary": [n for n in names if n not in DELTA_COLUMNS],
        "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
    }
