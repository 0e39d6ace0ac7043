"""Geofence core: fence model, GeoJSON loading, datums and the H3 fence index (issue 2).

Pure: no network, no clock; the only I/O is reading a file it is given.
"""

from geofence.index import FenceIndex
from geofence.loader import FenceError, load_fences
from geofence.model import Datum, Fence, FenceKind, TimeWindow

__all__ = [
    "Datum",
    "Fence",
    "FenceError",
    "FenceIndex",
    "FenceKind",
    "TimeWindow",
    "load_fences",
]
