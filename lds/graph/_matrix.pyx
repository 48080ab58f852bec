# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Many-to-many shortest paths on the contraction hierarchy: the bucket algorithm (Knopp et al. 2007, what
OSRM's ``/table`` runs). One upward backward search per target leaves ``(target, cost)`` entries in a bucket at
every node it settles; one upward forward search per source then scans the buckets of the nodes it settles,
so n x m costs take n + m small searches instead of n x m point-to-point queries.

Labels carry the routing weight (ms, what the searches minimise) plus the duration (s) and distance (m) of
the path that weight was found along, so each cell reports what a single route between the two points does. The
arcs' durations and distances are float32 (each the float64 sum of its road edges' float32 values, rounded once);
labels add them up in float64.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint8_t
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector
from posix.mman cimport munmap

from lds.graph._zero_pages cimport zero_pages

cnp.import_array()

ctypedef fused real:  # the arcs' durations and distances: float32, float64 in builds of model version 3 and older
    float
    double


cdef struct Entry:
    int32_t target
    uint8_t initial
    double w
    double dur
    double dist


cdef struct Node:
    # One node's label (weight, and the duration and distance along it), side by side: a node a search touches
    # maps one page and one cache line (32 bytes, aligned).
    double w
    double dur
    double dist
    int32_t stamp
    uint8_t initial


cdef class _Search:
    """Scratch labels of one upward search (stamped, so nothing is cleared between searches), in an anonymous map:
    zero until written, so only the pages the searches touch are ever mapped (not a zero-filled array per node)."""

    cdef Node* node
    cdef size_t size
    cdef int32_t cur

    def __cinit__(self, Py_ssize_t n):
        self.size = max(n, 1) * sizeof(Node)
        self.node = <Node*>zero_pages(self.size, "distance matrix labels")
        self.cur = 0

    def __dealloc__(self):
        if self.node != NULL:
            munmap(self.node, self.size)


cdef void _seed(_Search s, priority_queue[pair[double, int32_t]]& heap, const int32_t[::1] node,
                const double[::1] w, const double[::1] dur, const double[::1] dist, int64_t lo, int64_t hi):
    cdef int64_t k
    cdef int32_t u
    cdef Node* N = s.node
    s.cur += 1
    for k in range(lo, hi):
        u = node[k]
        if N[u].stamp != s.cur or w[k] < N[u].w:
            N[u].stamp = s.cur
            N[u].w = w[k]
            N[u].dur = dur[k]
            N[u].dist = dist[k]
            N[u].initial = 1
            heap.push(pair[double, int32_t](-w[k], u))


cdef inline bint _stalled(_Search s, const int64_t[::1] off, const int32_t[::1] nbr, const int32_t[::1] w,
                          int32_t u, double d):
    """Stall-on-demand: ``u`` is reached cheaper through a higher node (arcs of the other direction)."""
    cdef int64_t i
    cdef int32_t x
    cdef Node* N = s.node
    for i in range(off[u], off[u + 1]):
        x = nbr[i]
        if N[x].stamp == s.cur and N[x].w + w[i] < d:
            return True
    return False


cdef inline void _relax(_Search s, priority_queue[pair[double, int32_t]]& heap, const int64_t[::1] off,
                        const int32_t[::1] nbr, const int32_t[::1] w, const real[::1] arc_dur,
                        const real[::1] arc_dist, int64_t arc_base, int32_t u, double d):
    """Relax the upward arcs of ``u`` (arc ids ``arc_base + i``), carrying duration and distance along."""
    cdef int64_t i
    cdef int32_t x
    cdef double nd
    cdef Node* N = s.node
    for i in range(off[u], off[u + 1]):
        x = nbr[i]
        nd = d + w[i]
        if N[x].stamp != s.cur or nd < N[x].w:
            N[x].stamp = s.cur
            N[x].w = nd
            N[x].dur = N[u].dur + arc_dur[arc_base + i]
            N[x].dist = N[u].dist + arc_dist[arc_base + i]
            N[x].initial = 0
            heap.push(pair[double, int32_t](-nd, x))


cdef inline bint _settle(_Search s, priority_queue[pair[double, int32_t]]& heap, int32_t* u, double* d):
    """Pop the next node whose label is final (skipping stale heap entries); False once the heap is empty."""
    cdef pair[double, int32_t] top
    while not heap.empty():
        top = heap.top()
        heap.pop()
        if -top.first <= s.node[top.second].w:
            u[0] = top.second
            d[0] = -top.first
            return True
    return False


def many_to_many(const int64_t[::1] fwd_off, const int32_t[::1] fwd_head, const int32_t[::1] fwd_w,
                 const int64_t[::1] bwd_off, const int32_t[::1] bwd_tail, const int32_t[::1] bwd_w,
                 const real[::1] arc_dur, const real[::1] arc_dist, const int32_t[::1] loop_w,
                 const real[::1] loop_dur, const real[::1] loop_dist,
                 const int64_t[::1] s_off, const int32_t[::1] s_node, const double[::1] s_w,
                 const double[::1] s_dur, const double[::1] s_dist,
                 const int64_t[::1] t_off, const int32_t[::1] t_node, const double[::1] t_w,
                 const double[::1] t_dur, const double[::1] t_dist):
    """Weights (ms), durations (s) and distances (m) from every source to every target, ``inf`` where none.

    Source ``i`` starts at nodes ``s_node[s_off[i]:s_off[i+1]]`` with their initial labels, target ``j`` is
    reached at ``t_node[t_off[j]:t_off[j+1]]`` whose labels are added at the end (negative for a target
    part-way along an edge-based node). Where both labels of a meeting are the seeds themselves and their sum
    is negative (the target lies behind the source on the same edge), the node's cheapest loop is added.
    """
    cdef Py_ssize_t n = fwd_off.shape[0] - 1, ns = s_off.shape[0] - 1, nt = t_off.shape[0] - 1
    cdef int64_t n_fwd = fwd_head.shape[0], k
    cdef Py_ssize_t j
    cdef _Search s = _Search(n)
    cdef priority_queue[pair[double, int32_t]] heap
    cdef int32_t u = 0
    cdef double d = 0.0, c, cd, cl
    cdef vector[int32_t] b_node
    cdef vector[Entry] b_entry
    cdef Entry e
    # --- backward searches: buckets --------------------------------------------------------------------------
    for j in range(nt):
        _seed(s, heap, t_node, t_w, t_dur, t_dist, t_off[j], t_off[j + 1])
        while _settle(s, heap, &u, &d):
            e.target = <int32_t>j
            e.initial = s.node[u].initial
            e.w = d
            e.dur = s.node[u].dur
            e.dist = s.node[u].dist
            b_node.push_back(u)
            b_entry.push_back(e)
            if not _stalled(s, fwd_off, fwd_head, fwd_w, u, d):
                _relax(s, heap, bwd_off, bwd_tail, bwd_w, arc_dur, arc_dist, n_fwd, u, d)
    # bucket entries grouped by node (CSR)
    cdef Py_ssize_t nb = b_node.size()
    cdef vector[int64_t] b_off
    cdef vector[Entry] buckets
    b_off.resize(n + 1, 0)
    for k in range(nb):
        b_off[b_node[k] + 1] += 1
    for k in range(n):
        b_off[k + 1] += b_off[k]
    buckets.resize(nb)
    cdef vector[int64_t] fill = b_off
    for k in range(nb):
        buckets[fill[b_node[k]]] = b_entry[k]
        fill[b_node[k]] += 1
    vector[Entry]().swap(b_entry)
    # --- forward searches: scan the buckets ---------------------------------------------------------------------
    weights = np.full((ns, nt), np.inf)
    durations = np.full((ns, nt), np.inf)
    distances = np.full((ns, nt), np.inf)
    cdef double[:, ::1] W = weights, D = durations, L = distances
    cdef Py_ssize_t row
    for row in range(ns):
        _seed(s, heap, s_node, s_w, s_dur, s_dist, s_off[row], s_off[row + 1])
        while _settle(s, heap, &u, &d):
            for k in range(b_off[u], b_off[u + 1]):
                e = buckets[k]
                c = d + e.w
                cd = s.node[u].dur + e.dur
                cl = s.node[u].dist + e.dist
                if c < 0:
                    if not (s.node[u].initial and e.initial) or loop_w[u] == INT32_MAX:
                        continue
                    c += loop_w[u]
                    cd += loop_dur[u]
                    cl += loop_dist[u]
                if c < W[row, e.target]:
                    W[row, e.target] = c
                    D[row, e.target] = cd
                    L[row, e.target] = cl
            if not _stalled(s, bwd_off, bwd_tail, bwd_w, u, d):
                _relax(s, heap, fwd_off, fwd_head, fwd_w, arc_dur, arc_dist, 0, u, d)
    return weights, durations, distances
