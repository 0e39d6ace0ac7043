"""FenceIndex: which fences cover a point — exact, H3-indexed, built for millions of pings a second.

Each fence is covered by H3 cells (``geofence.raster``): *interior* cells answer without any test,
*boundary* cells send the point to an exact test. The cell of a ping comes from the H3 lattice
(``geofence.h3grid``) and names a slot in dense tiles (``geofence.cellmap``); the whole batch runs
in one compiled kernel (``geofence.query``). The exact test is a crossing count that is exact away
from edges; points within 1e-9° of an edge go to shapely/GEOS, so the answer is always that of
``area.covers(point)`` — a point on the boundary is inside.

Examples
--------
>>> from shapely import box
>>> from geofence.model import Fence, FenceKind
>>> idx = FenceIndex([Fence("site-1", FenceKind.SITE, box(120.30, 31.49, 120.31, 31.50))])
>>> idx.match(31.495, 120.305)
['site-1']
>>> idx.match(31.50, 120.31)  # a vertex is covered
['site-1']
>>> p, f = idx.match_many([31.495, 31.6], [120.305, 120.305])
>>> p.tolist(), idx.ids[f].tolist()
([0], ['site-1'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import h3
import numpy as np
import shapely

from geofence.cellmap import TILE_CELLS, CellMap, _grow, tile_cells
from geofence.h3grid import Lattice
from geofence.model import Fence, FenceKind
from geofence.query import match_kernel, match_one
from geofence.raster import INTERIOR, cover
from geofence.rings import Rings

DEFAULT_RESOLUTION = 12  # cells of ~9 m edge: most fences are 30–300 m across (issue 2)
MAX_SPAN_DEG = 10.0  # larger fences would need a coarser directory level; none exists in a city
MAX_LISTED_CELLS = 5_000_000
_KIND_CODE = {kind: code for code, kind in enumerate(FenceKind)}


def _compiled_entry(kernel, example: tuple):
    """The compiled entry of ``kernel`` for these argument types, skipping numba's per-call type
    dispatch: with ten arrays that dispatch costs ~3 µs, the whole scalar match ~1 µs (issue 2,
    scalar target). The arguments' types never change for one index, so this is safe."""
    kernel(*example)
    try:
        signature = tuple(kernel.typeof_pyval(a) for a in example)
        return kernel.overloads[signature].entry_point
    except (AttributeError, KeyError):  # a numba without these internals: the plain dispatcher
        return kernel


class FenceIndex:
    """Exact point-in-fence index over H3 cells, editable while it serves.

    Parameters
    ----------
    fences : iterable of Fence
        Fences to index; their ``area`` must be a valid Polygon or MultiPolygon.
    resolution : int, default 12
        H3 resolution of the cells.
    """

    def __init__(self, fences: Iterable[Fence] = (), resolution: int = DEFAULT_RESOLUTION):
        self.lattice = Lattice.for_resolution(resolution)
        self._cells = CellMap()
        self._rings = Rings()
        self._fences: list[Fence | None] = []
        self._pos: dict[str, int] = {}
        self._ids = np.empty(0, dtype=object)
        self._areas = np.empty(0, dtype=object)
        self._kind = np.zeros(0, dtype=np.int8)
        self._alive = np.zeros(0, dtype=bool)
        self._bbox = np.zeros((0, 4))
        self._fence_rings = np.zeros((0, 2), dtype=np.int64)  # each fence's rings lo:hi
        self._out = np.empty(0, dtype=np.int64)
        self._scalar_args: tuple | None = None
        self._bulk_add(list(fences))

    # -- reading --------------------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        return self.lattice.resolution

    @property
    def ids(self) -> np.ndarray:
        """Fence id per fence position (``None`` where a fence was removed)."""
        return self._ids[: len(self._fences)]

    def fence(self, fence_id: str) -> Fence:
        fence = self._fences[self._pos[fence_id]]
        assert fence is not None
        return fence

    def __len__(self) -> int:
        return len(self._pos)

    def __contains__(self, fence_id: object) -> bool:
        return fence_id in self._pos

    def __iter__(self) -> Iterator[Fence]:
        return (f for f in self._fences if f is not None)

    def match(self, lat: float, lng: float) -> list[str]:
        """Sorted ids of the fences covering (lat, lng), WGS-84 degrees."""
        call, args = self._scalar_args or self._prepare_scalar()
        n = call(float(lat), float(lng), *args)
        if n == 0:
            return []
        if n > 0:
            return sorted(self._ids[self._out[:n]].tolist())
        # The point is within 1e-9° of an edge: the batch path hands it to GEOS.
        _, fidx = self.match_many(np.array([lat], dtype=float), np.array([lng], dtype=float))
        return sorted(self._ids[fidx].tolist())

    def match_many(self, lats, lngs, kinds=None) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, fence) pair where the fence covers the point.

        Parameters
        ----------
        lats, lngs : array_like
            WGS-84 degrees, equal length. Non-finite or out-of-range points match nothing.
        kinds : iterable of FenceKind or str, optional
            Keep only fences of these kinds.

        Returns
        -------
        point_idx, fence_idx : ndarray of int64
            Equal-length arrays sorted by point, then fence position; ``ids[fence_idx]`` are ids.
        """
        lats = np.ascontiguousarray(lats, dtype=np.float64).reshape(-1)
        lngs = np.ascontiguousarray(lngs, dtype=np.float64).reshape(-1)
        if lats.shape != lngs.shape:
            raise ValueError(f"lats and lngs differ in length: {lats.shape[0]} vs {lngs.shape[0]}")
        keep = self._alive
        if kinds is not None:
            codes = [_KIND_CODE[FenceKind(k)] for k in kinds]
            keep = keep & np.isin(self._kind, codes)
        L, cm, r = self.lattice, self._cells, self._rings
        pidx, fidx, state = match_kernel(
            lats,
            lngs,
            L.C,
            L.E,
            L.N,
            L.Binv4,
            cm.dir_keys,
            cm.dir_vals,
            cm.blocks,
            cm.sptr,
            cm.se,
            keep,
            self._bbox,
            self._fence_rings[:, 0],
            self._fence_rings[:, 1],
            r.ring_ptr,
            r.xs,
            r.ys,
        )
        near = np.flatnonzero(state == 2)
        if near.shape[0]:
            state[near] = shapely.intersects_xy(
                self._areas[fidx[near]], lngs[pidx[near]], lats[pidx[near]]
            )
            hit = state == 1
            pidx, fidx = pidx[hit], fidx[hit]
        return pidx, fidx

    def cells(self, fence_id: str) -> dict:
        """The fence's H3 cover: ``{"resolution", "interior", "boundary"}`` (H3 hex strings;
        interior cells compacted to coarser resolutions where all children are interior)."""
        keys, cls, tiles = self._cover(self._pos[fence_id])
        if keys.shape[0] + tiles.shape[0] * TILE_CELLS > MAX_LISTED_CELLS:
            raise ValueError(
                f"fence {fence_id!r} covers more than {MAX_LISTED_CELLS} cells at "
                f"resolution {self.resolution}; too many to list"
            )
        keys = np.concatenate([keys, tile_cells(tiles)])
        cls = np.concatenate([cls, np.full(keys.shape[0] - cls.shape[0], INTERIOR, np.int8)])
        names = np.array(self.lattice.to_h3(keys), dtype=object)
        interior = set(names[cls == INTERIOR].tolist())
        # A cell split by a face edge has two lattice keys; boundary wins over interior.
        boundary = sorted(set(names[cls != INTERIOR].tolist()))
        interior -= set(boundary)
        return {
            "resolution": self.resolution,
            "interior": sorted(h3.compact_cells(sorted(interior))),
            "boundary": boundary,
        }

    def nbytes(self) -> int:
        """Bytes held by the index's arrays (the Fence objects themselves not counted)."""
        arrays = (self._kind, self._alive, self._bbox, self._fence_rings)
        return self._cells.nbytes() + self._rings.nbytes() + sum(a.nbytes for a in arrays)

    # -- editing --------------------------------------------------------------------------------
    def add(self, fence: Fence) -> None:
        """Index one more fence (raises KeyError if its id is already indexed)."""
        if fence.id in self._pos:
            raise KeyError(f"fence {fence.id!r} is already indexed; use replace()")
        self._check(fence)
        k = self._append([fence])[0]
        self._store(k, fence)
        self._edit(k, add=True)

    def remove(self, fence_id: str) -> None:
        """Drop a fence (raises KeyError if unknown)."""
        k = self._pos.pop(fence_id)
        self._edit(k, add=False)
        self._fences[k] = None
        self._ids[k] = None
        self._areas[k] = None
        self._alive[k] = False

    def replace(self, fence: Fence) -> None:
        """Swap the fence with the same id for this one, keeping its position."""
        k = self._pos[fence.id]
        self._check(fence)
        self._edit(k, add=False)
        self._fence_rings[k] = np.concatenate(self._rings.append([fence.area]))
        self._store(k, fence)
        self._edit(k, add=True)

    # -- internals ------------------------------------------------------------------------------
    def _cover(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        L, r = self.lattice, self._rings
        lo, hi = self._fence_rings[k]
        return cover(r.xs, r.ys, r.ring_ptr, lo, hi, L.C, L.E, L.N, L.B, L.Binv)

    def _prepare_scalar(self) -> tuple:
        """Arguments of ``match_one``, gathered once per edit (arrays move when they grow)."""
        cm, r = self._cells, self._rings
        if self._out.shape[0] < len(self._fences):
            self._out = np.empty(len(self._fences) + 64, dtype=np.int64)
        args = (self.lattice.K, cm.dir, cm.blocks, cm.sptr, cm.se, self._bbox,
                self._fence_rings, r.ring_ptr, r.xy, self._out)  # fmt: skip
        self._scalar_args = (_compiled_entry(match_one, (0.0, 0.0, *args)), args)
        return self._scalar_args

    def _edit(self, k: int, add: bool) -> None:
        """Put fence ``k`` into its cells (add) or take it out of them."""
        self._scalar_args = None  # the cell arrays may be reallocated
        keys, cls, tiles = self._cover(k)
        if not add:
            cls = np.zeros(keys.shape[0], dtype=np.int8)
        self._cells.edit(keys, cls, k)
        self._cells.edit_tiles(tiles, INTERIOR if add else 0, k)

    @staticmethod
    def _check(fence: Fence, bounds=None, valid=None) -> None:
        """Refuse what the index cannot serve exactly; ``bounds``/``valid`` may come precomputed
        (vectorised over a whole fence set in ``_bulk_add``)."""
        area = fence.area
        if area.geom_type not in ("Polygon", "MultiPolygon") or area.is_empty:
            raise ValueError(
                f"fence {fence.id!r}: area must be a non-empty Polygon or "
                f"MultiPolygon, got {area.geom_type}"
            )
        if not (area.is_valid if valid is None else valid):
            raise ValueError(f"fence {fence.id!r}: invalid area ({shapely.is_valid_reason(area)})")
        x0, y0, x1, y1 = area.bounds if bounds is None else bounds
        if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
            raise ValueError(f"fence {fence.id!r}: coordinates out of range {area.bounds}")
        if max(x1 - x0, y1 - y0) > MAX_SPAN_DEG:
            raise ValueError(
                f"fence {fence.id!r} spans {max(x1 - x0, y1 - y0):.1f}°; the index "
                f"serves fences up to {MAX_SPAN_DEG}° (~1,000 km) across: split it"
            )

    def _append(self, fences: list[Fence]) -> np.ndarray:
        """Give each fence a position and store its rings; returns the positions."""
        self._scalar_args = None
        n0, n = len(self._fences), len(fences)
        need = n0 + n
        self._ids, self._areas = _grow(self._ids, need), _grow(self._areas, need)
        self._kind, self._alive = _grow(self._kind, need), _grow(self._alive, need)
        self._bbox = _grow(self._bbox, need)
        self._fence_rings = _grow(self._fence_rings, need)
        lo, hi = self._rings.append([f.area for f in fences])
        self._fence_rings[n0:need, 0], self._fence_rings[n0:need, 1] = lo, hi
        self._fences.extend([None] * n)
        return np.arange(n0, need)

    def _store(self, k: int, fence: Fence, bounds=None) -> None:
        self._scalar_args = None
        self._fences[k] = fence
        self._pos[fence.id] = k
        self._ids[k] = fence.id
        self._areas[k] = fence.area
        self._kind[k] = _KIND_CODE[FenceKind(fence.kind)]
        self._alive[k] = True
        self._bbox[k] = fence.area.bounds if bounds is None else bounds

    def _bulk_add(self, fences: list[Fence]) -> None:
        """Index many fences at once: one cover per fence, one sort, one interning pass."""
        if not fences:
            return
        seen: set[str] = set()
        areas = np.array([f.area for f in fences], dtype=object)
        bounds, valid = shapely.bounds(areas), shapely.is_valid(areas)
        for fence, box, ok in zip(fences, bounds, valid, strict=True):
            if fence.id in seen:
                raise KeyError(f"fence {fence.id!r} appears twice")
            seen.add(fence.id)
            self._check(fence, box, ok)
        positions = self._append(fences)
        parts_k, parts_c, parts_f, whole_tiles = [], [], [], []
        for k, fence, box in zip(positions, fences, bounds, strict=True):
            self._store(int(k), fence, box)
            keys, cls, tiles = self._cover(int(k))
            if tiles.shape[0]:
                whole_tiles.append((int(k), tiles))
            parts_k.append(keys)
            parts_c.append(cls)
            parts_f.append(np.full(keys.shape[0], k, dtype=np.int32))
        keys, cls, fid = np.concatenate(parts_k), np.concatenate(parts_c), np.concatenate(parts_f)
        order = np.lexsort((fid, keys))
        keys, cls, fid = keys[order], cls[order], fid[order]
        starts = np.flatnonzero(np.diff(keys, prepend=-1))
        gptr = np.append(starts, keys.shape[0]).astype(np.int64)
        entries = fid * 4 + cls.astype(np.int32)
        self._cells.set(keys[starts], self._cells.intern(gptr, entries))
        for k, tiles in whole_tiles:  # the inside of large zones, a tile at a time
            self._cells.edit_tiles(tiles, INTERIOR, k)
        self._cells.compact()
        self._scalar_args = None
