# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The routing hierarchy's query in C++: bidirectional upward Dijkstra with stall-on-demand, and shortcut unpacking
(the hierarchy itself is built by lds.graph._ch).

Weights are integer milliseconds, as the hierarchy's. Arcs are numbered forward lists first, then backward ones; an
arc's unpacking is one int32 (``arc_unpack``: its first half when it is a shortcut, else ``~edge``, the road edge it
stands for) plus its second half (``arc_c2``). The contraction writes a head and a label per arc beside the halves
(-1 for an original arc); the build's derived stage folds the label into the first half and drops both
(lds.build.derived.compact_arcs): an arc's head is the owner of the list that holds it."""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdint cimport INT32_MAX, int32_t, int64_t
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector
from posix.mman cimport munmap

from lds.graph._zero_pages cimport release_pages, resident_bytes, zero_pages

cnp.import_array()


cdef struct Label:
    # One node's labels of both searches side by side: a node a query touches maps one page and one cache line
    # (32 bytes, aligned), not one in each of six arrays.
    double df
    double db
    int32_t pf
    int32_t pb
    int32_t sf
    int32_t sb


cdef class CHQuery:
    """Bidirectional upward Dijkstra with stall-on-demand over the hierarchy, plus shortcut unpacking.

    ``CHQuery(fwd_off, fwd_head, fwd_w, bwd_off, bwd_tail, bwd_w, arc_unpack, arc_c2, loop_w, loop_c1, loop_c2)``;
    the contraction's own layout (``..., arc_head, arc_label, arc_c1, arc_c2, loop_w, loop_c1, loop_c2``: -1 as the
    first half of an original arc, whose edge is then read from the labels) is taken too. ``rank``/``node``: a
    hierarchy numbered by rank (lds.graph._ch) maps the graph's nodes to its own (``rank``) and back (``node``):
    every node given to or returned by a query is the graph's. Not re-entrant: one instance per thread (or a lock),
    since the labels live in the instance.
    """

    cdef const int64_t[::1] fwd_off
    cdef const int32_t[::1] fwd_head
    cdef const int32_t[::1] fwd_w
    cdef const int64_t[::1] bwd_off
    cdef const int32_t[::1] bwd_tail
    cdef const int32_t[::1] bwd_w
    cdef const int32_t[::1] arc_unpack
    cdef const int32_t[::1] arc_label  # the contraction's layout only (else empty)
    cdef bint labelled
    cdef const int32_t[::1] arc_c2
    cdef const int32_t[::1] loop_w
    cdef const int32_t[::1] loop_c1
    cdef const int32_t[::1] loop_c2
    cdef int64_t n_fwd
    cdef const int32_t[::1] to_ch  # graph node -> hierarchy node (empty: the same numbers)
    cdef const int32_t[::1] from_ch
    cdef bint mapped
    # Labels per node in an anonymous map, zero until written and read only where a node's stamp is the query's:
    # pages no query touched stay unmapped (a server holds none at start-up, a worker only those its queries reached).
    cdef Label* lab
    cdef size_t lab_bytes
    cdef Py_ssize_t n_nodes
    cdef int32_t stamp
    cdef public int64_t settled

    def __cinit__(self, fwd_off, fwd_head, fwd_w, bwd_off, bwd_tail, bwd_w, *arcs, rank=None, node=None):
        self.labelled = len(arcs) == 7
        if self.labelled:  # the contraction's layout: head (not needed), label, c1, c2, loops
            self.arc_label = arcs[1]
            arcs = arcs[2:]
        if len(arcs) != 5:
            raise TypeError("CHQuery takes the forward and backward lists, the arcs' unpacking and the loops")
        self.fwd_off = fwd_off
        self.fwd_head = fwd_head
        self.fwd_w = fwd_w
        self.bwd_off = bwd_off
        self.bwd_tail = bwd_tail
        self.bwd_w = bwd_w
        self.arc_unpack = arcs[0]
        self.arc_c2 = arcs[1]
        self.loop_w = arcs[2]
        self.loop_c1 = arcs[3]
        self.loop_c2 = arcs[4]
        self.n_fwd = fwd_head.shape[0]
        n = fwd_off.shape[0] - 1
        self.mapped = rank is not None
        if self.mapped:
            if node is None or len(rank) != n or len(node) != n:
                raise ValueError("a hierarchy numbered by rank needs both maps, one number per node")
            self.to_ch = rank
            self.from_ch = node
        self.n_nodes = n
        self.lab_bytes = max(n, 1) * sizeof(Label)
        self.lab = <Label*>zero_pages(self.lab_bytes, "routing hierarchy query labels")
        self.stamp = 0
        self.settled = 0

    def __dealloc__(self):
        if self.lab != NULL:
            munmap(self.lab, self.lab_bytes)

    def resident_bytes(self) -> int:
        """Bytes of label pages this process holds: those its queries wrote since the last :meth:`release`."""
        return resident_bytes(self.lab, self.lab_bytes)

    def release(self):
        """Hand the label pages back to the system (they read as zero again: every stamp starts over)."""
        release_pages(self.lab, self.lab_bytes)
        self.stamp = 0

    cdef inline int32_t _ch(self, int32_t u):
        """The hierarchy's number of graph node ``u``."""
        return self.to_ch[u] if self.mapped else u

    cdef inline int32_t _arc_w(self, int32_t a):
        return self.fwd_w[a] if a < self.n_fwd else self.bwd_w[a - self.n_fwd]

    cdef void _unpack(self, int32_t arc, vector[int32_t]& edges, vector[int32_t]& wts):
        cdef vector[int32_t] stack
        cdef int32_t a, c
        stack.push_back(arc)
        while not stack.empty():
            a = stack.back()
            stack.pop_back()
            c = self.arc_unpack[a]
            if c < 0:
                edges.push_back(self.arc_label[a] if self.labelled else ~c)
                wts.push_back(self._arc_w(a))
            else:
                stack.push_back(self.arc_c2[a])
                stack.push_back(c)

    cdef void _next_stamp(self):
        cdef Py_ssize_t k
        self.stamp += 1
        if self.stamp == INT32_MAX:
            for k in range(self.n_nodes):
                self.lab[k].sf = 0
                self.lab[k].sb = 0
            self.stamp = 1

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
        cdef Label* L = self.lab
        self._next_stamp()
        cdef int32_t st = self.stamp
        for k in range(src.shape[0]):
            s = self._ch(src[k])
            if L[s].sf != st or src_d[k] < L[s].df:
                L[s].sf = st
                L[s].df = src_d[k]
                L[s].pf = -1
                qf.push(pair[double, int32_t](-src_d[k], s))
            off_f = min(off_f, src_d[k])
        for k in range(tgt.shape[0]):
            s = self._ch(tgt[k])
            if L[s].sb != st or tgt_d[k] < L[s].db:
                L[s].sb = st
                L[s].db = tgt_d[k]
                L[s].pb = -1
                qb.push(pair[double, int32_t](-tgt_d[k], s))
            off_b = min(off_b, tgt_d[k])
        # A source that is also a target: straight along the edge when the target lies ahead, else a loop.
        for k in range(src.shape[0]):
            s = self._ch(src[k])
            if L[s].sb == st and L[s].pb == -1:
                c = L[s].df + L[s].db
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
                if d > L[u].df:
                    continue
                self.settled += 1
                if L[u].sb == st and not (L[u].pf == -1 and L[u].pb == -1):
                    c = d + L[u].db
                    if c < best:
                        best, meet, loop_meet = c, u, False
                stalled = False
                for i in range(self.bwd_off[u], self.bwd_off[u + 1]):
                    x = self.bwd_tail[i]
                    if L[x].sf == st and L[x].df + self.bwd_w[i] < d:
                        stalled = True
                        break
                if not stalled:
                    for i in range(self.fwd_off[u], self.fwd_off[u + 1]):
                        x = self.fwd_head[i]
                        nd = d + self.fwd_w[i]
                        if L[x].sf != st or nd < L[x].df:
                            L[x].sf = st
                            L[x].df = nd
                            L[x].pf = <int32_t>i
                            qf.push(pair[double, int32_t](-nd, x))
            else:
                top = qb.top()
                qb.pop()
                d = -top.first
                u = top.second
                if d > L[u].db:
                    continue
                self.settled += 1
                if L[u].sf == st and not (L[u].pf == -1 and L[u].pb == -1):
                    c = d + L[u].df
                    if c < best:
                        best, meet, loop_meet = c, u, False
                stalled = False
                for i in range(self.fwd_off[u], self.fwd_off[u + 1]):
                    x = self.fwd_head[i]
                    if L[x].sb == st and L[x].db + self.fwd_w[i] < d:
                        stalled = True
                        break
                if not stalled:
                    for i in range(self.bwd_off[u], self.bwd_off[u + 1]):
                        x = self.bwd_tail[i]
                        nd = d + self.bwd_w[i]
                        if L[x].sb != st or nd < L[x].db:
                            L[x].sb = st
                            L[x].db = nd
                            L[x].pb = <int32_t>(i + self.n_fwd)
                            qb.push(pair[double, int32_t](-nd, x))
            fwd_turn = not fwd_turn
        if meet < 0:
            return None
        return best, *self._path(meet, loop_meet)

    def upward(self, bint forward, const int32_t[::1] seeds, const double[::1] seed_d, double limit):
        """Every node the plain upward search (no stalling) from ``seeds`` (at their costs) settles within
        ``limit``, in settling order, with its cost: the forward search's or, with ``forward`` False, the backward
        one's. The alternatives' via-node candidates (lds.routing_alternatives); the integer weights are added
        exactly, in the labels of the hierarchy query (no array of float weights or costs of its own)."""
        cdef const int64_t[::1] off = self.fwd_off if forward else self.bwd_off
        cdef const int32_t[::1] adj = self.fwd_head if forward else self.bwd_tail
        cdef const int32_t[::1] w = self.fwd_w if forward else self.bwd_w
        cdef priority_queue[pair[double, int32_t]] heap
        cdef pair[double, int32_t] top
        cdef vector[int32_t] out_nodes
        cdef vector[double] out_cost
        cdef Label* L = self.lab
        cdef Py_ssize_t k
        cdef int64_t i
        cdef int32_t u, x
        cdef double d, nd
        self._next_stamp()
        cdef int32_t st = self.stamp
        for k in range(seeds.shape[0]):
            u = self._ch(seeds[k])
            d = seed_d[k]
            if d <= limit and (L[u].sf != st or d < L[u].df):
                L[u].sf = st
                L[u].df = d
                heap.push(pair[double, int32_t](-d, u))
        while not heap.empty():
            top = heap.top()
            heap.pop()
            d = -top.first
            u = top.second
            if d > L[u].df:
                continue  # a stale entry
            out_nodes.push_back(u)
            out_cost.push_back(d)
            for i in range(off[u], off[u + 1]):
                nd = d + w[i]
                if nd > limit:
                    continue
                x = adj[i]
                if L[x].sf != st or nd < L[x].df:
                    L[x].sf = st
                    L[x].df = nd
                    heap.push(pair[double, int32_t](-nd, x))
        nodes = np.empty(out_nodes.size(), np.int32)
        costs = np.empty(out_nodes.size(), np.float64)
        cdef int32_t[::1] nv = nodes
        cdef double[::1] cv = costs
        for k in range(<Py_ssize_t>out_nodes.size()):
            nv[k] = self.from_ch[out_nodes[k]] if self.mapped else out_nodes[k]
            cv[k] = out_cost[k]
        return nodes, costs

    cdef tuple _path(self, int32_t meet, bint loop_meet):
        cdef vector[int32_t] up, edges, wts
        cdef int32_t u = meet, a
        cdef Py_ssize_t k
        cdef Label* L = self.lab
        while L[u].pf != -1:
            a = L[u].pf
            up.push_back(a)
            u = _owner(self.fwd_off, a)  # a forward arc's tail: the node whose list holds it
        first = self.from_ch[u] if self.mapped else u
        for k in range(<Py_ssize_t>up.size() - 1, -1, -1):
            self._unpack(up[k], edges, wts)
        if loop_meet:
            self._unpack(self.loop_c1[meet], edges, wts)
            self._unpack(self.loop_c2[meet], edges, wts)
        u = meet
        while L[u].pb != -1:
            a = L[u].pb
            self._unpack(a, edges, wts)
            u = _owner(self.bwd_off, a - self.n_fwd)  # a backward arc's head: the node whose list holds it
        ne, nw = edges.size(), wts.size()
        last = self.from_ch[u] if self.mapped else u
        path = np.empty(ne, np.int32)
        arcw = np.empty(nw, np.int32)
        cdef int32_t[::1] pv = path, wv = arcw
        for k in range(<Py_ssize_t>ne):
            pv[k] = edges[k]
        for k in range(<Py_ssize_t>nw):
            wv[k] = wts[k]
        return first, last, path, arcw


cdef inline int32_t _owner(const int64_t[::1] off, int64_t a):
    """The node whose list (CSR offsets ``off``) holds entry ``a``: a binary search, run only along a found path's
    few hierarchy arcs."""
    cdef int64_t lo = 0, hi = off.shape[0] - 2, mid
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if off[mid] <= a:
            lo = mid
        else:
            hi = mid - 1
    return <int32_t>lo
