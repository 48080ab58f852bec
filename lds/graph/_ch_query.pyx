# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The routing hierarchy's query in C++: bidirectional upward Dijkstra with stall-on-demand, and shortcut unpacking
(the hierarchy itself is built by lds.graph._ch).

Weights are integer milliseconds, as the hierarchy's."""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdlib cimport calloc, free
from libc.stdint cimport INT32_MAX, int32_t, int64_t
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

cnp.import_array()

cdef class CHQuery:
    """Bidirectional upward Dijkstra with stall-on-demand over the hierarchy, plus shortcut unpacking.

    Not re-entrant: one instance per thread (or a lock), since the labels live in the instance.
    """

    cdef const int64_t[::1] fwd_off
    cdef const int32_t[::1] fwd_head
    cdef const int32_t[::1] fwd_w
    cdef const int64_t[::1] bwd_off
    cdef const int32_t[::1] bwd_tail
    cdef const int32_t[::1] bwd_w
    cdef const int32_t[::1] arc_head
    cdef const int32_t[::1] arc_label
    cdef const int32_t[::1] arc_c1
    cdef const int32_t[::1] arc_c2
    cdef const int32_t[::1] loop_w
    cdef const int32_t[::1] loop_c1
    cdef const int32_t[::1] loop_c2
    cdef int64_t n_fwd
    # Labels per node, zero-filled by calloc and read only where a node's stamp is the query's: pages no query
    # touched stay unmapped (a server holds none at start-up, a worker only those its queries reached), where
    # filled vectors held 32 bytes per node per mode in every process (540 MB for the car graph of 20M OSM nodes).
    cdef double* df
    cdef double* db
    cdef int32_t* pf
    cdef int32_t* pb
    cdef int32_t* sf
    cdef int32_t* sb
    cdef Py_ssize_t n_nodes
    cdef int32_t stamp
    cdef public int64_t settled

    def __cinit__(self, fwd_off, fwd_head, fwd_w, bwd_off, bwd_tail, bwd_w, arc_head, arc_label, arc_c1, arc_c2,
                  loop_w, loop_c1, loop_c2):
        self.fwd_off = fwd_off
        self.fwd_head = fwd_head
        self.fwd_w = fwd_w
        self.bwd_off = bwd_off
        self.bwd_tail = bwd_tail
        self.bwd_w = bwd_w
        self.arc_head = arc_head
        self.arc_label = arc_label
        self.arc_c1 = arc_c1
        self.arc_c2 = arc_c2
        self.loop_w = loop_w
        self.loop_c1 = loop_c1
        self.loop_c2 = loop_c2
        self.n_fwd = fwd_head.shape[0]
        n = fwd_off.shape[0] - 1
        self.n_nodes = n
        self.df = <double*>calloc(max(n, 1), sizeof(double))
        self.db = <double*>calloc(max(n, 1), sizeof(double))
        self.pf = <int32_t*>calloc(max(n, 1), sizeof(int32_t))
        self.pb = <int32_t*>calloc(max(n, 1), sizeof(int32_t))
        self.sf = <int32_t*>calloc(max(n, 1), sizeof(int32_t))
        self.sb = <int32_t*>calloc(max(n, 1), sizeof(int32_t))
        if not (self.df and self.db and self.pf and self.pb and self.sf and self.sb):
            raise MemoryError("routing hierarchy query labels")
        self.stamp = 0
        self.settled = 0

    def __dealloc__(self):
        free(self.df)
        free(self.db)
        free(self.pf)
        free(self.pb)
        free(self.sf)
        free(self.sb)

    cdef inline int32_t _arc_w(self, int32_t a):
        return self.fwd_w[a] if a < self.n_fwd else self.bwd_w[a - self.n_fwd]

    cdef void _unpack(self, int32_t arc, vector[int32_t]& edges, vector[int32_t]& wts):
        cdef vector[int32_t] stack
        cdef int32_t a
        stack.push_back(arc)
        while not stack.empty():
            a = stack.back()
            stack.pop_back()
            if self.arc_c1[a] < 0:
                edges.push_back(self.arc_label[a])
                wts.push_back(self._arc_w(a))
            else:
                stack.push_back(self.arc_c2[a])
                stack.push_back(self.arc_c1[a])

    def route(self, const int32_t[::1] src, const double[::1] src_d, const int32_t[::1] tgt,
              const double[::1] tgt_d):
        """Best path from any ``src`` node (at its initial cost) to any ``tgt`` node (whose initial cost is
        added at the end; it may be negative, for a target part-way along its edge).

        Returns ``(weight, first, last, labels, arc_weights)``: the source and target node the path starts and
        ends at, the labels of the original arcs along it (the road edges) and their weights; or None when no
        target is reachable.
        """
        cdef priority_queue[pair[double, int32_t]] qf, qb
        cdef pair[double, int32_t] top
        cdef int32_t u, x, a, meet = -1, s
        cdef int64_t i
        cdef double d, nd, best = INFINITY, c, off_f = 0.0, off_b = 0.0
        cdef bint loop_meet = False, stalled, fwd_turn = True, f_open = True, b_open = True
        cdef Py_ssize_t k, kk
        self.stamp += 1
        if self.stamp == INT32_MAX:
            for k in range(self.n_nodes):
                self.sf[k] = 0
                self.sb[k] = 0
            self.stamp = 1
        for k in range(src.shape[0]):
            s = src[k]
            if self.sf[s] != self.stamp or src_d[k] < self.df[s]:
                self.sf[s] = self.stamp
                self.df[s] = src_d[k]
                self.pf[s] = -1
                qf.push(pair[double, int32_t](-src_d[k], s))
            off_f = min(off_f, src_d[k])
        for k in range(tgt.shape[0]):
            s = tgt[k]
            if self.sb[s] != self.stamp or tgt_d[k] < self.db[s]:
                self.sb[s] = self.stamp
                self.db[s] = tgt_d[k]
                self.pb[s] = -1
                qb.push(pair[double, int32_t](-tgt_d[k], s))
            off_b = min(off_b, tgt_d[k])
        # A source that is also a target: straight along the edge when the target lies ahead, else a loop.
        for k in range(src.shape[0]):
            s = src[k]
            if self.sb[s] == self.stamp and self.pb[s] == -1:
                c = self.df[s] + self.db[s]
                if c >= 0:
                    if c < best:
                        best, meet, loop_meet = c, s, False
                elif self.loop_w[s] != INT32_MAX and c + self.loop_w[s] < best:
                    best, meet, loop_meet = c + self.loop_w[s], s, True
        while True:
            f_open = f_open and not qf.empty() and -qf.top().first + off_b < best
            b_open = b_open and not qb.empty() and -qb.top().first + off_f < best
            if not f_open and not b_open:
                break
            if not b_open or (f_open and fwd_turn):
                top = qf.top()
                qf.pop()
                d = -top.first
                u = top.second
                if d > self.df[u]:
                    continue
                self.settled += 1
                if self.sb[u] == self.stamp and not (self.pf[u] == -1 and self.pb[u] == -1):
                    c = d + self.db[u]
                    if c < best:
                        best, meet, loop_meet = c, u, False
                stalled = False
                for i in range(self.bwd_off[u], self.bwd_off[u + 1]):
                    x = self.bwd_tail[i]
                    if self.sf[x] == self.stamp and self.df[x] + self.bwd_w[i] < d:
                        stalled = True
                        break
                if not stalled:
                    for i in range(self.fwd_off[u], self.fwd_off[u + 1]):
                        x = self.fwd_head[i]
                        nd = d + self.fwd_w[i]
                        if self.sf[x] != self.stamp or nd < self.df[x]:
                            self.sf[x] = self.stamp
                            self.df[x] = nd
                            self.pf[x] = <int32_t>i
                            qf.push(pair[double, int32_t](-nd, x))
            else:
                top = qb.top()
                qb.pop()
                d = -top.first
                u = top.second
                if d > self.db[u]:
                    continue
                self.settled += 1
                if self.sf[u] == self.stamp and not (self.pf[u] == -1 and self.pb[u] == -1):
                    c = d + self.df[u]
                    if c < best:
                        best, meet, loop_meet = c, u, False
                stalled = False
                for i in range(self.fwd_off[u], self.fwd_off[u + 1]):
                    x = self.fwd_head[i]
                    if self.sb[x] == self.stamp and self.db[x] + self.fwd_w[i] < d:
                        stalled = True
                        break
                if not stalled:
                    for i in range(self.bwd_off[u], self.bwd_off[u + 1]):
                        x = self.bwd_tail[i]
                        nd = d + self.bwd_w[i]
                        if self.sb[x] != self.stamp or nd < self.db[x]:
                            self.sb[x] = self.stamp
                            self.db[x] = nd
                            self.pb[x] = <int32_t>(i + self.n_fwd)
                            qb.push(pair[double, int32_t](-nd, x))
            fwd_turn = not fwd_turn
        if meet < 0:
            return None
        return best, *self._path(meet, loop_meet)

    cdef tuple _path(self, int32_t meet, bint loop_meet):
        cdef vector[int32_t] up, edges, wts
        cdef int32_t u = meet, a
        cdef Py_ssize_t k
        while self.pf[u] != -1:
            a = self.pf[u]
            up.push_back(a)
            # the tail of a forward arc: its unpacked head chain ends at u, so walk via the stored tail node
            u = self._fwd_tail(a)
        first = u
        for k in range(<Py_ssize_t>up.size() - 1, -1, -1):
            self._unpack(up[k], edges, wts)
        if loop_meet:
            self._unpack(self.loop_c1[meet], edges, wts)
            self._unpack(self.loop_c2[meet], edges, wts)
        u = meet
        while self.pb[u] != -1:
            a = self.pb[u]
            self._unpack(a, edges, wts)
            u = self.arc_head[a]
        ne, nw = edges.size(), wts.size()
        last = u
        path = np.empty(ne, np.int32)
        arcw = np.empty(nw, np.int32)
        cdef int32_t[::1] pv = path, wv = arcw
        for k in range(<Py_ssize_t>ne):
            pv[k] = edges[k]
        for k in range(<Py_ssize_t>nw):
            wv[k] = wts[k]
        return first, last, path, arcw

    cdef int32_t _fwd_tail(self, int32_t a):
        """The node whose forward list holds arc ``a`` (binary search over the CSR offsets)."""
        cdef int64_t lo = 0, hi = self.fwd_off.shape[0] - 2, mid
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.fwd_off[mid] <= a:
                lo = mid
            else:
                hi = mid - 1
        return <int32_t>lo
