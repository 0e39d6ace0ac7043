"""Keep numba's on-disk kernel caches consistent across geofence's modules (issue 15).

numba keys a cached kernel on the modification time and size of the one file that defines it,
never on the files it calls into (numba/numba#1833; numba's own docs warn of it). But
``query.match_kernel`` compiles in ``raster.locate``, ``h3grid.lattice_ij`` and
``cellmap.slot_at``: after an edit or an upgrade that changes ``raster.py`` alone, the matcher kept
running the *old* ``locate`` from its cache while ``raster.cover`` ran the new one, so points near
an edge were judged by a rule that no longer existed in the source (found while mutating
``locate`` for issue 15: the mutation had no effect until the caches were deleted).

:func:`refresh` digests the sources of the kernel modules and, when the digest differs from the
one recorded next to their caches, drops every cached kernel of those modules before any is
loaded, so they are compiled again from the current sources.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import suppress
from pathlib import Path
from types import ModuleType

STAMP_SUFFIX = ".kernels.sha256"


def sources_digest(modules: Sequence[ModuleType]) -> str:
    """SHA-256 over the names and source files of ``modules`` (order does not matter)."""
    h = hashlib.sha256()
    for module in sorted(modules, key=lambda m: m.__name__):
        h.update(module.__name__.encode() + b"\0")
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


def _caches(modules: Sequence[ModuleType]) -> Iterator:
    """The on-disk caches of the numba kernels defined in ``modules``."""
    for module in modules:
        for obj in vars(module).values():
            func = getattr(obj, "py_func", None)
            cache = getattr(obj, "_cache", None)
            if func is None or func.__module__ != module.__name__:
                continue  # not a dispatcher, or one imported from another module
            if getattr(cache, "cache_path", None) is not None:  # NullCache: caching is off
                yield cache


def refresh(modules: Sequence[ModuleType], name: str) -> bool:
    """Drop the cached kernels of ``modules`` when any of their sources changed since caching.

    Call it after importing the modules and before calling any of their kernels.

    Parameters
    ----------
    modules : sequence of module
        Modules whose ``@njit(cache=True)`` kernels call into each other.
    name : str
        Names the stamp file (``<name>.kernels.sha256``) kept in the cache directory.

    Returns
    -------
    bool
        True when the caches were dropped (sources changed, or no stamp was found).
    """
    caches = list(_caches(modules))
    if not caches:
        return False
    digest = sources_digest(modules)
    stamps = {Path(c.cache_path) / f"{name}{STAMP_SUFFIX}" for c in caches}
    if all(_read(stamp) == digest for stamp in stamps):
        return False
    # A directory that cannot be written to holds no kernels numba could have saved: suppress.
    for cache in caches:
        with suppress(OSError):
            cache.flush()  # an empty index: the next call compiles and saves afresh
    for stamp in stamps:
        with suppress(OSError):
            stamp.write_text(digest)
    return True


def _read(stamp: Path) -> str | None:
    try:
        return stamp.read_text()
    except OSError:
        return None
