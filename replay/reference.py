"""Reference data as it was: the fences and registry in force at a time (issue 12).

Writers archive every version of every fence and registry entry (``fences`` and ``registry``
tables, ``replay.layout``) as ``("fence_version", ...)`` / ``("registry_version", ...)`` events
(``replay.rows``); :func:`reference_events` builds those of a whole snapshot. Reading "as of T"
(docs/formats.md, "Archive"): for each id, the latest version with ``ts <= T``; a removal
(``deleted``) or an id whose first version is after T is absent. An embedded run dates the
snapshot it starts with at ts = 0, so it applies to every time of the run.

The two tables are small (one row per version), so every day partition is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson

from geofence import FenceIndex, load_fences
from replay.layout import data_files
from replay.rows import FENCE_VERSION, REGISTRY_VERSION
from stream.engine import EngineContext, Thresholds
from stream.registry import Registry

SECTIONS = ("vehicles", "permits", "contracts")  # registry.json's keys (stream.registry)


def reference_as_of(
    archive: str | os.PathLike, ts_ms: int
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The fences and the registry in force at ``ts_ms``, as archived.

    Parameters
    ----------
    archive : path
        The archive directory.
    ts_ms : int
        Epoch ms.

    Returns
    -------
    (features, registry)
        ``features``: the GeoJSON Features (as written, datum included), sorted by id;
        ``registry``: shaped as registry.json, ``{"vehicles": [...], "permits": [...],
        "contracts": [...]}``, each section sorted by id. Empty when nothing was archived.

    Examples
    --------
    >>> import tempfile
    >>> from replay.layout import SourceRange
    >>> from replay.writer import write_batch
    >>> fence = {"type": "Feature", "id": "S1", "properties": {"kind": "site"},
    ...          "geometry": {"type": "Point", "coordinates": [120.31, 31.49]}}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = write_batch(tmp, SourceRange(0, 0), events=[
    ...         ("fence_version", {"id": "S1", "ts": 1000, "feature": fence}),
    ...         ("fence_version", {"id": "S1", "ts": 2000, "feature": None})])
    ...     [[f["id"] for f in reference_as_of(tmp, t)[0]] for t in (999, 1000, 2000)]
    [[], ['S1'], []]
    """
    fences = [orjson.loads(p) for _, p in _latest(archive, "fences", ts_ms)]
    registry: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
    for section, payload in _latest(archive, "registry", ts_ms):
        registry.setdefault(section, []).append(orjson.loads(payload))
    return fences, registry


def context_as_of(
    archive: str | os.PathLike, ts_ms: int, thresholds: Thresholds | None = None
) -> EngineContext:
    """An :class:`EngineContext` on the reference data in force at ``ts_ms`` (see
    :func:`reference_as_of`) and ``thresholds`` (the defaults when omitted).

    The registry is not checked against the fences: a permit may name a fence removed since,
    and the live worker judges such a reference as missing (issue 11) rather than refusing it.
    """
    features, registry = reference_as_of(archive, ts_ms)
    return engine_context(features, registry, thresholds)


def engine_context(
    features: Sequence[Mapping[str, Any]],
    registry: Mapping[str, Any],
    thresholds: Thresholds | None = None,
) -> EngineContext:
    """An :class:`EngineContext` on archived reference data (:func:`reference_as_of`'s pair),
    the registry not checked against the fences (see :func:`context_as_of`)."""
    return EngineContext(
        FenceIndex(load_fences(list(features))) if features else FenceIndex([]),
        Registry.from_mapping(registry, source="archive registry"),
        thresholds or Thresholds(),
    )


def reference_events(
    features: Sequence[Mapping[str, Any]], registry: Mapping[str, Any], ts_ms: int
) -> list[tuple[str, dict[str, Any]]]:
    """The version events a writer archives for a snapshot of the reference data at ``ts_ms``.

    Parameters
    ----------
    features : sequence of dict
        GeoJSON Features (each with its ``id``).
    registry : dict
        Parsed registry.json (``vehicles``, ``permits``, ``contracts``; entries with an ``id``).
    ts_ms : int
        When the snapshot takes effect (an embedded run: 0, for the whole run).

    Returns
    -------
    list of (kind, payload)
        One ``fence_version`` per feature, one ``registry_version`` per entry, for
        ``replay.writer.write_batch``'s ``events``.

    Examples
    --------
    >>> ev = reference_events([{"type": "Feature", "id": 7}], {"vehicles": [{"id": "V1"}]}, 0)
    >>> [(kind, p.get("section"), p["id"]) for kind, p in ev]
    [('fence_version', None, '7'), ('registry_version', 'vehicles', 'V1')]
    """
    out: list[tuple[str, dict[str, Any]]] = [
        (FENCE_VERSION, {"id": str(f["id"]), "ts": ts_ms, "feature": dict(f)}) for f in features
    ]
    for section in SECTIONS:
        for entry in registry.get(section) or ():
            payload = {"section": section, "id": str(entry["id"]), "ts": ts_ms, "entry": entry}
            out.append((REGISTRY_VERSION, payload))
    return out


def _latest(archive: str | os.PathLike, table: str, ts_ms: int) -> list[tuple[str, str]]:
    """``(key, payload)`` of each id's latest version at ``ts_ms`` that is not a removal, by id
    (``key`` is the fence id or the registry section). Two versions of an id with the same
    ``ts`` (one millisecond) are told apart by a removal first, then the version hash: the
    order is arbitrary but the same on every read."""
    files = data_files(archive, table, _days(archive, table))
    if not files:
        return []
    key = "id" if table == "fences" else "section"
    part = "id" if table == "fences" else "section, id"
    sql = (
        f"SELECT {key}, payload, deleted FROM ("
        f"  SELECT *, row_number() OVER (PARTITION BY {part}"
        "     ORDER BY ts DESC, deleted DESC, version DESC) AS rn"
        f"  FROM read_parquet({_list(files)}, hive_partitioning=false) WHERE ts <= ?"
        f") WHERE rn = 1 ORDER BY {part}"
    )
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")  # never on a CLI's stdout
        rows = con.execute(sql, [int(ts_ms)]).fetchall()
    return [(k, payload) for k, payload, deleted in rows if not deleted]


def _days(archive: str | os.PathLike, table: str) -> list[str]:
    """Every ``day`` partition of ``table`` (the reference tables are small: all are read)."""
    folder = Path(archive) / table
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(n.removeprefix("day=") for n in names if n.startswith("day="))


def _list(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
