# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Route assembly in C++: a leg's geometry cut at the snapped points, and its maneuvers (the rules are
documented in :mod:`lds.routing_steps`).

Step kinds and modifiers come back as small codes (see KINDS / MODIFIERS there) with each step's figures, so
Python only formats the maneuvers themselves.
"""

import numpy as np

from libc.math cimport M_PI, atan2, cos, fabs, floor, sqrt
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t
from libcpp.vector cimport vector

from lds.graph._geomath cimport _deviation, _dist_m

cdef double DEG = M_PI / 180.0
cdef double EARTH_R = 6371008.8
cdef uint8_t FLAG_RESTRICTED = 16  # lds.build.roads.FLAG_RESTRICTED
cdef int DEPART = 0, TURN = 1, NEW_NAME = 2, CONTINUE = 3, ROUNDABOUT = 4, EXIT_ROUNDABOUT = 5, ON_RAMP = 6
cdef int OFF_RAMP = 7, MERGE = 8


cdef inline double _round(double x, double scale) nogil:
    return floor(x * scale + 0.5) / scale


cdef inline int _modifier(double dev, double straight, double slight, double normal) nogil:
    """1 sharp right, 2 right, 3 slight right, 4 straight, 5 slight left, 6 left, 7 sharp left (0 = U-turn)."""
    cdef double a = fabs(dev)
    if a <= straight:
        return 4
    if dev > 0:
        return 3 if a <= slight else (2 if a <= normal else 1)
    return 5 if a <= slight else (6 if a <= normal else 7)


def leg_maneuvers(const int32_t[::1] edges, const int32_t[::1] edge_name, const uint8_t[::1] edge_flags,
                  const int8_t[::1] edge_class, const float[::1] b_start, const float[::1] b_end,
                  const int32_t[::1] edge_src, const int32_t[::1] edge_dst, const uint8_t[::1] node_out,
                  const uint8_t[::1] is_link, const uint8_t[::1] is_fast, const double[::1] seg_len,
                  const double[::1] seg_time, const double[::1] turn_s, const double[:, ::1] coords,
                  const int64_t[::1] start_idx, double straight_deg, double slight_deg, double normal_deg,
                  double bend_deg, uint8_t roundabout_flag):
    """Steps of a leg (depart first, arrive not included) as tuples ``(kind, modifier, name_id, exit, distance,
    duration, lon, lat, bearing_before, bearing_after)``; modifier -1 = none, exit -1 = none."""
    cdef Py_ssize_t k = edges.shape[0], j, i, s, n_steps, a, b, q
    cdef int32_t e0, e1
    cdef bint ra_in, ra_out, uturn, name_change, ramp, merge, bend, link0
    cdef double dev, dist, dur, before, after, lon, lat, dx, dy
    cdef int kind, mod, outdeg, open_ra = -1
    starts, kinds, mods, name_at, exits, exited = [0], [DEPART], [-1], [0], [-1], [False]
    for j in range(k - 1):
        i = j + 1
        e0 = edges[j]
        e1 = edges[i]
        ra_in = (edge_flags[e0] & roundabout_flag) != 0
        ra_out = (edge_flags[e1] & roundabout_flag) != 0
        dev = _deviation(b_end[e0], b_start[e1])
        uturn = edge_src[e0] == edge_dst[e1]
        outdeg = node_out[edge_dst[e0]]
        mod = 0 if uturn else _modifier(dev, straight_deg, slight_deg, normal_deg)
        if ra_in and ra_out:
            if outdeg >= 2 and open_ra >= 0:
                exits[open_ra] += 1  # an exit passed on the roundabout
            continue
        if ra_out:
            open_ra = len(starts)
            starts.append(i); kinds.append(ROUNDABOUT); mods.append(mod); name_at.append(i)
            exits.append(0); exited.append(False)
            continue
        if ra_in:
            if open_ra >= 0:  # leaving: the roundabout step takes the exit road's name
                exits[open_ra] += 1
                name_at[open_ra] = i
                exited[open_ra] = True
                open_ra = -1
            else:
                starts.append(i); kinds.append(EXIT_ROUNDABOUT); mods.append(mod); name_at.append(i)
                exits.append(-1); exited.append(False)
            continue
        name_change = edge_name[e0] != edge_name[e1]
        link0 = is_link[edge_class[e0]] != 0
        ramp = is_link[edge_class[e1]] != 0 and not link0
        merge = link0 and is_fast[edge_class[e1]] != 0
        bend = fabs(dev) > bend_deg and outdeg >= 2
        if not (name_change or bend or uturn or ramp or merge):
            continue
        if merge:
            kind = MERGE
        elif ramp:
            kind = OFF_RAMP if is_fast[edge_class[e0]] else ON_RAMP
        elif uturn:
            kind = TURN if name_change else CONTINUE
        elif name_change:
            kind = NEW_NAME if fabs(dev) <= slight_deg else TURN
        else:
            kind = CONTINUE if edge_name[e1] != 0 else TURN
        starts.append(i); kinds.append(kind); mods.append(mod); name_at.append(i)
        exits.append(-1); exited.append(False)

    out = []
    n_steps = len(starts)
    for s in range(n_steps):
        a = starts[s]
        b = starts[s + 1] if s + 1 < n_steps else k
        dist = 0.0
        dur = 0.0
        for q in range(a, b):
            dist += seg_len[q]
            dur += seg_time[q]
            if q < k - 1:
                dur += turn_s[q]  # the turn at the end of an edge belongs to the approach
        if s == 0:
            lon, lat = coords[0, 0], coords[0, 1]
            before = 0.0
            dx = (coords[1, 0] - coords[0, 0]) * cos(coords[0, 1] * DEG)
            dy = coords[1, 1] - coords[0, 1]
            after = atan2(dx, dy) / DEG if (dx != 0 or dy != 0) else b_start[edges[0]]
            if after < 0:
                after += 360.0
        else:
            lon, lat = coords[start_idx[a], 0], coords[start_idx[a], 1]
            before = b_end[edges[a - 1]]
            after = b_start[edges[a]]
        out.append((kinds[s], mods[s], edge_name[edges[name_at[s]]],
                    exits[s] if (kinds[s] != ROUNDABOUT or exited[s]) else -1,
                    _round(dist, 10.0), _round(dur, 10.0), _round(lon, 1e7), _round(lat, 1e7),
                    <int>floor(before + 0.5) % 360, <int>floor(after + 0.5) % 360))
    return out


# --- route geometry -----------------------------------------------------------------------------------------------

cdef inline Py_ssize_t _push(double[:, ::1] cv, Py_ssize_t m, double x, double y) noexcept nogil:
    """Append (x, y) unless it repeats the last point; return the new point count."""
    if m > 0 and cv[m - 1, 0] == x and cv[m - 1, 1] == y:
        return m
    cv[m, 0] = x
    cv[m, 1] = y
    return m + 1


def cut_path(const int32_t[::1] path, double first_frac, double last_frac, const int64_t[::1] off,
             const double[::1] glon, const double[::1] glat, const float[::1] length, const float[::1] time,
             double s_lon, double s_lat, double t_lon, double t_lat):
    """Coordinates of a path of edges, starting ``first_frac`` along its first edge and ending ``last_frac``
    along its last one (exactly at the snapped points), plus each edge's travelled length and time and the
    index of its first coordinate."""
    cdef Py_ssize_t n = path.shape[0], i, cap = 2
    cdef int64_t a, b, j
    cdef int32_t e
    cdef double fa, fb, total, acc, seg, lo, hi, t, px, py
    for i in range(n):
        cap += off[path[i] + 1] - off[path[i]] + 1
    coords = np.empty((cap, 2), np.float64)
    cdef double[:, ::1] cv = coords
    seg_len = np.empty(n, np.float64)
    seg_time = np.empty(n, np.float64)
    start_idx = np.empty(n, np.int64)
    cdef double[::1] lv = seg_len, tv = seg_time
    cdef int64_t[::1] sv = start_idx
    cdef Py_ssize_t m = 0
    cdef vector[double] cum
    for i in range(n):
        e = path[i]
        fa = first_frac if i == 0 else 0.0
        fb = last_frac if i == n - 1 else 1.0
        if fb < fa:
            fb = fa
        lv[i] = length[e] * (fb - fa)
        tv[i] = time[e] * (fb - fa)
        a = off[e]
        b = off[e + 1]
        if fa <= 0.0 and fb >= 1.0 and 0 < i < n - 1:  # a whole edge inside the path: copy its vertices
            m = _push(cv, m, glon[a], glat[a])
            sv[i] = m - 1
            for j in range(a + 1, b):
                m = _push(cv, m, glon[j], glat[j])
            continue
        cum.clear()
        cum.push_back(0.0)
        for j in range(a + 1, b):
            cum.push_back(cum.back() + _dist_m(glon[j - 1], glat[j - 1], glon[j], glat[j]))
        total = cum.back()
        lo = fa * total
        hi = fb * total
        # start point
        if i == 0:
            px, py = s_lon, s_lat
        else:
            px, py = glon[a], glat[a]
            if fa > 0:
                px, py = _interp(glon, glat, cum, a, b, lo)
        m = _push(cv, m, px, py)
        sv[i] = m - 1
        for j in range(a + 1, b - 1):
            if cum[j - a] > lo and cum[j - a] < hi:
                m = _push(cv, m, glon[j], glat[j])
        if i == n - 1:
            px, py = t_lon, t_lat
        elif fb >= 1.0:
            px, py = glon[b - 1], glat[b - 1]
        else:
            px, py = _interp(glon, glat, cum, a, b, hi)
        m = _push(cv, m, px, py)
    for i in range(m):  # OSM's own precision (1e-7 degrees, ~1 cm): interpolated points need no more
        cv[i, 0] = _round(cv[i, 0], 1e7)
        cv[i, 1] = _round(cv[i, 1], 1e7)
    if m == 1:  # a zero-length route still is a LineString of two points
        cv[1, 0] = cv[0, 0]
        cv[1, 1] = cv[0, 1]
        m = 2
    return coords[:m], seg_len, seg_time, start_idx


cdef tuple _interp(const double[::1] glon, const double[::1] glat, vector[double]& cum, int64_t a, int64_t b,
                   double at):
    cdef int64_t j
    cdef double seg, t
    for j in range(a + 1, b):
        if cum[j - a] >= at:
            seg = cum[j - a] - cum[j - 1 - a]
            t = (at - cum[j - 1 - a]) / seg if seg > 0 else 0.0
            return glon[j - 1] + (glon[j] - glon[j - 1]) * t, glat[j - 1] + (glat[j] - glat[j - 1]) * t
    return glon[b - 1], glat[b - 1]


def turn_durations_ms(const int32_t[::1] path, const int32_t[::1] arc_w, const int32_t[::1] edge_w,
                      const uint8_t[::1] flags, double restricted_penalty_ms):
    """Duration of each turn along an edge-based path: the arc weight minus the edge turned onto, minus the
    weight-only penalty for entering an access-restricted edge from an open one."""
    cdef Py_ssize_t n = arc_w.shape[0], i
    out = np.empty(n, np.float64)
    cdef double[::1] o = out
    cdef double t
    for i in range(n):
        t = arc_w[i] - edge_w[path[i + 1]]
        if (flags[path[i + 1]] & FLAG_RESTRICTED) and not (flags[path[i]] & FLAG_RESTRICTED):
            t -= restricted_penalty_ms
        o[i] = t if t > 0 else 0.0
    return out
