"""Fence outlines as flat arrays (rings of lng/lat vertices) for the numba kernels."""

from __future__ import annotations

import numpy as np
import shapely

from geofence.cellmap import _grow


class Rings:
    """Append-only store of every fence's rings; fence ``k`` owns rings ``lo[k]:hi[k]``.

    Replacing a fence appends its new rings; the old ones stay unused until the index is rebuilt
    (a fence edit is rare next to the pings, and this keeps an edit O(size of the fence)).
    """

    def __init__(self) -> None:
        self.xy = np.zeros((1024, 2))  # vertex lng, lat
        self.ring_ptr = np.zeros(257, dtype=np.int64)
        self.n_rings = 0

    def append(self, areas) -> tuple[np.ndarray, np.ndarray]:
        """Store the rings of each area (Polygon/MultiPolygon); return their (lo, hi) ranges."""
        areas = np.asarray(areas, dtype=object)
        parts, part_owner = shapely.get_parts(areas, return_index=True)  # MultiPolygon → Polygons
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        owner = part_owner[ring_part]
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        n_new, start = rings.shape[0], int(self.ring_ptr[self.n_rings])
        self.ring_ptr = _grow(self.ring_ptr, self.n_rings + n_new + 1)
        self.ring_ptr[self.n_rings + 1 : self.n_rings + n_new + 1] = start + np.cumsum(
            np.bincount(ring_of, minlength=n_new)
        )
        self.xy = _grow(self.xy, start + coords.shape[0])
        self.xy[start : start + coords.shape[0]] = coords
        per_area = np.bincount(owner, minlength=areas.shape[0])
        hi = self.n_rings + np.cumsum(per_area)
        self.n_rings += n_new
        return hi - per_area, hi

    @property
    def xs(self) -> np.ndarray:
        return self.xy[:, 0]

    @property
    def ys(self) -> np.ndarray:
        return self.xy[:, 1]

    def nbytes(self) -> int:
        return self.xy.nbytes + self.ring_ptr.nbytes
