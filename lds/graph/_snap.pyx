# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Nearest-edge search over a sparse lon/lat grid of edge segments, in C.

Cells are looked up by binary search in the sorted keys of the non-empty cells, ring by ring around the query,
until the ring's lower distance bound exceeds both the radius and the best hit of the largest component.
"""

from libc.math cimport INFINITY, M_PI, cos, floor, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t

import numpy as np

cdef double EARTH_R = 6371008.8
cdef double DEG = M_PI / 180.0


cdef inline int64_t cell_key(int64_t ix, int64_t iy) noexcept nogil:
    return (ix << 32) | iy


cdef inline int64_t _find(const int64_t[::1] keys, int64_t key) noexcept nogil:
    cdef int64_t lo = 0, hi = keys.shape[0] - 1, mid
    while lo <= hi:
        mid = (lo + hi) >> 1
        if keys[mid] < key:
            lo = mid + 1
        elif keys[mid] > key:
            hi = mid - 1
        else:
            return mid
    return -1


cdef void _search(double qlon, double qlat, double radius_m, double dlon, double dlat, const int64_t[::1] keys,
                  const int64_t[::1] cell_off, const int32_t[::1] cell_seg, const int32_t[::1] seg_edge,
                  const int64_t[::1] seg_a, const uint8_t[::1] in_largest, const double[::1] glon,
                  const double[::1] glat, int64_t* best_s, double* best_t, double* best_d, int64_t* big_s,
                  double* big_t, double* big_d) noexcept nogil:
    """The nearest segment (``best``) and nearest segment of the largest component (``big``) to (qlon, qlat): the
    segment (-1: none), the fraction along it and the distance, searched ring by ring until the ring's bound
    passes the radius or ``big``."""
    cdef double kx = cos(qlat * DEG) * DEG * EARTH_R, ky = DEG * EARTH_R
    cdef double cell_m = dlon * kx if dlon * kx < dlat * ky else dlat * ky
    cdef int64_t cx = <int64_t>floor((qlon + 180.0) / dlon), cy = <int64_t>floor((qlat + 90.0) / dlat)
    cdef int64_t r = 0, ix, iy, c, k, s, a
    cdef int64_t r_max = <int64_t>(radius_m / cell_m) + 2
    cdef double ax, ay, bx, by, dx, dy, seg2, t, px, py, d, bound
    best_d[0] = INFINITY
    big_d[0] = INFINITY
    best_t[0] = 0.0
    big_t[0] = 0.0
    best_s[0] = -1
    big_s[0] = -1
    while r <= r_max:
        bound = (r - 1) * cell_m if r > 0 else 0.0
        if bound > radius_m or bound > big_d[0]:
            break
        for ix in range(cx - r, cx + r + 1):
            for iy in range(cy - r, cy + r + 1):
                if r > 0 and ix != cx - r and ix != cx + r and iy != cy - r and iy != cy + r:
                    continue  # inside the ring: scanned already
                c = _find(keys, cell_key(ix, iy))
                if c < 0:
                    continue
                for k in range(cell_off[c], cell_off[c + 1]):
                    s = cell_seg[k]
                    a = seg_a[s]
                    ax = (glon[a] - qlon) * kx
                    ay = (glat[a] - qlat) * ky
                    bx = (glon[a + 1] - qlon) * kx
                    by = (glat[a + 1] - qlat) * ky
                    dx = bx - ax
                    dy = by - ay
                    seg2 = dx * dx + dy * dy
                    t = 0.0
                    if seg2 > 0:
                        t = -(ax * dx + ay * dy) / seg2
                        t = 0.0 if t < 0 else (1.0 if t > 1 else t)
                    px = ax + t * dx
                    py = ay + t * dy
                    d = sqrt(px * px + py * py)
                    if d < best_d[0]:
                        best_d[0], best_s[0], best_t[0] = d, s, t
                    if d < big_d[0] and in_largest[seg_edge[s]]:
                        big_d[0], big_s[0], big_t[0] = d, s, t
        r += 1


cdef inline double _fraction(int64_t s, double t, const int32_t[::1] seg_edge, const float[::1] seg_off,
                             const float[::1] seg_len, const float[::1] edge_len) noexcept nogil:
    cdef double total = edge_len[seg_edge[s]]
    cdef double f = (seg_off[s] + t * seg_len[s]) / total if total > 0 else 0.0
    return 0.0 if f < 0 else (1.0 if f > 1 else f)


def nearest(double qlon, double qlat, double radius_m, double dlon, double dlat, const int64_t[::1] keys,
            const int64_t[::1] cell_off, const int32_t[::1] cell_seg, const int32_t[::1] seg_edge,
            const int64_t[::1] seg_a, const float[::1] seg_off, const float[::1] seg_len, const float[::1] edge_len,
            const uint8_t[::1] in_largest, const double[::1] glon, const double[::1] glat):
    """Nearest point of any edge and of an edge of the largest component within ``radius_m`` of (qlon, qlat).

    Each is ``(edge, fraction, lon, lat, distance_m)`` or None.
    """
    cdef int64_t best_s, big_s
    cdef double best_t, best_d, big_t, big_d
    _search(qlon, qlat, radius_m, dlon, dlat, keys, cell_off, cell_seg, seg_edge, seg_a, in_largest, glon, glat,
            &best_s, &best_t, &best_d, &big_s, &big_t, &big_d)
    return _hit(best_s, best_t, best_d, radius_m, seg_edge, seg_a, seg_off, seg_len, edge_len, glon, glat), \
        _hit(big_s, big_t, big_d, radius_m, seg_edge, seg_a, seg_off, seg_len, edge_len, glon, glat)


def nearest_on_network(const double[::1] qlon, const double[::1] qlat, double radius_m, double dlon, double dlat,
                       const int64_t[::1] keys, const int64_t[::1] cell_off, const int32_t[::1] cell_seg,
                       const int32_t[::1] seg_edge, const int64_t[::1] seg_a, const float[::1] seg_off,
                       const float[::1] seg_len, const float[::1] edge_len, const uint8_t[::1] in_largest,
                       const double[::1] glon, const double[::1] glat):
    """:func:`nearest`'s largest-component answer for many points in one call, as ``(edge, fraction)`` arrays
    (edge -1 where none is within ``radius_m``)."""
    cdef Py_ssize_t n = qlon.shape[0], q
    cdef int64_t best_s, big_s
    cdef double best_t, best_d, big_t, big_d
    out_edge = np.full(n, -1, dtype=np.int64)
    out_frac = np.zeros(n, dtype=np.float64)
    cdef int64_t[::1] oe = out_edge
    cdef double[::1] of = out_frac
    with nogil:
        for q in range(n):
            _search(qlon[q], qlat[q], radius_m, dlon, dlat, keys, cell_off, cell_seg, seg_edge, seg_a, in_largest,
                    glon, glat, &best_s, &best_t, &best_d, &big_s, &big_t, &big_d)
            if big_s >= 0 and big_d <= radius_m:
                oe[q] = seg_edge[big_s]
                of[q] = _fraction(big_s, big_t, seg_edge, seg_off, seg_len, edge_len)
    return out_edge, out_frac


cdef object _hit(int64_t s, double t, double d, double radius_m, const int32_t[::1] seg_edge, const int64_t[::1] seg_a,
                 const float[::1] seg_off, const float[::1] seg_len, const float[::1] edge_len,
                 const double[::1] glon, const double[::1] glat):
    if s < 0 or d > radius_m:
        return None
    cdef int64_t a = seg_a[s]
    return (seg_edge[s], _fraction(s, t, seg_edge, seg_off, seg_len, edge_len),
            glon[a] + (glon[a + 1] - glon[a]) * t, glat[a] + (glat[a + 1] - glat[a]) * t, d)
