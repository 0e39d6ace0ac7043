"""Cell → slot map: dense tiles of H3 lattice cells, each cell naming an interned fence set.

Most cells near each other carry the same answer (nothing, or the interior of the same zone), so
a cell does not store fences: it stores a *slot*, the id of an interned combination
``(fence, BOUNDARY|INTERIOR) …`` sorted by fence. Slot 0 is the empty combination.

Cells are grouped in tiles of 64 × 64 lattice cells (~1 km² at resolution 12) found through an
open-addressing hash directory. A tile whose cells all hold one slot — the inside of a large
zone — is stored as that slot alone, with no block, so memory follows fence *perimeters*, not
areas (the "compacted cells" of issue 2). Everything here is flat numpy arrays and numba kernels:
the query path never touches a Python object.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from geofence.h3grid import IJ_BITS, IJ_MASK
from geofence.raster import TILE_BITS

TILE_CELLS = 1 << (2 * TILE_BITS)
_LOCAL_MASK = (1 << TILE_BITS) - 1
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)


@nb.njit(cache=True, inline="always")
def tile_of(key):
    """(tile key, index of the cell inside the tile's block)."""
    f = key >> (2 * IJ_BITS)
    ii = (key >> IJ_BITS) & IJ_MASK
    jj = key & IJ_MASK
    tkey = (f << (2 * IJ_BITS)) | ((ii >> TILE_BITS) << IJ_BITS) | (jj >> TILE_BITS)
    return tkey, ((ii & _LOCAL_MASK) << TILE_BITS) | (jj & _LOCAL_MASK)


@nb.njit(cache=True, inline="always")
def dir_find(dir_keys, tkey):
    """Directory position of a tile, or ``-1 - free_position`` when absent."""
    mask = dir_keys.shape[0] - 1
    pos = np.int64((np.uint64(tkey) * _HASH_MUL) >> np.uint64(40)) & mask
    while True:
        k = dir_keys[pos]
        if k == tkey:
            return pos
        if k == -1:
            return -1 - pos
        pos = (pos + 1) & mask


@nb.njit(cache=True, inline="always")
def slot_at(key, dir_keys, dir_vals, blocks):
    tkey, local = tile_of(key)
    pos = dir_find(dir_keys, tkey)
    if pos < 0:
        return 0
    v = dir_vals[pos]
    if v < 0:
        return -v - 1
    return blocks[v, local]


@nb.njit(cache=True)
def slots_at(keys, dir_keys, dir_vals, blocks):
    out = np.empty(keys.shape[0], dtype=np.int32)
    for k in range(keys.shape[0]):
        out[k] = slot_at(keys[k], dir_keys, dir_vals, blocks)
    return out


@nb.njit(cache=True)
def _write(keys, slots, dir_keys, dir_vals, blocks, n_blocks):
    for k in range(keys.shape[0]):
        tkey, local = tile_of(keys[k])
        pos = dir_find(dir_keys, tkey)
        if pos < 0:
            pos = -1 - pos
            dir_keys[pos] = tkey
            dir_vals[pos] = n_blocks
            blocks[n_blocks, :] = 0
            n_blocks += 1
        elif dir_vals[pos] < 0:  # a uniform tile gets a block again
            blocks[n_blocks, :] = -dir_vals[pos] - 1
            dir_vals[pos] = n_blocks
            n_blocks += 1
        blocks[dir_vals[pos], local] = slots[k]
    return n_blocks


@nb.njit(cache=True, inline="always")
def _combo_hash(fences, cls, a, b):
    h = np.uint64(1469598103934665603)
    for e in range(a, b):
        h = (h ^ np.uint64(fences[e] * 4 + cls[e])) * np.uint64(1099511628211)
    return h


@nb.njit(cache=True)
def _intern(gptr, gf, gc, sptr, sf, sc, n_slots, tab):
    """Slot id of each group (gf, gc)[gptr[g]:gptr[g+1]], adding new combinations."""
    mask = tab.shape[0] - 1
    ids = np.empty(gptr.shape[0] - 1, dtype=np.int32)
    for g in range(gptr.shape[0] - 1):
        a = gptr[g]
        b = gptr[g + 1]
        pos = np.int64(_combo_hash(gf, gc, a, b) >> np.uint64(1)) & mask
        while True:
            s = tab[pos]
            if s == -1:
                s = n_slots
                start = sptr[s]
                for e in range(a, b):
                    sf[start + e - a] = gf[e]
                    sc[start + e - a] = gc[e]
                sptr[s + 1] = start + b - a
                n_slots += 1
                tab[pos] = s
                break
            if sptr[s + 1] - sptr[s] == b - a:
                same = True
                for e in range(b - a):
                    if sf[sptr[s] + e] != gf[a + e] or sc[sptr[s] + e] != gc[a + e]:
                        same = False
                        break
                if same:
                    break
            pos = (pos + 1) & mask
        ids[g] = s
    return ids, n_slots


@nb.njit(cache=True)
def _edit(slots, cls, fence, sptr, sf, sc):
    """Groups for each slot with ``fence`` added as ``cls`` (cls > 0) or removed (cls == 0)."""
    total = 0
    for g in range(slots.shape[0]):
        total += sptr[slots[g] + 1] - sptr[slots[g]] + 1
    gptr = np.zeros(slots.shape[0] + 1, dtype=np.int64)
    gf = np.empty(total, dtype=np.int32)
    gc = np.empty(total, dtype=np.int8)
    n = 0
    for g in range(slots.shape[0]):
        placed = cls[g] == 0
        for e in range(sptr[slots[g]], sptr[slots[g] + 1]):
            if not placed and sf[e] > fence:
                gf[n] = fence
                gc[n] = cls[g]
                n += 1
                placed = True
            if sf[e] != fence:
                gf[n] = sf[e]
                gc[n] = sc[e]
                n += 1
        if not placed:
            gf[n] = fence
            gc[n] = cls[g]
            n += 1
        gptr[g + 1] = n
    return gptr, gf[:n], gc[:n]


@nb.njit(cache=True)
def _group_hashes(gptr, gf, gc):
    out = np.empty(gptr.shape[0] - 1, dtype=np.uint64)
    for g in range(gptr.shape[0] - 1):
        out[g] = _combo_hash(gf, gc, gptr[g], gptr[g + 1])
    return out


@nb.njit(cache=True)
def _differs(gptr, gf, gc, ids, sptr, sf, sc):
    """Mask of groups whose content is not that of the slot they were given."""
    out = np.zeros(ids.shape[0], dtype=np.bool_)
    for g in range(ids.shape[0]):
        s = ids[g]
        a = gptr[g]
        n = gptr[g + 1] - a
        if sptr[s + 1] - sptr[s] != n:
            out[g] = True
            continue
        for e in range(n):
            if sf[sptr[s] + e] != gf[a + e] or sc[sptr[s] + e] != gc[a + e]:
                out[g] = True
                break
    return out


def _subgroups(gptr: np.ndarray, gf: np.ndarray, gc: np.ndarray, which: np.ndarray):
    """The groups ``which`` as a CSR of their own."""
    lens = (gptr[which + 1] - gptr[which]).astype(np.int64)
    ptr = np.concatenate(([0], np.cumsum(lens)))
    take = np.repeat(gptr[which] - ptr[:-1], lens) + np.arange(ptr[-1])
    return ptr, gf[take], gc[take]


def _grow(arr: np.ndarray, need: int) -> np.ndarray:
    if arr.shape[0] >= need:
        return arr
    out = np.zeros((max(need + 16, arr.shape[0] * 3 // 2),) + arr.shape[1:], dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class CellMap:
    """The mutable cell → slot map and the slot table (see the module docstring)."""

    def __init__(self) -> None:
        self.dir_keys = np.full(1024, -1, dtype=np.int64)
        self.dir_vals = np.zeros(1024, dtype=np.int64)
        self.n_tiles = 0
        self.blocks = np.zeros((16, TILE_CELLS), dtype=np.int32)
        self.n_blocks = 0
        self.sptr = np.zeros(1025, dtype=np.int64)
        self.sf = np.zeros(4096, dtype=np.int32)
        self.sc = np.zeros(4096, dtype=np.int8)
        self.tab = np.full(2048, -1, dtype=np.int64)
        self.n_slots = 0
        self._intern_exact(np.zeros(2, dtype=np.int64), self.sf[:0], self.sc[:0])  # slot 0: none

    def slots_at(self, keys: np.ndarray) -> np.ndarray:
        return slots_at(keys, self.dir_keys, self.dir_vals, self.blocks)

    def intern(self, gptr: np.ndarray, gf: np.ndarray, gc: np.ndarray) -> np.ndarray:
        """Slot ids of the groups, creating the new ones.

        Millions of cells share a few combinations, so equal groups are found by hash first and
        only one of each is interned; every group is then checked against its slot's content
        and the rare hash collision is interned on its own, so the result is exact.
        """
        hashes = _group_hashes(gptr, gf, gc)
        _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        ids = self._intern_exact(*_subgroups(gptr, gf, gc, first))[inverse]
        wrong = np.flatnonzero(_differs(gptr, gf, gc, ids, self.sptr, self.sf, self.sc))
        if wrong.shape[0]:
            ids[wrong] = self._intern_exact(*_subgroups(gptr, gf, gc, wrong))
        return ids

    def _intern_exact(self, gptr: np.ndarray, gf: np.ndarray, gc: np.ndarray) -> np.ndarray:
        groups = gptr.shape[0] - 1
        self.sptr = _grow(self.sptr, self.n_slots + groups + 1)
        self.sf = _grow(self.sf, int(self.sptr[self.n_slots]) + gf.shape[0])
        self.sc = _grow(self.sc, self.sf.shape[0])
        if 2 * (self.n_slots + groups) > self.tab.shape[0]:
            self._rehash_slots(4 * (self.n_slots + groups))
        ids, self.n_slots = _intern(
            gptr, gf, gc, self.sptr, self.sf, self.sc, self.n_slots, self.tab
        )
        return ids

    def set(self, keys: np.ndarray, slots: np.ndarray) -> None:
        """Point ``keys`` at ``slots``."""
        tiles = np.unique(tile_keys(keys))
        if 2 * (self.n_tiles + tiles.shape[0]) > self.dir_keys.shape[0]:
            self._rehash_tiles(4 * (self.n_tiles + tiles.shape[0]))
        self.blocks = _grow(self.blocks, self.n_blocks + tiles.shape[0])
        self.n_tiles += int(np.count_nonzero(~np.isin(tiles, self.dir_keys)))
        self.n_blocks = _write(
            keys, slots.astype(np.int32), self.dir_keys, self.dir_vals, self.blocks, self.n_blocks
        )

    def edit(self, keys: np.ndarray, cls: np.ndarray, fence: int) -> None:
        """Add ``fence`` to cells ``keys`` with classes ``cls``, or remove it where cls == 0."""
        old = self.slots_at(keys)
        pair = old.astype(np.int64) * 4 + cls
        uniq, inverse = np.unique(pair, return_inverse=True)
        gptr, gf, gc = _edit(
            (uniq // 4).astype(np.int32),
            (uniq % 4).astype(np.int8),
            fence,
            self.sptr,
            self.sf,
            self.sc,
        )
        self.set(keys, self.intern(gptr, gf, gc)[inverse])

    def edit_tiles(self, tiles: np.ndarray, cls: int, fence: int) -> None:
        """Add ``fence`` as ``cls`` to every cell of whole tiles (cls == 0: remove it)."""
        if not tiles.shape[0]:
            return
        vals = _tile_values(tiles, self.dir_keys, self.dir_vals)
        blocky = vals >= 0
        if blocky.any():
            keys = tile_cells(tiles[blocky])
            self.edit(keys, np.full(keys.shape[0], cls, dtype=np.int8), fence)
        tiles = tiles[~blocky]
        if not tiles.shape[0]:
            return
        old = (-vals[~blocky] - 1).astype(np.int32)
        uniq, inverse = np.unique(old, return_inverse=True)
        gptr, gf, gc = _edit(
            uniq, np.full(uniq.shape[0], cls, dtype=np.int8), fence, self.sptr, self.sf, self.sc
        )
        new = self.intern(gptr, gf, gc)[inverse]
        if 2 * (self.n_tiles + tiles.shape[0]) > self.dir_keys.shape[0]:
            self._rehash_tiles(4 * (self.n_tiles + tiles.shape[0]))
        self.n_tiles += _set_uniform(tiles, new, self.dir_keys, self.dir_vals)

    def compact(self) -> None:
        """Store every tile whose cells share one slot as that slot, and drop its block."""
        used = self.dir_keys != -1
        vals = self.dir_vals[used]
        blk = vals[vals >= 0]
        uniform = np.all(self.blocks[blk] == self.blocks[blk, :1], axis=1)
        keep = blk[~uniform]
        remap = np.full(self.n_blocks, -1, dtype=np.int64)
        remap[keep] = np.arange(keep.shape[0])
        new_vals = vals.copy()
        is_blk = vals >= 0
        new_vals[is_blk] = np.where(uniform, -self.blocks[blk, 0].astype(np.int64) - 1, remap[blk])
        self.dir_vals[used] = new_vals
        self.blocks = np.ascontiguousarray(self.blocks[keep])
        self.n_blocks = keep.shape[0]

    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (
                self.dir_keys,
                self.dir_vals,
                self.blocks,
                self.sptr,
                self.sf,
                self.sc,
                self.tab,
            )
        )

    def _rehash_tiles(self, size: int) -> None:
        size = 1 << int(np.ceil(np.log2(size)))
        used = self.dir_keys != -1
        keys, vals = self.dir_keys[used], self.dir_vals[used]
        self.dir_keys = np.full(size, -1, dtype=np.int64)
        self.dir_vals = np.zeros(size, dtype=np.int64)
        _reinsert(keys, vals, self.dir_keys, self.dir_vals)

    def _rehash_slots(self, size: int) -> None:
        size = 1 << int(np.ceil(np.log2(size)))
        self.tab = np.full(size, -1, dtype=np.int64)
        _reintern(self.sptr, self.sf, self.sc, self.n_slots, self.tab)


def tile_keys(keys: np.ndarray) -> np.ndarray:
    f = keys >> (2 * IJ_BITS)
    ii = (keys >> IJ_BITS) & IJ_MASK
    jj = keys & IJ_MASK
    return (f << (2 * IJ_BITS)) | ((ii >> TILE_BITS) << IJ_BITS) | (jj >> TILE_BITS)


def tile_cells(tiles: np.ndarray) -> np.ndarray:
    """Keys of all cells of each tile."""
    f = tiles >> (2 * IJ_BITS)
    ti = (tiles >> IJ_BITS) & IJ_MASK
    tj = tiles & IJ_MASK
    a = np.arange(1 << TILE_BITS, dtype=np.int64)
    ii = (ti[:, None, None] << TILE_BITS) + a[None, :, None]
    jj = (tj[:, None, None] << TILE_BITS) + a[None, None, :]
    return ((f[:, None, None] << (2 * IJ_BITS)) | (ii << IJ_BITS) | jj).reshape(-1)


@nb.njit(cache=True)
def _tile_values(tiles, dir_keys, dir_vals):
    """Directory value of each tile (-1, i.e. uniform slot 0, when absent)."""
    out = np.empty(tiles.shape[0], dtype=np.int64)
    for k in range(tiles.shape[0]):
        pos = dir_find(dir_keys, tiles[k])
        out[k] = dir_vals[pos] if pos >= 0 else -1
    return out


@nb.njit(cache=True)
def _set_uniform(tiles, slots, dir_keys, dir_vals):
    added = 0
    for k in range(tiles.shape[0]):
        pos = dir_find(dir_keys, tiles[k])
        if pos < 0:
            pos = -1 - pos
            dir_keys[pos] = tiles[k]
            added += 1
        dir_vals[pos] = -np.int64(slots[k]) - 1
    return added


@nb.njit(cache=True)
def _reinsert(keys, vals, dir_keys, dir_vals):
    for k in range(keys.shape[0]):
        pos = -1 - dir_find(dir_keys, keys[k])
        dir_keys[pos] = keys[k]
        dir_vals[pos] = vals[k]


@nb.njit(cache=True)
def _reintern(sptr, sf, sc, n_slots, tab):
    mask = tab.shape[0] - 1
    for s in range(n_slots):
        pos = np.int64(_combo_hash(sf, sc, sptr[s], sptr[s + 1]) >> np.uint64(1)) & mask
        while tab[pos] != -1:
            pos = (pos + 1) & mask
        tab[pos] = s
