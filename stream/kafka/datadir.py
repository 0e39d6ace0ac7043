"""Where a worker keeps its local table data (RocksDB) unless told otherwise.

Issue 15: the default was ``var/worker`` relative to whatever directory the process started in,
so a worker started from a checkout wrote into the checkout and one started elsewhere made a
``var/`` there. The setting is explicit now: ``LANDUN_WORKER_DATA_DIR``, else the user's state
directory (``$XDG_STATE_HOME/landun/worker``, ``~/.local/state/landun/worker`` by default). The
data is a cache of the changelog topics: losing it costs a restore, never data.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_datadir() -> str:
    """The worker's data directory: LANDUN_WORKER_DATA_DIR, else the XDG state directory.

    Returns
    -------
    str
        An absolute path unless LANDUN_WORKER_DATA_DIR itself is relative.
    """
    explicit = os.environ.get("LANDUN_WORKER_DATA_DIR")
    if explicit:
        return explicit
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "landun" / "worker")
