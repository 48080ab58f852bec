# distutils: language = c++
# cython: cdivision=True
"""Validity of (Multi)Polygons given as flat ring arrays, in C++: the checks of GEOS's ``is_valid`` that
simplifying or rounding an isoline can break, on a uniform grid of segments instead of GEOS's noding of every
ring (several times faster on isolines of a few thousand points and hundreds of holes).

It is conservative: wherever GEOS would accept a polygon only after a closer look (rings touching at a point,
collinear overlaps, near-degenerate orientations) the polygon is reported as a problem, so a polygon passed
here is valid for GEOS too; the caller falls back to a safer drawing for the rare polygon reported.
Orientation and signs are affine-invariant, so the same check serves metres and lon/lat.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport fabs, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t
from libcpp.vector cimport vector

cnp.import_array()

cdef double EPS = 1e-9  # |orientation| below EPS * |u| * |v| counts as collinear (a touch, conservatively)


cdef inline double _orient(double ax, double ay, double bx, double by, double cx, double cy) noexcept nogil:
    return (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)


cdef inline int _sign(double o, double scale) noexcept nogil:
    if fabs(o) <= EPS * scale:
        return 0
    return 1 if o > 0 else -1


cdef inline bint _within(double px, double py, double ax, double ay, double bx, double by, double slack) noexcept nogil:
    """Whether p lies in the bounding box of segment ab (grown by ``slack``)."""
    return (min(ax, bx) - slack <= px <= max(ax, bx) + slack) and (min(ay, by) - slack <= py <= max(ay, by) + slack)


cdef bint _segments_meet(double ax, double ay, double bx, double by, double cx, double cy, double dx,
                         double dy) noexcept nogil:
    """Whether segments ab and cd cross or touch (or come so close that the orientation is uncertain)."""
    if max(ax, bx) < min(cx, dx) or max(cx, dx) < min(ax, bx) or max(ay, by) < min(cy, dy) or max(cy, dy) < min(ay, by):
        return False
    cdef double lab = fabs(bx - ax) + fabs(by - ay), lcd = fabs(dx - cx) + fabs(dy - cy)
    cdef double slack = EPS * (lab + lcd)
    cdef int s1 = _sign(_orient(cx, cy, dx, dy, ax, ay), lcd * (fabs(ax - cx) + fabs(ay - cy) + lab))
    cdef int s2 = _sign(_orient(cx, cy, dx, dy, bx, by), lcd * (fabs(bx - cx) + fabs(by - cy) + lab))
    cdef int s3 = _sign(_orient(ax, ay, bx, by, cx, cy), lab * (fabs(cx - ax) + fabs(cy - ay) + lcd))
    cdef int s4 = _sign(_orient(ax, ay, bx, by, dx, dy), lab * (fabs(dx - ax) + fabs(dy - ay) + lcd))
    if s1 * s2 < 0 and s3 * s4 < 0:
        return True
    if s1 == 0 and _within(ax, ay, cx, cy, dx, dy, slack):
        return True
    if s2 == 0 and _within(bx, by, cx, cy, dx, dy, slack):
        return True
    if s3 == 0 and _within(cx, cy, ax, ay, bx, by, slack):
        return True
    if s4 == 0 and _within(dx, dy, ax, ay, bx, by, slack):
        return True
    return False


cdef inline bint _backtracks(double ax, double ay, double bx, double by, double cx, double cy) noexcept nogil:
    """Whether the ring turns back on itself at b (a -> b -> c collinear, c on the side of a)."""
    cdef double ux = ax - bx, uy = ay - by, vx = cx - bx, vy = cy - by
    cdef double scale = (fabs(ux) + fabs(uy)) * (fabs(vx) + fabs(vy))
    return _sign(ux * vy - uy * vx, scale) == 0 and ux * vx + uy * vy > 0


def polygon_problems(const double[:, ::1] xy, const int64_t[::1] ring_off, const int64_t[::1] poly_off):
    """``(bad, overlap)`` for polygons as flat arrays (ring k is ``xy[ring_off[k]:ring_off[k + 1]]``, closed;
    polygon p owns rings ``poly_off[p]:poly_off[p + 1]``, its shell first, counter-clockwise, then its holes,
    clockwise).

    ``bad[p]``: polygon p is invalid on its own, or may be: a ring with fewer than three distinct points, the
    wrong orientation, crossing or touching itself or another ring of p, a hole outside the shell or inside
    another hole. ``overlap``: two polygons cross, touch, or one lies inside the other (not in a hole).
    Repeated consecutive points are ignored, as GEOS does.
    """
    cdef int64_t n_polys = poly_off.shape[0] - 1, n_rings = ring_off.shape[0] - 1, n_pts = xy.shape[0]
    bad_arr = np.zeros(max(n_polys, 0), dtype=bool)
    cdef uint8_t[::1] bad = bad_arr.view(np.uint8)
    cdef bint overlap = False
    if n_polys <= 0 or n_rings <= 0 or n_pts == 0:
        return bad_arr, overlap
    cdef int64_t v
    if ring_off[0] != 0 or ring_off[n_rings] != n_pts or poly_off[0] != 0 or poly_off[n_polys] != n_rings:
        raise ValueError("offsets do not cover the points and rings")
    for v in range(n_rings):
        if ring_off[v + 1] < ring_off[v]:
            raise ValueError("ring offsets must not decrease")
    for v in range(n_polys):
        if poly_off[v + 1] <= poly_off[v]:
            raise ValueError("every polygon needs a shell")
    cdef vector[int32_t] ring_poly, ring_first_seg, ring_n_seg
    cdef vector[double] ax, ay, bx, by  # segments, ring by ring, repeated points skipped
    cdef vector[int32_t] seg_ring
    cdef int64_t p, r, k, s, t, n_seg, kept, first
    cdef double px, py, qx, qy, area, xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300
    ring_poly.resize(n_rings)
    ring_first_seg.resize(n_rings)
    ring_n_seg.resize(n_rings)
    with nogil:
        for p in range(n_polys):
            for r in range(poly_off[p], poly_off[p + 1]):
                ring_poly[r] = <int32_t>p
        # Segments without repeated points; orientation and size of every ring.
        for r in range(n_rings):
            ring_first_seg[r] = <int32_t>ax.size()
            first = ring_off[r]
            kept = 1
            area = 0.0
            px = xy[first, 0]
            py = xy[first, 1]
            for k in range(first + 1, ring_off[r + 1]):
                qx = xy[k, 0]
                qy = xy[k, 1]
                if qx == px and qy == py:
                    continue
                ax.push_back(px)
                ay.push_back(py)
                bx.push_back(qx)
                by.push_back(qy)
                seg_ring.push_back(<int32_t>r)
                area += (px - xy[first, 0]) * (qy - xy[first, 1]) - (qx - xy[first, 0]) * (py - xy[first, 1])
                xmin = min(xmin, qx); xmax = max(xmax, qx)
                ymin = min(ymin, qy); ymax = max(ymax, qy)
                px = qx
                py = qy
                kept += 1
            ring_n_seg[r] = <int32_t>(<int64_t>ax.size() - ring_first_seg[r])
            p = ring_poly[r]
            if kept < 4 or px != xy[first, 0] or py != xy[first, 1]:
                bad[p] = 1  # too few distinct points, or not closed
            elif (area > 0) != (r == poly_off[p]):
                bad[p] = 1  # a clockwise shell or a counter-clockwise hole (or no area at all)
    n_seg = ax.size()
    if n_seg == 0:
        return bad_arr, overlap

    # A uniform grid of about one cell per segment; each segment is listed in the cells it passes through
    # (row by row, the column span of its part in that row). Two segments that meet share the cell of a point
    # they meet at, and a ray along a row meets every segment crossing it in that row's cells.
    cdef double width = max(xmax - xmin, 1e-300), height = max(ymax - ymin, 1e-300)
    cdef double cell = sqrt(width * height / n_seg)
    cell = max(cell, max(width, height) / 4096.0)
    cdef int64_t gx = <int64_t>(width / cell) + 1, gy = <int64_t>(height / cell) + 1
    cdef double inv = 1.0 / cell, slack_x = 1e-6 * cell  # covers rounding in the clipped spans
    cdef vector[int32_t] start, entries
    cdef vector[int64_t] listed  # (cell << 32) | segment, for every cell a segment passes through
    cdef vector[double] lox, hix, loy, hiy  # bounding box of each segment
    cdef int64_t iy, iy0, iy1, ix, ix0, ix1, c, e0, e1, m, i, j, sa, sb, ra, rb, na, first_a, d
    cdef double y0, y1, xa0, xa1, t0, t1, dy
    lox.resize(n_seg)
    hix.resize(n_seg)
    loy.resize(n_seg)
    hiy.resize(n_seg)
    start.assign(gx * gy + 1, 0)
    with nogil:
        for s in range(n_seg):
            lox[s] = min(ax[s], bx[s])
            hix[s] = max(ax[s], bx[s])
            loy[s] = min(ay[s], by[s])
            hiy[s] = max(ay[s], by[s])
            iy0 = min(gy - 1, <int64_t>((loy[s] - ymin) * inv))
            iy1 = min(gy - 1, <int64_t>((hiy[s] - ymin) * inv))
            if iy0 == iy1:  # the usual short segment: its columns in one row
                ix0 = max(0, <int64_t>((lox[s] - slack_x - xmin) * inv))
                ix1 = min(gx - 1, <int64_t>((hix[s] + slack_x - xmin) * inv))
                for ix in range(ix0, ix1 + 1):
                    listed.push_back(((iy0 * gx + ix) << 32) | s)
                    start[iy0 * gx + ix + 1] += 1
                continue
            dy = by[s] - ay[s]
            for iy in range(iy0, iy1 + 1):  # the part of the segment within each row
                y0 = ymin + iy * cell
                y1 = y0 + cell
                t0 = (y0 - ay[s]) / dy
                t1 = (y1 - ay[s]) / dy
                if t0 > t1:
                    t0, t1 = t1, t0
                t0 = max(0.0, t0)
                t1 = min(1.0, t1)
                if t0 > t1:
                    t0 = t1
                xa0 = ax[s] + t0 * (bx[s] - ax[s])
                xa1 = ax[s] + t1 * (bx[s] - ax[s])
                ix0 = max(0, <int64_t>((min(xa0, xa1) - slack_x - xmin) * inv))
                ix1 = min(gx - 1, <int64_t>((max(xa0, xa1) + slack_x - xmin) * inv))
                for ix in range(ix0, ix1 + 1):
                    listed.push_back(((iy * gx + ix) << 32) | s)
                    start[iy * gx + ix + 1] += 1
        for c in range(gx * gy):
            start[c + 1] += start[c]
        entries.resize(listed.size())
        for i in range(<int64_t>listed.size()):  # a counting sort by cell (segments stay in order)
            c = listed[i] >> 32
            entries[start[c]] = <int32_t>(listed[i] & <int64_t>0xFFFFFFFF)
            start[c] += 1
        for c in range(gx * gy, 0, -1):  # start[c] now ends cell c: shift back to starts
            start[c] = start[c - 1]
        start[0] = 0

        # Every pair of segments sharing a cell: rings must neither cross nor touch, except consecutive
        # segments of one ring at their shared point (which must not turn back on themselves).
        for r in range(n_rings):
            na = ring_n_seg[r]
            first_a = ring_first_seg[r]
            for k in range(na):
                sa = first_a + k
                sb = first_a + (k + 1) % na
                if na >= 2 and _backtracks(ax[sa], ay[sa], bx[sa], by[sa], bx[sb], by[sb]):
                    bad[ring_poly[r]] = 1
        for c in range(gx * gy):
            e0 = start[c]
            e1 = start[c + 1]
            for i in range(e0, e1):
                sa = entries[i]
                ra = seg_ring[sa]
                for j in range(i + 1, e1):
                    sb = entries[j]
                    if hix[sa] < lox[sb] or hix[sb] < lox[sa] or hiy[sa] < loy[sb] or hiy[sb] < loy[sa]:
                        continue  # apart
                    rb = seg_ring[sb]
                    if ra == rb:
                        m = ring_n_seg[ra]
                        d = sa - sb if sa > sb else sb - sa
                        if d <= 1 or d == m - 1:
                            continue  # the same or consecutive segments: checked above
                    if _segments_meet(ax[sa], ay[sa], bx[sa], by[sa], ax[sb], ay[sb], bx[sb], by[sb]):
                        if ring_poly[ra] != ring_poly[rb]:
                            overlap = True
                        else:
                            bad[ring_poly[ra]] = 1

    # Nesting (rings neither cross nor touch now, so one point tells on which side of a ring another lies):
    # a ray east from the first point of a ring counts crossings per ring it meets.
    cdef vector[int32_t] parity, seen, touched  # per ring crossings; per segment the last ring counted
    cdef vector[uint8_t] shell_odd, hole_odd
    parity.assign(n_rings, 0)
    seen.assign(n_seg, -1)
    shell_odd.assign(n_polys, 0)
    hole_odd.assign(n_polys, 0)
    cdef int64_t q, hit_shells
    cdef double xcross
    with nogil:
        for r in range(n_rings):
            p = ring_poly[r]
            if bad[p]:
                continue
            if r == poly_off[p] and n_polys == 1:
                continue  # a lone shell: nothing to be inside of
            px = ax[ring_first_seg[r]]
            py = ay[ring_first_seg[r]]
            iy = min(gy - 1, max(0, <int64_t>((py - ymin) * inv)))
            ix0 = min(gx - 1, max(0, <int64_t>((px - xmin) * inv) - 1))
            touched.clear()
            for ix in range(ix0, gx):
                c = iy * gx + ix
                for i in range(start[c], start[c + 1]):
                    s = entries[i]
                    if seen[s] == r:
                        continue
                    seen[s] = <int32_t>r
                    rb = seg_ring[s]
                    if rb == r or ((ay[s] > py) == (by[s] > py)):
                        continue
                    xcross = ax[s] + (py - ay[s]) * (bx[s] - ax[s]) / (by[s] - ay[s])
                    if xcross > px:
                        if not (parity[rb] & 2):  # bit 1: listed in touched; bit 0: odd crossings
                            touched.push_back(<int32_t>rb)
                        parity[rb] = (parity[rb] ^ 1) | 2
            for t in range(<int64_t>touched.size()):
                rb = touched[t]
                if parity[rb] & 1:
                    q = ring_poly[rb]
                    if rb == poly_off[q]:
                        shell_odd[q] = 1
                    else:
                        hole_odd[q] = 1
            if r != poly_off[p]:  # a hole: inside its own shell, outside its polygon's other holes
                if not shell_odd[p] or hole_odd[p]:
                    bad[p] = 1
            else:  # a shell: not inside another polygon, unless within one of its holes
                for t in range(<int64_t>touched.size()):
                    q = ring_poly[touched[t]]
                    if q != p and shell_odd[q] and not hole_odd[q]:
                        overlap = True
            for t in range(<int64_t>touched.size()):
                rb = touched[t]
                parity[rb] = 0
                q = ring_poly[rb]
                shell_odd[q] = 0
                hole_odd[q] = 0
    return bad_arr, overlap
