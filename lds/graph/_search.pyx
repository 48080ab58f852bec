# distutils: language = c++
"""Bounded one-to-all Dijkstra over a CSR adjacency (the isolines' search), in C++.

Only nodes within ``limit`` are settled, so the cost follows the reached area, not the graph size;
the caller's scratch ``dist`` array (all zero bits: +inf, as lds.graph.scratch encodes costs) is restored
before returning, so one allocation serves every query, and only the pages of the nodes a search reached
are ever mapped.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint64_t
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

from lds.graph._zero_pages cimport INF_BITS_HI, read_bits, write_bits

cnp.import_array()


def bounded_dijkstra(const int64_t[:] indptr, const int32_t[:] adj_dst, const float[:] adj_weight,
                     const int32_t[:] seeds, const double[:] seed_dist, double limit, uint64_t[::1] dist):
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
    cdef int32_t[:] nodes_v = nodes
    cdef double[:] dists_v = dists
    for i in range(<Py_ssize_t>n):
        nodes_v[i] = out_nodes[i]
        dists_v[i] = out_dist[i]
    return nodes, dists
