# distutils: language = c++
# cython: cdivision=True
"""Rasterising reached road pieces into a cost field, in C++ (the hot loop of isoline drawing).

Each item is an edge entered at a known cost from its start (at some fraction) and, for two-way
roads, from its end through the twin edge; the reached pieces are followed along the edge's geometry
in a local metric projection, cut where the budget runs out, sampled every cell (or half), and every
sample stamps its cost (the minimum wins) on a disc of cells of the corridor's half-width.
The isoline of range r is then the contour ``field <= r``: one field serves every range.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY, M_PI, ceil, cos, floor, sqrt
from libc.stdint cimport int32_t, int64_t
from libcpp.vector cimport vector

cnp.import_array()

cdef double EARTH_RADIUS_M = 6371008.8  # same constant as lds.geo


cdef inline int _pieces(double f0, double c0, double c, double cb, double wb, double limit,
                        double* lo, double* hi) noexcept nogil:
    """Reached fraction intervals of an edge (0, 1 or 2 of them) into ``lo``/``hi``; returns their count.

    From the start: [f0, f0 + (limit - c0) / c]; from the end (twin entered at ``cb``, weight ``wb``):
    [1 - (limit - cb) / wb, 1]. Overlapping pieces are merged into one.
    """
    cdef int n = 0
    cdef double a_hi = 0.0, b_lo = 1.0
    cdef bint has_a = c0 <= limit, has_b = cb <= limit
    if has_a:
        a_hi = 1.0 if c <= 0 else min(1.0, f0 + (limit - c0) / c)
        has_a = a_hi >= f0
    if has_b:
        b_lo = 0.0 if wb <= 0 else max(0.0, 1.0 - (limit - cb) / wb)
    if has_a and has_b and b_lo <= a_hi:
        lo[0] = min(f0, b_lo)
        hi[0] = 1.0
        return 1
    if has_a:
        lo[n] = f0
        hi[n] = a_hi
        n += 1
    if has_b:
        lo[n] = b_lo
        hi[n] = 1.0
        n += 1
    return n


cdef inline void _load_edge(int64_t a, int64_t b, const double* lon, const double* lat, double lon0,
                            double lat0, double kx, double ky, vector[double]& xs, vector[double]& ys,
                            vector[double]& cum) noexcept nogil:
    cdef int64_t v
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


cdef inline void _stamp(float* g, int64_t idx, double cost, const int64_t* off, Py_ssize_t n_off) noexcept nogil:
    """Lower the cells of the disc around cell ``idx`` to ``cost``."""
    cdef float fc = <float>cost
    cdef Py_ssize_t j
    for j in range(n_off):
        if fc < g[idx + off[j]]:
            g[idx + off[j]] = fc


def reach_items(const int32_t[::1] nodes, const double[::1] node_cost, const int64_t[::1] indptr,
                const int32_t[::1] adj_edge, const int32_t[::1] edge_rev, const float[::1] edge_w,
                double[::1] scratch, const int32_t[::1] start_edge, const double[::1] start_f0,
                const double[::1] start_c0):
    """The items :func:`rasterize` draws for a bounded search's result.

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


def rasterize(const int32_t[::1] item_edge, const double[::1] item_f0, const double[::1] item_c0,
              const double[::1] item_cb, const double[::1] item_wb, const float[::1] edge_w,
              const int64_t[::1] geom_off, const double[::1] geom_lon, const double[::1] geom_lat,
              double lon0, double lat0, double limit, double cell, double buffer_m, int64_t max_cells,
              workspace=None):
    """Cost field of the reached road corridor around (lon0, lat0).

    Item i is edge ``item_edge[i]`` entered at fraction ``item_f0[i]`` at cost ``item_c0[i]`` and, through
    its twin (weight ``item_wb[i]``), at its end at cost ``item_cb[i]`` (+inf for none).
    Returns ``(field, x0, y0, cell, row_lo, row_hi)``: a (rows, cols) float32 array holding, per cell, the
    least cost of a reached road point within ``buffer_m`` (+inf elsewhere), the metric coordinates of the
    centre of cell [0, 0], the cell size used (grown when the area would exceed ``max_cells``), and per
    row the first and last column that may be finite (``row_lo > row_hi`` for an empty row).
    Coordinates are metres east/north of (lon0, lat0) in an equirectangular projection.

    ``workspace`` (a :class:`lds.isoline_shape.Workspace`) lends reused per-thread buffers: the field is then a
    view of one, valid until the thread's next call (fresh megabyte arrays per request cost more in page
    faults than the drawing itself). Without it the field is a new array.
    """
    cdef double kx = M_PI / 180.0 * EARTH_RADIUS_M * cos(lat0 * M_PI / 180.0)
    cdef double ky = M_PI / 180.0 * EARTH_RADIUS_M
    cdef vector[double] xs, ys, cum
    cdef Py_ssize_t i, n_items = item_edge.shape[0]
    cdef int32_t e
    cdef int64_t a, b, k, last
    cdef int p, n_pieces
    cdef double lo[2]
    cdef double hi[2]
    cdef double f0, c0, c, cb, wb, length, s0, s1, s, x = 0.0, y = 0.0
    cdef double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300
    cdef double slack = limit * 1e-9 + 1e-9
    cdef const double* plon = &geom_lon[0]
    cdef const double* plat = &geom_lat[0]

    # Pass 1: extent of the reached pieces.
    with nogil:
        for i in range(n_items):
            e = item_edge[i]
            n_pieces = _pieces(item_f0[i], item_c0[i], edge_w[e], item_cb[i], item_wb[i], limit, lo, hi)
            if n_pieces == 0:
                continue
            a = geom_off[e]
            b = geom_off[e + 1]
            if n_pieces == 1 and lo[0] <= 0.0 and hi[0] >= 1.0:  # the whole edge: every vertex, no arc lengths
                for k in range(a, b):
                    x = (plon[k] - lon0) * kx
                    y = (plat[k] - lat0) * ky
                    xmin = min(xmin, x); xmax = max(xmax, x)
                    ymin = min(ymin, y); ymax = max(ymax, y)
                continue
            _load_edge(a, b, plon, plat, lon0, lat0, kx, ky, xs, ys, cum)
            last = b - a - 1
            length = cum[last]
            for p in range(n_pieces):
                s0 = lo[p] * length
                s1 = hi[p] * length
                for k in range(1, last):
                    if s0 < cum[k] < s1:
                        xmin = min(xmin, xs[k]); xmax = max(xmax, xs[k])
                        ymin = min(ymin, ys[k]); ymax = max(ymax, ys[k])
                for s in (s0, s1):
                    _point_at(s, 0, xs, ys, cum, &x, &y)
                    xmin = min(xmin, x); xmax = max(xmax, x)
                    ymin = min(ymin, y); ymax = max(ymax, y)
    if xmin > xmax:
        xmin = xmax = ymin = ymax = 0.0

    # Grid: cell centres cover the extent plus the corridor and a margin of empty cells.
    cdef double pad = buffer_m + 2 * cell
    cdef double width = xmax - xmin + 2 * pad, height = ymax - ymin + 2 * pad
    if (width / cell + 1) * (height / cell + 1) > max_cells:
        cell = sqrt(width * height / max_cells) * 1.01
        pad = buffer_m + 2 * cell
        width = xmax - xmin + 2 * pad
        height = ymax - ymin + 2 * pad
    cdef int64_t nx = <int64_t>ceil(width / cell) + 1, ny = <int64_t>ceil(height / cell) + 1
    cdef double x0 = xmin - pad, y0 = ymin - pad
    if workspace is None:
        field = np.empty((ny, nx), dtype=np.float32)
    else:
        field = workspace.buffer("field", np.float32, ny * nx).reshape(ny, nx)
    cdef float[:, ::1] grid = field
    cdef float* g = &grid[0, 0]

    # The disc of cells within the corridor's half-width, as index offsets.
    cdef double rb = buffer_m / cell
    cdef int64_t r_int = <int64_t>floor(rb), dx, dy
    cdef vector[int64_t] offsets
    for dy in range(-r_int, r_int + 1):
        for dx in range(-r_int, r_int + 1):
            if dx * dx + dy * dy <= rb * rb + 1e-9:
                offsets.push_back(dy * nx + dx)
    cdef Py_ssize_t n_off = offsets.size()
    cdef const int64_t* off_p = offsets.data()

    # Pass 2: samples every cell (or half) along each piece; each stamps its cost on the disc around its cell
    # (the minimum wins). Consecutive samples in one cell stamp once, with their least cost.
    # Samples a cell apart leave no gap once widened by a disc of 1.5 cells or more; else half a cell.
    cdef double h = cell if buffer_m >= 1.5 * cell else 0.5 * cell
    cdef double cost, frac, step, inv_len, inv_cell = 1.0 / cell, run_cost = INFINITY
    cdef int64_t n_samples, j, idx, ix, iy, run_idx = -1
    cdef vector[int32_t] road_lo, road_hi  # per row: first and last column holding a road sample
    road_lo.assign(ny, <int32_t>nx)
    road_hi.assign(ny, -1)
    row_lo = np.full(ny, nx, dtype=np.int32)  # per row of the field: first and last column reached
    row_hi = np.full(ny, -1, dtype=np.int32)
    cdef int32_t[::1] lo_v = row_lo, hi_v = row_hi
    with nogil:
        for idx in range(ny * nx):
            g[idx] = INFINITY
        for i in range(n_items):
            e = item_edge[i]
            f0 = item_f0[i]
            c0 = item_c0[i]
            c = edge_w[e]
            cb = item_cb[i]
            wb = item_wb[i]
            n_pieces = _pieces(f0, c0, c, cb, wb, limit, lo, hi)
            if n_pieces == 0:
                continue
            a = geom_off[e]
            b = geom_off[e + 1]
            _load_edge(a, b, plon, plat, lon0, lat0, kx, ky, xs, ys, cum)
            last = b - a - 1
            length = cum[last]
            inv_len = 1.0 / length if length > 0 else 0.0
            for p in range(n_pieces):
                s0 = lo[p] * length
                s1 = hi[p] * length
                n_samples = <int64_t>ceil((s1 - s0) / h) if s1 > s0 else 0
                step = (s1 - s0) / n_samples if n_samples > 0 else 0.0
                k = 0
                for j in range(n_samples + 1):
                    s = s0 + step * j
                    frac = s * inv_len if length > 0 else lo[p]
                    cost = INFINITY
                    if frac >= f0 - 1e-12 and c0 <= limit:
                        cost = c0 + max(0.0, frac - f0) * c
                    if cb <= limit:
                        cost = min(cost, cb + (1.0 - frac) * wb)
                    if cost > limit + slack:
                        continue
                    cost = min(cost, limit)
                    k = _point_at(s, k, xs, ys, cum, &x, &y)
                    # Non-negative by the padding, so truncation rounds to the nearest centre.
                    iy = <int64_t>((y - y0) * inv_cell + 0.5)
                    ix = <int64_t>((x - x0) * inv_cell + 0.5)
                    idx = iy * nx + ix
                    if idx == run_idx:
                        run_cost = min(run_cost, cost)
                        continue
                    if run_idx >= 0:
                        _stamp(g, run_idx, run_cost, off_p, n_off)
                    run_idx = idx
                    run_cost = cost
                    road_lo[iy] = min(road_lo[iy], <int32_t>ix)
                    road_hi[iy] = max(road_hi[iy], <int32_t>ix)
        if run_idx >= 0:
            _stamp(g, run_idx, run_cost, off_p, n_off)
        for iy in range(ny):
            if road_hi[iy] < 0:
                continue
            for dy in range(max(0, iy - r_int), min(ny, iy + r_int + 1)):
                lo_v[dy] = min(lo_v[dy], <int32_t>(road_lo[iy] - r_int))
                hi_v[dy] = max(hi_v[dy], <int32_t>(road_hi[iy] + r_int))
    return field, x0, y0, cell, row_lo, row_hi
