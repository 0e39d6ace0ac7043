"""``DIR/_refused/<topic>/``: output and reference records that make no archive row (issue 12).

The archive never drops a record. A pings record always makes rows (one without parsed fields
when it did not decode, ``replay.ping_records``); a record of the alerts, events, fences or
registry topic that cannot be a row (not JSON, a field missing; a reference entry the workers
refuse) is kept here instead, one JSON line each: ``topic``, ``partition``, ``offset``,
``timestamp`` (ms), ``key`` and ``value`` (text), ``reason``, ``detail``. The file is named
after its batch's source range, written atomically before the batch's offsets are committed, and
a redelivered batch replaces it (overlapping leftovers of the same partition are removed first,
as ``replay.writer`` does for Parquet files).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from replay.layout import SourceRange

REFUSED_DIR = "_refused"


def refused_dir(archive: str | os.PathLike, topic: str) -> Path:
    """``archive/_refused/<topic>`` (``topic`` without its namespace: alerts, events...)."""
    return Path(archive) / REFUSED_DIR / topic


def write_refused(
    archive: str | os.PathLike, topic: str, source: SourceRange, items: list[dict[str, Any]]
) -> Path | None:
    """Write the refused records of one batch durably; None (and old leftovers removed) when
    there are none."""
    folder = refused_dir(archive, topic)
    name = source.file_name().replace(".parquet", ".jsonl")
    if folder.is_dir():
        for old in os.listdir(folder):
            rng = SourceRange.from_file_name(old.replace(".jsonl", ".parquet"))
            if old != name and rng is not None and rng.overlaps(source):
                (folder / old).unlink(missing_ok=True)
    if not items:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(b"".join(orjson.dumps(item) + b"\n" for item in items))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def read_refused(archive: str | os.PathLike, topic: str) -> list[dict[str, Any]]:
    """Every refused record of ``topic``, by file name order (tests, investigations)."""
    folder = refused_dir(archive, topic)
    if not folder.is_dir():
        return []
    out = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".jsonl") and not name.startswith("."):
            out += [orjson.loads(line) for line in (folder / name).read_bytes().splitlines()]
    return out
