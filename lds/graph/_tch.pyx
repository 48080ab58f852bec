# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Contraction hierarchy with turn costs over the node graph (Geisberger & Vetter's turn-aware contraction, as
GraphHopper's edge-based CH does it), in C++.

Nodes of the road graph are contracted; every (shortcut) arc remembers the first and last road edge it
stands for, so the turn costs at its ends can be applied when it is combined with its neighbours. Search
states are road edges: forward "arrived at the end of edge l", backward "about to drive edge f". A shortcut is
added unless, for every road edge the path could arrive at its tail by, a witness path avoiding the contracted
node reaches the same last edge as cheaply. Contracting the node graph instead of the turn-expanded one keeps
the hierarchy small on grid-like networks, where every node is a four-way crossing.

Weights and turn costs are integer milliseconds; a missing turn is forbidden.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint8_t
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

cnp.import_array()

cdef int32_t NO_TURN = INT32_MAX


cdef inline int32_t _turn(const int64_t[::1] t_off, const int32_t[::1] t_to, const int32_t[::1] t_cost,
                          int32_t l, int32_t f) nogil:
    cdef int64_t k
    for k in range(t_off[l], t_off[l + 1]):
        if t_to[k] == f:
            return t_cost[k]
    return NO_TURN


cdef class _TurnContractor:
    cdef int32_t n, m
    cdef const int32_t[::1] e_src
    cdef const int32_t[::1] e_dst
    cdef const int64_t[::1] in_off
    cdef const int32_t[::1] in_edges
    cdef const int64_t[::1] out_off
    cdef const int32_t[::1] out_edges
    cdef int64_t max_turn
    cdef const int64_t[::1] t_off
    cdef const int32_t[::1] t_to
    cdef const int32_t[::1] t_cost
    cdef vector[int32_t] a_tail, a_head, a_w, a_first, a_last, a_c1, a_c2, a_hops, a_label
    cdef vector[vector[int32_t]] out_adj, in_adj, loops
    cdef vector[int64_t] dist
    cdef vector[int32_t] stamp
    cdef int32_t cur
    cdef vector[int32_t] depth
    cdef vector[uint8_t] done
    cdef int settle_limit
    cdef vector[int32_t] sc_tail, sc_head, sc_w, sc_first, sc_last, sc_a, sc_b, sc_loop
    cdef vector[int64_t] thr
    cdef vector[int32_t] thr_loop
    cdef vector[uint8_t] needed
    cdef public int64_t n_prio, n_settled

    def __cinit__(self, int32_t n, const int32_t[::1] src, const int32_t[::1] dst, const int32_t[::1] weight,
                  const int64_t[::1] in_off, const int32_t[::1] in_edges, const int64_t[::1] out_off,
                  const int32_t[::1] out_edges, const int64_t[::1] t_off, const int32_t[::1] t_to,
                  const int32_t[::1] t_cost, int64_t max_turn, int settle_limit):
        cdef int32_t e
        self.n = n
        self.m = src.shape[0]
        self.e_src = src
        self.e_dst = dst
        self.in_off = in_off
        self.in_edges = in_edges
        self.out_off = out_off
        self.out_edges = out_edges
        self.max_turn = max_turn
        self.t_off = t_off
        self.t_to = t_to
        self.t_cost = t_cost
        self.settle_limit = settle_limit
        self.out_adj.resize(n)
        self.in_adj.resize(n)
        self.loops.resize(n)
        self.dist.resize(self.m, 0)
        self.stamp.resize(self.m, 0)
        self.cur = 0
        self.depth.resize(n, 0)
        self.done.resize(n, 0)
        for e in range(self.m):
            if src[e] == dst[e]:
                self._add_loop(src[e], weight[e], e, e, -1, -1, e)
            else:
                self._add_arc(src[e], dst[e], weight[e], e, e, -1, -1, 1, e)

    cdef int32_t _new_arc(self, int32_t u, int32_t x, int32_t w, int32_t first, int32_t last, int32_t c1,
                          int32_t c2, int32_t hops, int32_t label):
        self.a_tail.push_back(u)
        self.a_head.push_back(x)
        self.a_w.push_back(w)
        self.a_first.push_back(first)
        self.a_last.push_back(last)
        self.a_c1.push_back(c1)
        self.a_c2.push_back(c2)
        self.a_hops.push_back(hops)
        self.a_label.push_back(label)
        return <int32_t>(self.a_w.size() - 1)

    cdef void _update(self, int32_t a, int32_t w, int32_t c1, int32_t c2, int32_t hops, int32_t label):
        self.a_w[a] = w
        self.a_c1[a] = c1
        self.a_c2[a] = c2
        self.a_hops[a] = hops
        self.a_label[a] = label

    cdef void _add_arc(self, int32_t u, int32_t x, int32_t w, int32_t first, int32_t last, int32_t c1,
                       int32_t c2, int32_t hops, int32_t label):
        """Add u->x for (first, last), or lower the weight of the existing one (no shortcut's child yet)."""
        cdef size_t i
        cdef int32_t a
        for i in range(self.out_adj[u].size()):
            a = self.out_adj[u][i]
            if self.a_head[a] == x and self.a_first[a] == first and self.a_last[a] == last:
                if w < self.a_w[a]:
                    self._update(a, w, c1, c2, hops, label)
                return
        a = self._new_arc(u, x, w, first, last, c1, c2, hops, label)
        self.out_adj[u].push_back(a)
        self.in_adj[x].push_back(a)

    cdef void _add_loop(self, int32_t u, int32_t w, int32_t first, int32_t last, int32_t c1, int32_t c2,
                        int32_t label):
        cdef size_t i
        cdef int32_t a
        for i in range(self.loops[u].size()):
            a = self.loops[u][i]
            if self.a_first[a] == first and self.a_last[a] == last:
                if w < self.a_w[a]:
                    self._update(a, w, c1, c2, 0, label)
                return
        a = self._new_arc(u, u, w, first, last, c1, c2, 0, label)
        self.loops[u].push_back(a)

    cdef inline int32_t _tc(self, int32_t l, int32_t f):
        return _turn(self.t_off, self.t_to, self.t_cost, l, f)

    cdef void _witness(self, int32_t entry, int32_t skip, int64_t limit):
        """Edge-based Dijkstra from having arrived by ``entry``, avoiding node ``skip``, until costs pass
        ``limit`` or settle_limit states are settled (states: the last road edge driven)."""
        cdef priority_queue[pair[int64_t, int32_t]] heap
        cdef pair[int64_t, int32_t] top
        cdef int32_t l, x, a, s, c
        cdef int64_t d, nd
        cdef int settled = 0
        cdef size_t i
        self.stamp[entry] = self.cur
        self.dist[entry] = 0
        heap.push(pair[int64_t, int32_t](0, entry))
        while not heap.empty():
            top = heap.top()
            heap.pop()
            d = -top.first
            l = top.second
            if d > self.dist[l]:
                continue
            if d > limit:
                break
            settled += 1
            self.n_settled += 1
            if settled > self.settle_limit:
                break
            x = self.e_dst[l]
            for i in range(self.out_adj[x].size()):
                a = self.out_adj[x][i]
                if self.a_head[a] == skip:
                    continue
                c = self._tc(l, self.a_first[a])
                if c == NO_TURN:
                    continue
                nd = d + c + self.a_w[a]
                s = self.a_last[a]
                if self.stamp[s] != self.cur or nd < self.dist[s]:
                    self.stamp[s] = self.cur
                    self.dist[s] = nd
                    heap.push(pair[int64_t, int32_t](-nd, s))

    cdef bint _covered(self, int32_t w, int32_t last, int64_t cand):
        """Whether the last witness search reached every way of leaving node ``w`` at least as cheaply as the
        candidate arriving by road edge ``last`` at cost ``cand`` does."""
        cdef int64_t k, j, need, best
        cdef int32_t e_out, l, tb, t2
        for k in range(self.out_off[w], self.out_off[w + 1]):
            e_out = self.out_edges[k]
            tb = self._tc(last, e_out)
            if tb == NO_TURN:
                continue
            need = cand + tb
            best = -1
            for j in range(self.in_off[w], self.in_off[w + 1]):
                l = self.in_edges[j]
                if self.stamp[l] != self.cur:
                    continue
                t2 = self._tc(l, e_out)
                if t2 != NO_TURN and self.dist[l] + t2 <= need:
                    best = 0
                    break
            if best < 0:
                return False
        return True

    cdef void _shortcuts(self, int32_t v):
        """Fill the scratch with the shortcuts (and loops) contracting ``v`` needs: a pair of arcs through v is
        kept unless, for every road edge its tail can be reached by, a path avoiding v leaves its head in every
        direction at least as cheaply."""
        cdef size_t ia, ib, il, nb = self.out_adj[v].size()
        cdef int32_t a, b, L, u, entry, t0, c1, c2
        cdef int64_t k, t, best, cand, limit
        cdef bint any_through
        self.sc_tail.clear()
        self.sc_head.clear()
        self.sc_w.clear()
        self.sc_first.clear()
        self.sc_last.clear()
        self.sc_a.clear()
        self.sc_b.clear()
        self.sc_loop.clear()
        self.thr.resize(nb)
        self.thr_loop.resize(nb)
        self.needed.resize(nb)
        for ia in range(self.in_adj[v].size()):
            a = self.in_adj[v][ia]
            u = self.a_tail[a]
            # Cheapest way through v from a to each b: the turn at v, or a loop at v between them.
            any_through = False
            for ib in range(nb):
                b = self.out_adj[v][ib]
                self.needed[ib] = 0
                t = self._tc(self.a_last[a], self.a_first[b])
                best = INT32_MAX if t == NO_TURN else t
                self.thr_loop[ib] = -1
                for il in range(self.loops[v].size()):
                    L = self.loops[v][il]
                    c1 = self._tc(self.a_last[a], self.a_first[L])
                    c2 = self._tc(self.a_last[L], self.a_first[b])
                    if c1 != NO_TURN and c2 != NO_TURN and <int64_t>c1 + self.a_w[L] + c2 < best:
                        best = <int64_t>c1 + self.a_w[L] + c2
                        self.thr_loop[ib] = L
                self.thr[ib] = best
                if best < INT32_MAX:
                    any_through = True
            if not any_through:
                continue
            for k in range(self.in_off[u], self.in_off[u + 1]):
                entry = self.in_edges[k]
                t0 = self._tc(entry, self.a_first[a])
                if t0 == NO_TURN:
                    continue
                limit = -1
                for ib in range(nb):
                    if self.thr[ib] < INT32_MAX and not self.needed[ib]:
                        b = self.out_adj[v][ib]
                        limit = max(limit, <int64_t>t0 + self.a_w[a] + self.thr[ib] + self.a_w[b] + self.max_turn)
                if limit < 0:
                    break  # every pair through a is needed already
                self.cur += 1
                self._witness(entry, v, limit)
                for ib in range(nb):
                    if self.thr[ib] >= INT32_MAX or self.needed[ib]:
                        continue
                    b = self.out_adj[v][ib]
                    cand = <int64_t>t0 + self.a_w[a] + self.thr[ib] + self.a_w[b]
                    if not self._covered(self.a_head[b], self.a_last[b], cand):
                        self.needed[ib] = 1
            for ib in range(nb):
                if not self.needed[ib]:
                    continue
                b = self.out_adj[v][ib]
                self.sc_tail.push_back(u)
                self.sc_head.push_back(self.a_head[b])
                self.sc_w.push_back(<int32_t>min(<int64_t>self.a_w[a] + self.thr[ib] + self.a_w[b],
                                                 <int64_t>INT32_MAX - 1))
                self.sc_first.push_back(self.a_first[a])
                self.sc_last.push_back(self.a_last[b])
                self.sc_a.push_back(a)
                self.sc_b.push_back(b)
                self.sc_loop.push_back(self.thr_loop[ib])

    cdef double _priority(self, int32_t v):
        """OSRM's node priority: added/removed arcs, added/removed original arcs, and depth."""
        cdef size_t i
        cdef int64_t removed = self.in_adj[v].size() + self.out_adj[v].size(), removed_hops = 0
        cdef int64_t added = 0, added_hops = 0
        self.n_prio += 1
        for i in range(self.in_adj[v].size()):
            removed_hops += self.a_hops[self.in_adj[v][i]]
        for i in range(self.out_adj[v].size()):
            removed_hops += self.a_hops[self.out_adj[v][i]]
        self._shortcuts(v)
        for i in range(self.sc_tail.size()):
            added += 1
            added_hops += self.a_hops[self.sc_a[i]] + self.a_hops[self.sc_b[i]]
        if removed == 0 or removed_hops == 0:
            return self.depth[v]
        return 2.0 * added / removed + 4.0 * added_hops / removed_hops + self.depth[v]

    cdef void _remove(self, vector[int32_t]& lst, int32_t a):
        cdef size_t i
        for i in range(lst.size()):
            if lst[i] == a:
                lst[i] = lst[lst.size() - 1]
                lst.pop_back()
                return

    def run(self, progress=None, int64_t report_every=100000):
        cdef priority_queue[pair[double, int32_t]] queue
        cdef pair[double, int32_t] top
        cdef int32_t v, a, x, i, b, L, mid, first
        cdef size_t j
        cdef double prio
        cdef int64_t order = 0, w
        cdef vector[int32_t] rank
        cdef vector[double] cur_prio
        cdef vector[int32_t] nbrs
        cdef vector[int32_t] f_node, f_arc, b_node, b_arc, l_node, l_arc
        rank.resize(self.n, -1)
        cur_prio.resize(self.n, 0)
        for i in range(self.n):
            cur_prio[i] = self._priority(i)
            queue.push(pair[double, int32_t](-cur_prio[i], i))
        while not queue.empty():
            top = queue.top()
            queue.pop()
            v = top.second
            if self.done[v] or -top.first != cur_prio[v]:
                continue
            prio = self._priority(v)  # also leaves v's shortcuts in the scratch
            if prio != cur_prio[v] and not queue.empty() and prio > -queue.top().first + 1e-9:
                cur_prio[v] = prio
                queue.push(pair[double, int32_t](-prio, v))
                continue
            for j in range(self.sc_tail.size()):
                a = self.sc_a[j]
                b = self.sc_b[j]
                L = self.sc_loop[j]
                mid = a
                if L >= 0:  # a, then the loop at v, then b: the first two as one unlisted piece
                    w = <int64_t>self.a_w[a] + self._tc(self.a_last[a], self.a_first[L]) + self.a_w[L]
                    mid = self._new_arc(self.a_tail[a], v, <int32_t>min(w, <int64_t>INT32_MAX - 1),
                                        self.a_first[a], self.a_last[L], a, L, self.a_hops[a] + self.a_hops[L], -1)
                if self.sc_tail[j] == self.sc_head[j]:
                    self._add_loop(self.sc_tail[j], self.sc_w[j], self.sc_first[j], self.sc_last[j], mid, b, -1)
                else:
                    self._add_arc(self.sc_tail[j], self.sc_head[j], self.sc_w[j], self.sc_first[j], self.sc_last[j],
                                  mid, b, self.a_hops[mid] + self.a_hops[b], -1)
            rank[v] = <int32_t>order
            order += 1
            self.done[v] = 1
            nbrs.clear()
            for j in range(self.out_adj[v].size()):
                a = self.out_adj[v][j]
                x = self.a_head[a]
                f_node.push_back(v)
                f_arc.push_back(a)
                self._remove(self.in_adj[x], a)
                self.depth[x] = max(self.depth[x], self.depth[v] + 1)
                nbrs.push_back(x)
            for j in range(self.in_adj[v].size()):
                a = self.in_adj[v][j]
                x = self.a_tail[a]
                b_node.push_back(v)
                b_arc.push_back(a)
                self._remove(self.out_adj[x], a)
                self.depth[x] = max(self.depth[x], self.depth[v] + 1)
                nbrs.push_back(x)
            for j in range(self.loops[v].size()):
                l_node.push_back(v)
                l_arc.push_back(self.loops[v][j])
            vector[int32_t]().swap(self.out_adj[v])
            vector[int32_t]().swap(self.in_adj[v])
            vector[int32_t]().swap(self.loops[v])
            for j in range(nbrs.size()):
                x = nbrs[j]
                if self.done[x]:
                    continue
                prio = self._priority(x)
                if prio != cur_prio[x]:
                    cur_prio[x] = prio
                    queue.push(pair[double, int32_t](-prio, x))
            if progress is not None and order % report_every == 0:
                progress(order, self.n)
        return self._export(rank, f_node, f_arc, b_node, b_arc, l_node, l_arc)

    cdef dict _export(self, vector[int32_t]& rank, vector[int32_t]& f_node, vector[int32_t]& f_arc,
                      vector[int32_t]& b_node, vector[int32_t]& b_arc, vector[int32_t]& l_node,
                      vector[int32_t]& l_arc):
        n = self.n
        tail, head = _np(self.a_tail), _np(self.a_head)
        w, first, last = _np(self.a_w), _np(self.a_first), _np(self.a_last)
        out = {"rank": _np(rank), "arc_c1": _np(self.a_c1), "arc_c2": _np(self.a_c2), "arc_label": _np(self.a_label)}
        for name, nodes, arcs, other in (("fwd", f_node, f_arc, head), ("bwd", b_node, b_arc, tail),
                                         ("loop", l_node, l_arc, head)):
            nd, ar = _np(nodes), _np(arcs)
            order = np.argsort(nd, kind="stable")
            nd, ar = nd[order], ar[order]
            out[f"{name}_off"] = np.concatenate([[0], np.cumsum(np.bincount(nd, minlength=n))]).astype(np.int64)
            out[f"{name}_node"] = other[ar]
            out[f"{name}_w"] = w[ar]
            out[f"{name}_first"] = first[ar]
            out[f"{name}_last"] = last[ar]
            out[f"{name}_arc"] = ar
        return out


cdef object _np(vector[int32_t]& v):
    cdef Py_ssize_t n = v.size(), i
    out = np.empty(n, np.int32)
    cdef int32_t[::1] o = out
    for i in range(n):
        o[i] = v[i]
    return out


def _csr(keys, int32_t n):
    order = np.argsort(keys, kind="stable").astype(np.int32)
    off = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=off[1:])
    return off, order


def contract_turns(int32_t n, const int32_t[::1] src, const int32_t[::1] dst, const int32_t[::1] weight,
                   const int64_t[::1] t_off, const int32_t[::1] t_to, const int32_t[::1] t_cost,
                   int settle_limit=50, progress=None, int64_t report_every=100000):
    """Turn-aware contraction hierarchy of a road graph: ``n`` nodes, road edges ``src -> dst`` with
    ``weight``, and allowed turns from edge ``l`` at ``t_to[t_off[l]:t_off[l + 1]]`` costing ``t_cost``."""
    in_off, in_edges = _csr(np.asarray(dst), n)
    out_off, out_edges = _csr(np.asarray(src), n)
    # Witness searches look this far past a candidate: the dearest ordinary turn (a U-turn), not the huge
    # restricted-entry weight, which both the candidate and any witness pay alike.
    costs = np.asarray(t_cost)
    max_turn = int(costs[costs < 600_000].max()) if (costs < 600_000).any() else 0
    c = _TurnContractor(n, src, dst, weight, in_off, in_edges, out_off, out_edges, t_off, t_to, t_cost, max_turn,
                        settle_limit)
    out = c.run(progress, report_every)
    out["_stats"] = (c.n_prio, c.n_settled)
    return out


cdef class TCHQuery:
    """Bidirectional search over the turn-aware hierarchy; states are road edges. Not re-entrant."""

    cdef const int64_t[::1] fwd_off
    cdef const int32_t[::1] fwd_node
    cdef const int32_t[::1] fwd_w
    cdef const int32_t[::1] fwd_first
    cdef const int32_t[::1] fwd_last
    cdef const int32_t[::1] fwd_arc
    cdef const int64_t[::1] bwd_off
    cdef const int32_t[::1] bwd_node
    cdef const int32_t[::1] bwd_w
    cdef const int32_t[::1] bwd_first
    cdef const int32_t[::1] bwd_last
    cdef const int32_t[::1] bwd_arc
    cdef const int64_t[::1] loop_off
    cdef const int32_t[::1] loop_w
    cdef const int32_t[::1] loop_first
    cdef const int32_t[::1] loop_last
    cdef const int32_t[::1] loop_arc
    cdef const int32_t[::1] arc_c1
    cdef const int32_t[::1] arc_c2
    cdef const int32_t[::1] arc_label
    cdef const int64_t[::1] t_off
    cdef const int32_t[::1] t_to
    cdef const int32_t[::1] t_cost
    cdef const int32_t[::1] e_src
    cdef const int32_t[::1] e_dst
    cdef const int64_t[::1] out_off
    cdef const int32_t[::1] out_edges
    cdef const int64_t[::1] in_off
    cdef const int32_t[::1] in_edges
    cdef vector[double] df, db
    cdef vector[int32_t] pf_arc, pf_prev, pb_arc, pb_next, sf, sb
    cdef int32_t stamp
    cdef public int64_t settled

    def __cinit__(self, dict h, e_src, e_dst, out_off, out_edges, in_off, in_edges):
        self.fwd_off, self.fwd_node, self.fwd_w = h["fwd_off"], h["fwd_node"], h["fwd_w"]
        self.fwd_first, self.fwd_last, self.fwd_arc = h["fwd_first"], h["fwd_last"], h["fwd_arc"]
        self.bwd_off, self.bwd_node, self.bwd_w = h["bwd_off"], h["bwd_node"], h["bwd_w"]
        self.bwd_first, self.bwd_last, self.bwd_arc = h["bwd_first"], h["bwd_last"], h["bwd_arc"]
        self.loop_off, self.loop_w = h["loop_off"], h["loop_w"]
        self.loop_first, self.loop_last, self.loop_arc = h["loop_first"], h["loop_last"], h["loop_arc"]
        self.arc_c1, self.arc_c2, self.arc_label = h["arc_c1"], h["arc_c2"], h["arc_label"]
        self.t_off, self.t_to, self.t_cost = h["turn_off"], h["turn_to"], h["turn_cost"]
        self.e_src, self.e_dst = e_src, e_dst
        self.out_off, self.out_edges, self.in_off, self.in_edges = out_off, out_edges, in_off, in_edges
        m = e_src.shape[0]
        self.df.resize(m, 0)
        self.db.resize(m, 0)
        self.pf_arc.resize(m, -1)
        self.pf_prev.resize(m, -1)
        self.pb_arc.resize(m, -1)
        self.pb_next.resize(m, -1)
        self.sf.resize(m, 0)
        self.sb.resize(m, 0)
        self.stamp = 0
        self.settled = 0

    cdef inline int32_t _tc(self, int32_t l, int32_t f):
        return _turn(self.t_off, self.t_to, self.t_cost, l, f)

    cdef void _unpack(self, int32_t arc, vector[int32_t]& edges):
        cdef vector[int32_t] stack
        cdef int32_t a
        stack.push_back(arc)
        while not stack.empty():
            a = stack.back()
            stack.pop_back()
            if self.arc_c1[a] < 0:
                edges.push_back(self.arc_label[a])
            else:
                stack.push_back(self.arc_c2[a])
                stack.push_back(self.arc_c1[a])

    cdef inline void _relax_f(self, priority_queue[pair[double, int32_t]]& q, int32_t l, double d, int32_t arc,
                              int32_t first, int32_t last, int32_t w):
        cdef int32_t c = self._tc(l, first)
        cdef double nd
        if c == NO_TURN:
            return
        nd = d + c + w
        if self.sf[last] != self.stamp or nd < self.df[last]:
            self.sf[last] = self.stamp
            self.df[last] = nd
            self.pf_arc[last] = arc
            self.pf_prev[last] = l
            q.push(pair[double, int32_t](-nd, last))

    cdef inline void _relax_b(self, priority_queue[pair[double, int32_t]]& q, int32_t f, double d, int32_t arc,
                              int32_t first, int32_t last, int32_t w):
        cdef int32_t c = self._tc(last, f)
        cdef double nd
        if c == NO_TURN:
            return
        nd = d + c + w
        if self.sb[first] != self.stamp or nd < self.db[first]:
            self.sb[first] = self.stamp
            self.db[first] = nd
            self.pb_arc[first] = arc
            self.pb_next[first] = f
            q.push(pair[double, int32_t](-nd, first))

    def route(self, const int32_t[::1] src, const double[::1] src_d, const int32_t[::1] tgt,
              const double[::1] tgt_d):
        """Cheapest path from having driven to the end of a ``src`` edge (at its cost) to the start of a ``tgt``
        edge (plus its cost). Returns ``(weight, edges, turn_ms)`` — the road edges from the source edge to the
        target edge and the turn cost between each consecutive pair — or None."""
        cdef priority_queue[pair[double, int32_t]] qf, qb
        cdef pair[double, int32_t] top
        cdef int32_t s, l, f, x, c, meet_l = -1, meet_f = -1
        cdef int64_t i
        cdef double d, best = INFINITY
        cdef bint f_open = True, b_open = True, fwd_turn = True
        cdef Py_ssize_t k
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
                self.pf_arc[s] = -1
                self.pf_prev[s] = -1
                qf.push(pair[double, int32_t](-src_d[k], s))
        for k in range(tgt.shape[0]):
            s = tgt[k]
            if self.sb[s] != self.stamp or tgt_d[k] < self.db[s]:
                self.sb[s] = self.stamp
                self.db[s] = tgt_d[k]
                self.pb_arc[s] = -1
                self.pb_next[s] = -1
                qb.push(pair[double, int32_t](-tgt_d[k], s))
        while True:
            f_open = f_open and not qf.empty() and -qf.top().first < best
            b_open = b_open and not qb.empty() and -qb.top().first < best
            if not f_open and not b_open:
                break
            if not b_open or (f_open and fwd_turn):
                top = qf.top()
                qf.pop()
                d = -top.first
                l = top.second
                if d > self.df[l]:
                    continue
                self.settled += 1
                x = self.e_dst[l]
                for i in range(self.out_off[x], self.out_off[x + 1]):
                    f = self.out_edges[i]
                    if self.sb[f] == self.stamp:
                        c = self._tc(l, f)
                        if c != NO_TURN and d + c + self.db[f] < best:
                            best, meet_l, meet_f = d + c + self.db[f], l, f
                for i in range(self.fwd_off[x], self.fwd_off[x + 1]):
                    self._relax_f(qf, l, d, self.fwd_arc[i], self.fwd_first[i], self.fwd_last[i], self.fwd_w[i])
                for i in range(self.loop_off[x], self.loop_off[x + 1]):
                    self._relax_f(qf, l, d, self.loop_arc[i], self.loop_first[i], self.loop_last[i], self.loop_w[i])
            else:
                top = qb.top()
                qb.pop()
                d = -top.first
                f = top.second
                if d > self.db[f]:
                    continue
                self.settled += 1
                x = self.e_src[f]
                for i in range(self.in_off[x], self.in_off[x + 1]):
                    l = self.in_edges[i]
                    if self.sf[l] == self.stamp:
                        c = self._tc(l, f)
                        if c != NO_TURN and self.df[l] + c + d < best:
                            best, meet_l, meet_f = self.df[l] + c + d, l, f
                for i in range(self.bwd_off[x], self.bwd_off[x + 1]):
                    self._relax_b(qb, f, d, self.bwd_arc[i], self.bwd_first[i], self.bwd_last[i], self.bwd_w[i])
                for i in range(self.loop_off[x], self.loop_off[x + 1]):
                    self._relax_b(qb, f, d, self.loop_arc[i], self.loop_first[i], self.loop_last[i], self.loop_w[i])
            fwd_turn = not fwd_turn
        if meet_l < 0:
            return None
        return best, *self._path(meet_l, meet_f)

    cdef tuple _path(self, int32_t meet_l, int32_t meet_f):
        cdef vector[int32_t] arcs, edges
        cdef int32_t l = meet_l, f = meet_f
        cdef Py_ssize_t k, n
        while self.pf_arc[l] >= 0:
            arcs.push_back(self.pf_arc[l])
            l = self.pf_prev[l]
        edges.push_back(l)
        for k in range(<Py_ssize_t>arcs.size() - 1, -1, -1):
            self._unpack(arcs[k], edges)
        while self.pb_arc[f] >= 0:
            self._unpack(self.pb_arc[f], edges)
            f = self.pb_next[f]
        edges.push_back(f)
        n = edges.size()
        path = np.empty(n, np.int32)
        turns = np.empty(max(n - 1, 0), np.int32)
        cdef int32_t[::1] pv = path, tv = turns
        for k in range(n):
            pv[k] = edges[k]
        for k in range(n - 1):
            tv[k] = self._tc(edges[k], edges[k + 1])
        return path, turns
