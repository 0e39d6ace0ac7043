"""``DIR/_embedded.json``: which run an embedded archive holds (issue 12).

An embedded run (``landun detect --archive``, ``landun demo``) names its files by input line
numbers (``s0-16383.parquet`` ...), so a second run of a *different* input into the same
directory would replace the first run's files range by range and leave a mixture: a review
replayed night 1 after night 2 had been written over it and got 24,427 pings and 258 alerts
instead of 27,920 and 32. The stamp says whose data the directory holds:

``{"command": "detect"|"demo", "input": {"sha256": hex, "size": bytes, "path": str}|{...},
"when": ISO 8601}``

and :func:`claim` decides before a run writes anything:

- a directory without archive data (or only the stamp): the run takes it;
- the same input again (``detect``: the same SHA-256 and size; ``demo``: any earlier demo): the
  earlier run's files are removed and the run writes its own, so a run again gives the same
  archive whatever its fences, registry, thresholds or ``--until`` (a file of a range that now
  has no rows of a table would otherwise stay);
- anything else is refused (:class:`ArchiveTaken`): another input's embedded data, embedded data
  without a stamp (written before the stamp existed), or any Kafka data (``p...`` files,
  ``_committed.json``: the consumer's archive). ``replace=True`` (``--archive-replace``) wipes an
  earlier *embedded* archive; a Kafka archive is never wiped.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import orjson

from replay.layout import TMP_SUFFIX, SourceRange
from replay.tables import TABLES
from replay.writer import fsync_dir
from stream.eventtime import iso_ts

STAMP_FILE = "_embedded.json"
COMMITTED_FILE = "_committed.json"  # the Kafka consumer's (replay.committed)
DETECT, DEMO = "detect", "demo"


class ArchiveTaken(ValueError):
    """The directory holds data this run must not mix with; the message says what and what to
    do instead."""


def input_of(path: str | os.PathLike) -> dict[str, Any]:
    """``{"sha256", "size", "path"}`` of an input file (read once, in blocks).

    Raises
    ------
    OSError
        The file cannot be read.
    """
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        size = handle.tell()
    return {"sha256": digest, "size": size, "path": str(path)}


def read_stamp(archive: str | os.PathLike) -> dict[str, Any] | None:
    """The archive's stamp, or None when it has none (or an unreadable one)."""
    try:
        doc = orjson.loads((Path(archive) / STAMP_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def claim(
    archive: str | os.PathLike, command: str, source: dict[str, Any], *, replace: bool = False
) -> str:
    """Make ``archive`` this run's before it writes: check, wipe if allowed, stamp.

    Parameters
    ----------
    archive : path
        The archive directory (created if missing).
    command : str
        :data:`DETECT` or :data:`DEMO`.
    source : dict
        What identifies the input: :func:`input_of` for ``detect``; the demo's parameters.
    replace : bool
        ``--archive-replace``: an earlier embedded archive of another input is wiped instead of
        refused (never Kafka data).

    Returns
    -------
    str
        ``"new"`` (no data there), ``"again"`` (the same input's data, replaced) or
        ``"replaced"`` (another embedded run's data, wiped with ``replace``).

    Raises
    ------
    ArchiveTaken
        The directory holds data of another run (see the module docstring).
    OSError
        The directory cannot be read or written.
    """
    folder = Path(archive)
    kafka, embedded = _data(folder)
    if kafka:
        raise ArchiveTaken(
            f"{folder} holds the Kafka consumer's archive (landun archive): an embedded run "
            "never writes into it; give a fresh directory"
        )
    outcome = "new"
    if embedded:
        stamp = read_stamp(folder)
        if _same(stamp, command, source):
            outcome = "again"
        elif replace:
            outcome = "replaced"
        else:
            advice = (  # the demo has no --archive-replace: it must never delete a real run
                "give the demo a fresh directory (--archive DIR), or delete that one"
                if command == DEMO
                else "give a fresh directory, or --archive-replace to delete that embedded "
                "archive first"
            )
            raise ArchiveTaken(
                f"{folder} already holds {_describe(stamp)}; writing this run there would mix "
                f"the two: {advice}"
            )
        _wipe(folder)
    _write_stamp(folder, command, source)
    return outcome


def _same(stamp: dict[str, Any] | None, command: str, source: dict[str, Any]) -> bool:
    """The stamped run is this one's input: any earlier demo for the demo (its archive is
    replaced each time ``make demo`` runs); the same bytes for ``detect``."""
    if stamp is None or stamp.get("command") != command:
        return False
    if command == DEMO:
        return True
    old = stamp.get("input") or {}
    return old.get("sha256") == source.get("sha256") and old.get("size") == source.get("size")


def _describe(stamp: dict[str, Any] | None) -> str:
    if stamp is None:
        return f"an embedded archive without a {STAMP_FILE} stamp (input unknown)"
    source = stamp.get("input") or {}
    if stamp.get("command") == DEMO:
        return f"the archive of a landun demo ({stamp.get('when')})"
    return (
        f"the archive of landun {stamp.get('command')} over {source.get('path')} "
        f"(sha256 {str(source.get('sha256'))[:12]}..., {source.get('size')} bytes, "
        f"{stamp.get('when')})"
    )


def _data(folder: Path) -> tuple[bool, bool]:
    """(holds Kafka data, holds embedded data), from the file names under the table dirs."""
    kafka = (folder / COMMITTED_FILE).exists()
    embedded = False
    for path in _archive_files(folder):
        source = SourceRange.from_file_name(_base(path.name))
        if source is not None and source.partition is not None:
            kafka = True
        elif source is not None:
            embedded = True
    return kafka, embedded


def _archive_files(folder: Path):
    for table in TABLES:
        root = folder / table
        if root.is_dir():
            for day in root.iterdir():
                if day.is_dir():
                    yield from (p for p in day.iterdir() if p.is_file())


def _base(name: str) -> str:
    """A temp file's final name (``.s0-9.parquet.<pid>.tmp`` -> ``s0-9.parquet``)."""
    if name.startswith(".") and name.endswith(TMP_SUFFIX):
        return name[1:].split(".parquet", 1)[0] + ".parquet"
    return name


def _wipe(folder: Path) -> None:
    """Delete the embedded (``s...``) files and their temp files, then empty partition dirs."""
    for path in list(_archive_files(folder)):
        source = SourceRange.from_file_name(_base(path.name))
        if source is not None and source.partition is None:
            path.unlink(missing_ok=True)
    for table in TABLES:
        root = folder / table
        if root.is_dir():
            for day in list(root.iterdir()):
                if day.is_dir() and not any(day.iterdir()):
                    day.rmdir()
            if not any(root.iterdir()):
                root.rmdir()
    (folder / STAMP_FILE).unlink(missing_ok=True)
    fsync_dir(folder)


def _write_stamp(folder: Path, command: str, source: dict[str, Any]) -> None:
    """Write the stamp atomically and durably (before any data, so a run stopped half-way is
    still known as this input's)."""
    folder.mkdir(parents=True, exist_ok=True)
    when = iso_ts(int(time.time() * 1000))
    doc = {"command": command, "input": source, "when": when}
    tmp = folder / f".{STAMP_FILE}.{os.getpid()}{TMP_SUFFIX}"
    with open(tmp, "wb") as out:
        out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, folder / STAMP_FILE)
    fsync_dir(folder)
