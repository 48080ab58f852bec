# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Contraction hierarchies in C++: node contraction with witness searches (optionally leaving a core), and the
bidirectional query with stall-on-demand and shortcut unpacking.

Weights are integer milliseconds so shortcut sums are exact and the hierarchy is deterministic.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint8_t
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

cnp.import_array()


cdef object _array(vector[int32_t]& v):
    cdef Py_ssize_t n = v.size()
    return np.asarray(<int32_t[:n]>v.data()).copy() if n else np.zeros(0, np.int32)


cdef object _gather(vector[int32_t]& v, object index):
    """``v[index]`` as a new array (all of ``v`` when index is None), then ``v`` freed."""
    cdef Py_ssize_t n = v.size()
    view = np.asarray(<int32_t[:n]>v.data()) if n else np.zeros(0, np.int32)
    out = view.copy() if index is None else view[index]
    del view
    vector[int32_t]().swap(v)
    return out


cdef tuple _by_node(vector[int32_t]& nodes, vector[int32_t]& arcs, Py_ssize_t n):
    """A hierarchy list as CSR: ``arcs`` sorted by their ``nodes`` (stable) and the offsets; both vectors freed."""
    by = _gather(nodes, None)
    sorted_arcs = _gather(arcs, np.argsort(by, kind="stable"))
    off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(by, minlength=n), out=off[1:])
    return sorted_arcs, off


cdef object _renumber(object arcs, object new_id):
    """Arc ids (-1 = none) in their exported numbering, in place."""
    has = arcs >= 0
    arcs[has] = new_id[arcs[has]]
    return arcs


# --- contraction ------------------------------------------------------------------------------------------------

cdef class _Contractor:
    cdef int32_t n
    cdef vector[int32_t] a_tail, a_head, a_w, a_c1, a_c2, a_hops, a_label
    cdef vector[vector[int32_t]] out_adj, in_adj
    cdef vector[int64_t] dist
    cdef vector[int32_t] stamp, target
    cdef int32_t cur
    # _add_shortcuts' map from a tail's heads to their arcs
    cdef vector[int32_t] head_arc, head_stamp
    cdef int32_t head_cur
    cdef vector[int32_t] depth
    cdef vector[uint8_t] done
    cdef vector[int32_t] loop_w, loop_c1, loop_c2
    cdef int settle_limit
    cdef public int ordered_settle_limit
    cdef public int64_t relax_limit, ordered_relax_limit
    cdef bint update_neighbours
    cdef public int64_t n_prio, n_settled, report_every
    cdef public int64_t core_degree, core_size, soft_core_degree, soft_core_nodes, ordered_nodes
    # the current contraction's scratch
    cdef vector[int32_t] sc_tail, sc_head, sc_w, sc_c1, sc_c2

    def __cinit__(self, int32_t n, const int32_t[::1] tail, const int32_t[::1] head, const int32_t[::1] weight,
                  const int32_t[::1] label, int settle_limit, bint update_neighbours):
        cdef Py_ssize_t i
        self.n = n
        self.settle_limit = settle_limit
        self.ordered_settle_limit = settle_limit
        self.relax_limit = 0
        self.ordered_relax_limit = 0
        self.update_neighbours = update_neighbours
        self.report_every = 100000
        self.core_degree = 0
        self.core_size = 0
        self.soft_core_degree = 0
        self.soft_core_nodes = 0
        self.ordered_nodes = 0
        self.out_adj.resize(n)
        self.in_adj.resize(n)
        self.dist.resize(n, 0)
        self.stamp.resize(n, 0)
        self.target.resize(n, 0)
        self.cur = 0
        self.head_arc.resize(n, -1)
        self.head_stamp.resize(n, 0)
        self.head_cur = 0
        self.depth.resize(n, 0)
        self.done.resize(n, 0)
        self.loop_w.resize(n, INT32_MAX)
        self.loop_c1.resize(n, -1)
        self.loop_c2.resize(n, -1)
        for i in range(tail.shape[0]):
            if tail[i] != head[i]:  # self-loops never lie on a shortest path
                self._add_arc(tail[i], head[i], weight[i], -1, -1, 1, label[i])

    cdef int32_t _new_arc(self, int32_t u, int32_t x, int32_t w, int32_t c1, int32_t c2, int32_t hops,
                          int32_t label):
        self.a_label.push_back(label)
        self.a_tail.push_back(u)
        self.a_head.push_back(x)
        self.a_w.push_back(w)
        self.a_c1.push_back(c1)
        self.a_c2.push_back(c2)
        self.a_hops.push_back(hops)
        return <int32_t>(self.a_w.size() - 1)

    cdef void _loop(self, int32_t u, int32_t w, int32_t c1, int32_t c2):
        if w < self.loop_w[u]:
            self.loop_w[u] = w
            self.loop_c1[u] = c1
            self.loop_c2[u] = c2

    cdef void _add_arc(self, int32_t u, int32_t x, int32_t w, int32_t c1, int32_t c2, int32_t hops,
                       int32_t label):
        """Add u->x, or lower the weight of an existing u->x (it is no child of any shortcut yet)."""
        cdef size_t i
        cdef int32_t a
        for i in range(self.out_adj[u].size()):
            a = self.out_adj[u][i]
            if self.a_head[a] == x:
                if w < self.a_w[a]:
                    self.a_w[a] = w
                    self.a_c1[a] = c1
                    self.a_c2[a] = c2
                    self.a_hops[a] = hops
                    self.a_label[a] = label
                return
        a = self._new_arc(u, x, w, c1, c2, hops, label)
        self.out_adj[u].push_back(a)
        self.in_adj[x].push_back(a)

    cdef void _witness(self, int32_t s, int32_t skip, int64_t limit, int targets):
        """Dijkstra from ``s`` avoiding ``skip``, until ``targets`` marked nodes are settled, beyond ``limit``,
        after settle_limit settled nodes or (relax_limit > 0) once that many arcs are relaxed."""
        cdef priority_queue[pair[int64_t, int32_t]] heap
        cdef pair[int64_t, int32_t] top
        cdef int32_t u, x, a
        cdef int64_t d, nd
        cdef int settled = 0
        cdef int64_t relaxed = 0
        cdef size_t i
        self.stamp[s] = self.cur
        self.dist[s] = 0
        heap.push(pair[int64_t, int32_t](0, s))
        while not heap.empty():
            top = heap.top()
            heap.pop()
            d = -top.first
            u = top.second
            if d > self.dist[u]:
                continue
            if d > limit:
                break
            settled += 1
            self.n_settled += 1
            if self.target[u] == self.cur:
                targets -= 1
                if targets <= 0:
                    break
            if settled > self.settle_limit or (self.relax_limit > 0 and relaxed > self.relax_limit):
                break
            relaxed += self.out_adj[u].size()
            for i in range(self.out_adj[u].size()):
                a = self.out_adj[u][i]
                x = self.a_head[a]
                if x == skip:
                    continue
                nd = d + self.a_w[a]
                if self.stamp[x] != self.cur or nd < self.dist[x]:
                    self.stamp[x] = self.cur
                    self.dist[x] = nd
                    heap.push(pair[int64_t, int32_t](-nd, x))

    cdef void _shortcuts(self, int32_t m):
        """Fill the scratch with the shortcuts contracting ``m`` needs (self-loops included)."""
        cdef size_t i, j
        cdef int32_t a1, a2, u, x
        cdef int64_t w, limit
        cdef int targets
        self.sc_tail.clear()
        self.sc_head.clear()
        self.sc_w.clear()
        self.sc_c1.clear()
        self.sc_c2.clear()
        for i in range(self.in_adj[m].size()):
            a1 = self.in_adj[m][i]
            u = self.a_tail[a1]
            limit = -1
            targets = 0
            self.cur += 1
            for j in range(self.out_adj[m].size()):
                a2 = self.out_adj[m][j]
                x = self.a_head[a2]
                if x != u:
                    limit = max(limit, <int64_t>self.a_w[a1] + self.a_w[a2])
                    if self.target[x] != self.cur:
                        self.target[x] = self.cur
                        targets += 1
            if limit >= 0:
                self._witness(u, m, limit, targets)
            for j in range(self.out_adj[m].size()):
                a2 = self.out_adj[m][j]
                x = self.a_head[a2]
                w = <int64_t>self.a_w[a1] + self.a_w[a2]
                if x != u and self.stamp[x] == self.cur and self.dist[x] <= w:
                    continue  # witness path
                if x == u and w >= self.loop_w[u]:
                    continue
                self.sc_tail.push_back(u)
                self.sc_head.push_back(x)
                self.sc_w.push_back(<int32_t>min(w, <int64_t>INT32_MAX - 1))
                self.sc_c1.push_back(a1)
                self.sc_c2.push_back(a2)

    cdef double _priority(self, int32_t m):
        """OSRM's node priority: added/removed edges, added/removed original edges, and depth."""
        self.n_prio += 1
        cdef size_t i
        cdef int64_t removed = self.in_adj[m].size() + self.out_adj[m].size(), removed_hops = 0
        cdef int64_t added = 0, added_hops = 0
        for i in range(self.in_adj[m].size()):
            removed_hops += self.a_hops[self.in_adj[m][i]]
        for i in range(self.out_adj[m].size()):
            removed_hops += self.a_hops[self.out_adj[m][i]]
        self._shortcuts(m)
        for i in range(self.sc_tail.size()):
            if self.sc_tail[i] != self.sc_head[i]:
                added += 1
                added_hops += self.a_hops[self.sc_c1[i]] + self.a_hops[self.sc_c2[i]]
        if removed == 0 or removed_hops == 0:
            return self.depth[m]
        return 2.0 * added / removed + 4.0 * added_hops / removed_hops + self.depth[m]

    cdef void _remove(self, vector[int32_t]& lst, int32_t a):
        cdef size_t i
        for i in range(lst.size()):
            if lst[i] == a:
                lst[i] = lst[lst.size() - 1]
                lst.pop_back()
                return

    cdef void _add_shortcuts(self):
        """Add the scratch's shortcuts (or lower existing arcs to their weight). They come grouped by tail, so
        each tail's heads are mapped to their arcs once: linear in the tail's degree, not quadratic."""
        cdef size_t j, i
        cdef int32_t u = -1, x, a, hops
        for j in range(self.sc_tail.size()):
            if self.sc_tail[j] == self.sc_head[j]:
                self._loop(self.sc_tail[j], self.sc_w[j], self.sc_c1[j], self.sc_c2[j])
                continue
            if self.sc_tail[j] != u:
                u = self.sc_tail[j]
                self.head_cur += 1
                if self.head_cur == INT32_MAX:
                    for i in range(self.head_stamp.size()):
                        self.head_stamp[i] = 0
                    self.head_cur = 1
                for i in range(self.out_adj[u].size()):
                    a = self.out_adj[u][i]
                    self.head_arc[self.a_head[a]] = a
                    self.head_stamp[self.a_head[a]] = self.head_cur
            x = self.sc_head[j]
            hops = self.a_hops[self.sc_c1[j]] + self.a_hops[self.sc_c2[j]]
            if self.head_stamp[x] == self.head_cur:
                a = self.head_arc[x]
                if self.sc_w[j] < self.a_w[a]:
                    self.a_w[a] = self.sc_w[j]
                    self.a_c1[a] = self.sc_c1[j]
                    self.a_c2[a] = self.sc_c2[j]
                    self.a_hops[a] = hops
                    self.a_label[a] = -1
                continue
            a = self._new_arc(u, x, self.sc_w[j], self.sc_c1[j], self.sc_c2[j], hops, -1)
            self.out_adj[u].push_back(a)
            self.in_adj[x].push_back(a)
            self.head_arc[x] = a
            self.head_stamp[x] = self.head_cur

    cdef void _contract_node(self, int32_t m, vector[int32_t]& f_node, vector[int32_t]& f_arc,
                             vector[int32_t]& b_node, vector[int32_t]& b_arc, vector[int32_t]& nbrs):
        """Contract ``m`` with the shortcuts in the scratch: add them, move m's arcs to the hierarchy's lists and
        leave m's neighbours in ``nbrs``."""
        cdef size_t j
        cdef int32_t a, x
        self._add_shortcuts()
        self.done[m] = 1
        nbrs.clear()
        for j in range(self.out_adj[m].size()):
            a = self.out_adj[m][j]
            x = self.a_head[a]
            f_node.push_back(m)
            f_arc.push_back(a)
            self._remove(self.in_adj[x], a)
            self.depth[x] = max(self.depth[x], self.depth[m] + 1)
            nbrs.push_back(x)
        for j in range(self.in_adj[m].size()):
            a = self.in_adj[m][j]
            x = self.a_tail[a]
            b_node.push_back(m)
            b_arc.push_back(a)
            self._remove(self.out_adj[x], a)
            self.depth[x] = max(self.depth[x], self.depth[m] + 1)
            nbrs.push_back(x)
        vector[int32_t]().swap(self.out_adj[m])
        vector[int32_t]().swap(self.in_adj[m])

    def run(self, progress=None, core_order=None):
        """Contract every node; return the hierarchy as arrays (see lds.graph.prepare for their meaning).

        When contraction by priority stops early (the core limits), ``core_order(nodes, tails, heads)`` — given
        the nodes left and the arcs between them — may return the order in which to contract those too (a nested
        dissection: separators last); without it they stay a core."""
        cdef priority_queue[pair[double, int32_t]] queue
        cdef pair[double, int32_t] top
        cdef int32_t m, x, i
        cdef size_t j
        cdef double prio
        cdef int64_t order = 0, degree, k
        cdef vector[int32_t] rank
        cdef vector[int32_t] f_node, f_arc, b_node, b_arc
        cdef vector[double] cur_prio
        cdef vector[int32_t] nbrs
        rank.resize(self.n, -1)
        cur_prio.resize(self.n, 0)
        for i in range(self.n):
            cur_prio[i] = self._priority(i)
            queue.push(pair[double, int32_t](-cur_prio[i], i))
        while not queue.empty():
            top = queue.top()
            queue.pop()
            m = top.second
            if self.done[m] or -top.first != cur_prio[m]:
                continue  # contracted, or a stale entry
            degree = <int64_t>(self.in_adj[m].size() + self.out_adj[m].size())
            if self.core_degree > 0 and degree > self.core_degree:
                break  # even the cheapest node is dense now: leave the rest as the core
            if self.soft_core_degree > 0 and degree > self.soft_core_degree and self.n - order > self.soft_core_nodes:
                break  # dense while much is left: the hierarchy is densifying (grid-like), stop here
            prio = self._priority(m)  # also leaves m's shortcuts in the scratch
            if prio != cur_prio[m] and not queue.empty() and prio > -queue.top().first + 1e-9:
                cur_prio[m] = prio
                queue.push(pair[double, int32_t](-prio, m))
                continue
            self._contract_node(m, f_node, f_arc, b_node, b_arc, nbrs)
            rank[m] = <int32_t>order
            order += 1
            if self.update_neighbours:
                for j in range(nbrs.size()):
                    x = nbrs[j]
                    if self.done[x]:
                        continue
                    prio = self._priority(x)
                    if prio != cur_prio[x]:
                        cur_prio[x] = prio
                        queue.push(pair[double, int32_t](-prio, x))
            if progress is not None and order % self.report_every == 0:
                progress(order, self.n)
        if core_order is not None and order < self.n:
            self.ordered_nodes = self.n - order
            self.settle_limit = self.ordered_settle_limit
            self.relax_limit = self.ordered_relax_limit
            for m in core_order(*self._left()):
                self._shortcuts(m)
                self._contract_node(m, f_node, f_arc, b_node, b_arc, nbrs)
                rank[m] = <int32_t>order
                order += 1
                if progress is not None and order % self.report_every == 0:
                    progress(order, self.n)
        # The core (uncontracted nodes, when contraction stopped early) keeps every arc between its nodes in
        # both lists, so the query runs a plain bidirectional Dijkstra once both searches are inside it.
        self.core_size = 0
        for m in range(self.n):
            if self.done[m]:
                continue
            self.core_size += 1
            rank[m] = <int32_t>order
            order += 1
            for j in range(self.out_adj[m].size()):
                f_node.push_back(m)
                f_arc.push_back(self.out_adj[m][j])
            for j in range(self.in_adj[m].size()):
                b_node.push_back(m)
                b_arc.push_back(self.in_adj[m][j])
        return self._export(rank, f_node, f_arc, b_node, b_arc)

    cdef tuple _left(self):
        """The nodes not contracted yet and the arcs between them (tails, heads)."""
        cdef vector[int32_t] nodes, tails, heads
        cdef int32_t m
        cdef size_t j
        for m in range(self.n):
            if self.done[m]:
                continue
            nodes.push_back(m)
            for j in range(self.out_adj[m].size()):
                tails.push_back(m)
                heads.push_back(self.a_head[self.out_adj[m][j]])
        return _array(nodes), _array(tails), _array(heads)

    cdef dict _export(self, vector[int32_t]& rank, vector[int32_t]& f_node, vector[int32_t]& f_arc,
                      vector[int32_t]& b_node, vector[int32_t]& b_arc):
        """The hierarchy as arrays, each gathered straight from the contractor's vectors, which are freed as soon
        as they are read (the arcs dominate a grid's memory: one copy of them at a time, not three)."""
        cdef Py_ssize_t nf = f_arc.size(), nb = b_arc.size(), n = self.n
        vector[int32_t]().swap(self.a_hops)
        fa, fwd_off = _by_node(f_node, f_arc, n)
        ba, bwd_off = _by_node(b_node, b_arc, n)
        order = np.concatenate([fa, ba])
        new_id = np.full(self.a_w.size(), -1, np.int32)
        new_id[order] = np.arange(nf + nb, dtype=np.int32)
        out = {"rank": _array(rank), "fwd_off": fwd_off, "bwd_off": bwd_off}
        out["bwd_tail"] = _gather(self.a_tail, ba)
        w = _gather(self.a_w, order)
        out["fwd_w"], out["bwd_w"] = w[:nf], w[nf:]
        out["arc_head"] = _gather(self.a_head, order)
        out["fwd_head"] = out["arc_head"][:nf]
        out["arc_label"] = _gather(self.a_label, order)
        out["arc_c1"] = _renumber(_gather(self.a_c1, order), new_id)
        out["arc_c2"] = _renumber(_gather(self.a_c2, order), new_id)
        out["loop_c1"] = _renumber(_array(self.loop_c1), new_id)
        out["loop_c2"] = _renumber(_array(self.loop_c2), new_id)
        out["loop_w"] = _array(self.loop_w)
        return out


def contract(int32_t n, const int32_t[::1] tail, const int32_t[::1] head, const int32_t[::1] weight,
             const int32_t[::1] label, int settle_limit=500, bint update_neighbours=True, progress=None,
             int64_t report_every=0, int64_t core_degree=0, int64_t soft_core_degree=0,
             double soft_core_share=0.0, core_order=None, int ordered_settle_limit=0,
             int64_t ordered_relax_limit=0):
    """Contraction hierarchy of a directed graph with integer weights: nodes contracted in order of OSRM's
    priority, re-evaluated for the neighbours of each contracted node and lazily when popped.

    With ``core_degree`` > 0 contraction stops once the cheapest node left has more arcs than that; with
    ``soft_core_degree`` > 0 it already stops at that many arcs while more than ``soft_core_share`` of the nodes
    are left. ``core_order(nodes, tails, heads)`` then orders the nodes left (a nested dissection,
    lds.graph.dissection) and they are contracted in that order too; without it they form a core searched by
    plain bidirectional Dijkstra (what OSRM's core factor does). Either bounds the build on networks whose
    hierarchy densifies (grids with turn costs). ``ordered_settle_limit`` > 0 bounds the witness searches of
    the ordered part instead of ``settle_limit``, and ``ordered_relax_limit`` > 0 stops them once they have
    relaxed that many arcs: its nodes are dense, so each settled node costs many arcs, and the order, not the
    witnesses, is what keeps its shortcuts few."""
    c = _Contractor(n, tail, head, weight, label, settle_limit, update_neighbours)
    c.ordered_settle_limit = ordered_settle_limit if ordered_settle_limit > 0 else settle_limit
    c.ordered_relax_limit = ordered_relax_limit
    if report_every:
        c.report_every = report_every
    c.core_degree = core_degree
    c.soft_core_degree = soft_core_degree
    c.soft_core_nodes = <int64_t>(soft_core_share * n)
    out = c.run(progress, core_order)
    out["_stats"] = (c.n_prio, c.n_settled)
    out["ordered_nodes"] = np.array([c.ordered_nodes], dtype=np.int64)
    out["core_size"] = np.array([c.core_size], dtype=np.int64)
    return out


# --- query --------------------------------------------------------------------------------------------------------

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
    cdef vector[double] df, db
    cdef vector[int32_t] pf, pb, sf, sb
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
        self.df.resize(n, 0)
        self.db.resize(n, 0)
        self.pf.resize(n, -1)
        self.pb.resize(n, -1)
        self.sf.resize(n, 0)
        self.sb.resize(n, 0)
        self.stamp = 0
        self.settled = 0

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
            for k in range(<Py_ssize_t>self.sf.size()):
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
