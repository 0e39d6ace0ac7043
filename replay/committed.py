"""``DIR/_committed.json``: how far the archive consumer's offsets are committed (issue 12).

``{"pings": {"0": next_offset, ...}, "alerts": {...}, "events": {...}, "fences": {...},
"registry": {...}}``: per source topic (``replay.tables.SOURCE_TOPIC``) and partition, the next
offset the consumer will read. Every row from below it is durable in the archive and its offset
committed, so a file ``p{partition}-{first}-{last}`` with ``last`` below it is final: a
redelivery starts at the committed offset and never rewrites it. Compaction
(``replay.compact``) merges only such files.

The consumer rewrites the file after each offset commit (temp file, fsync, rename, directory
fsync): it may lag behind the commits (a crash between the two), never run ahead of them, which
is the safe side for compaction.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

COMMITTED_FILE = "_committed.json"
TOPICS = ("pings", "alerts", "events", "fences", "registry")


def committed_path(archive: str | os.PathLike) -> Path:
    """``archive/_committed.json``."""
    return Path(archive) / COMMITTED_FILE


def read_committed(archive: str | os.PathLike) -> dict[str, dict[int, int]] | None:
    """The committed next offsets by source topic and partition, None when there is no file
    (an embedded archive, or a consumer that never committed).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_committed(tmp, {"pings": {0: 120, 1: 7}})
    ...     read_committed(tmp)["pings"]
    {0: 120, 1: 7}
    """
    try:
        doc = orjson.loads(committed_path(archive).read_bytes())
    except FileNotFoundError:
        return None
    return {topic: {int(p): int(n) for p, n in doc.get(topic, {}).items()} for topic in TOPICS}


def write_committed(archive: str | os.PathLike, offsets: dict[str, dict[int, int]]) -> None:
    """Rewrite ``_committed.json`` atomically and durably with ``offsets`` (every source topic
    is written, an empty mapping for one not given)."""
    doc = {
        topic: {str(p): n for p, n in sorted(offsets.get(topic, {}).items())} for topic in TOPICS
    }
    final = committed_path(archive)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{COMMITTED_FILE}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
