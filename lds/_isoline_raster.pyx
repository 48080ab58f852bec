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
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

from lds.graph._zero_pages cimport INF_BITS_HI, MINUS_ONE_BITS_HI, read_bits, write_bits

cnp.import_array()

cdef extern from *:
    """
    #define LDS_PREFETCH(p) __builtin_prefetch((const void*)(p))
    """
    void LDS_PREFETCH(const void* p) noexcept nogil

# Items ahead whose geometry is fetched early (their offsets twice as far ahead): the items' roads lie anywhere in the
# graph's arrays, and waiting for each in turn leaves the loop stalled on memory.
cdef Py_ssize_t AHEAD = 8

cdef double EARTH_RADIUS_M = 6371008.8  # same constant as lds.geo
cdef int32_t INT32_BIG = 2147483647
cdef double INSIDE_M = 1e-6  # far more than a sample's rounding off its segment (metres, a few ulps of 1e5)
# The road field as one 64-bit key per cell: the chamfer distance to the nearest road cell in the high 32 bits, that
# cell's cost in the low 32 (a float's bits mapped so that they order as the floats do: _key_cost). The transform's
# rule (nearer, or as near and cheaper) is then the keys' minimum, without branches.
# A cell no road is near: distance 0x40404040 (never overflows, steps added), every byte 0x40 (set by memset).
DEF NO_ROAD_BYTE = 0x40
cdef uint64_t NO_ROAD = <uint64_t>0x4040404040404040
cdef uint64_t STEP5 = (<uint64_t>5) << 32
cdef uint64_t STEP7 = (<uint64_t>7) << 32
# The transform runs only in the tiles of TILE x TILE cells near a road: most of a grid is empty country between the
# roads reached (a walk's reach is a star of roads out of town).
DEF TILE_SHIFT = 2
DEF TILE = 4


cdef inline uint64_t _key_cost(float f) noexcept nogil:
    """A float's bits as an unsigned number that orders as the floats do (a zero of either sign aside)."""
    cdef uint32_t u
    memcpy(&u, &f, 4)
    return (~u) if (u >> 31) else (u | <uint32_t>0x80000000)


cdef inline float _key_float(uint64_t key) noexcept nogil:
    """The cost of a key (:func:`_key_cost` undone)."""
    cdef uint32_t u = <uint32_t>key
    cdef float f
    u = (u & <uint32_t>0x7FFFFFFF) if (u >> 31) else (~u)
    memcpy(&f, &u, 4)
    return f


cdef inline uint64_t _kmin(uint64_t a, uint64_t b) noexcept nogil:
    return b if b < a else a


cdef inline double _load_edge(const int64_t* off, int32_t e, const double* lon, const double* lat, double lon0,
                              double lat0, double kx, double ky, vector[double]& xs, vector[double]& ys,
                              vector[double]& cum) noexcept nogil:
    """Edge ``e``'s geometry projected to metres (``xs``, ``ys``) with the arc length at each point; its length."""
    cdef int64_t v, a = off[e], b = off[e + 1], m = b - a
    cdef double x, y, dx, dy, px, py, c = 0.0
    cdef double* X
    cdef double* Y
    cdef double* C
    xs.resize(m)
    ys.resize(m)
    cum.resize(m)
    X = xs.data()
    Y = ys.data()
    C = cum.data()
    px = (lon[a] - lon0) * kx
    py = (lat[a] - lat0) * ky
    X[0] = px
    Y[0] = py
    C[0] = 0.0
    for v in range(1, m):
        x = (lon[a + v] - lon0) * kx
        y = (lat[a + v] - lat0) * ky
        dx = x - px
        dy = y - py
        c = c + sqrt(dx * dx + dy * dy)
        X[v] = x
        Y[v] = y
        C[v] = c
        px = x
        py = y
    return c


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


def level_extents(const int32_t[::1] nodes, const double[::1] cost, const double[::1] node_lon,
                  const double[::1] node_lat, double lon0, double lat0, double kx, double ky,
                  const double[::1] levels):
    """Per level of the ascending ``levels``: ``(w, h)``, the width and height in metres of the box of the origin
    (0, 0) and of the ``nodes`` whose ``cost`` is at most that level, each at ((lon - lon0) * kx, (lat - lat0) * ky);
    (0, 0) for a level no node is within."""
    cdef Py_ssize_t n = nodes.shape[0], n_levels = levels.shape[0], i, lv, lo, hi, mid
    cdef vector[double] bx0, bx1, by0, by1
    cdef double c, x, y, xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY
    if cost.shape[0] != n:
        raise ValueError("one cost per node")
    bx0.resize(n_levels, INFINITY); bx1.resize(n_levels, -INFINITY)
    by0.resize(n_levels, INFINITY); by1.resize(n_levels, -INFINITY)
    with nogil:
        for i in range(n):
            c = cost[i]
            lo = 0  # the first level at least c (c <= levels[lo]), by bisection
            hi = n_levels
            while lo < hi:
                mid = (lo + hi) >> 1
                if c <= levels[mid]:
                    hi = mid
                else:
                    lo = mid + 1
            if lo >= n_levels:
                continue
            x = (node_lon[nodes[i]] - lon0) * kx
            y = (node_lat[nodes[i]] - lat0) * ky
            bx0[lo] = min(bx0[lo], x); bx1[lo] = max(bx1[lo], x)
            by0[lo] = min(by0[lo], y); by1[lo] = max(by1[lo], y)
    out = []
    for lv in range(n_levels):
        xmin = min(xmin, bx0[lv]); xmax = max(xmax, bx1[lv])
        ymin = min(ymin, by0[lv]); ymax = max(ymax, by1[lv])
        if xmin > xmax:
            out.append((0.0, 0.0))
        else:
            out.append(((xmax if xmax >= 0.0 else 0.0) - (xmin if xmin <= 0.0 else 0.0),
                        (ymax if ymax >= 0.0 else 0.0) - (ymin if ymin <= 0.0 else 0.0)))
    return out


def reach_items(const int32_t[::1] nodes, const double[::1] node_cost, const int64_t[::1] indptr,
                const int32_t[::1] adj_edge, const int32_t[::1] adj_dst, const int32_t[::1] edge_rev,
                const float[::1] edge_w, uint64_t[::1] scratch, const int32_t[::1] start_edge,
                const double[::1] start_f0, const double[::1] start_c0):
    """The reached items :func:`catchment_field` draws for a bounded search's result.

    Every out-edge of a settled node is entered at the node's cost; a two-way road entered from both
    ends becomes one item (the lower edge id) with the twin's entry cost as ``cb`` (the twin leaves the
    edge's end node: entered where that node was settled); the partial edges the search started on follow.
    ``scratch`` is a per-node cost array of lds.graph.scratch (all zero: +inf), restored before returning.
    """
    cdef Py_ssize_t n_nodes = nodes.shape[0], n_starts = start_edge.shape[0], i, n = 0
    cdef int64_t k
    cdef int32_t u, e, t
    cdef double cb
    cdef Py_ssize_t total = n_starts
    cdef uint64_t* costs = &scratch[0]
    for i in range(n_nodes):
        if i + 2 * AHEAD < n_nodes:
            LDS_PREFETCH(&indptr[nodes[i + 2 * AHEAD]])
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
            write_bits(costs, nodes[i], node_cost[i], INF_BITS_HI)
        for i in range(n_nodes):
            if i + 2 * AHEAD < n_nodes:
                LDS_PREFETCH(&adj_edge[indptr[nodes[i + 2 * AHEAD]]])
            if i + AHEAD < n_nodes:  # the edges' entries the pass reads
                u = nodes[i + AHEAD]
                for k in range(indptr[u], indptr[u + 1]):
                    e = adj_edge[k]
                    LDS_PREFETCH(&costs[adj_dst[k]])
                    LDS_PREFETCH(&edge_rev[e])
                    LDS_PREFETCH(&edge_w[e])
            u = nodes[i]
            for k in range(indptr[u], indptr[u + 1]):
                e = adj_edge[k]
                t = edge_rev[e]
                cb = read_bits(costs, adj_dst[k], INF_BITS_HI) if t >= 0 else INFINITY
                if t >= 0 and t < e and cb < INFINITY:
                    continue  # drawn with its twin
                ie[n] = e
                ic0[n] = node_cost[i]
                icb[n] = cb
                iwb[n] = edge_w[t] if t >= 0 else 0.0
                n += 1
        for i in range(n_nodes):
            costs[nodes[i]] = 0
        for i in range(n_starts):
            ie[n] = start_edge[i]
            if0[n] = start_f0[i]
            ic0[n] = start_c0[i]
            icb[n] = INFINITY
            n += 1
    return item_edge[:n], item_f0[:n], item_c0[:n], item_cb[:n], item_wb[:n]


cdef void _edge_order(const int32_t* edge, Py_ssize_t n, vector[int32_t]& order) noexcept nogil:
    """``order``: the indices ``0..n-1`` sorted by ``edge`` (non-negative), ties in index order (a radix sort: three
    passes of 11 bits, those whose digit is the same for all skipped)."""
    cdef vector[int32_t] tmp
    cdef int64_t count[3][2048]
    cdef Py_ssize_t i, d, total
    cdef int pass_, shift
    cdef int32_t j
    order.resize(n)
    for i in range(n):
        order[i] = <int32_t>i
    if n < 2:
        return
    tmp.resize(n)
    memset(count, 0, sizeof(count))
    for i in range(n):
        count[0][edge[i] & 2047] += 1
        count[1][(edge[i] >> 11) & 2047] += 1
        count[2][(edge[i] >> 22) & 2047] += 1
    for pass_ in range(3):
        shift = 11 * pass_
        if count[pass_][(edge[0] >> shift) & 2047] == n:
            continue  # one digit for all: this pass keeps the order
        total = 0
        for d in range(2048):
            total += count[pass_][d]
            count[pass_][d] = total - count[pass_][d]
        for i in range(n):
            j = order[i]
            d = (edge[j] >> shift) & 2047
            tmp[count[pass_][d]] = j
            count[pass_][d] += 1
        order.swap(tmp)


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
                            uint64_t* key, uint8_t* tiles, int64_t tiles_x, vector[int64_t]& cells,
                            vector[double]& xs, vector[double]& ys, vector[double]& cum, bint collect,
                            vector[double]& out_cost) noexcept nogil:
    """Mark the cells of edge ``e``'s samples as road, lowering each to the sample's cost when ``reached`` and at
    most ``limit``. Samples lie every ``h`` metres from the start of the lower-numbered edge of a two-way road
    (``flip``: that is this edge's end), plus both ends and the start fraction: the same places whichever
    direction the road is drawn from, whatever the search's limit. With ``collect``, the reached samples' cells
    and costs are appended to ``cells`` and ``out_cost`` instead, and nothing is marked. ``tiles`` flags the tiles
    (``tiles_x`` a row) of the road cells marked. A sample at the same arc length as one taken already (the ends and
    the start fraction mostly are) is not taken again: it would land on the same cell at the same cost."""
    cdef int64_t n, j, k = 0, ix, iy, idx
    cdef double length, inv_len, s, x = 0.0, y = 0.0, cost, fx, fy, s_first, s_last
    cdef double slack = limit * 1e-9 + 1e-9
    cdef double bx0, bx1, by0, by1
    cdef double lim_x0 = <double>lo_x, lim_x1 = <double>(hi_x + 1), lim_y0 = <double>lo_y, lim_y1 = <double>(hi_y + 1)
    cdef uint64_t kc, inf_key = _key_cost(INFINITY)
    cdef Py_ssize_t v
    length = _load_edge(geom_off, e, plon, plat, lon0, lat0, kx, ky, xs, ys, cum)
    # An edge whose every point falls outside the cells drawn (a road only a larger range reaches, on the finer grid
    # of a smaller one) has no sample in them: skipped whole. (floor(v) < lo ⟺ v < lo and floor(v) > hi ⟺ v >= hi + 1
    # for integer bounds: the cell tests compare the unrounded coordinate.)
    bx0 = bx1 = xs[0]
    by0 = by1 = ys[0]
    for v in range(1, <Py_ssize_t>xs.size()):
        bx0 = min(bx0, xs[v]); bx1 = max(bx1, xs[v])
        by0 = min(by0, ys[v]); by1 = max(by1, ys[v])
    if (not ((bx1 - x0) * inv_cell + 0.5 >= lim_x0) or (bx0 - x0) * inv_cell + 0.5 >= lim_x1
            or not ((by1 - y0) * inv_cell + 0.5 >= lim_y0) or (by0 - y0) * inv_cell + 0.5 >= lim_y1):
        return
    inv_len = 1.0 / length if length > 0 else 0.0
    n = <int64_t>(length / h)  # length >= 0: truncation is floor
    s_first = length - n * h if flip else 0.0
    s_last = length if flip else n * h
    for j in range(n + 4):
        if j <= n:
            s = length - (n - j) * h if flip else j * h
        else:
            s = 0.0 if j == n + 1 else (length if j == n + 2 else f0 * length)
            if s == s_first or s == s_last or (j == n + 3 and (s == 0.0 or s == length)):
                continue  # taken already
            k = 0
        k = _point_at(s, k, xs, ys, cum, &x, &y)
        fx = (x - x0) * inv_cell + 0.5
        fy = (y - y0) * inv_cell + 0.5
        if not (fx >= lim_x0 and fx < lim_x1 and fy >= lim_y0 and fy < lim_y1):
            continue
        ix = <int64_t>fx  # fx > 0: truncation is floor
        iy = <int64_t>fy
        idx = iy * nx + ix
        if collect:
            cost = _cost_at(s * inv_len if length > 0 else f0, f0, c0, c, cb, wb)
            if cost <= limit + slack:
                cells.push_back(idx)
                out_cost.push_back(min(cost, limit))
            continue
        # A road cell (any key below NO_ROAD) at +inf, lowered to a reached sample's cost: the least of the keys.
        kc = inf_key
        if reached:
            cost = _cost_at(s * inv_len if length > 0 else f0, f0, c0, c, cb, wb)
            if cost <= limit + slack:
                kc = _key_cost(<float>min(cost, limit))
        key[idx] = _kmin(key[idx], kc)
        tiles[(iy >> TILE_SHIFT) * tiles_x + (ix >> TILE_SHIFT)] = 1


def park_walk(const int32_t[::1] seed_node, const double[::1] seed_cost, const int64_t[::1] indptr,
              const int32_t[::1] adj_edge, const int32_t[::1] adj_dst, const double[::1] adj_len, double walk_m,
              uint64_t[::1] scratch, uint64_t[::1] edge_scratch):
    """The footways walked from a parked car: from each seed (a node where a footway meets a reached road, at that
    road's cost; ``seed_cost`` ascending), every footway edge (``indptr``/``adj_*``: the walking-only edges in CSR
    order) within ``walk_m`` metres of walking, as records ``(edge, cost, upto)``: the edge is served at ``cost``
    from its start up to fraction ``upto``. A place takes the cheapest seed that walks to it: seeds run cheapest
    first and a node already left with as much walk remaining is not walked on again (so the records do not
    depend on the seeds dearer than a level), and an edge is recorded again only when walked farther along than
    before. ``scratch`` and ``edge_scratch``: per-node and per-edge arrays of lds.graph.scratch (all zero bits,
    read as -1 here: none walked), restored before returning."""
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
    cdef uint64_t* left = &scratch[0]  # metres of walk left on leaving each node
    cdef uint64_t* along = &edge_scratch[0]  # how far along each edge was walked
    with nogil:
        for i in range(n_seeds):
            heap.push(pair[double, int32_t](0.0, seed_node[i]))
            while not heap.empty():
                top = heap.top()
                heap.pop()
                u = top.second
                rem = walk_m + top.first
                if rem <= read_bits(left, u, MINUS_ONE_BITS_HI):
                    continue
                if left[u] == 0:
                    touched.push_back(u)
                write_bits(left, u, rem, MINUS_ONE_BITS_HI)
                for k in range(indptr[u], indptr[u + 1]):
                    e = adj_edge[k]
                    length = adj_len[k]
                    upto = 1.0 if length <= rem else rem / length
                    if upto > read_bits(along, e, MINUS_ONE_BITS_HI):  # walked farther along than any cheaper seed
                        if along[e] == 0:
                            touched_edges.push_back(e)
                        write_bits(along, e, upto, MINUS_ONE_BITS_HI)
                        out_edge.push_back(e)
                        out_cost.push_back(seed_cost[i])
                        out_upto.push_back(upto)
                    if length < rem and rem - length > read_bits(left, adj_dst[k], MINUS_ONE_BITS_HI):
                        heap.push(pair[double, int32_t](top.first - length, adj_dst[k]))
        for i in range(<Py_ssize_t>touched.size()):
            left[touched[i]] = 0
        for i in range(<Py_ssize_t>touched_edges.size()):
            along[touched_edges[i]] = 0
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
            if i >= 2 * AHEAD:
                LDS_PREFETCH(&geom_off[item_edge[i - 2 * AHEAD]])
                LDS_PREFETCH(&edge_w[item_edge[i - 2 * AHEAD]])
            if i >= AHEAD:
                v = geom_off[item_edge[i - AHEAD]]
                LDS_PREFETCH(&plon[v])
                LDS_PREFETCH(&plat[v])
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


cdef inline void _chamfer_window(int32_t* bd, float* g, int64_t nx, int64_t wx0, int64_t wx1, int64_t wy0,
                                 int64_t wy1) noexcept nogil:
    """Two-scan chamfer transform of the road cells (``bd`` 0) carrying their cost ``g`` to the other cells (nearer,
    or as near and cheaper), over the cells ``wx0..wx1`` x ``wy0..wy1`` (their neighbours are read: one cell around
    them must be set). The same transform as :func:`_chamfer_keys`, on separate arrays."""
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


cdef void _spread(const uint8_t* src, uint8_t* dst, int64_t lines, int64_t along, int64_t line_step,
                  int64_t step, int64_t d) noexcept nogil:
    """Flag in ``dst`` every item within ``d`` of a flagged one of ``src`` along each line (``lines`` lines of
    ``along`` items, ``line_step`` apart, items ``step`` apart)."""
    cdef int64_t i, j, k
    for i in range(lines):
        for j in range(along):
            if src[i * line_step + j * step]:
                for k in range(max(<int64_t>0, j - d), min(along - 1, j + d) + 1):
                    dst[i * line_step + k * step] = 1


cdef void _near_tiles(vector[uint8_t]& tiles, int64_t tx, int64_t ty, int64_t d) noexcept nogil:
    """Flag every tile within ``d`` tiles (either way, diagonals too) of a flagged one: along the rows, then along
    the columns."""
    cdef vector[uint8_t] rows
    cdef int64_t i
    rows.resize(tx * ty, 0)
    _spread(tiles.data(), rows.data(), ty, tx, tx, 1, d)
    for i in range(ty * tx):
        tiles[i] = 0
    _spread(rows.data(), tiles.data(), tx, ty, 1, tx, d)


cdef void _chamfer_keys(uint64_t* key, int64_t nx, int64_t ny, int32_t reach_units, float* g, int32_t* lo,
                        int32_t* hi, const uint8_t* tiles, int64_t tiles_x) noexcept nogil:
    """The two-scan chamfer transform of the road cells (distance 0 in ``key``) on keys (distance, cost), of the
    cells inside the border: each takes the least of its own key and its scanned neighbours' plus the step (5 per
    side, 7 per diagonal step), a row at a time: the previous row's three, then the cell just done (only that one
    waits on it). The second scan also writes the field ``g`` (+inf everywhere else): each cell's nearest road's
    cost when that road is within ``reach_units``, and each row's first and last finite column to ``lo``, ``hi``
    (left as they are in a row without one).

    Only the runs of flagged ``tiles`` (``tiles_x`` a row) are scanned: those within ``reach_units`` of a road cell,
    whose nearest road's path lies in them. Elsewhere the keys stay as they are (no road that near), and are read
    as such by the cells beside."""
    cdef int64_t ix, iy, c0, c1, t, t1
    cdef uint64_t k, prev
    cdef uint64_t near = ((<uint64_t>reach_units) << 32) | <uint64_t>0xFFFFFFFF  # the largest key within reach
    cdef uint64_t* p
    cdef const uint64_t* u
    cdef const uint8_t* trow
    cdef float* gr
    cdef float v
    cdef int32_t first, last
    for ix in range(nx * ny):
        g[ix] = INFINITY
    for iy in range(1, ny - 1):
        p = key + iy * nx
        u = p - nx
        trow = tiles + (iy >> TILE_SHIFT) * tiles_x
        t = 0
        while t < tiles_x:
            if not trow[t]:
                t += 1
                continue
            t1 = t
            while t1 + 1 < tiles_x and trow[t1 + 1]:
                t1 += 1
            c0 = max(<int64_t>1, t << TILE_SHIFT)
            c1 = min(nx - 2, ((t1 + 1) << TILE_SHIFT) - 1)
            t = t1 + 1
            prev = p[c0 - 1]
            for ix in range(c0, c1 + 1):
                k = _kmin(_kmin(p[ix], u[ix] + STEP5), _kmin(u[ix - 1], u[ix + 1]) + STEP7)
                prev = _kmin(k, prev + STEP5)
                p[ix] = prev
    for iy in range(ny - 2, 0, -1):
        p = key + iy * nx
        u = p + nx
        gr = g + iy * nx
        trow = tiles + (iy >> TILE_SHIFT) * tiles_x
        first = -1
        last = -1
        t = tiles_x - 1
        while t >= 0:
            if not trow[t]:
                t -= 1
                continue
            t1 = t
            while t1 - 1 >= 0 and trow[t1 - 1]:
                t1 -= 1
            c0 = max(<int64_t>1, t1 << TILE_SHIFT)
            c1 = min(nx - 2, ((t + 1) << TILE_SHIFT) - 1)
            t = t1 - 1
            prev = p[c1 + 1]
            for ix in range(c1, c0 - 1, -1):
                k = _kmin(_kmin(p[ix], u[ix] + STEP5), _kmin(u[ix - 1], u[ix + 1]) + STEP7)
                prev = _kmin(k, prev + STEP5)
                p[ix] = prev
                v = _key_float(prev) if prev <= near else INFINITY
                gr[ix] = v
                if v < INFINITY:
                    first = <int32_t>ix
                    if last < 0:
                        last = <int32_t>ix
        if last >= 0:
            lo[iy] = first
            hi[iy] = last


cdef inline double _walked_cost(int32_t e, double frac, const int32_t* head, const int32_t* nxt,
                                 const double* fr_cost, const double* fr_upto) noexcept nogil:
    """Least cost of the point at ``frac`` of footway edge ``e``: its cheapest record walking that far (an edge's
    records, linked dearest first, walk ever farther), +inf for none."""
    cdef double cost = INFINITY
    cdef int32_t i = head[e] - 1 if e >= 0 else -1
    while i >= 0 and fr_upto[i] >= frac - 1e-12:
        cost = fr_cost[i]
        i = nxt[i]
    return cost


cdef void _foot_pass(float* g, const uint64_t* key, float* g2, int32_t* bd2, int32_t reach_units,
                     const int64_t* fo_off, const double* fo_lon, const double* fo_lat, const int32_t* fo_rev,
                     const int32_t* fr_edge, const double* fr_cost, const double* fr_upto, Py_ssize_t n_rec,
                     int32_t* head, const int32_t* fc_edge, Py_ssize_t n_fclaims, double lon0, double lat0,
                     double kx, double ky, double h, double x0, double y0, double inv_cell, int64_t nx, int64_t ny,
                     vector[int64_t]& cells, vector[double]& xs, vector[double]& ys, vector[double]& cum,
                     int32_t* lo, int32_t* hi) noexcept nogil:
    """Park and walk: the cells no road has within the off-road distance (``key``'s distance beyond
    ``reach_units``) take the cost of their nearest footway within it (the walked parts at their cheapest record's
    cost, the rest +inf).
    The footways (``fc_edge``, one edge of a two-way way) are sampled every cell, each once (half the roads'
    density, for speed: a walk's end is placed to within a cell); ``head`` is a per-edge array of zeros (an edge's
    first record plus one: 0 for none, so the array maps only the pages written), restored before returning."""
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
        nxt[i] = head[fr_edge[i]] - 1
        head[fr_edge[i]] = <int32_t>(i + 1)
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
        head[fr_edge[i]] = 0
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
            if (key[idx] >> 32) > <uint64_t>reach_units and bd2[idx] <= reach_units and g2[idx] < g[idx]:
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
    records, ``head`` a per-edge scratch array of zeros) and the walking-only ways around (one edge of a two-way
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
        keys = np.empty(ny * nx, dtype=np.uint64)
    else:
        field = workspace.buffer("field", np.float32, ny * nx).reshape(ny, nx)
        keys = workspace.buffer("road_keys", np.uint64, ny * nx)
    cdef float[:, ::1] grid = field
    cdef float* g = &grid[0, 0]
    cdef uint64_t[::1] keys_v = keys
    cdef uint64_t* key = &keys_v[0]  # per cell: its nearest road's distance and cost (_key_cost)
    cdef vector[int64_t] cells  # unused: the road cells are marked in ``key``
    cdef vector[int32_t] order  # the items by edge id: the graph's arrays read in address order, not the search's
    cdef int64_t tiles_x = (nx + TILE - 1) >> TILE_SHIFT, tiles_y = (ny + TILE - 1) >> TILE_SHIFT
    cdef vector[uint8_t] tiles  # per tile: a road cell in it, then: the transform runs in it
    tiles.resize(tiles_x * tiles_y, 0)
    cdef Py_ssize_t it
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
        memset(key, NO_ROAD_BYTE, ny * nx * sizeof(uint64_t))
        # Pass 2: reached samples lower their cell's road cost; unreached ones, and the claims, mark a road there.
        _edge_order(&item_edge[0] if n_items > 0 else NULL, n_items, order)
        for it in range(n_items):
            i = order[it]
            e = item_edge[i]
            if not edge_snaps[e]:
                _mark_edge(e, edge_rev[e] >= 0 and edge_rev[e] < e, item_f0[i], item_c0[i], edge_w[e], item_cb[i],
                           item_wb[i], True, &geom_off[0], plon, plat, lon0, lat0, kx, ky, h, x0, y0, inv_cell, nx,
                           lo_x, hi_x, lo_y, hi_y, limit, key, &tiles[0], tiles_x, cut_cells, xs, ys, cum, True,
                           cut_cost)
                continue
            _mark_edge(e, edge_rev[e] >= 0 and edge_rev[e] < e, item_f0[i], item_c0[i], edge_w[e], item_cb[i],
                       item_wb[i], True, &geom_off[0], plon, plat, lon0, lat0, kx, ky, h, x0, y0, inv_cell, nx, lo_x,
                       hi_x, lo_y, hi_y, limit, key, &tiles[0], tiles_x, cells, xs, ys, cum, False,
                       cut_cost)
        for i in range(n_claims):
            e = claim_edge[i]
            _mark_edge(e, edge_rev[e] >= 0 and edge_rev[e] < e, 0.0, INFINITY, 0.0, INFINITY, 0.0, False,
                       &geom_off[0], plon, plat, lon0, lat0, kx, ky, h, x0, y0, inv_cell, nx, lo_x, hi_x, lo_y, hi_y,
                       limit, key, &tiles[0], tiles_x, cells, xs, ys, cum, False, cut_cost)
        # Pass 3: every cell within offroad_m takes its nearest road cell's cost (ties: the least cost), by a
        # two-scan chamfer transform carrying the cost along; a cell's being within a level then does not depend
        # on the costs above that level.
        # A cell within reach_units of a road cell is within reach_units // 5 cells of it either way, so in a tile
        # at most that many cells (rounded up to tiles) from the road's.
        _near_tiles(tiles, tiles_x, tiles_y, (reach_units // 5 + TILE - 1) // TILE)
        _chamfer_keys(key, nx, ny, reach_units, g, &lo_v[0], &hi_v[0], &tiles[0], tiles_x)
        if has_foot:
            _foot_pass(g, key, g2, bd2, reach_units, &fo_off[0], &fo_lon[0], &fo_lat[0], &fo_rev[0], &fr_edge[0],
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
                    if (key[idx] >> 32) > <uint64_t>reach_units and fc < g[idx]:
                        g[idx] = fc
                        lo_v[cy + dy] = min(lo_v[cy + dy], <int32_t>(cx + dx))
                        hi_v[cy + dy] = max(hi_v[cy + dy], <int32_t>(cx + dx))
    return field, row_lo, row_hi
