"""The H3 grid as a lattice on each icosahedron face: a cheap, vectorisable path to the H3 cell.

H3 projects a point onto the nearest of the 20 icosahedron faces with a gnomonic projection and
rounds it to the nearest centre of a hexagonal lattice drawn on that face
(https://h3geo.org/docs/core-library/overview). libh3's ``latLngToCell`` then turns the face
coordinates into a 64-bit index, which costs ~0.4 µs per point and cannot be vectorised from
Python (shared/research/perf_anchors.md, B2). The index only needs to know *which* cell a point is
in, not its 64-bit name, so this module keeps the cell as ``(face, i, j)`` lattice coordinates and
computes them with a few multiplications (``lattice_ij``). The lattice of each face is calibrated
from h3 itself at import (``Lattice.for_resolution``) and ``Lattice.to_h3`` names any lattice cell
with its real H3 index, so the cover stays an H3 cover.

A point and its key agree with ``h3.latlng_to_cell`` everywhere except within ~1e-9 of a cell
edge, where floating point may round to the neighbour; the index classifies cells with a margin
that covers this (see ``geofence.raster``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import h3
import numba as nb
import numpy as np

DEG = math.pi / 180.0
# Keys pack (face, i, j): 5 bits of face, 28 bits each for the offset lattice coordinates.
IJ_OFFSET = 1 << 27
IJ_BITS = 28
IJ_MASK = (1 << IJ_BITS) - 1


def _unit(lat_deg: float, lng_deg: float) -> np.ndarray:
    la, ln = math.radians(lat_deg), math.radians(lng_deg)
    return np.array([math.cos(la) * math.cos(ln), math.cos(la) * math.sin(ln), math.sin(la)])


def _latlng(v: np.ndarray) -> tuple[float, float]:
    v = v / np.linalg.norm(v)
    return math.degrees(math.asin(v[2])), math.degrees(math.atan2(v[1], v[0]))


@lru_cache(maxsize=1)
def _face_centres() -> np.ndarray:
    """The 20 face centres: the centre of the res-0 hexagon each face holds at its middle."""
    by_face: dict[int, list[np.ndarray]] = {}
    for cell in h3.get_res0_cells():
        faces = h3.get_icosahedron_faces(cell)
        if len(faces) == 1 and not h3.is_pentagon(cell):
            by_face.setdefault(faces[0], []).append(_unit(*h3.cell_to_latlng(cell)))
    centres = np.zeros((20, 3))
    for face, vecs in by_face.items():
        arr = np.array(vecs)
        mean = arr.mean(axis=0)
        centres[face] = arr[np.argmax(arr @ (mean / np.linalg.norm(mean)))]
    return centres


@dataclass(frozen=True)
class Lattice:
    """H3's hexagonal lattice at one resolution, face by face.

    For face ``f`` with centre ``C[f]`` and tangent frame ``E[f], N[f]``, a unit vector ``p`` has
    gnomonic coordinates ``g = (p·E, p·N) / (p·C)``; its lattice coordinates are ``Binv[f] @ g``
    and the cell is the nearest lattice point. ``B[f]`` columns are two neighbour steps 120° apart.
    """

    resolution: int
    C: np.ndarray  # (20, 3) face centres
    E: np.ndarray  # (20, 3) east tangent
    N: np.ndarray  # (20, 3) north tangent
    B: np.ndarray  # (20, 2, 2) lattice basis in gnomonic (E, N) coordinates
    Binv: np.ndarray  # (20, 2, 2)

    @property
    def Binv4(self) -> np.ndarray:
        return np.ascontiguousarray(self.Binv.reshape(20, 4))

    @property
    def K(self) -> np.ndarray:
        """C, E, N and Binv side by side, (20, 13): one array for kernels that count arguments."""
        return np.ascontiguousarray(np.hstack([self.C, self.E, self.N, self.Binv.reshape(20, 4)]))

    @staticmethod
    @lru_cache(maxsize=16)
    def for_resolution(resolution: int) -> Lattice:
        """Calibrate the lattice of every face from h3 (deterministic, ~50 ms)."""
        if not 0 <= resolution <= 15:
            raise ValueError(f"H3 resolution must be 0..15, got {resolution}")
        C = _face_centres()
        E = np.cross(np.array([0.0, 0.0, 1.0]), C)
        E /= np.linalg.norm(E, axis=1)[:, None]
        N = np.cross(C, E)
        B = np.zeros((20, 2, 2))
        for f in range(20):
            B[f] = _calibrate_face(f, resolution, C, E[f], N[f])
        return Lattice(resolution, C, E, N, B, np.linalg.inv(B))

    def keys(self, lats, lngs) -> np.ndarray:
        """Lattice keys of points (degrees), as int64."""
        lats = np.ascontiguousarray(lats, dtype=np.float64)
        lngs = np.ascontiguousarray(lngs, dtype=np.float64)
        return _keys(lats, lngs, self.C, self.E, self.N, self.Binv4)

    def centres(self, keys) -> tuple[np.ndarray, np.ndarray]:
        """(lats, lngs) in degrees of the lattice cells' centres."""
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        return _centres(keys, self.C, self.E, self.N, self.B)

    def to_h3(self, keys) -> list[str]:
        """The H3 index (hex string) of each lattice cell, via its centre."""
        lats, lngs = self.centres(keys)
        return [h3.latlng_to_cell(a, b, self.resolution) for a, b in zip(lats, lngs, strict=True)]


def _gnomonic(p: np.ndarray, c: np.ndarray, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.array([p @ e, p @ n]) / (p @ c)


def _calibrate_face(f: int, res: int, C: np.ndarray, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Basis of face ``f``: a first guess from the centre cell's neighbours, refined by least
    squares on far cells (their integer lattice coordinates are exact, so the fit is too)."""
    c = C[f]
    centre_cell = h3.latlng_to_cell(*_latlng(c), res)
    steps = np.array(
        [_gnomonic(_unit(*h3.cell_to_latlng(x)), c, e, n) for x in h3.grid_ring(centre_cell, 1)]
    )
    angles = np.arctan2(steps[:, 1], steps[:, 0])
    u1 = steps[np.argmin(np.abs(angles))]
    a1 = math.atan2(u1[1], u1[0])
    turn = (angles - a1 - 2 * math.pi / 3 + math.pi) % (2 * math.pi) - math.pi
    basis = np.column_stack([u1, steps[np.argmin(np.abs(turn))]])
    rng = np.random.default_rng(20250601 + f)
    for spread in (0.05, 0.3):  # near cells first so rounding to integers is safe, then far ones
        g_all, ij_all = [], []
        for _ in range(300):
            p = c + spread * rng.normal(size=3)
            p /= np.linalg.norm(p)
            q = _unit(*h3.cell_to_latlng(h3.latlng_to_cell(*_latlng(p), res)))
            if np.argmax(C @ q) != f or np.argmax(C @ p) != f:
                continue
            g = _gnomonic(q, c, e, n)
            g_all.append(g)
            ij_all.append(np.round(np.linalg.solve(basis, g)))
        sol, *_ = np.linalg.lstsq(np.array(ij_all), np.array(g_all), rcond=None)
        basis = sol.T
    return basis


# A point closer than this (cosine of ~20.8°, just under the angle from a face centre to its edge
# midpoints, 20.905°) to a face centre lies inside that face's triangle: no need to try the others.
INSIDE_FACE_COS = math.cos(math.radians(20.8))


@nb.njit(cache=True, inline="always")
def lattice_ij(lat, lng, C, E, N, Binv4, hint=0):
    """(face, i, j) of one point in degrees: nearest face, gnomonic projection, nearest centre.

    ``Binv4`` is ``Lattice.Binv`` flattened to (20, 4); ``hint`` is a face to try first (the
    previous point's): consecutive pings share a face.
    """
    la = lat * DEG
    ln = lng * DEG
    cl = math.cos(la)
    p0 = cl * math.cos(ln)
    p1 = cl * math.sin(ln)
    p2 = math.sin(la)
    f = hint
    best = C[f, 0] * p0 + C[f, 1] * p1 + C[f, 2] * p2
    if best < INSIDE_FACE_COS:
        for k in range(20):
            d = C[k, 0] * p0 + C[k, 1] * p1 + C[k, 2] * p2
            if d > best:
                best = d
                f = k
    inv = 1.0 / best
    gx = (E[f, 0] * p0 + E[f, 1] * p1 + E[f, 2] * p2) * inv
    gy = (N[f, 0] * p0 + N[f, 1] * p1 + N[f, 2] * p2) * inv
    fi = Binv4[f, 0] * gx + Binv4[f, 1] * gy
    fj = Binv4[f, 2] * gx + Binv4[f, 3] * gy
    i0 = math.floor(fi)
    j0 = math.floor(fj)
    # The nearest lattice point is a corner of the rhombus (two equilateral triangles) around it;
    # with basis vectors 120° apart, |a·u1 + b·u2|² ∝ a² − ab + b².
    bi = i0
    bj = j0
    bd = 1e300
    for di in range(2):
        for dj in range(2):
            a = fi - (i0 + di)
            b = fj - (j0 + dj)
            d = a * a - a * b + b * b
            if d < bd:
                bd = d
                bi = i0 + di
                bj = j0 + dj
    return f, int(bi), int(bj)


@nb.njit(cache=True, inline="always")
def pack_key(f, i, j):
    return (np.int64(f) << (2 * IJ_BITS)) | (np.int64(i + IJ_OFFSET) << IJ_BITS) | (j + IJ_OFFSET)


@nb.njit(cache=True)
def _keys(lats, lngs, C, E, N, Binv4):
    out = np.empty(lats.shape[0], dtype=np.int64)
    f = 0
    for k in range(lats.shape[0]):
        f, i, j = lattice_ij(lats[k], lngs[k], C, E, N, Binv4, f)
        out[k] = pack_key(f, i, j)
    return out


@nb.njit(cache=True, inline="always")
def centre_of(f, i, j, C, E, N, B):
    """(lat, lng) in degrees of lattice point (i, j) on face f."""
    gx = B[f, 0, 0] * i + B[f, 0, 1] * j
    gy = B[f, 1, 0] * i + B[f, 1, 1] * j
    q0 = C[f, 0] + gx * E[f, 0] + gy * N[f, 0]
    q1 = C[f, 1] + gx * E[f, 1] + gy * N[f, 1]
    q2 = C[f, 2] + gx * E[f, 2] + gy * N[f, 2]
    r = math.sqrt(q0 * q0 + q1 * q1 + q2 * q2)
    return math.asin(q2 / r) / DEG, math.atan2(q1, q0) / DEG


@nb.njit(cache=True)
def _centres(keys, C, E, N, B):
    lats = np.empty(keys.shape[0])
    lngs = np.empty(keys.shape[0])
    for k in range(keys.shape[0]):
        key = keys[k]
        f = key >> (2 * IJ_BITS)
        i = ((key >> IJ_BITS) & IJ_MASK) - IJ_OFFSET
        j = (key & IJ_MASK) - IJ_OFFSET
        lats[k], lngs[k] = centre_of(f, i, j, C, E, N, B)
    return lats, lngs
