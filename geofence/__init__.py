"""Geofence core: fence model, GeoJSON loading, datums and the H3 fence index (issue 2).

Pure: no network, no clock; the only I/O is reading a file it is given, and numba's kernel
cache (kept consistent across modules by ``geofence.jitcache``, issue 15).
"""

from geofence import cellmap, h3grid, jitcache, query, raster
from geofence.index import FenceIndex
from geofence.loader import FenceError, load_fences
from geofence.model import Datum, Fence, FenceKind, TimeWindow

# Before any kernel runs: query's kernels compile in raster's, h3grid's and cellmap's functions,
# and numba would not notice when only those files change (issue 15).
KERNEL_MODULES = (cellmap, h3grid, query, raster)
jitcache.refresh(KERNEL_MODULES, "geofence")

__all__ = [
    "Datum",
    "Fence",
    "FenceError",
    "FenceIndex",
    "FenceKind",
    "TimeWindow",
    "load_fences",
]
