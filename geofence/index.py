"""FenceIndex: which fences cover a point. (Interim STRtree implementation; the H3 index replaces it.)"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import shapely

from geofence.model import Fence


class FenceIndex:
    def __init__(self, fences: Iterable[Fence] = ()):
        self._fences: list[Fence | None] = []
        self._slot: dict[str, int] = {}
        for f in fences:
            self.add(f)

    @property
    def ids(self) -> np.ndarray:
        return np.array([f.id if f else None for f in self._fences], dtype=object)

    def fence(self, fence_id: str) -> Fence:
        return self._fences[self._slot[fence_id]]

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, fence_id: object) -> bool:
        return fence_id in self._slot

    def add(self, fence: Fence) -> None:
        if fence.id in self._slot:
            raise KeyError(f"fence {fence.id!r} is already indexed; use replace()")
        self._slot[fence.id] = len(self._fences)
        self._fences.append(fence)

    def remove(self, fence_id: str) -> None:
        self._fences[self._slot.pop(fence_id)] = None

    def replace(self, fence: Fence) -> None:
        self._fences[self._slot[fence.id]] = fence

    def match(self, lat: float, lng: float) -> list[str]:
        p = shapely.Point(lng, lat)
        return sorted(f.id for f in self._fences if f is not None and f.area.covers(p))

    def match_many(self, lats, lngs, kinds=None):
        lats = np.asarray(lats, dtype=float)
        lngs = np.asarray(lngs, dtype=float)
        pi, fi = [], []
        for j, f in enumerate(self._fences):
            if f is None or (kinds is not None and f.kind not in kinds):
                continue
            hit = np.flatnonzero(shapely.intersects_xy(f.area, lngs, lats))
            pi.append(hit)
            fi.append(np.full(len(hit), j))
        if not pi:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        p, q = np.concatenate(pi).astype(np.int64), np.concatenate(fi).astype(np.int64)
        order = np.lexsort((q, p))
        return p[order], q[order]
