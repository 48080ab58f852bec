# distutils: language = c++
"""Bounded one-to-all Dijkstra over a CSR adjacency (the isolines' search), and the edges whose bounds meet a box
(lds.graph.search.EdgeBoxes), in C++.

Only nodes within ``limit`` are settled, so the cost follows the reached area, not the graph size;
the caller's scratch ``dist`` array (all zero bits: +inf, as lds.graph.scratch encodes costs) is restored
before returning, so one allocation serves every query, and only the pages of the nodes a search reached
are ever mapped.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libcpp.algorithm cimport sort
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

from lds.graph._zero_pages cimport INF_BITS_HI, read_bits, resident_bytes, write_bits
from posix.unistd cimport sysconf, _SC_PAGESIZE

cnp.import_array()


def bounded_dijkstra(const int64_t[::1] indptr, const int32_t[::1] adj_dst, const float[::1] adj_weight,
                     const int32_t[::1] seeds, const double[::1] seed_dist, double limit, uint64_t[::1] dist):
    """Settled nodes with distance <= ``limit`` (in settling order) and their distances.

    ``adj_dst``/``adj_weight`` list the out-edges of node u at ``indptr[u]:indptr[u + 1]``;
    ``seeds`` start at ``seed_dist`` (a point part-way along an edge reaches its ends at a cost).
    ``dist``: one item per node, all zero (left so): a cost array of lds.graph.scratch.
    """
    cdef priority_queue[pair[double, int32_t]] heap  # max-heap on -distance
    cdef vector[int32_t] touched
    cdef vector[int32_t] out_nodes
    cdef vector[double] out_dist
    cdef Py_ssize_t i, k
    cdef int32_t u, v
    cdef double d, nd
    cdef pair[double, int32_t] top
    with nogil:
        for i in range(seeds.shape[0]):
            u = seeds[i]
            d = seed_dist[i]
            if d <= limit and d < read_bits(&dist[0], u, INF_BITS_HI):
                if dist[u] == 0:
                    touched.push_back(u)
                write_bits(&dist[0], u, d, INF_BITS_HI)
                heap.push(pair[double, int32_t](-d, u))
        while not heap.empty():
            top = heap.top()
            heap.pop()
            d = -top.first
            u = top.second
            if d > read_bits(&dist[0], u, INF_BITS_HI):
                continue  # stale entry
            out_nodes.push_back(u)
            out_dist.push_back(d)
            for k in range(indptr[u], indptr[u + 1]):
                nd = d + adj_weight[k]
                if nd > limit:
                    continue
                v = adj_dst[k]
                if nd < read_bits(&dist[0], v, INF_BITS_HI):
                    if dist[v] == 0:
                        touched.push_back(v)
                    write_bits(&dist[0], v, nd, INF_BITS_HI)
                    heap.push(pair[double, int32_t](-nd, v))
        for i in range(<Py_ssize_t>touched.size()):
            dist[touched[i]] = 0
    n = out_nodes.size()
    nodes = np.empty(n, dtype=np.int32)
    dists = np.empty(n, dtype=np.float64)
    cdef int32_t[::1] nodes_v = nodes
    cdef double[::1] dists_v = dists
    for i in range(<Py_ssize_t>n):
        nodes_v[i] = out_nodes[i]
        dists_v[i] = out_dist[i]
    return nodes, dists


cdef inline bint _meets(const double[:, ::1] b, Py_ssize_t j, double lon_min, double lat_min, double lon_max,
                        double lat_max) noexcept nogil:
    return b[2, j] >= lon_min and b[0, j] <= lon_max and b[3, j] >= lat_min and b[1, j] <= lat_max


cdef inline void _mark(const int32_t[::1] drawn, const int32_t[::1] rev, uint8_t[::1] mark, uint8_t value) noexcept nogil:
    cdef Py_ssize_t i
    cdef int32_t e
    for i in range(drawn.shape[0]):
        e = drawn[i]
        mark[e] = value
        if rev[e] >= 0:
            mark[rev[e]] = value


def edges_in_box(const int32_t[::1] edges, const double[:, ::1] bounds, const double[:, ::1] blocks,
                 const double[:, ::1] groups, int64_t block, int64_t group, double lon_min, double lat_min,
                 double lon_max, double lat_max, drawn=None, edge_rev=None, mark=None):
    """The edges of an :class:`lds.graph.search.EdgeBoxes` (``edges``, their ``bounds``, ``blocks``: the bounds of
    each run of ``block`` of them, ``groups``: of each run of ``group`` blocks; each (4, n): lon min, lat min,
    lon max, lat max) whose bounds meet the box, ascending, by a scan of the groups, then of the blocks of those the
    box meets, then of their edges. With ``drawn`` (int32 edge ids), less those and their twins (``edge_rev``);
    ``mark`` is then a per-edge uint8 array of 0, restored before returning."""
    cdef Py_ssize_t n = edges.shape[0], n_blocks = blocks.shape[1], n_groups = groups.shape[1]
    cdef Py_ssize_t gi, b, r
    cdef vector[int32_t] found
    cdef const int32_t[::1] drawn_v
    cdef const int32_t[::1] rev_v
    cdef uint8_t[::1] mark_v
    cdef bint exclude = drawn is not None
    if bounds.shape[0] != 4 or blocks.shape[0] != 4 or groups.shape[0] != 4 or bounds.shape[1] != n:
        raise ValueError("bounds, blocks and groups must be (4, n) arrays")
    if n_blocks != (n + block - 1) // block or n_groups != (n_blocks + group - 1) // group:
        raise ValueError("blocks and groups do not match the edges")
    if exclude:
        drawn_v, rev_v, mark_v = drawn, edge_rev, mark
    with nogil:
        if exclude:
            _mark(drawn_v, rev_v, mark_v, 1)
        for gi in range(n_groups):
            if not _meets(groups, gi, lon_min, lat_min, lon_max, lat_max):
                continue
            for b in range(gi * group, min(n_blocks, (gi + 1) * group)):
                if not _meets(blocks, b, lon_min, lat_min, lon_max, lat_max):
                    continue
                for r in range(b * block, min(n, (b + 1) * block)):
                    if _meets(bounds, r, lon_min, lat_min, lon_max, lat_max) and not (exclude and mark_v[edges[r]]):
                        found.push_back(edges[r])
        if exclude:
            _mark(drawn_v, rev_v, mark_v, 0)
        sort(found.begin(), found.end())
    out = np.empty(found.size(), dtype=np.int32)
    cdef int32_t[::1] out_v = out
    for r in range(<Py_ssize_t>found.size()):
        out_v[r] = found[r]
    return out


def mapped_bytes(const uint8_t[::1] data) -> int:
    """Bytes of the pages under ``data`` (a byte view of an array) the process has mapped (``mincore``, from the
    page the data starts in: lds.graph.scratch)."""
    cdef size_t page = <size_t>sysconf(_SC_PAGESIZE)
    if data.shape[0] == 0:
        return 0
    cdef size_t start = <size_t>&data[0], base = start - start % page
    return resident_bytes(<void*>base, start + <size_t>data.shape[0] - base)
