"""One archive consumer per archive directory: the lock file (issue 12).

Two ``landun archive`` consumers writing one directory would redo each other's batches under
different cuts, so the consumer holds ``DIR/.consumer.lock`` for its process's life.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = ".consumer.lock"


class ArchiveLocked(RuntimeError):
    """Another consumer writes this archive directory."""


def hold_archive(archive: str | os.PathLike):
    """Take the archive directory's lock (``DIR/.consumer.lock``) for this process's life;
    the open file holds it (close it to release). Two consumers of one archive would rewrite
    each other's batches under different cuts.

    Raises
    ------
    ArchiveLocked
        When another process holds it.
    """
    folder = Path(archive)
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_FILE, "a+b")  # noqa: SIM115 - held open: the lock lives with it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ArchiveLocked(f"{folder}: another `landun archive` consumer holds it") from None
    return handle
