# distutils: language = c++
# cython: cdivision=True
"""Marching squares over a cost field, in C++: the closed rings around the cells with cost <= level.

Rings run with the inside on their left, so shells come out counter-clockwise and holes clockwise
(y grows with the row index). Saddles join the inside corners (8-connected inside), which keeps a
corridor that only touches diagonally in one piece. A crossing between two reached cells is placed
by linear interpolation of their costs (so a road reached part-way ends where its budget does); a
crossing into an empty cell sits half-way, on the corridor's edge.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t
from libc.math cimport INFINITY, fabs, sqrt
from libcpp.vector cimport vector

cnp.import_array()

# Per case (inside corners: 1 = (i, j), 2 = (i, j+1), 4 = (i+1, j+1), 8 = (i+1, j)), up to two directed
# segments between square sides: 0 bottom, 1 right, 2 top, 3 left; -1 = none.
cdef int8_t[16][4] SEGMENTS
SEGMENTS[:] = [
    [-1, -1, -1, -1], [0, 3, -1, -1], [1, 0, -1, -1], [1, 3, -1, -1],
    [2, 1, -1, -1], [0, 1, 2, 3], [2, 0, -1, -1], [2, 3, -1, -1],
    [3, 2, -1, -1], [0, 2, -1, -1], [3, 0, 1, 2], [1, 2, -1, -1],
    [3, 1, -1, -1], [0, 1, -1, -1], [3, 0, -1, -1], [-1, -1, -1, -1],
]


cdef inline int64_t _side_id(int64_t i, int64_t j, int side, int64_t nx) noexcept nogil:
    """Id of a square side: 2 * cell + 0 for the horizontal side starting at a cell, + 1 for the vertical."""
    if side == 0:
        return 2 * (i * nx + j)
    if side == 1:
        return 2 * (i * nx + j + 1) + 1
    if side == 2:
        return 2 * ((i + 1) * nx + j)
    return 2 * (i * nx + j) + 1


cdef inline double _crossing(double va, double vb, double level) noexcept nogil:
    """Where the boundary crosses from a's centre (0) to b's (1); exactly one of a, b is inside."""
    if va == INFINITY or vb == INFINITY:
        return 0.5
    return (level - va) / (vb - va)


def trace_rings(const float[:, ::1] z, double x0, double y0, double cell, double level):
    """Rings around ``z <= level``: ``(xy, offsets, areas)``, ring k being ``xy[offsets[k]:offsets[k+1]]``
    (closed: its first point repeated last) with signed area ``areas[k]`` (> 0 for shells, < 0 for holes).

    Cell (i, j) is centred at (x0 + j * cell, y0 + i * cell); the border cells must be outside; +inf
    marks a cell off the corridor (a crossing into it sits half-way).
    """
    ny, nx = z.shape[0], z.shape[1]
    lo, hi = np.zeros(ny, dtype=np.int32), np.full(ny, nx - 1, dtype=np.int32)
    return trace_levels(z, x0, y0, cell, np.array([level], dtype=np.float64), lo, hi)[0]


def trace_levels(const float[:, ::1] z, double x0, double y0, double cell, const double[::1] levels,
                 const int32_t[::1] row_lo, const int32_t[::1] row_hi):
    """:func:`trace_rings` for several ascending levels at once: one scan of the grid finds every level's
    boundary squares (a square whose corners all fall between the same two levels is skipped for all).
    Only columns ``row_lo[i]..row_hi[i]`` of row i may hold finite costs; the rest is not read."""
    cdef int64_t ny = z.shape[0], nx = z.shape[1], n_cells = ny * nx, i, j, q, s, sid, nid, start, cur, n_pts
    cdef int n_levels = levels.shape[0], case, k, lv_i, kmin, kmax, k00, k01, k11, k10
    cdef vector[int32_t] nxt  # side id -> next side id along its ring (-1 none, -2 traced)
    cdef vector[vector[int64_t]] segments  # per level: (side, next side) pairs
    cdef vector[double] xs, ys, areas
    cdef vector[int64_t] offsets
    cdef vector[uint8_t] band  # per cell: how many levels lie below its cost (inside level l iff band <= l)
    cdef double t, px, py, area, fx = 0.0, fy = 0.0, lx = 0.0, ly = 0.0, level
    cdef const float* zp = &z[0, 0]
    cdef const uint8_t* row0
    cdef const uint8_t* row1
    if n_cells * 2 >= 2 ** 31:
        raise ValueError("grid too large to trace")
    if n_levels > 250:
        raise ValueError("too many levels")
    for k in range(1, n_levels):
        if levels[k] < levels[k - 1]:
            raise ValueError("levels must ascend")
    results = []
    with nogil:
        band.assign(n_cells, <uint8_t>n_levels)
        for i in range(ny):
            for q in range(i * nx + max(0, row_lo[i]), i * nx + min(nx - 1, row_hi[i]) + 1):
                if zp[q] == INFINITY:
                    continue
                k = 0
                while k < n_levels and zp[q] > levels[k]:
                    k += 1
                band[q] = <uint8_t>k
        segments.resize(n_levels)
        for i in range(ny - 1):
            row0 = &band[i * nx]
            row1 = &band[(i + 1) * nx]
            for j in range(max(0, min(row_lo[i], row_lo[i + 1]) - 1), min(nx - 1, max(row_hi[i], row_hi[i + 1]) + 1)):
                k00 = row0[j]
                k01 = row0[j + 1]
                k11 = row1[j + 1]
                k10 = row1[j]
                if k00 == k01 and k00 == k11 and k00 == k10:
                    continue  # no level's boundary crosses this square
                kmin = min(min(k00, k01), min(k11, k10))
                kmax = max(max(k00, k01), max(k11, k10))
                for lv_i in range(kmin, min(kmax, n_levels)):
                    case = (k00 <= lv_i) | ((k01 <= lv_i) << 1) | ((k11 <= lv_i) << 2) | ((k10 <= lv_i) << 3)
                    for k in range(0, 4, 2):
                        if SEGMENTS[case][k] < 0:
                            break
                        segments[lv_i].push_back(_side_id(i, j, SEGMENTS[case][k], nx))
                        segments[lv_i].push_back(_side_id(i, j, SEGMENTS[case][k + 1], nx))
        nxt.resize(2 * n_cells, -1)
    for lv_i in range(n_levels):
        level = levels[lv_i]
        xs.clear()
        ys.clear()
        areas.clear()
        offsets.clear()
        with nogil:
            for s in range(0, <int64_t>segments[lv_i].size(), 2):
                nxt[segments[lv_i][s]] = <int32_t>segments[lv_i][s + 1]
            offsets.push_back(0)
            for s in range(0, <int64_t>segments[lv_i].size(), 2):
                start = segments[lv_i][s]
                if nxt[start] < 0:
                    continue  # already part of a traced ring
                cur = start
                area = 0.0
                n_pts = 0
                while True:
                    # Position of the crossing on side ``cur``.
                    i = (cur // 2) // nx
                    j = (cur // 2) % nx
                    if cur % 2 == 0:  # horizontal side between (i, j) and (i, j + 1)
                        if band[i * nx + j] <= lv_i:
                            t = _crossing(z[i, j], z[i, j + 1], level)
                        else:
                            t = 1.0 - _crossing(z[i, j + 1], z[i, j], level)
                        px = x0 + (j + t) * cell
                        py = y0 + i * cell
                    else:  # vertical side between (i, j) and (i + 1, j)
                        if band[i * nx + j] <= lv_i:
                            t = _crossing(z[i, j], z[i + 1, j], level)
                        else:
                            t = 1.0 - _crossing(z[i + 1, j], z[i, j], level)
                        px = x0 + j * cell
                        py = y0 + (i + t) * cell
                    if n_pts == 0:
                        fx = px
                        fy = py
                    else:
                        area += lx * py - px * ly
                    xs.push_back(px)
                    ys.push_back(py)
                    lx = px
                    ly = py
                    n_pts += 1
                    nid = nxt[cur]
                    nxt[cur] = -2
                    cur = nid
                    if cur == start:
                        break
                xs.push_back(fx)
                ys.push_back(fy)
                area += lx * fy - fx * ly
                offsets.push_back(<int64_t>xs.size())
                areas.push_back(0.5 * area)
            for s in range(0, <int64_t>segments[lv_i].size(), 2):
                nxt[segments[lv_i][s]] = -1
        results.append(_arrays(xs, ys, offsets, areas))
    return results


cdef _arrays(vector[double]& xs, vector[double]& ys, vector[int64_t]& offsets, vector[double]& areas):
    cdef Py_ssize_t n = xs.size(), i
    xy = np.empty((n, 2), dtype=np.float64)
    cdef double[:, ::1] out = xy
    for i in range(n):
        out[i, 0] = xs[i]
        out[i, 1] = ys[i]
    off = np.empty(offsets.size(), dtype=np.int64)
    cdef int64_t[::1] off_v = off
    for i in range(<Py_ssize_t>offsets.size()):
        off_v[i] = offsets[i]
    ar = np.empty(areas.size(), dtype=np.float64)
    cdef double[::1] ar_v = ar
    for i in range(<Py_ssize_t>areas.size()):
        ar_v[i] = areas[i]
    return xy, off, ar


cdef void _simplify_chain(const double* x, const double* y, int64_t a, int64_t b, double tol, int side,
                          vector[char]& keep) noexcept nogil:
    """Douglas-Peucker between kept vertices a and b; with ``side`` != 0 only chords that have every
    dropped vertex on that side (+1 left, -1 right) are accepted."""
    cdef vector[int64_t] stack
    cdef int64_t i, lo, hi, worst, wrong
    cdef double dx, dy, norm, cross, d, worst_d, wrong_d
    stack.push_back(a)
    stack.push_back(b)
    while not stack.empty():
        hi = stack.back()
        stack.pop_back()
        lo = stack.back()
        stack.pop_back()
        if hi - lo < 2:
            continue
        dx = x[hi] - x[lo]
        dy = y[hi] - y[lo]
        norm = sqrt(dx * dx + dy * dy)
        worst = -1
        worst_d = tol
        wrong = -1
        wrong_d = 0.0
        for i in range(lo + 1, hi):
            cross = dx * (y[i] - y[lo]) - dy * (x[i] - x[lo])
            if norm > 0:
                d = fabs(cross) / norm
            else:
                d = sqrt((x[i] - x[lo]) * (x[i] - x[lo]) + (y[i] - y[lo]) * (y[i] - y[lo]))
            if side != 0 and cross * side < 0 and d > wrong_d:
                wrong = i
                wrong_d = d
            if d > worst_d:
                worst = i
                worst_d = d
        if wrong >= 0 and wrong_d > 1e-9:
            worst = wrong
        if worst < 0:
            continue
        keep[worst] = 1
        stack.push_back(lo)
        stack.push_back(worst)
        stack.push_back(worst)
        stack.push_back(hi)


def simplify_rings(const double[:, ::1] xy, const int64_t[::1] offsets, double tol, int side):
    """Douglas-Peucker on each closed ring (tolerance ``tol``); ``side`` = +1 only lets the area on each
    ring's left grow (a polygon traced inside-on-the-left never loses area), -1 only lets it shrink,
    0 is plain Douglas-Peucker. Rings keep at least four points. Returns ``(xy, offsets)``."""
    cdef int64_t n_rings = offsets.shape[0] - 1, r, a, b, i, m, far, n_out = 0
    cdef double d, far_d, cross
    cdef vector[char] keep
    cdef vector[double] xs, ys, cx, cy
    cdef vector[int64_t] out_off
    with nogil:
        out_off.push_back(0)
        for r in range(n_rings):
            a = offsets[r]
            b = offsets[r + 1] - 1  # closing point, equal to a
            # Drop vertices in line with their neighbours first (marching squares makes many): the area
            # does not change, and Douglas-Peucker then works on far fewer points.
            cx.clear()
            cy.clear()
            cx.push_back(xy[a, 0])
            cy.push_back(xy[a, 1])
            for i in range(a + 1, b):
                cross = ((xy[i, 0] - cx.back()) * (xy[i + 1, 1] - xy[i, 1])
                         - (xy[i, 1] - cy.back()) * (xy[i + 1, 0] - xy[i, 0]))
                if fabs(cross) > 1e-9:
                    cx.push_back(xy[i, 0])
                    cy.push_back(xy[i, 1])
            cx.push_back(xy[b, 0])
            cy.push_back(xy[b, 1])
            m = <int64_t>cx.size() - 1
            if m < 4:
                for i in range(a, b + 1):
                    xs.push_back(xy[i, 0])
                    ys.push_back(xy[i, 1])
                out_off.push_back(<int64_t>xs.size())
                continue
            keep.assign(m + 1, 0)
            keep[0] = 1
            keep[m] = 1
            # Second anchor: the vertex farthest from the first.
            far = 1
            far_d = -1.0
            for i in range(1, m):
                d = (cx[i] - cx[0]) * (cx[i] - cx[0]) + (cy[i] - cy[0]) * (cy[i] - cy[0])
                if d > far_d:
                    far = i
                    far_d = d
            keep[far] = 1
            _simplify_chain(cx.data(), cy.data(), 0, far, tol, side, keep)
            _simplify_chain(cx.data(), cy.data(), far, m, tol, side, keep)
            n_out = 0
            for i in range(m + 1):
                n_out += keep[i]
            if n_out < 4:  # collapsed: keep every vertex
                for i in range(m + 1):
                    keep[i] = 1
            for i in range(m + 1):
                if keep[i]:
                    xs.push_back(cx[i])
                    ys.push_back(cy[i])
            out_off.push_back(<int64_t>xs.size())
    n = xs.size()
    out = np.empty((n, 2), dtype=np.float64)
    cdef double[:, ::1] ov = out
    for i in range(<int64_t>n):
        ov[i, 0] = xs[i]
        ov[i, 1] = ys[i]
    off = np.empty(out_off.size(), dtype=np.int64)
    cdef int64_t[::1] offv = off
    for i in range(<int64_t>out_off.size()):
        offv[i] = out_off[i]
    return out, off
