# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Nearest-edge search over a sparse lon/lat grid of edge segments, in C.

Cells are looked up by binary search in the sorted keys of the non-empty cells, ring by ring around the query,
until the ring's lower distance bound exceeds both the radius and the best hit of the largest component.
"""

from libc.math cimport INFINITY, M_PI, cos, floor, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t

cdef double EARTH_R = 6371008.8
cdef double DEG = M_PI / 180.0


cdef inline int64_t cell_key(int64_t ix, int64_t iy) nogil:
    return (ix << 32) | iy


cdef inline int64_t _find(const int64_t[::1] keys, int64_t key) nogil:
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


def nearest(double qlon, double qlat, double radius_m, double dlon, double dlat, const int64_t[::1] keys,
            const int64_t[::1] cell_off, const int32_t[::1] cell_seg, const int32_t[::1] seg_edge,
            const int64_t[::1] seg_a, const float[::1] seg_off, const float[::1] seg_len, const float[::1] edge_len,
            const uint8_t[::1] in_largest, const double[::1] glon, const double[::1] glat):
    """Nearest point of any edge and of an edge of the largest component within ``radius_m`` of (qlon, qlat).

    Each is ``(edge, fraction, lon, lat, distance_m)`` or None.
    """
    cdef double kx = cos(qlat * DEG) * DEG * EARTH_R, ky = DEG * EARTH_R
    cdef double cell_m = dlon * kx if dlon * kx < dlat * ky else dlat * ky
    cdef int64_t cx = <int64_t>floor((qlon + 180.0) / dlon), cy = <int64_t>floor((qlat + 90.0) / dlat)
    cdef int64_t r = 0, ix, iy, c, k, s, a
    cdef int64_t r_max = <int64_t>(radius_m / cell_m) + 2
    cdef double ax, ay, bx, by, dx, dy, seg2, t, px, py, d
    cdef double best_d = INFINITY, big_d = INFINITY, best_t = 0, big_t = 0, bound
    cdef int64_t best_s = -1, big_s = -1
    cdef int32_t e
    while r <= r_max:
        bound = (r - 1) * cell_m if r > 0 else 0.0
        if bound > radius_m or bound > big_d:
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
                    if d < best_d:
                        best_d, best_s, best_t = d, s, t
                    if d < big_d and in_largest[seg_edge[s]]:
                        big_d, big_s, big_t = d, s, t
        r += 1
    return _hit(best_s, best_t, best_d, radius_m, seg_edge, seg_a, seg_off, seg_len, edge_len, glon, glat), \
        _hit(big_s, big_t, big_d, radius_m, seg_edge, seg_a, seg_off, seg_len, edge_len, glon, glat)


cdef object _hit(int64_t s, double t, double d, double radius_m, const int32_t[::1] seg_edge, const int64_t[::1] seg_a,
                 const float[::1] seg_off, const float[::1] seg_len, const float[::1] edge_len,
                 const double[::1] glon, const double[::1] glat):
    if s < 0 or d > radius_m:
        return None
    cdef int32_t e = seg_edge[s]
    cdef int64_t a = seg_a[s]
    cdef double total = edge_len[e]
    cdef double f = (seg_off[s] + t * seg_len[s]) / total if total > 0 else 0.0
    f = 0.0 if f < 0 else (1.0 if f > 1 else f)
    return (e, f, glon[a] + (glon[a + 1] - glon[a]) * t, glat[a] + (glat[a + 1] - glat[a]) * t, d)
