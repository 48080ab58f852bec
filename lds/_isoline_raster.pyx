# distutils: language = c++
# cython: cdivision=True
"""The catchment cost field of an isoline, in C++ (the hot loop of isoline drawing).

Each reached item is an edge entered at a known cost from its start (at some fraction) and, for two-way roads,
from its end through the twin edge. Every road around, reached or not, is sampled at fixed places along its
geometry in a local metric projection; a reached sample lowers its cell to its cost, any sample marks its cell
as road; a chamfer transform then gives every cell the cost of its nearest road within the off-road distance,
and the reached roads cut off from the network serve the cells no other road is that near to.
The isoline of range r is the contour ``field <= r``.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY, M_PI, ceil, cos, floor, sqrt
from libc.stdint cimport int32_t, int64_t, uint8_t
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

cnp.import_array()

cdef double EARTH_RADIUS_M = 6371008.8  # same constant as lds.geo
cdef float NAN_MARK = -1.0  # a cell no road crosses (costs are never negative)
cdef int32_t INT32_BIG = 2147483647
cdef double INSIDE_M = 1e-6  # far more than a sample's rounding off its segment (metres, a few ulps of 1e5)


cdef inline double _load_edge(const int64_t* off, int32_t e, const double* lon, const double* lat, double lon0,
                              double lat0, double kx, double ky, vector[double]& xs, vector[double]& ys,
                              vector[double]& cum) noexcept nogil:
    """Edge ``e``'s geometry projected to metres (``xs``, ``ys``) with the arc length at each point; its length."""
    cdef int64_t v, a = off[e], b = off[e + 1]
    cdef double x, y, dx, dy
    xs.clear()
    ys.clear()
    cum.clear()
    for v in range(a, b):
        x = (lon[v] - lon0) * kx
        y = (lat[v] - lat0) * ky
        if v == a:
            cum.push_back(0.0)
        else:
            dx = x - xs.back()
            dy = y - ys.back()
            cum.push_back(cum.back() + sqrt(dx * dx + dy * dy))
        xs.push_back(x)
        ys.push_back(y)
    return cum.back()


cdef inline int64_t _point_at(double s, int64_t k, vector[double]& xs, vector[double]& ys, vector[double]& cum,
                              double* x, double* y) noexcept nogil:
    """Point at arc length ``s`` along the loaded edge, searching segments from ``k`` on; returns the segment."""
    cdef int64_t last = <int64_t>cum.size() - 1
    cdef double t
    if last <= 0:
        x[0] = xs[0]
        y[0] = ys[0]
        return 0
    while k < last - 1 and cum[k + 1] < s:
        k += 1
    t = (s - cum[k]) / (cum[k + 1] - cum[k]) if cum[k + 1] > cum[k] else 0.0
    t = 0.0 if t < 0 else (1.0 if t > 1 else t)
    x[0] = xs[k] + t * (xs[k + 1] - xs[k])
    y[0] = ys[k] + t * (ys[k + 1] - ys[k])
    return k


def reach_items(const int32_t[::1] nodes, const double[::1] node_cost, const int64_t[::1] indptr,
                const int32_t[::1] adj_edge, const int32_t[::1] edge_rev, const float[::1] edge_w,
                double[::1] scratch, const int32_t[::1] start_edge, const double[::1] start_f0,
                const double[::1] start_c0):
    """The reached items :func:`catchment_field` draws for a bounded search's result.

    Every out-edge of a settled node is entered at the node's cost; a two-way road entered from both
    ends becomes one item (the lower edge id) with the twin's entry cost as ``cb``; the partial edges
    the search started on follow. ``scratch`` is a per-edge array of +inf, restored before returning.
    """
    cdef Py_ssize_t n_nodes = nodes.shape[0], n_starts = start_edge.shape[0], i, n = 0
    cdef int64_t k
    cdef int32_t u, e, t
    cdef double cb
    cdef Py_ssize_t total = n_starts
    for i in range(n_nodes):
        total += indptr[nodes[i] + 1] - indptr[nodes[i]]
    item_edge = np.empty(total, dtype=np.int32)
    item_f0 = np.zeros(total, dtype=np.float64)
    item_c0 = np.empty(total, dtype=np.float64)
    item_cb = np.empty(total, dtype=np.float64)
    item_wb = np.zeros(total, dtype=np.float64)
    cdef int32_t[::1] ie = item_edge
    cdef double[::1] if0 = item_f0, ic0 = item_c0, icb = item_cb, iwb = item_wb
    with nogil:
        for i in range(n_nodes):
            u = nodes[i]
            for k in range(indptr[u], indptr[u + 1]):
                scratch[adj_edge[k]] = node_cost[i]
        for i in range(n_nodes):
            u = nodes[i]
            for k in range(indptr[u], indptr[u + 1]):
                e = adj_edge[k]
                t = edge_rev[e]
                cb = scratch[t] if t >= 0 else INFINITY
                if t >= 0 and t < e and cb < INFINITY:
                    continue  # drawn with its twin
                ie[n] = e
                ic0[n] = node_cost[i]
                icb[n] = cb
                iwb[n] = edge_w[t] if t >= 0 else 0.0
                n += 1
        for i in range(n_nodes):
            u = nodes[i]
            for k in range(indptr[u], indptr[u + 1]):
                scratch[adj_edge[k]] = INFINITY
        for i in range(n_starts):
            ie[n] = start_edge[i]
            if0[n] = start_f0[i]
            ic0[n] = start_c0[i]
            icb[n] = INFINITY
            n += 1
    return item_edge[:n], item_f0[:n], item_c0[:n], item_cb[:n], item_wb[:n]


cdef inline double _cost_at(double frac, double f0, double c0, double c, double cb, double wb) noexcept nogil:
    """Least cost of the point at ``frac`` of an item's edge: from its start (entered at ``f0`` at cost ``c0``)
    or from its end through the twin (entered at ``cb``)."""
    cdef double cost = INFINITY
    if frac >= f0 - 1e-12:
        cost = c0 + max(0.0, frac - f0) * c
    if cb < INFINITY:
        cost = min(cost, cb + (1.0 - frac) * wb)
    return cost


cdef inline void _relax(int32_t* bd, float* g, int64_t idx, int64_t nb, int32_t step) noexcept nogil:
    """Take the neighbour's road (distance + ``step``) when nearer, or as near and cheaper."""
    cdef int32_t d
    if bd[nb] == INT32_BIG:
        return
    d = bd[nb] + step
    if d < bd[idx] or (d == bd[idx] and g[nb] < g[idx]):
        bd[idx] = d
        g[idx] = g[nb]


cdef inline void _mark_edge(int32_t e, bint flip, double f0, double c0, double c, double cb, double wb,
                            bint reached, const int64_t* geom_off, const double* plon, const double* plat, double lon0,
                            double lat0, double kx, double ky, double h, double x0, double y0, double inv_cell,
                            int64_t nx, int64_t lo_x, int64_t hi_x, int64_t lo_y, int64_t hi_y, double limit,
                            float* rc, vector[int64_t]& cells, vector[double]& xs, vector[double]& ys,
                            vector[double]& cum, bint collect, vector[double]& out_cost) noexcept nogil:
    """Mark the cells of edge ``e``'s samples as road, lowering each to the sample's cost when ``reached`` and at
    most ``limit``. Samples lie every ``h`` metres from the start of the lower-numbered edge of a two-way road
    (``flip``: that is this edge's end), plus both ends and the start fraction: the same places whichever
    direction the road is drawn from, whatever the search's limit. With ``collect``, the reached samples' cells
    and costs are appended to ``cells`` and ``out_cost`` instead, and nothing is marked."""
    cdef int64_t n, j, k = 0, ix, iy, idx
    cdef double length, inv_len, s, x = 0.0, y = 0.0, cost
    cdef double slack = limit * 1e-9 + 1e-9
    cdef double bx0, bx1, by0, by1
    cdef Py_ssize_t v
    length = _load_edge(geom_off, e, plon, plat, lon0, lat0, kx, ky, xs, ys, cum)
    # An edge whose every point falls outside the cells drawn (a road only a larger range reaches, on the finer grid
    # of a smaller one) has no sample in them: skipped whole.
    bx0 = bx1 = xs[0]
    by0 = by1 = ys[0]
    for v in range(1, <Py_ssize_t>xs.size()):
        bx0 = min(bx0, xs[v]); bx1 = max(bx1, xs[v])
        by0 = min(by0, ys[v]); by1 = max(by1, ys[v])
    if (floor((bx1 - x0) * inv_cell + 0.5) < lo_x or floor((bx0 - x0) * inv_cell + 0.5) > hi_x
            or floor((by1 - y0) * inv_cell + 0.5) < lo_y or floor((by0 - y0) * inv_cell + 0.5) > hi_y):
        return
    inv_len = 1.0 / length if length > 0 else 0.0
    n = <int64_t>floor(length / h)
    for j in range(n + 4):
        if j <= n:
            s = length - (n - j) * h if flip else j * h
        else:
            s = 0.0 if j == n + 1 else (length if j == n + 2 else f0 * length)
            k = 0
        k = _point_at(s, k, xs, ys, cum, &x, &y)
        ix = <int64_t>floor((x - x0) * inv_cell + 0.5)
        iy = <int64_t>floor((y - y0) * inv_cell + 0.5)
        if ix < lo_x or ix > hi_x or iy < lo_y or iy > hi_y:
            continue
        idx = iy * nx + ix
        if collect:
            cost = _cost_at(s * inv_len if length > 0 else f0, f0, c0, c, cb, wb)
            if cost <= limit + slack:
                cells.push_back(idx)
                out_cost.push_back(min(cost, limit))
            continue
        if rc[idx] == NAN_MARK:
            rc[idx] = INFINITY
            cells.push_back(idx)
        if reached:
            cost = _cost_at(s * inv_len if length > 0 else f0, f0, c0, c, cb, wb)
            if cost <= limit + slack:
                rc[idx] = min(rc[idx], <float>min(cost, limit))


def park_walk(const int32_t[::1] seed_node, const double[::1] seed_cost, const int64_t[::1] indptr,
              const int32_t[::1] adj_edge, const int32_t[::1] adj_dst, const double[::1] adj_len, double walk_m,
              double[::1] scratch, double[::1] edge_scratch):
    """The footways walked from a parked car: from each seed (a node where a footway meets a reached road, at that
    road's cost; ``seed_cost`` ascending), every footway edge (``indptr``/``adj_*``: the walking-only edges in CSR
    order) within ``walk_m`` metres of walking, as records ``(edge, cost, upto)``: the edge is served at ``cost``
    from its start up to fraction ``upto``. A place takes the cheapest seed that walks to it: seeds run cheapest
    first and a node already left with as much walk remaining is not walked on again (so the records do not
    depend on the seeds dearer than a level), and an edge is recorded again only when walked farther along than
    before. ``scratch`` and ``edge_scratch`` are per-node and per-edge arrays of -1, restored before returning."""
    cdef vector[int32_t] out_edge, touched, touched_edges
    cdef double upto
    cdef vector[double] out_cost, out_upto
    cdef priority_queue[pair[double, int32_t]] heap  # (-distance walked, node)
    cdef pair[double, int32_t] top
    cdef Py_ssize_t i, n_seeds = seed_node.shape[0]
    cdef int64_t k
    cdef int32_t u, e
    cdef double rem, length
    cdef Py_ssize_t n
    with nogil:
        for i in range(n_seeds):
            heap.push(pair[double, int32_t](0.0, seed_node[i]))
            while not heap.empty():
                top = heap.top()
                heap.pop()
                u = top.second
                rem = walk_m + top.first
                if rem <= scratch[u]:
                    continue
                if scratch[u] < 0:
                    touched.push_back(u)
                scratch[u] = rem
                for k in range(indptr[u], indptr[u + 1]):
                    e = adj_edge[k]
                    length = adj_len[k]
                    upto = 1.0 if length <= rem else rem / length
                    if upto > edge_scratch[e]:  # walked farther along than by any cheaper seed
                        if edge_scratch[e] < 0:
                            touched_edges.push_back(e)
                        edge_scratch[e] = upto
                        out_edge.push_back(e)
                        out_cost.push_back(seed_cost[i])
                        out_upto.push_back(upto)
                    if length < rem and rem - length > scratch[adj_dst[k]]:
                        heap.push(pair[double, int32_t](top.first - length, adj_dst[k]))
        for i in range(<Py_ssize_t>touched.size()):
            scratch[touched[i]] = -1.0
        for i in range(<Py_ssize_t>touched_edges.size()):
            edge_scratch[touched_edges[i]] = -1.0
    n = <Py_ssize_t>out_edge.size()
    rec_edge = np.empty(n, dtype=np.int32)
    rec_cost = np.empty(n, dtype=np.float64)
    rec_upto = np.empty(n, dtype=np.float64)
    cdef int32_t[::1] re = rec_edge
    cdef double[::1] rc = rec_cost, ru = rec_upto
    for i in range(n):
        re[i] = out_edge[i]
        rc[i] = out_cost[i]
        ru[i] = out_upto[i]
    return rec_edge, rec_cost, rec_upto


def reached_extent(const int32_t[::1] item_edge, const double[::1] item_f0, const double[::1] item_c0,
                   const double[::1] item_cb, const double[::1] item_wb, const float[::1] edge_w,
                   const int64_t[::1] geom_off, const double[::1] geom_lon, const double[::1] geom_lat,
                   double lon0, double lat0, double limit, double cell):
    """``(xmin, ymin, xmax, ymax)`` in metres around (lon0, lat0) of the roads reached within ``limit`` (sampled
    every half ``cell``, so within that of :func:`catchment_field`'s samples); all zero when none is."""
    return reached_extents(item_edge, item_f0, item_c0, item_cb, item_wb, edge_w, geom_off, geom_lon, geom_lat, lon0,
                           lat0, limit, cell, None)[0]


def reached_extents(const int32_t[::1] item_edge, const double[::1] item_f0, const double[::1] item_c0,
                    const double[::1] item_cb, const double[::1] item_wb, const float[::1] edge_w,
                    const int64_t[::1] geom_off, const double[::1] geom_lon, const double[::1] geom_lat,
                    double lon0, double lat0, double limit, double cell, select):
    """:func:`reached_extent` of every item and, in the same pass, of the items ``select`` (uint8 per item) marks:
    ``(box, selected box)`` (the second all zero when ``select`` is None)."""
    cdef double kx = M_PI / 180.0 * EARTH_RADIUS_M * cos(lat0 * M_PI / 180.0)
    cdef double ky = M_PI / 180.0 * EARTH_RADIUS_M
    cdef vector[double] xs, ys, cum
    cdef Py_ssize_t i, n_items = item_edge.shape[0]
    cdef int32_t e
    cdef int64_t k, n_samples, j
    cdef double f0, c0, c, cb, wb, length, s, x = 0.0, y = 0.0, cost, inv_len
    cdef double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300
    cdef double sxmin = 1e300, sxmax = -1e300, symin = 1e300, symax = -1e300
    cdef double h = 0.5 * cell
    cdef const double* plon = &geom_lon[0]
    cdef const double* plat = &geom_lat[0]
    cdef double slack = limit * 1e-9 + 1e-9
    cdef bint has_sel = select is not None, chosen = False
    cdef const uint8_t[::1] sel = select if has_sel else np.zeros(1, dtype=np.uint8)
    if has_sel and sel.shape[0] != n_items:
        raise ValueError("select must hold one flag per item")
    cdef int64_t v
    cdef double bx0, bx1, by0, by1, px, py
    with nogil:
        # The items from the last settled (the farthest, roughly) on: once the box holds the frontier's roads, an
        # item whose points all lie well inside it (its samples are on its segments, to a few ulps) adds nothing,
        # and is not sampled.
        for i in range(n_items - 1, -1, -1):
            e = item_edge[i]
            f0 = item_f0[i]; c0 = item_c0[i]; c = edge_w[e]; cb = item_cb[i]; wb = item_wb[i]
            if c0 > limit and cb > limit:
                continue
            chosen = has_sel and sel[i] != 0
            if xmin <= xmax and (not chosen or sxmin <= sxmax):
                bx0 = by0 = 1e300
                bx1 = by1 = -1e300
                for v in range(geom_off[e], geom_off[e + 1]):
                    px = (plon[v] - lon0) * kx
                    py = (plat[v] - lat0) * ky
                    bx0 = min(bx0, px); bx1 = max(bx1, px)
                    by0 = min(by0, py); by1 = max(by1, py)
                if (bx0 > xmin + INSIDE_M and bx1 < xmax - INSIDE_M and by0 > ymin + INSIDE_M and by1 < ymax - INSIDE_M
                        and (not chosen or (bx0 > sxmin + INSIDE_M and bx1 < sxmax - INSIDE_M
                                            and by0 > symin + INSIDE_M and by1 < symax - INSIDE_M))):
                    continue
            length = _load_edge(&geom_off[0], e, plon, plat, lon0, lat0, kx, ky, xs, ys, cum)
            inv_len = 1.0 / length if length > 0 else 0.0
            n_samples = <int64_t>floor(length / h)
            k = 0
            for j in range(n_samples + 3):
                s = length if j == n_samples + 1 else (f0 * length if j == n_samples + 2 else j * h)
                cost = _cost_at(s * inv_len if length > 0 else f0, f0, c0, c, cb, wb)
                if cost > limit + slack:
                    continue
                k = _point_at(s, 0 if j > n_samples else k, xs, ys, cum, &x, &y)
                xmin = min(xmin, x); xmax = max(xmax, x)
                ymin = min(ymin, y); ymax = max(ymax, y)
                if chosen:
                    sxmin = min(sxmin, x); sxmax = max(sxmax, x)
                    symin = min(symin, y); symax = max(symax, y)
    box = (0.0, 0.0, 0.0, 0.0) if xmin > xmax else (xmin, ymin, xmax, ymax)
    return box, ((0.0, 0.0, 0.0, 0.0) if sxmin > sxmax else (sxmin, symin, sxmax, symax))


cdef inline void _chamfer(int32_t* bd, float* g, int64_t nx, int64_t ny) noexcept nogil:
    """Two-scan chamfer transform of the road cells (``bd`` 0) carrying their cost ``g`` to the other cells."""
    _chamfer_window(bd, g, nx, 1, nx - 2, 1, ny - 2)


cdef inline void _chamfer_window(int32_t* bd, float* g, int64_t nx, int64_t wx0, int64_t wx1, int64_t wy0,
                                 int64_t wy1) noexcept nogil:
    """:func:`_chamfer` over the cells ``wx0..wx1`` x ``wy0..wy1`` (their neighbours are read: one cell around
    them must be set)."""
    cdef int64_t ix, iy, idx
    for iy in range(wy0, wy1 + 1):
        for ix in range(wx0, wx1 + 1):
            idx = iy * nx + ix
            _relax(bd, g, idx, idx - 1, 5)
            _relax(bd, g, idx, idx - nx - 1, 7)
            _relax(bd, g, idx, idx - nx, 5)
            _relax(bd, g, idx, idx - nx + 1, 7)
    for iy in range(wy1, wy0 - 1, -1):
        for ix in range(wx1, wx0 - 1, -1):
            idx = iy * nx + ix
            _relax(bd, g, idx, idx + 1, 5)
            _relax(bd, g, idx, idx + nx + 1, 7)
            _relax(bd, g, idx, idx + nx, 5)
            _relax(bd, g, idx, idx + nx - 1, 7)


cdef inline double _walked_cost(int32_t e, double frac, const int32_t* head, const int32_t* nxt,
                                 const double* fr_cost, const double* fr_upto) noexcept nogil:
    """Least cost of the point at ``frac`` of footway edge ``e``: its cheapest record walking that far (an edge's
    records, linked dearest first, walk ever farther), +inf for none."""
    cdef double cost = INFINITY
    cdef int32_t i = head[e] if e >= 0 else -1
    while i >= 0 and fr_upto[i] >= frac - 1e-12:
        cost = fr_cost[i]
        i = nxt[i]
    return cost


cdef void _foot_pass(float* g, const int32_t* bd, float* g2, int32_t* bd2, int32_t reach_units,
                     const int64_t* fo_off, const double* fo_lon, const double* fo_lat, const int32_t* fo_rev,
                     const int32_t* fr_edge, const double* fr_cost, const double* fr_upto, Py_ssize_t n_rec,
                     int32_t* head, const int32_t* fc_edge, Py_ssize_t n_fclaims, double lon0, double lat0,
                     double kx, double ky, double h, double x0, double y0, double inv_cell, int64_t nx, int64_t ny,
                     vector[int64_t]& cells, vector[double]& xs, vector[double]& ys, vector[double]& cum,
                     int32_t* lo, int32_t* hi) noexcept nogil:
    """Park and walk: the cells no road has within the off-road distance (``bd`` beyond ``reach_units``) take
    the cost of their nearest footway within it (the walked parts at their cheapest record's cost, the rest +inf).
    The footways (``fc_edge``, one edge of a two-way way) are sampled every cell, each once (half the roads'
    density, for speed: a walk's end is placed to within a cell); ``head`` is a per-edge array of -1, restored
    before returning."""
    cdef int64_t idx, ix, iy, n, j, k
    cdef Py_ssize_t i, m
    cdef int32_t e, twin
    cdef bint flip
    cdef double length, inv_len, s, x = 0.0, y = 0.0, frac, cost, bx0, bx1, by0, by1
    cdef vector[int32_t] nxt
    cdef vector[int64_t] marked  # footway cells and their least cost, set once the window is known
    cdef vector[float] marked_cost
    cdef int64_t wx0 = nx, wx1 = -1, wy0 = ny, wy1 = -1, pad = reach_units // 5 + 2
    nxt.resize(n_rec)
    for i in range(n_rec):  # per edge, a list of its records, dearest first
        nxt[i] = head[fr_edge[i]]
        head[fr_edge[i]] = <int32_t>i
    for i in range(n_fclaims):
        e = fc_edge[i]
        twin = fo_rev[e]
        flip = twin >= 0 and twin < e
        length = _load_edge(fo_off, e, fo_lon, fo_lat, lon0, lat0, kx, ky, xs, ys, cum)
        bx0 = bx1 = xs[0]
        by0 = by1 = ys[0]
        for m in range(1, <Py_ssize_t>xs.size()):
            bx0 = min(bx0, xs[m]); bx1 = max(bx1, xs[m])
            by0 = min(by0, ys[m]); by1 = max(by1, ys[m])
        if (floor((bx1 - x0) * inv_cell + 0.5) < 1 or floor((bx0 - x0) * inv_cell + 0.5) > nx - 2
                or floor((by1 - y0) * inv_cell + 0.5) < 1 or floor((by0 - y0) * inv_cell + 0.5) > ny - 2):
            continue  # no sample in the grid
        inv_len = 1.0 / length if length > 0 else 0.0
        n = <int64_t>floor(length / h)
        k = 0
        for j in range(n + 2):  # every h metres from the lower edge's start, and the other end
            if j <= n:
                s = length - (n - j) * h if flip else j * h
            else:
                s = 0.0 if flip else length
                k = 0
            k = _point_at(s, k, xs, ys, cum, &x, &y)
            ix = <int64_t>floor((x - x0) * inv_cell + 0.5)
            iy = <int64_t>floor((y - y0) * inv_cell + 0.5)
            if ix < 1 or ix > nx - 2 or iy < 1 or iy > ny - 2:
                continue
            frac = s * inv_len
            cost = min(_walked_cost(e, frac, head, &nxt[0], fr_cost, fr_upto),
                       _walked_cost(twin, 1.0 - frac, head, &nxt[0], fr_cost, fr_upto))
            marked.push_back(iy * nx + ix)
            marked_cost.push_back(<float>cost)
            if cost < INFINITY:
                wx0 = min(wx0, ix); wx1 = max(wx1, ix); wy0 = min(wy0, iy); wy1 = max(wy1, iy)
    for i in range(n_rec):
        head[fr_edge[i]] = -1
    if wx1 < 0:
        return
    # Only the cells within the off-road distance of a walked sample may take a cost, from a sample within that
    # of them, which only a sample within that again may claim: the transform runs in the window of the walked
    # samples padded twice by the off-road distance (and a cell set around it), and is the same there as on the
    # whole grid within that distance (a nearest sample's chamfer path stays in the box of the two).
    wx0, wx1, wy0, wy1 = max(wx0 - 2 * pad, 1), min(wx1 + 2 * pad, nx - 2), max(wy0 - 2 * pad, 1), min(wy1 + 2 * pad,
                                                                                                    ny - 2)
    for iy in range(wy0 - 1, wy1 + 2):
        for ix in range(wx0 - 1, wx1 + 2):
            idx = iy * nx + ix
            g2[idx] = INFINITY
            bd2[idx] = INT32_BIG
    for i in range(<Py_ssize_t>marked.size()):
        idx = marked[i]
        ix = idx % nx
        iy = idx // nx
        if ix < wx0 - 1 or ix > wx1 + 1 or iy < wy0 - 1 or iy > wy1 + 1:
            continue
        if bd2[idx] == INT32_BIG:
            bd2[idx] = 0
            cells.push_back(idx)
        if marked_cost[i] < g2[idx]:
            g2[idx] = marked_cost[i]
    _chamfer_window(bd2, g2, nx, wx0, wx1, wy0, wy1)
    for iy in range(wy0, wy1 + 1):
        for ix in range(wx0, wx1 + 1):
            idx = iy * nx + ix
            if bd[idx] > reach_units and bd2[idx] <= reach_units and g2[idx] < g[idx]:
                g[idx] = g2[idx]
                lo[iy] = min(lo[iy], <int32_t>ix)
                hi[iy] = max(hi[iy], <int32_t>ix)


def catchment_field(const int32_t[::1] item_edge, const double[::1] item_f0, const double[::1] item_c0,
                    const double[::1] item_cb, const double[::1] item_wb, const float[::1] edge_w,
                    const int64_t[::1] geom_off, const double[::1] geom_lon, const double[::1] geom_lat,
                    const int32_t[::1] edge_rev, const uint8_t[::1] edge_snaps, const int32_t[::1] claim_edge,
                    double lon0, double lat0,
                    double limit, double cell, double offroad_m, int64_t jx0, int64_t jy0, int64_t nx, int64_t ny,
                    workspace=None, foot=None, cut=None):
    """Cost field of the catchment area: each cell takes the cost of the nearest road (within ``offroad_m``),
    +inf when that road is not reached within ``limit`` or no road is that near.

    Roads are sampled at fixed arc positions (every half cell from each edge's start, plus its ends and the
    start fraction), so a cell's value does not depend on ``limit`` as long as it is at most ``limit``: one
    range gives the same field whatever larger range the search ran to. Item i (see :func:`reach_items`) is edge
    ``item_edge[i]`` entered at fraction ``item_f0[i]`` at cost ``item_c0[i]`` and, through its twin (weight
    ``item_wb[i]``), at its end at cost ``item_cb[i]`` (+inf for none): the reached roads. Those of the network
    (``edge_snaps``: the roads a router snaps places to) take the places nearest them; ``claim_edge`` are the other
    roads around (each once, the lower-numbered edge of a two-way road): a place nearer to an unreached road than to
    a reached one belongs to that road, stays out. A reached road cut off from the network (a one-way street with
    no way out, say one leaving the extract) is driven to all the same: it serves the places that no road of the
    network has within ``offroad_m``, those within ``offroad_m`` of its reached part, at the least cost of its
    samples that near (a minimum, so a range's cells still do not depend on ``limit``).

    The grid is ``ny`` x ``nx`` cells, cell (i, j) centred ((jx0 + j) * cell, (jy0 + i) * cell) metres from
    (lon0, lat0). Road samples on the border cells are ignored: the caller pads the grid by twice ``offroad_m``
    and a few cells around the reached roads (a place within ``offroad_m`` of a reached road has its nearest road
    within that). Returns ``(field, row_lo, row_hi)``.

    ``foot`` (park and walk, for a car isoline): ``(geom_off, geom_lon, geom_lat, edge_rev, rec_edge, rec_cost,
    rec_upto, head, claim_edge)`` of the walking graph: the footways walked from a parked car (:func:`park_walk`'s
    records, ``head`` a per-edge scratch array of -1) and the walking-only ways around (one edge of a two-way
    way). A place no road has within ``offroad_m`` takes the cost of
    its nearest footway within that (+inf when that footway is not walked to), as it takes its nearest road's.

    ``cut``: ``(x, y, cost)`` in metres around (lon0, lat0), points along the roads cut off from the network (a
    driveway or an estate's lanes the data does not join to it) with the cost of the network road a router snaps
    each to (:func:`lds.isoline_shape.cutoff_points`): the places within ``offroad_m`` of one that no network road
    has that near are served from there, as a route to them would be (the least cost of the points that near).
    """
    cdef double kx = M_PI / 180.0 * EARTH_RADIUS_M * cos(lat0 * M_PI / 180.0)
    cdef double ky = M_PI / 180.0 * EARTH_RADIUS_M
    cdef vector[double] xs, ys, cum
    cdef Py_ssize_t i, n_items = item_edge.shape[0], n_claims = claim_edge.shape[0]
    cdef int32_t e
    cdef int64_t idx, ix, iy
    cdef double h = 0.5 * cell, inv_cell = 1.0 / cell
    cdef const double* plon = &geom_lon[0]
    cdef const double* plat = &geom_lat[0]
    cdef int64_t r_int = <int64_t>floor(offroad_m / cell)
    cdef double x0 = jx0 * cell, y0 = jy0 * cell
    if workspace is None:
        field = np.empty((ny, nx), dtype=np.float32)
        road = np.empty(ny * nx, dtype=np.float32)
        best = np.empty(ny * nx, dtype=np.int32)
    else:
        field = workspace.buffer("field", np.float32, ny * nx).reshape(ny, nx)
        road = workspace.buffer("road", np.float32, ny * nx)
        best = workspace.buffer("best", np.int32, ny * nx)
    cdef float[:, ::1] grid = field
    cdef float* g = &grid[0, 0]
    cdef float[::1] road_v = road
    cdef float* rc = &road_v[0]
    cdef int32_t[::1] best_v = best
    cdef int32_t* bd = &best_v[0]
    cdef vector[int64_t] cells  # road cells, each once
    cdef vector[int64_t] cut_cells  # reached samples of roads cut off from the network, and their costs
    cdef vector[double] cut_cost
    cdef int64_t r_cells = <int64_t>floor(offroad_m / cell), dx, dy, cx, cy
    cdef double r2 = (offroad_m / cell) * (offroad_m / cell)

    # Distances in chamfer units: 5 per side step, 7 per diagonal one (within 6 % of Euclidean).
    cdef int32_t reach_units = <int32_t>floor(5.0 * offroad_m / cell + 1e-9)
    cdef Py_ssize_t m
    cdef int64_t lo_x = 1, hi_x = nx - 2, lo_y = 1, hi_y = ny - 2
    cdef float fc
    row_lo = np.full(ny, nx, dtype=np.int32)
    row_hi = np.full(ny, -1, dtype=np.int32)
    cdef int32_t[::1] lo_v = row_lo, hi_v = row_hi
    # Park and walk: a second field of the nearest footway, for the places no road serves.
    cdef bint has_foot = foot is not None
    cdef const int64_t[::1] fo_off
    cdef const double[::1] fo_lon, fo_lat, fr_cost, fr_upto
    cdef const int32_t[::1] fo_rev, fr_edge, fc_edge
    cdef int32_t[::1] fr_head
    cdef float* g2 = NULL
    cdef int32_t* bd2 = NULL
    cdef float[::1] g2_v
    cdef int32_t[::1] bd2_v
    cdef vector[int64_t] foot_cells
    cdef Py_ssize_t n_rec = 0, n_fclaims = 0
    # Roads cut off from the network: points with the cost of the network road each snaps to.
    cdef const double[::1] cut_x, cut_y, cut_c
    cdef Py_ssize_t n_cut = 0
    if cut is not None:
        cut_x, cut_y, cut_c = cut
        n_cut = cut_x.shape[0]
    if has_foot:
        fo_off, fo_lon, fo_lat, fo_rev, fr_edge, fr_cost, fr_upto, fr_head, fc_edge = foot
        n_rec, n_fclaims = fr_edge.shape[0], fc_edge.shape[0]
        has_foot = n_rec > 0 and n_fclaims > 0
    if has_foot:
        if workspace is None:
            g2_v, bd2_v = np.empty(ny * nx, dtype=np.float32), np.empty(ny * nx, dtype=np.int32)
        else:
            g2_v = workspace.buffer("foot_field", np.float32, ny * nx)
            bd2_v = workspace.buffer("foot_best", np.int32, ny * nx)
        g2, bd2 = &g2_v[0], &bd2_v[0]
    with nogil:
        for idx in range(ny * nx):
            g[idx] = INFINITY
            rc[idx] = NAN_MARK
            bd[idx] = INT32_BIG
        # Pass 2: reached samples lower their cell's road cost; unreached ones, and the claims, mark a road there.
        for i in range(n_items):
            e = item_edge[i]
            if not edge_snaps[e]:
                _mark_edge(e, edge_rev[e] >= 0 and edge_rev[e] < e, item_f0[i], item_c0[i], edge_w[e], item_cb[i],
                           item_wb[i], True, &geom_off[0], plon, plat, lon0, lat0, kx, ky, h, x0, y0, inv_cell, nx,
                           lo_x, hi_x, lo_y, hi_y, limit, rc, cut_cells, xs, ys, cum, True, cut_cost)
                continue
            _mark_edge(e, edge_rev[e] >= 0 and edge_rev[e] < e, item_f0[i], item_c0[i], edge_w[e], item_cb[i],
                       item_wb[i], True, &geom_off[0], plon, plat, lon0, lat0, kx, ky, h, x0, y0, inv_cell, nx, lo_x,
                       hi_x, lo_y, hi_y, limit, rc, cells, xs, ys, cum, False, cut_cost)
        for i in range(n_claims):
            e = claim_edge[i]
            _mark_edge(e, edge_rev[e] >= 0 and edge_rev[e] < e, 0.0, INFINITY, 0.0, INFINITY, 0.0, False,
                       &geom_off[0], plon, plat, lon0, lat0, kx, ky, h, x0, y0, inv_cell, nx, lo_x, hi_x, lo_y, hi_y,
                       limit, rc, cells, xs, ys, cum, False, cut_cost)
        # Pass 3: every cell within offroad_m takes its nearest road cell's cost (ties: the least cost), by a
        # two-scan chamfer transform carrying the cost along; a cell's being within a level then does not depend
        # on the costs above that level.
        for m in range(<Py_ssize_t>cells.size()):
            idx = cells[m]
            bd[idx] = 0
            g[idx] = rc[idx]
        _chamfer(bd, g, nx, ny)
        for iy in range(1, ny - 1):
            for ix in range(1, nx - 1):
                idx = iy * nx + ix
                if bd[idx] > reach_units:
                    g[idx] = INFINITY
                elif g[idx] < INFINITY:
                    lo_v[iy] = min(lo_v[iy], <int32_t>ix)
                    hi_v[iy] = max(hi_v[iy], <int32_t>ix)
        if has_foot:
            _foot_pass(g, bd, g2, bd2, reach_units, &fo_off[0], &fo_lon[0], &fo_lat[0], &fo_rev[0], &fr_edge[0],
                       &fr_cost[0], &fr_upto[0], n_rec, &fr_head[0], &fc_edge[0], n_fclaims, lon0, lat0, kx, ky, cell,
                       x0, y0, inv_cell, nx, ny, foot_cells, xs, ys, cum, &lo_v[0], &hi_v[0])
        # Pass 4: the roads cut off from the network serve the places no road of it has within offroad_m: at the cost
        # of the network road each of their points snaps to, and, reached, at their own.
        for m in range(n_cut):
            if cut_c[m] > limit:
                continue
            cx = <int64_t>floor((cut_x[m] - x0) * inv_cell + 0.5)
            cy = <int64_t>floor((cut_y[m] - y0) * inv_cell + 0.5)
            if cx < 1 or cx > nx - 2 or cy < 1 or cy > ny - 2:
                continue
            cut_cells.push_back(cy * nx + cx)
            cut_cost.push_back(cut_c[m])
        for m in range(<Py_ssize_t>cut_cells.size()):
            cx = cut_cells[m] % nx
            cy = cut_cells[m] // nx
            fc = <float>cut_cost[m]
            for dy in range(-r_cells, r_cells + 1):
                if cy + dy < 1 or cy + dy > ny - 2:
                    continue
                for dx in range(-r_cells, r_cells + 1):
                    if cx + dx < 1 or cx + dx > nx - 2 or dx * dx + dy * dy > r2:
                        continue
                    idx = (cy + dy) * nx + cx + dx
                    if bd[idx] > reach_units and fc < g[idx]:
                        g[idx] = fc
                        lo_v[cy + dy] = min(lo_v[cy + dy], <int32_t>(cx + dx))
                        hi_v[cy + dy] = max(hi_v[cy + dy], <int32_t>(cx + dx))
    return field, row_lo, row_hi
