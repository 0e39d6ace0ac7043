"""Restricted zones as arrays, for the compiled fast path to judge them exactly.

The kernel must leave to Python every ping that could raise ``restricted_zone``: a ping inside
a zone that applies to the vehicle's kind at that minute, or a segment from the previous ping
whose box overlaps an applicable zone's box while the zone is (or becomes) active. The tables
here give it the zones' boxes, kinds and hours, which zones cover each fence set, and which
zones sit near each cell of the context's restricted-zone grid (the same grid and candidates
as ``EngineContext.restricted_near``).
"""

from __future__ import annotations

import numpy as np

from stream.engine.columns import KIND_BITS
from stream.engine.context import EngineContext

ALL_KINDS = 7


class ZoneTables:
    """Arrays describing ``ctx.restricted``; ``arrays()`` is the tuple the kernel takes."""

    def __init__(self, ctx: EngineContext):
        self.ctx = ctx
        zones = ctx.restricted
        self.index = {f.id: i for i, f in enumerate(zones)}
        n = max(len(zones), 1)
        width = max([len(f.hours) for f in zones] + [1])
        self.box = np.zeros((n, 4), np.float64)  # min lng, min lat, max lng, max lat
        self.kinds = np.zeros(n, np.int64)
        self.win = np.zeros((n, width, 2), np.int64)
        self.nwin = np.zeros(n, np.int64)
        for i, f in enumerate(zones):
            self.box[i] = f.area.bounds
            kinds = 0
            for kind in f.vehicle_kinds:
                kinds |= KIND_BITS.get(kind, 0)
            self.kinds[i] = kinds or ALL_KINDS
            self.nwin[i] = len(f.hours)
            for j, w in enumerate(f.hours):
                self.win[i, j] = (w.start_min, w.end_min)
        grid, r0, c0 = ctx.near_grid
        rows, cols = grid.shape
        self.dims = np.array([r0, c0, rows, cols], np.int64)
        cells: list[list[int]] = [[] for _ in range(rows * cols)]
        for (r, c), fences in ctx.cell_zones().items():
            cells[(r - r0) * cols + (c - c0)] = sorted(self.index[f.id] for f in fences)
        self.cell_start, self.cell_zones = _csr(cells)
        self._fs_count = -1
        self.fs_start = self.fs_zones = np.zeros(1, np.int64)

    def arrays(self) -> tuple:
        """(box, kinds, win, nwin, dims, cell_start, cell_zones, fs_start, fs_zones)."""
        sets = self.ctx.fencesets
        if len(sets) != self._fs_count:  # new fence sets appeared since
            lists = [sorted(self.index[f.id] for f in fs.restricted) for fs in sets]
            self.fs_start, self.fs_zones = _csr(lists)
            self._fs_count = len(sets)
        return (
            self.box,
            self.kinds,
            self.win,
            self.nwin,
            self.dims,
            self.cell_start,
            self.cell_zones,
            self.fs_start,
            self.fs_zones,
        )


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    start = np.zeros(len(lists) + 1, np.int64)
    start[1:] = np.cumsum([len(x) for x in lists])
    flat = np.array([z for x in lists for z in x] or [0], np.int64)
    return start, flat
