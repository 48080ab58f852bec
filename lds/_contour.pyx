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
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.math cimport INFINITY, fabs, nextafterf, sqrt
from libc.string cimport memcpy, memset
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


cdef inline double _crossing(double va, double vb, double level) noexcept nogil:
    """Where the boundary crosses from a's centre (0) to b's (1); exactly one of a, b is inside."""
    if va == INFINITY or vb == INFINITY:
        return 0.5
    return (level - va) / (vb - va)


cdef inline void _append(vector[double]& xs, vector[double]& ys, int64_t ring_start, double px,
                         double py) noexcept nogil:
    """Append a ring's next point; the last one goes when it lies in line between the one before and this one
    (marching squares makes long straight runs of them, which change neither shape nor area)."""
    cdef int64_t n = <int64_t>xs.size() - ring_start
    cdef double kx, ky, lx, ly
    if n >= 2:
        kx = xs[xs.size() - 2]
        ky = ys[ys.size() - 2]
        lx = xs.back()
        ly = ys.back()
        if fabs((lx - kx) * (py - ly) - (ly - ky) * (px - lx)) <= 1e-9:
            xs[xs.size() - 1] = px
            ys[ys.size() - 1] = py
            return
    xs.push_back(px)
    ys.push_back(py)


def trace_rings(const float[:, ::1] z, double x0, double y0, double cell, double level):
    """Rings around ``z <= level``: ``(xy, offsets, areas)``, ring k being ``xy[offsets[k]:offsets[k+1]]``
    (closed: its first point repeated last) with signed area ``areas[k]`` (> 0 for shells, < 0 for holes).

    Cell (i, j) is centred at (x0 + j * cell, y0 + i * cell); the border cells must be outside; +inf
    marks a cell off the corridor (a crossing into it sits half-way).
    """
    ny, nx = z.shape[0], z.shape[1]
    lo, hi = np.zeros(ny, dtype=np.int32), np.full(ny, nx - 1, dtype=np.int32)
    return trace_levels(z, x0, y0, cell, np.array([level], dtype=np.float64), lo, hi)[0]


cdef inline int _case(const uint8_t* band, int64_t q, int64_t nx, int lv) noexcept nogil:
    """Marching-squares case of square q (its corners: cells q, q + 1, q + nx + 1, q + nx) at level ``lv``."""
    return ((band[q] <= lv) | ((band[q + 1] <= lv) << 1) | ((band[q + nx + 1] <= lv) << 2)
            | ((band[q + nx] <= lv) << 3))


def trace_levels(const float[:, ::1] z, double x0, double y0, double cell, const double[::1] levels,
                 const int32_t[::1] row_lo, const int32_t[::1] row_hi, workspace=None, bint binary=False):
    """:func:`trace_rings` for several ascending levels at once: one scan of the grid finds every level's
    boundary squares (a square whose corners all fall between the same two levels is skipped for all).
    Only columns ``row_lo[i]..row_hi[i]`` of row i may hold finite costs; the rest is not read.
    ``workspace`` (:class:`lds.isoline_shape.Workspace`) lends reused per-thread scratch buffers. With
    ``binary`` every crossing sits half-way between the two cells' centres: each level's rings then depend
    only on which cells are inside it, not on the costs beyond it.

    Each ring is walked from square to square (the next segment is the one entering the square across the
    side the last one left by), so memory is touched only near the ring: no table over the grid's sides."""
    cdef int64_t ny = z.shape[0], nx = z.shape[1], n_cells = ny * nx, i, j, q, s, n_pts, sq, start, ring_start
    cdef int n_levels = levels.shape[0], case, k, lv_i, kmin, kmax, k00, k01, k11, k10, slot, start_slot, side
    cdef vector[vector[int64_t]] segments  # per level: 2 * square + slot (which of the square's segments)
    cdef vector[double] xs, ys, areas
    cdef vector[int64_t] offsets
    cdef double t, px, py, area, fx = 0.0, fy = 0.0, lx = 0.0, ly = 0.0, level, inv_nx = 1.0 / nx
    cdef const float* zp = &z[0, 0]
    cdef const uint8_t* row0
    cdef const uint8_t* row1
    if n_cells >= 2 ** 31:
        raise ValueError("grid too large to trace")
    if n_levels < 1 or n_levels > 250:
        raise ValueError("between 1 and 250 levels")
    if ny < 2 or nx < 2:
        raise ValueError("a grid of at least 2 x 2 cells")
    for k in range(1, n_levels):
        if levels[k] < levels[k - 1]:
            raise ValueError("levels must ascend")
    # band: per cell, how many levels lie below its cost (inside level l iff band <= l).
    # seen: per square, which of its (one or two) segments are traced; all zero between levels and calls.
    cdef uint8_t[::1] band_v, seen_v
    if workspace is None:
        band_v = np.empty(n_cells, dtype=np.uint8)
        seen_v = np.zeros(n_cells, dtype=np.uint8)
    else:
        band_v = workspace.buffer("band", np.uint8, n_cells)
        seen_v = workspace.buffer("seen", np.uint8, n_cells, 0)
    cdef uint8_t* band = &band_v[0]
    cdef uint8_t* seen = &seen_v[0]
    results = []
    # z > level exactly when z > the largest float not above level: the band scan compares floats.
    cdef vector[float] flevels
    cdef float fl
    for k in range(n_levels):
        fl = <float>levels[k]
        if fl > levels[k]:
            fl = nextafterf(fl, -INFINITY)
        flevels.push_back(fl)
    cdef int64_t q0, q1, j1
    cdef uint64_t w0, w1
    cdef bint border_inside = False
    cdef float top = flevels[n_levels - 1]
    with nogil:  # rings cannot run off the grid when no border cell is inside any level (NaN counts as inside)
        for q in range(nx):
            border_inside |= not (zp[q] > top) or not (zp[n_cells - nx + q] > top)
        for i in range(ny):
            border_inside |= not (zp[i * nx] > top) or not (zp[i * nx + nx - 1] > top)
    if border_inside:
        raise ValueError("the border cells of the grid must lie above every level")
    with nogil:
        memset(band, n_levels, n_cells)  # +inf: above every level
        for i in range(ny):
            q0 = i * nx + max(0, row_lo[i])
            q1 = i * nx + min(nx - 1, row_hi[i]) + 1
            if q1 <= q0:
                continue
            memset(&band[q0], 0, q1 - q0)
            for k in range(n_levels):
                fl = flevels[k]
                for q in range(q0, q1):
                    band[q] += zp[q] > fl
        segments.resize(n_levels)
        for i in range(ny - 1):
            row0 = &band[i * nx]
            row1 = &band[(i + 1) * nx]
            j = max(0, min(row_lo[i], row_lo[i + 1]) - 1)
            j1 = min(nx - 1, max(row_hi[i], row_hi[i + 1]) + 1)
            while j < j1:
                if j + 8 < j1:  # eight squares at once: skipped when their nine columns are one band
                    memcpy(&w0, row0 + j, 8)
                    memcpy(&w1, row1 + j, 8)
                    if w0 == w1 and w0 == row0[j] * <uint64_t>0x0101010101010101 and row0[j + 8] == row0[j] \
                            and row1[j + 8] == row0[j]:
                        j += 8
                        continue
                k00 = row0[j]
                k01 = row0[j + 1]
                k11 = row1[j + 1]
                k10 = row1[j]
                if k00 == k01 and k00 == k11 and k00 == k10:
                    j += 1
                    continue  # no level's boundary crosses this square
                kmin = min(min(k00, k01), min(k11, k10))
                kmax = max(max(k00, k01), max(k11, k10))
                for lv_i in range(kmin, min(kmax, n_levels)):
                    case = (k00 <= lv_i) | ((k01 <= lv_i) << 1) | ((k11 <= lv_i) << 2) | ((k10 <= lv_i) << 3)
                    segments[lv_i].push_back(2 * (i * nx + j))
                    if SEGMENTS[case][2] >= 0:
                        segments[lv_i].push_back(2 * (i * nx + j) + 1)
                j += 1
    for lv_i in range(n_levels):
        level = levels[lv_i]
        xs.clear()
        ys.clear()
        areas.clear()
        offsets.clear()
        with nogil:
            offsets.push_back(0)
            for s in range(<int64_t>segments[lv_i].size()):
                start = segments[lv_i][s] >> 1
                start_slot = segments[lv_i][s] & 1
                if seen[start] & (1 << start_slot):
                    continue  # already part of a traced ring
                sq = start
                slot = start_slot
                ring_start = xs.size()
                i = <int64_t>((sq + 0.5) * inv_nx)  # exact: sq + 0.5 is at least 0.5 / nx off a multiple of nx
                j = sq - i * nx
                case = _case(band, sq, nx, lv_i)
                area = 0.0
                n_pts = 0
                while True:
                    seen[sq] |= 1 << slot
                    # The crossing on the side the segment enters square (i, j) by.
                    side = SEGMENTS[case][2 * slot]
                    if side == 0 or side == 2:  # horizontal side between cells q and q + 1
                        q = sq if side == 0 else sq + nx
                        if band[q] <= lv_i:
                            t = 0.5 if binary else _crossing(zp[q], zp[q + 1], level)
                        else:
                            t = 0.5 if binary else 1.0 - _crossing(zp[q + 1], zp[q], level)
                        px = x0 + (j + t) * cell
                        py = y0 + (i + (side == 2)) * cell
                    else:  # vertical side between cells q and q + nx
                        q = sq if side == 3 else sq + 1
                        if band[q] <= lv_i:
                            t = 0.5 if binary else _crossing(zp[q], zp[q + nx], level)
                        else:
                            t = 0.5 if binary else 1.0 - _crossing(zp[q + nx], zp[q], level)
                        px = x0 + (j + (side == 1)) * cell
                        py = y0 + (i + t) * cell
                    if n_pts == 0:
                        fx = px
                        fy = py
                    else:
                        area += lx * py - px * ly
                    _append(xs, ys, ring_start, px, py)
                    lx = px
                    ly = py
                    n_pts += 1
                    # On to the square across the side this segment leaves by, and its segment entering there.
                    side = SEGMENTS[case][2 * slot + 1]
                    if side == 0:
                        sq -= nx
                        i -= 1
                    elif side == 1:
                        sq += 1
                        j += 1
                    elif side == 2:
                        sq += nx
                        i += 1
                    else:
                        sq -= 1
                        j -= 1
                    side = (side + 2) & 3
                    case = _case(band, sq, nx, lv_i)
                    slot = 0 if SEGMENTS[case][0] == side else 1
                    if sq == start and slot == start_slot:
                        break
                _append(xs, ys, ring_start, fx, fy)
                area += lx * fy - fx * ly
                offsets.push_back(<int64_t>xs.size())
                areas.push_back(0.5 * area)
            for s in range(<int64_t>segments[lv_i].size()):
                seen[segments[lv_i][s] >> 1] = 0
        results.append(_arrays(xs, ys, offsets, areas))
    return results


cdef object _int64s(vector[int64_t]& v):
    out = np.empty(v.size(), dtype=np.int64)
    cdef int64_t[::1] out_v = out
    cdef Py_ssize_t i
    for i in range(<Py_ssize_t>v.size()):
        out_v[i] = v[i]
    return out


cdef _arrays(vector[double]& xs, vector[double]& ys, vector[int64_t]& offsets, vector[double]& areas):
    cdef Py_ssize_t n = xs.size(), i
    xy = np.empty((n, 2), dtype=np.float64)
    cdef double[:, ::1] out = xy
    for i in range(n):
        out[i, 0] = xs[i]
        out[i, 1] = ys[i]
    ar = np.empty(areas.size(), dtype=np.float64)
    cdef double[::1] ar_v = ar
    for i in range(<Py_ssize_t>areas.size()):
        ar_v[i] = areas[i]
    return xy, _int64s(offsets), ar


cdef void _simplify_chain(const double* x, const double* y, int64_t a, int64_t b, double tol, int side,
                          vector[char]& keep, vector[int64_t]& stack) noexcept nogil:
    """Douglas-Peucker between kept vertices a and b; with ``side`` != 0 only chords that have every
    dropped vertex on that side (+1 left, -1 right) are accepted. Distances to a chord are compared as
    cross products (the distance times the chord's length), so the loop neither divides nor takes roots."""
    cdef int64_t i, lo, hi, worst, wrong
    cdef double dx, dy, norm, cross, d, worst_d, wrong_d, ex, ey
    stack.clear()
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
        wrong = -1
        wrong_d = 0.0
        if norm > 0:  # in units of the chord's length
            worst_d = tol * norm
            for i in range(lo + 1, hi):
                cross = dx * (y[i] - y[lo]) - dy * (x[i] - x[lo])
                d = fabs(cross)
                if side != 0 and cross * side < 0 and d > wrong_d:
                    wrong = i
                    wrong_d = d
                if d > worst_d:
                    worst = i
                    worst_d = d
            wrong_d /= norm
        else:  # a closed chain: distances to the point
            worst_d = tol * tol
            for i in range(lo + 1, hi):
                ex = x[i] - x[lo]
                ey = y[i] - y[lo]
                d = ex * ex + ey * ey
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


def simplify_rings(const double[:, ::1] xy, const int64_t[::1] offsets, double tol, int side, rings=None,
                   bint chains=False):
    """Douglas-Peucker on each closed ring (tolerance ``tol``); ``side`` = +1 only lets the area on each
    ring's left grow (a polygon traced inside-on-the-left never loses area), -1 only lets it shrink,
    0 is plain Douglas-Peucker. Rings keep at least four points. Returns ``(xy, offsets)``.

    ``rings`` (ring indices) picks and orders the rings to simplify; default all, in order. With ``chains``
    it also returns ``(chain_xy, chain_offsets, kept)``: each ring as simplified from (its points in line with
    their neighbours dropped) and which of them it kept; what lies between a kept point's chord and the
    chain it replaced is what the simplification added (:func:`cover_pockets`)."""
    cdef int64_t[::1] order = (np.arange(offsets.shape[0] - 1, dtype=np.int64) if rings is None
                               else np.ascontiguousarray(rings, dtype=np.int64))
    cdef int64_t n_rings = order.shape[0], n_all = offsets.shape[0] - 1, ri, r, a, b, i, m, far, n_out = 0
    cdef double d, far_d, cross
    cdef vector[char] keep, all_keep
    cdef vector[double] xs, ys, cx, cy, all_cx, all_cy
    cdef vector[int64_t] out_off, stack, chain_off
    for ri in range(n_rings):
        if not 0 <= order[ri] < n_all:
            raise IndexError("ring index out of range")
    with nogil:
        out_off.push_back(0)
        chain_off.push_back(0)
        for ri in range(n_rings):
            r = order[ri]
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
                    if chains:
                        all_cx.push_back(xy[i, 0])
                        all_cy.push_back(xy[i, 1])
                        all_keep.push_back(1)
                out_off.push_back(<int64_t>xs.size())
                chain_off.push_back(<int64_t>all_cx.size())
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
            _simplify_chain(cx.data(), cy.data(), 0, far, tol, side, keep, stack)
            _simplify_chain(cx.data(), cy.data(), far, m, tol, side, keep, stack)
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
            if chains:
                for i in range(m + 1):
                    all_cx.push_back(cx[i])
                    all_cy.push_back(cy[i])
                    all_keep.push_back(keep[i])
                chain_off.push_back(<int64_t>all_cx.size())
    n = xs.size()
    out = np.empty((n, 2), dtype=np.float64)
    cdef double[:, ::1] ov = out
    for i in range(<int64_t>n):
        ov[i, 0] = xs[i]
        ov[i, 1] = ys[i]
    off = _int64s(out_off)
    if not chains:
        return out, off
    cdef vector[double] no_areas
    cxy, coff, _ = _arrays(all_cx, all_cy, chain_off, no_areas)
    kept = np.empty(all_keep.size(), dtype=np.uint8)
    cdef uint8_t[::1] kept_v = kept
    for i in range(<int64_t>all_keep.size()):
        kept_v[i] = all_keep[i]
    return out, off, (cxy, coff, kept.view(bool))


cdef inline bint _on_segment(double px, double py, double ax, double ay, double bx, double by) noexcept nogil:
    """Whether p lies on segment ab (to rounding: the points here are grid positions in metres)."""
    cdef double lab = fabs(bx - ax) + fabs(by - ay)
    cdef double cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
    if fabs(cross) > 1e-9 * lab * (lab + fabs(px - ax) + fabs(py - ay)):
        return False
    cdef double slack = 1e-9 * (lab + 1.0)
    return min(ax, bx) - slack <= px <= max(ax, bx) + slack and min(ay, by) - slack <= py <= max(ay, by) + slack


cdef bint _in_pocket(const double* cx, const double* cy, int64_t a, int64_t b, double px, double py) noexcept nogil:
    """Whether p is in the pocket between chord a -> b and the chain a..b it replaced: strictly inside it, or on
    the chain (which the chord left inside), but not on the chord itself."""
    cdef int64_t i
    cdef bint odd = False
    if _on_segment(px, py, cx[a], cy[a], cx[b], cy[b]):
        return False
    for i in range(a, b):
        if _on_segment(px, py, cx[i], cy[i], cx[i + 1], cy[i + 1]):
            return True
        if (cy[i] > py) != (cy[i + 1] > py) and \
                px < cx[i] + (py - cy[i]) * (cx[i + 1] - cx[i]) / (cy[i + 1] - cy[i]):
            odd = not odd
    if (cy[b] > py) != (cy[a] > py) and px < cx[b] + (py - cy[b]) * (cx[a] - cx[b]) / (cy[a] - cy[b]):
        odd = not odd
    return odd


cdef inline bint _cross_chord(double ux, double uy, double wx, double wy, double ax, double ay, double bx, double by,
                              vector[double]& xs, vector[double]& ys) noexcept nogil:
    """Append where segment u -> w meets the line of chord a -> b; False when they run parallel."""
    cdef double dx = bx - ax, dy = by - ay, ex = wx - ux, ey = wy - uy
    cdef double denom = ex * dy - ey * dx, t
    if fabs(denom) <= 1e-12 * (fabs(ex) + fabs(ey)) * (fabs(dx) + fabs(dy)):
        return False
    t = ((ax - ux) * dy - (ay - uy) * dx) / denom
    t = min(1.0, max(0.0, t))
    _push_new(xs, ys, ux + t * ex, uy + t * ey)
    return True


cdef inline void _push_new(vector[double]& xs, vector[double]& ys, double x, double y) noexcept nogil:
    if xs.size() and xs.back() == x and ys.back() == y:
        return
    xs.push_back(x)
    ys.push_back(y)


def cover_pockets(const double[:, ::1] xy, const int64_t[::1] ring_off, const int64_t[::1] poly_off, chains):
    """The polygons ``(xy, ring_off, poly_off)`` (a longer range, simplified outwards) grown to cover what the
    outward simplification of a shorter range on the same grid added (``chains``: :func:`simplify_rings`'s, for
    that range): their union, without a general overlay; ``()`` when that adds nothing. None when the shapes are
    not as assumed (the caller then unites them the general way).

    The longer range's area holds the shorter one's traced area, so its boundary never enters it; the shorter
    one's simplified area is its traced area plus pockets, each between a chord and the chain of points it
    replaced. The boundary can only enter a pocket across its chord, so each run of points inside one pocket is
    replaced by where it crosses the chord: the boundary then follows the chord. A hole left inside pockets goes.
    """
    cdef const double[:, ::1] cxy = chains[0]
    cdef const int64_t[::1] coff = chains[1]
    cdef const uint8_t[::1] kept = np.ascontiguousarray(chains[2]).view(np.uint8)
    cdef int64_t n_chain = cxy.shape[0], r, i, k, a, last, n, u, w, p, g, gx, gy
    cdef int64_t n_polys = poly_off.shape[0] - 1, pi, ring_start
    cdef vector[double] cx, cy, xs, ys, area_of
    cdef vector[int64_t] p_a, p_b, grid_off, grid_ids, cls, out_ring_off, out_poly_off
    cdef vector[double] bx0, by0, bx1, by1
    cdef double xmin = INFINITY, ymin = INFINITY, xmax = -INFINITY, ymax = -INFINITY, bucket, area, lab, d
    cdef double qx0, qy0, qx1, qy1, px, py
    cdef int64_t nx, ny, c
    cdef bint failed = False, dropped
    if n_chain == 0:
        return ()
    with nogil:
        cx.resize(n_chain)
        cy.resize(n_chain)
        for i in range(n_chain):
            cx[i] = cxy[i, 0]
            cy[i] = cxy[i, 1]
        # The pockets: consecutive kept points with dropped ones between them not all on the chord.
        for r in range(coff.shape[0] - 1):
            last = -1
            for i in range(coff[r], coff[r + 1]):
                if not kept[i]:
                    continue
                if last >= 0 and i - last >= 2:
                    lab = fabs(cx[i] - cx[last]) + fabs(cy[i] - cy[last])
                    d = 0.0
                    qx0 = qx1 = cx[last]
                    qy0 = qy1 = cy[last]
                    for k in range(last + 1, i + 1):
                        d = max(d, fabs((cx[i] - cx[last]) * (cy[k] - cy[last]) - (cy[i] - cy[last]) * (cx[k] - cx[last])))
                        qx0 = min(qx0, cx[k])
                        qx1 = max(qx1, cx[k])
                        qy0 = min(qy0, cy[k])
                        qy1 = max(qy1, cy[k])
                    if d > 1e-9 * lab * (lab + 1.0):
                        p_a.push_back(last)
                        p_b.push_back(i)
                        bx0.push_back(qx0)
                        by0.push_back(qy0)
                        bx1.push_back(qx1)
                        by1.push_back(qy1)
                        xmin = min(xmin, qx0)
                        ymin = min(ymin, qy0)
                        xmax = max(xmax, qx1)
                        ymax = max(ymax, qy1)
                last = i
    if p_a.size() == 0:
        return ()  # nothing added: the polygons as they are
    with nogil:
        # A uniform grid of buckets over the pockets, each pocket listed in the buckets its box meets.
        bucket = max(max(xmax - xmin, ymax - ymin) / 128.0, 1.0)
        nx = <int64_t>((xmax - xmin) / bucket) + 1
        ny = <int64_t>((ymax - ymin) / bucket) + 1
        grid_off.assign(nx * ny + 1, 0)
        for p in range(<int64_t>p_a.size()):
            for gy in range(<int64_t>((by0[p] - ymin) / bucket), <int64_t>((by1[p] - ymin) / bucket) + 1):
                for gx in range(<int64_t>((bx0[p] - xmin) / bucket), <int64_t>((bx1[p] - xmin) / bucket) + 1):
                    grid_off[gy * nx + gx + 1] += 1
        for g in range(nx * ny):
            grid_off[g + 1] += grid_off[g]
        grid_ids.resize(grid_off[nx * ny])
        cls.assign(nx * ny, 0)  # fill position per bucket
        for p in range(<int64_t>p_a.size()):
            for gy in range(<int64_t>((by0[p] - ymin) / bucket), <int64_t>((by1[p] - ymin) / bucket) + 1):
                for gx in range(<int64_t>((bx0[p] - xmin) / bucket), <int64_t>((bx1[p] - xmin) / bucket) + 1):
                    g = gy * nx + gx
                    grid_ids[grid_off[g] + cls[g]] = p
                    cls[g] += 1
        out_ring_off.push_back(0)
        out_poly_off.push_back(0)
        for pi in range(n_polys):
            for r in range(poly_off[pi], poly_off[pi + 1]):
                n = ring_off[r + 1] - ring_off[r] - 1  # distinct points (the ring is closed)
                a = ring_off[r]
                cls.assign(n, -1)
                for i in range(n):
                    px = xy[a + i, 0]
                    py = xy[a + i, 1]
                    if xmin <= px <= xmax and ymin <= py <= ymax:
                        g = <int64_t>((py - ymin) / bucket) * nx + <int64_t>((px - xmin) / bucket)
                        for k in range(grid_off[g], grid_off[g + 1]):
                            p = grid_ids[k]
                            if bx0[p] <= px <= bx1[p] and by0[p] <= py <= by1[p] and \
                                    _in_pocket(cx.data(), cy.data(), p_a[p], p_b[p], px, py):
                                cls[i] = p
                                break
                ring_start = xs.size()
                for k in range(n):  # each edge u -> w: where it leaves a pocket, enters one, and w unless in one
                    u = (n - 1 + k) % n
                    w = k
                    if cls[u] >= 0 and cls[u] != cls[w]:  # leaves a pocket across its chord
                        p = cls[u]
                        if not _cross_chord(xy[a + u, 0], xy[a + u, 1], xy[a + w, 0], xy[a + w, 1], cx[p_a[p]],
                                            cy[p_a[p]], cx[p_b[p]], cy[p_b[p]], xs, ys):
                            failed = True
                    if cls[w] >= 0 and cls[w] != cls[u]:  # enters one
                        p = cls[w]
                        if not _cross_chord(xy[a + u, 0], xy[a + u, 1], xy[a + w, 0], xy[a + w, 1], cx[p_a[p]],
                                            cy[p_a[p]], cx[p_b[p]], cy[p_b[p]], xs, ys):
                            failed = True
                    if cls[w] < 0:
                        _push_new(xs, ys, xy[a + w, 0], xy[a + w, 1])
                if <int64_t>xs.size() == ring_start:  # inside one pocket: a hole the shorter range fills goes
                    if r == poly_off[pi]:
                        failed = True
                        break
                    continue
                if <int64_t>xs.size() > ring_start + 1 and xs.back() == xs[ring_start] and ys.back() == ys[ring_start]:
                    xs.pop_back()
                    ys.pop_back()
                xs.push_back(xs[ring_start])
                ys.push_back(ys[ring_start])
                area = 0.0
                for i in range(ring_start, <int64_t>xs.size() - 1):
                    area += xs[i] * ys[i + 1] - xs[i + 1] * ys[i]
                dropped = <int64_t>xs.size() - ring_start < 4 or (area > -1e-6 if r > poly_off[pi] else area < 1e-6)
                if dropped:
                    if r == poly_off[pi]:
                        failed = True
                        break
                    xs.resize(ring_start)  # a hole the shorter range fills (or one squeezed to nothing)
                    ys.resize(ring_start)
                    continue
                out_ring_off.push_back(<int64_t>xs.size())
            if failed:
                break
            out_poly_off.push_back(<int64_t>out_ring_off.size() - 1)
    if failed:
        return None
    cdef vector[double] no_areas
    out, off, _ = _arrays(xs, ys, out_ring_off, no_areas)
    return out, off, _int64s(out_poly_off)
