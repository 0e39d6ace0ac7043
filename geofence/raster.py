"""Cover a fence with H3 lattice cells, conservatively: interior, boundary, or nothing.

A cell is tested by its centre against the fence's rings, in the same planar lng/lat space that
shapely uses. Every point that ``lattice_ij`` assigns to a cell lies within the cell's
circumradius ``R`` of the centre, so:

- centre farther than ``R`` from every edge and inside  ⇒ the whole cell is inside: *interior*;
- centre within ``R`` of some edge                      ⇒ *boundary* (exact test per point);
- otherwise the whole cell is outside and is not stored.

``R`` is the cell's circumradius mapped through the largest stretch of the lattice→lng/lat
Jacobian over the fence's box, plus 2 % and 1e-9°: far more than the curvature of a 10 m hexagon
or floating-point rounding, so the cover is a superset of what it must be (the property tests in
tests/geofence check the index against shapely's ``covers``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from geofence.h3grid import DEG, IJ_BITS, IJ_OFFSET, centre_of, pack_key

TILE_BITS = 6  # tiles of 64 x 64 cells; geofence.cellmap stores them

BOUNDARY = np.int8(1)
INTERIOR = np.int8(2)
SQRT3 = math.sqrt(3.0)


@nb.njit(cache=True, inline="always")
def seg_dist2(px, py, x1, y1, x2, y2):
    """Squared planar distance from (px, py) to the segment (x1, y1)-(x2, y2)."""
    dx = x2 - x1
    dy = y2 - y1
    ex = px - x1
    ey = py - y1
    ll = dx * dx + dy * dy
    t = 0.0
    if ll > 0.0:
        t = (ex * dx + ey * dy) / ll
        t = min(1.0, max(0.0, t))
    qx = ex - t * dx
    qy = ey - t * dy
    return qx * qx + qy * qy


@nb.njit(cache=True, inline="always")
def locate(px, py, r_lo, r_hi, ring_ptr, xs, ys, near):
    """Where a point lies against rings ``r_lo..r_hi``: 2 if within ``near`` of an edge, else 1
    inside (even-odd crossing count) or 0 outside."""
    near2 = near * near
    inside = False
    for r in range(r_lo, r_hi):
        for v in range(ring_ptr[r], ring_ptr[r + 1] - 1):
            x1 = xs[v]
            y1 = ys[v]
            x2 = xs[v + 1]
            y2 = ys[v + 1]
            if (
                px >= min(x1, x2) - near
                and px <= max(x1, x2) + near
                and py >= min(y1, y2) - near
                and py <= max(y1, y2) + near
                and seg_dist2(px, py, x1, y1, x2, y2) <= near2
            ):
                return 2
            # Crossing test; `and` short-circuits, so the division never sees y1 == y2.
            if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
    return 1 if inside else 0


@nb.njit(cache=True)
def _faces_of_box(x0, y0, x1, y1, C):
    """Bit mask of faces whose region may meet the box (sampled, with an angular tolerance)."""
    n = 3 + int(max(x1 - x0, y1 - y0) / 0.005)  # a sample every ~500 m
    n = min(n, 400)
    step = max(x1 - x0, y1 - y0) / (n - 1) * DEG
    mask = 0
    for a in range(n):
        for b in range(n):
            la = (y0 + (y1 - y0) * a / (n - 1)) * DEG
            ln = (x0 + (x1 - x0) * b / (n - 1)) * DEG
            p0 = math.cos(la) * math.cos(ln)
            p1 = math.cos(la) * math.sin(ln)
            p2 = math.sin(la)
            best = -2.0
            for k in range(20):
                best = max(best, C[k, 0] * p0 + C[k, 1] * p1 + C[k, 2] * p2)
            for k in range(20):
                if C[k, 0] * p0 + C[k, 1] * p1 + C[k, 2] * p2 >= best - 2.0 * step - 1e-9:
                    mask |= 1 << k
    return mask


@nb.njit(cache=True, inline="always")
def _on_face(f, lng, lat, C, E, N, Binv):
    """Fractional lattice coordinates of a point projected on face f (not necessarily its own)."""
    la = lat * DEG
    ln = lng * DEG
    p0 = math.cos(la) * math.cos(ln)
    p1 = math.cos(la) * math.sin(ln)
    p2 = math.sin(la)
    inv = 1.0 / (C[f, 0] * p0 + C[f, 1] * p1 + C[f, 2] * p2)
    gx = (E[f, 0] * p0 + E[f, 1] * p1 + E[f, 2] * p2) * inv
    gy = (N[f, 0] * p0 + N[f, 1] * p1 + N[f, 2] * p2) * inv
    return Binv[f, 0, 0] * gx + Binv[f, 0, 1] * gy, Binv[f, 1, 0] * gx + Binv[f, 1, 1] * gy


@nb.njit(cache=True)
def _face_range(f, x0, y0, x1, y1, C, E, N, Binv):
    """Lattice (i, j) bounds on face f of the box, sampled along its edges, with a margin."""
    n = 3 + int(max(x1 - x0, y1 - y0) / 0.005)
    imin = jmin = 1e300
    imax = jmax = -1e300
    for s in range(n):
        t = s / (n - 1)
        for px, py in (
            (x0 + (x1 - x0) * t, y0),
            (x0 + (x1 - x0) * t, y1),
            (x0, y0 + (y1 - y0) * t),
            (x1, y0 + (y1 - y0) * t),
        ):
            fi, fj = _on_face(f, px, py, C, E, N, Binv)
            imin = min(imin, fi)
            imax = max(imax, fi)
            jmin = min(jmin, fj)
            jmax = max(jmax, fj)
    return (
        int(math.floor(imin)) - 2,
        int(math.ceil(imax)) + 2,
        int(math.floor(jmin)) - 2,
        int(math.ceil(jmax)) + 2,
    )


@nb.njit(cache=True)
def _stretch(f, x0, y0, x1, y1, C, E, N, B, Binv):
    """Largest length, in degrees, of one lattice step near the box on face f."""
    r = 0.0
    for ptx, pty in ((x0, y0), (x0, y1), (x1, y0), (x1, y1), ((x0 + x1) / 2, (y0 + y1) / 2)):
        fi, fj = _on_face(f, ptx, pty, C, E, N, Binv)
        i = math.floor(fi)
        j = math.floor(fj)
        la0, ln0 = centre_of(f, i, j, C, E, N, B)
        la1, ln1 = centre_of(f, i + 1, j, C, E, N, B)
        la2, ln2 = centre_of(f, i, j + 1, C, E, N, B)
        a = ln1 - ln0
        b = ln2 - ln0
        c = la1 - la0
        d = la2 - la0
        # Largest singular value of the Jacobian [[a, b], [c, d]] (degrees per lattice step).
        s1 = a * a + b * b + c * c + d * d
        s2 = math.sqrt(max(0.0, (a * a + b * b - c * c - d * d) ** 2 + 4 * (a * c + b * d) ** 2))
        r = max(r, math.sqrt((s1 + s2) / 2.0))
    return r * 1.02


# Farthest cell centre from the middle of a 64 x 64 tile, in lattice steps (corner (31.5, -31.5):
# 31.5·√3), plus a cell's own circumradius (1/√3).
TILE_REACH = 31.5 * SQRT3 + 1.0 / SQRT3
BLOCK_REACH = 3.5 * SQRT3 + 1.0 / SQRT3  # the same for a block of 8 x 8 cells


@nb.njit(cache=True)
def _bbox(xs, ys, ring_ptr, r_lo, r_hi):
    x0 = y0 = 1e300
    x1 = y1 = -1e300
    for v in range(ring_ptr[r_lo], ring_ptr[r_hi]):
        x0 = min(x0, xs[v])
        x1 = max(x1, xs[v])
        y0 = min(y0, ys[v])
        y1 = max(y1, ys[v])
    return x0, y0, x1, y1


@nb.njit(cache=True)
def cover(xs, ys, ring_ptr, r_lo, r_hi, C, E, N, B, Binv):
    """The fence's cells: (keys, classes) of cells, and keys of whole tiles that are interior.

    Tiles (64 x 64 cells, see geofence.cellmap) are tested first by their centre, so a large
    zone costs work and memory along its perimeter, not over its area.
    """
    x0, y0, x1, y1 = _bbox(xs, ys, ring_ptr, r_lo, r_hi)
    faces = _faces_of_box(x0, y0, x1, y1, C)
    keys = np.empty(256, dtype=np.int64)
    cls = np.empty(256, dtype=np.int8)
    tiles = np.empty(16, dtype=np.int64)
    n = 0
    nt = 0
    for f in range(20):
        if not (faces >> f) & 1:
            continue
        step = _stretch(f, x0, y0, x1, y1, C, E, N, B, Binv)
        rad = step / SQRT3 + 1e-9
        reach = step * TILE_REACH + 1e-9
        near = step * BLOCK_REACH + 1e-9
        ia, ib, ja, jb = _face_range(f, x0, y0, x1, y1, C, E, N, Binv)
        for ti in range((ia + IJ_OFFSET) >> TILE_BITS, ((ib + IJ_OFFSET) >> TILE_BITS) + 1):
            for tj in range((ja + IJ_OFFSET) >> TILE_BITS, ((jb + IJ_OFFSET) >> TILE_BITS) + 1):
                i0 = (ti << TILE_BITS) - IJ_OFFSET
                j0 = (tj << TILE_BITS) - IJ_OFFSET
                cy, cx = centre_of(f, i0 + 31.5, j0 + 31.5, C, E, N, B)
                if cx < x0 - reach or cx > x1 + reach or cy < y0 - reach or cy > y1 + reach:
                    continue
                where = locate(cx, cy, r_lo, r_hi, ring_ptr, xs, ys, reach)
                if where == 0:
                    continue
                if where == 1:
                    if nt == tiles.shape[0]:
                        tiles = np.concatenate((tiles, np.empty(nt, dtype=np.int64)))
                    tiles[nt] = (np.int64(f) << (2 * IJ_BITS)) | (np.int64(ti) << IJ_BITS) | tj
                    nt += 1
                    continue
                # A tile the edge runs through: the same test on its 8 x 8 blocks of cells, so
                # a thin corridor crossing it costs a few blocks, not 4,096 cells.
                for bi in range(i0 + 8 * max(0, (ia - i0) // 8), min(i0 + 63, ib) + 1, 8):
                    for bj in range(j0 + 8 * max(0, (ja - j0) // 8), min(j0 + 63, jb) + 1, 8):
                        by, bx = centre_of(f, bi + 3.5, bj + 3.5, C, E, N, B)
                        if bx < x0 - near or bx > x1 + near or by < y0 - near or by > y1 + near:
                            continue
                        block = locate(bx, by, r_lo, r_hi, ring_ptr, xs, ys, near)
                        if block == 0:
                            continue
                        for i in range(max(bi, ia), min(bi + 7, ib) + 1):
                            for j in range(max(bj, ja), min(bj + 7, jb) + 1):
                                where = 1
                                if block == 2:
                                    cy, cx = centre_of(f, i, j, C, E, N, B)
                                    where = locate(cx, cy, r_lo, r_hi, ring_ptr, xs, ys, rad)
                                    if where == 0:
                                        continue
                                if n == keys.shape[0]:
                                    keys = np.concatenate((keys, np.empty(n, dtype=np.int64)))
                                    cls = np.concatenate((cls, np.empty(n, dtype=np.int8)))
                                keys[n] = pack_key(f, i, j)
                                cls[n] = BOUNDARY if where == 2 else INTERIOR
                                n += 1
    return keys[:n], cls[:n], tiles[:nt]
