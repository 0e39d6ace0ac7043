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
def _combo_hash(entries, a, b):
    h = np.uint64(1469598103934665603)
    for e in range(a, b):
        h = (h ^ np.uint64(entries[e])) * np.uint64(1099511628211)
    return h


@nb.njit(cache=True)
def _intern(gptr, ge, sptr, se, n_slots, tab):
    """Slot id of each group ge[gptr[g]:gptr[g+1]], adding new combinations."""
    mask = tab.shape[0] - 1
    ids = np.empty(gptr.shape[0] - 1, dtype=np.int32)
    for g in range(gptr.shape[0] - 1):
        a = gptr[g]
        b = gptr[g + 1]
        pos = np.int64(_combo_hash(ge, a, b) >> np.uint64(1)) & mask
        while True:
            s = tab[pos]
            if s == -1:
                s = n_slots
                start = sptr[s]
                for e in range(a, b):
                    se[start + e - a] = ge[e]
                sptr[s + 1] = start + b - a
                n_slots += 1
                tab[pos] = s
                break
            if sptr[s + 1] - sptr[s] == b - a:
                same = True
                for e in range(b - a):
                    if se[sptr[s] + e] != ge[a + e]:
                        same = False
                        break
                if same:
                    break
            pos = (pos + 1) & mask
        ids[g] = s
    return ids, n_slots


@nb.njit(cache=True)
def _edit(slots, cls, fence, sptr, se):
    """Groups for each slot with ``fence`` added as ``cls`` (cls > 0) or removed (cls == 0)."""
    total = 0
    for g in range(slots.shape[0]):
        total += sptr[slots[g] + 1] - sptr[slots[g]] + 1
    gptr = np.zeros(slots.shape[0] + 1, dtype=np.int64)
    ge = np.empty(total, dtype=np.int32)
    n = 0
    for g in range(slots.shape[0]):
        placed = cls[g] == 0
        for e in range(sptr[slots[g]], sptr[slots[g] + 1]):
            if not placed and se[e] >> 2 > fence:
                ge[n] = fence * 4 + cls[g]
                n += 1
                placed = True
            if se[e] >> 2 != fence:
                ge[n] = se[e]
                n += 1
        if not placed:
            ge[n] = fence * 4 + cls[g]
            n += 1
        gptr[g + 1] = n
    return gptr, ge[:n]


@nb.njit(cache=True)
def _group_hashes(gptr, ge):
    out = np.empty(gptr.shape[0] - 1, dtype=np.uint64)
    for g in range(gptr.shape[0] - 1):
        out[g] = _combo_hash(ge, gptr[g], gptr[g + 1])
    return out


@nb.njit(cache=True)
def _differs(gptr, ge, ids, sptr, se):
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
            if se[sptr[s] + e] != ge[a + e]:
                out[g] = True
                break
    return out


def _subgroups(gptr: np.ndarray, ge: np.ndarray, which: np.ndarray):
    """The groups ``which`` as a CSR of their own."""
    lens = (gptr[which + 1] - gptr[which]).astype(np.int64)
    ptr = np.concatenate(([0], np.cumsum(lens)))
    take = np.repeat(gptr[which] - ptr[:-1], lens) + np.arange(ptr[-1])
    return ptr, ge[take]


def _grow(arr: np.ndarray, need: int) -> np.ndarray:
    if arr.shape[0] >= need:
        return arr
    out = np.zeros((max(need + 16, arr.shape[0] * 3 // 2),) + arr.shape[1:], dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


class CellMap:
    """The mutable cell → slot map and the slot table (see the module docstring)."""

    def __init__(self) -> None:
        # Tile directory: column 0 the tile key (-1 free), column 1 its block row or -(slot + 1).
        self.dir = np.zeros((1024, 2), dtype=np.int64)
        self.dir[:, 0] = -1
        self.n_tiles = 0
        self.blocks = np.zeros((16, TILE_CELLS), dtype=np.int32)
        self.n_blocks = 0
        self.sptr = np.zeros(1025, dtype=np.int64)
        self.se = np.zeros(4096, dtype=np.int32)  # slot entries: fence << 2 | class
        self.tab = np.full(2048, -1, dtype=np.int64)
        self.n_slots = 0
        self._intern_exact(np.zeros(2, dtype=np.int64), self.se[:0])  # slot 0: none

    @property
    def dir_keys(self) -> np.ndarray:
        return self.dir[:, 0]

    @property
    def dir_vals(self) -> np.ndarray:
        return self.dir[:, 1]

    def slots_at(self, keys: np.ndarray) -> np.ndarray:
        return slots_at(keys, self.dir_keys, self.dir_vals, self.blocks)

    def intern(self, gptr: np.ndarray, ge: np.ndarray) -> np.ndarray:
        """Slot ids of the groups, creating the new ones.

        Millions of cells share a few combinations, so equal groups are found by hash first and
        only one of each is interned; every group is then checked against its slot's content
        and the rare hash collision is interned on its own, so the result is exact.
        """
        hashes = _group_hashes(gptr, ge)
        _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        ids = self._intern_exact(*_subgroups(gptr, ge, first))[inverse]
        wrong = np.flatnonzero(_differs(gptr, ge, ids, self.sptr, self.se))
        if wrong.shape[0]:
            ids[wrong] = self._intern_exact(*_subgroups(gptr, ge, wrong))
        return ids

    def _intern_exact(self, gptr: np.ndarray, ge: np.ndarray) -> np.ndarray:
        groups = gptr.shape[0] - 1
        self.sptr = _grow(self.sptr, self.n_slots + groups + 1)
        self.se = _grow(self.se, int(self.sptr[self.n_slots]) + ge.shape[0])
        if 2 * (self.n_slots + groups) > self.tab.shape[0]:
            self._rehash_slots(4 * (self.n_slots + groups))
        ids, self.n_slots = _intern(gptr, ge, self.sptr, self.se, self.n_slots, self.tab)
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
        gptr, ge = _edit(
            (uniq // 4).astype(np.int32), (uniq % 4).astype(np.int8), fence, self.sptr, self.se
        )
        self.set(keys, self.intern(gptr, ge)[inverse])

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
        gptr, ge = _edit(
            uniq, np.full(uniq.shape[0], cls, dtype=np.int8), fence, self.sptr, self.se
        )
        new = self.intern(gptr, ge)[inverse]
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
                self.se,
                self.tab,
            )
        )

    def _rehash_tiles(self, size: int) -> None:
        size = 1 << int(np.ceil(np.log2(size)))
        used = self.dir_keys != -1
        keys, vals = self.dir_keys[used], self.dir_vals[used]
        self.dir = np.zeros((size, 2), dtype=np.int64)
        self.dir[:, 0] = -1
        _reinsert(keys, vals, self.dir_keys, self.dir_vals)

    def _rehash_slots(self, size: int) -> None:
        size = 1 << int(np.ceil(np.log2(size)))
        self.tab = np.full(size, -1, dtype=np.int64)
        _reintern(self.sptr, self.se, self.n_slots, self.tab)


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
def _reintern(sptr, se, n_slots, tab):
    mask = tab.shape[0] - 1
    for s in range(n_slots):
        pos = np.int64(_combo_hash(se, sptr[s], sptr[s + 1]) >> np.uint64(1)) & mask
        while tab[pos] != -1:
            pos = (pos + 1) & mask
        tab[pos] = s
