# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Turns of a road graph, in C++: edge headings at both ends (OSRM-style perceived bearings), turn angles, and the
allowed transitions between edges with OSRM car.lua's turn costs, U-turn rules and turn restrictions.

Costs are integer milliseconds.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport M_PI, atan2, cos, exp, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t
from libcpp.vector cimport vector

from lds.graph._geomath cimport _deviation, _dist_m

cnp.import_array()

cdef double EARTH_R = 6371008.8
cdef double DEG = M_PI / 180.0
cdef uint8_t FLAG_RESTRICTED = 16


# --- geometry helpers -------------------------------------------------------------------------------------------

cdef inline double _bearing(double lon0, double lat0, double lon1, double lat1) nogil:
    """Bearing 0..360 (0 = north, clockwise) from a local equirectangular projection: exact enough per edge."""
    cdef double dx = (lon1 - lon0) * cos(lat0 * DEG)
    cdef double dy = lat1 - lat0
    cdef double b
    if dx == 0.0 and dy == 0.0:
        return -1.0
    b = atan2(dx, dy) / DEG
    return b + 360.0 if b < 0 else b


cdef double _bearing_along(const double[::1] lon, const double[::1] lat, int64_t i0, int64_t i1, double lookahead):
    """Bearing from vertex ``i0`` towards the point ``lookahead`` metres along the polyline to ``i1``."""
    cdef int64_t step = 1 if i1 >= i0 else -1
    cdef int64_t i = i0
    cdef double acc = 0.0, seg, t, plon, plat, b
    while i != i1:
        seg = _dist_m(lon[i], lat[i], lon[i + step], lat[i + step])
        if acc + seg >= lookahead and seg > 0:
            t = (lookahead - acc) / seg
            plon = lon[i] + (lon[i + step] - lon[i]) * t
            plat = lat[i] + (lat[i + step] - lat[i]) * t
            b = _bearing(lon[i0], lat[i0], plon, plat)
            if b >= 0:
                return b
        acc += seg
        i += step
    b = _bearing(lon[i0], lat[i0], lon[i1], lat[i1])
    return 0.0 if b < 0 else b


def edge_bearings(const int64_t[::1] off, const double[::1] lon, const double[::1] lat, double lookahead_m):
    """Per edge: the heading leaving its first vertex and the heading arriving at its last vertex (degrees),
    each measured to a point ``lookahead_m`` along the road, as OSRM's perceived bearings are."""
    cdef Py_ssize_t n = off.shape[0] - 1, e
    cdef cnp.ndarray[cnp.float32_t, ndim=1] start = np.empty(n, np.float32)
    cdef cnp.ndarray[cnp.float32_t, ndim=1] end = np.empty(n, np.float32)
    cdef int64_t a, b
    cdef double back
    for e in range(n):
        a = off[e]
        b = off[e + 1] - 1
        start[e] = <float>_bearing_along(lon, lat, a, b, lookahead_m)
        back = _bearing_along(lon, lat, b, a, lookahead_m)
        end[e] = <float>(back - 180.0 if back >= 180.0 else back + 180.0)
    return start, end


def deviations(const float[::1] b_end, const float[::1] b_start, const int32_t[::1] path):
    """Turn angle at each node between consecutive path edges (len(path) - 1 values)."""
    cdef Py_ssize_t n = path.shape[0], i
    cdef cnp.ndarray[cnp.float64_t, ndim=1] out = np.empty(max(n - 1, 0), np.float64)
    for i in range(1, n):
        out[i - 1] = _deviation(b_end[path[i - 1]], b_start[path[i]])
    return out


# --- turn expansion ---------------------------------------------------------------------------------------------

cdef inline double _turn_sigmoid(double angle, double penalty, double bias) nogil:
    """OSRM car.lua process_turn(): a sigmoid over the turn angle, cheaper to the right (right-hand traffic)."""
    if angle >= 0:
        return penalty / (1.0 + exp(-((13.0 / bias) * angle / 180.0 - 6.5 * bias)))
    return penalty / (1.0 + exp(-((13.0 * bias) * -angle / 180.0 - 6.5 / bias)))


def expand_turns(int32_t n_nodes, const int32_t[::1] src, const int32_t[::1] dst, const int32_t[::1] rev,
                 const int64_t[::1] way, const uint8_t[::1] flags, const float[::1] b_start, const float[::1] b_end,
                 const int64_t[::1] out_off, const int32_t[::1] out_edges, const int64_t[::1] in_off,
                 const int32_t[::1] in_edges, const int64_t[::1] r_off, const int64_t[::1] r_from,
                 const int64_t[::1] r_to, const uint8_t[::1] r_only, const uint8_t[::1] barrier,
                 bint turn_costs, double turn_penalty, double turn_bias, double uturn_penalty,
                 double restricted_penalty):
    """Allowed transitions (from_edge, to_edge) at every node with their turn cost in ms.

    With ``turn_costs`` (car) this follows OSRM: the angle sigmoid at real intersections (more than two roads)
    and on U-turns, the U-turn penalty, U-turns only at dead ends or where nothing else is possible, turn
    restrictions (``no_*`` forbids the turn, ``only_*`` forbids every other one), barrier nodes passable only by
    turning back, and entering an access-restricted road from an open one costs ``restricted_penalty``
    (OSRM's max turn weight). Without, every turn is free and only exact reversals are dropped.
    """
    cdef vector[int32_t] t_from, t_to, t_cost
    cdef vector[uint8_t] allowed
    cdef int32_t v, e1, e2, w_ms, exits
    cdef int64_t i, j, k
    cdef int roads, indeg
    cdef bint has_only, only_hit, forbidden, uturn
    cdef double cost, angle
    for v in range(n_nodes):
        roads = <int>(out_off[v + 1] - out_off[v])
        indeg = <int>(in_off[v + 1] - in_off[v])
        for i in range(in_off[v], in_off[v + 1]):
            if rev[in_edges[i]] < 0:
                roads += 1
        for i in range(in_off[v], in_off[v + 1]):
            e1 = in_edges[i]
            # First pass: which exits do restrictions allow from e1?
            allowed.clear()
            exits = 0
            for j in range(out_off[v], out_off[v + 1]):
                e2 = out_edges[j]
                has_only = False
                only_hit = False
                forbidden = False
                if turn_costs:
                    for k in range(r_off[v], r_off[v + 1]):
                        if r_from[k] != way[e1]:
                            continue
                        if r_only[k]:
                            has_only = True
                            if r_to[k] == way[e2]:
                                only_hit = True
                        elif r_to[k] == way[e2]:
                            forbidden = True
                if forbidden or (has_only and not only_hit):
                    allowed.push_back(0)
                else:
                    allowed.push_back(1)
                    if dst[e2] != src[e1]:
                        exits += 1
            for j in range(out_off[v], out_off[v + 1]):
                e2 = out_edges[j]
                if not allowed[j - out_off[v]]:
                    continue
                uturn = dst[e2] == src[e1]
                if not turn_costs:
                    if e2 == rev[e1]:
                        continue
                    t_from.push_back(e1)
                    t_to.push_back(e2)
                    t_cost.push_back(0)
                    continue
                if barrier[v] and not uturn:
                    continue
                if uturn and not (barrier[v] or roads == 1 or exits == 0 or indeg <= 1):
                    continue
                cost = 0.0
                if roads > 2 or uturn:
                    angle = _deviation(b_end[e1], b_start[e2])
                    if e2 == rev[e1]:
                        angle = 180.0
                    cost = _turn_sigmoid(angle, turn_penalty, turn_bias)
                    if uturn:
                        cost += uturn_penalty
                if (flags[e2] & FLAG_RESTRICTED) and not (flags[e1] & FLAG_RESTRICTED):
                    cost += restricted_penalty
                t_from.push_back(e1)
                t_to.push_back(e2)
                t_cost.push_back(<int32_t>(cost * 1000.0 + 0.5))
    n = t_from.size()
    a = np.empty(n, np.int32)
    b = np.empty(n, np.int32)
    c = np.empty(n, np.int32)
    cdef int32_t[::1] av = a, bv = b, cv = c
    for i in range(<int64_t>n):
        av[i] = t_from[i]
        bv[i] = t_to[i]
        cv[i] = t_cost[i]
    return a, b, c
