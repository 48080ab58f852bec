# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Contraction hierarchies in C++: node contraction with witness searches (optionally leaving a core); the query
is lds.graph._ch_query.

Weights are integer milliseconds so shortcut sums are exact and the hierarchy is deterministic.

Memory is dominated by the arcs (a country's car graph gets ~20 per node), and an arc is final once the first of
its two nodes is contracted: nothing reads it again until the export. So only live arcs (between nodes not yet
contracted) are kept in memory, in slots reused as they go; a contracted node's arcs are appended to one of two
spill files (its forward and backward lists, in contraction order: no node id per arc) under their permanent ids,
which shortcuts refer to. The export reads the files back one output column at a time, so a country's hierarchy
never has more than two arc-sized arrays in memory.
"""

import numpy as np

cimport cython
cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdio cimport FILE, _IOFBF, fclose, fdopen, ferror, fflush, fread, fwrite, rewind, setvbuf
from libc.stdlib cimport calloc, free
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint8_t
from libcpp.algorithm cimport pop_heap, push_heap
from libcpp.pair cimport pair
from libcpp.queue cimport priority_queue
from libcpp.vector cimport vector

cnp.import_array()


cdef extern from "<malloc.h>" nogil:
    int malloc_trim(size_t pad)  # glibc: give free heap pages back to the system


cdef object _array(vector[int32_t]& v):
    cdef Py_ssize_t n = v.size()
    return np.asarray(<int32_t[:n]>v.data()).copy() if n else np.zeros(0, np.int32)


cdef void _free(vector[int32_t]& v):
    vector[int32_t]().swap(v)


cdef struct _HeadW:
    int32_t head
    int32_t w


cdef struct _Label:
    int64_t dist
    int32_t stamp
    int32_t target


# A spilled arc: its id, the node at its other end (head of a forward arc, tail of a backward one), weight, c1, c2.
DEF REC = 5
DEF SPILL_CHUNK = 1 << 16  # records read back at a time
DEF SPILL_BUFFER = 1 << 20  # bytes of each spill file's write buffer
# What a column read back from the spill files holds (see _Contractor._scan).
DEF AS_STORED = 0
DEF RENUMBERED = 1
DEF LABEL = 2
DEF OWNER = 3
DEF NEW_ID = 4
DEF RANKED = 5
DEF POOL_COMPACT_MIN = 1 << 20  # holes (entries) in the adjacency pool before it is worth compacting


cdef object _renumber(object arcs, object new_id):
    """Arc ids (-1 = none) in their exported numbering, in place."""
    has = arcs >= 0
    arcs[has] = new_id[arcs[has]]
    return arcs


# --- contraction ------------------------------------------------------------------------------------------------

cdef inline void _heap_push(vector[pair[double, int32_t]]& heap, double key, int32_t node):
    heap.push_back(pair[double, int32_t](key, node))
    push_heap(heap.begin(), heap.end())


cdef inline pair[double, int32_t] _heap_pop(vector[pair[double, int32_t]]& heap):
    pop_heap(heap.begin(), heap.end())
    cdef pair[double, int32_t] top = heap.back()
    heap.pop_back()
    return top


@cython.final
cdef class _Contractor:
    cdef int32_t n
    # live arcs by slot (the adjacency and the scratch hold slots); c1/c2 and loops hold permanent arc ids
    cdef vector[int32_t] a_tail, a_c1, a_c2, a_hops, a_id
    cdef vector[_HeadW] hw  # each live arc's head and weight side by side: what a witness search reads per arc
    cdef vector[int32_t] free_slots
    cdef int32_t n_ids
    # labels of the original arcs (ids 0..): a shortcut's label is -1
    cdef vector[int32_t] orig_label
    # adjacency lists in one pool: list 2m holds node m's out-arcs, 2m+1 its in-arcs (slots), each at l_start with
    # l_size used of l_cap; a full list moves to the pool's end with twice the room, and the pool is compacted
    # once over half of it is such holes (a vector per list would cost ~100 bytes per node in headers and heap)
    cdef vector[int32_t] pool
    cdef vector[int64_t] l_start
    cdef vector[int32_t] l_size, l_cap
    cdef int64_t pool_holes
    cdef vector[_Label] lab  # the witness searches' per-node state in one place: one cache line per node reached
    cdef vector[pair[int64_t, int32_t]] w_heap
    cdef int32_t cur
    # a tail's heads mapped to their arcs (_map_heads): its direct witnesses in _shortcuts, its arcs to lower in
    # _add_shortcuts
    cdef vector[int32_t] head_arc, head_stamp
    cdef int32_t head_cur
    cdef vector[int32_t] depth
    cdef vector[uint8_t] done
    cdef vector[int32_t] loop_w, loop_c1, loop_c2
    cdef int settle_limit
    cdef public int ordered_settle_limit, first_settle_limit
    cdef public int64_t relax_limit, ordered_relax_limit
    cdef bint update_neighbours
    cdef public int64_t n_prio, n_settled, report_every
    cdef public int64_t core_degree, core_size, soft_core_degree, soft_core_nodes, ordered_nodes
    # the current contraction's scratch
    cdef vector[int32_t] sc_tail, sc_head, sc_w, sc_c1, sc_c2
    # the hierarchy's lists: the arcs out of (f) and into (b) each node when it was contracted, spilled in
    # contraction order, and how many each node has
    cdef FILE* f_file
    cdef FILE* b_file
    cdef int64_t nf, nb
    cdef vector[int32_t] f_cnt, b_cnt, node_at, rank_of
    # arcs' hop counts feed the priorities only: not kept once contraction follows a given order
    cdef bint keep_hops

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
        self.l_start.resize(2 * <int64_t>n, 0)
        self.l_size.resize(2 * <int64_t>n, 0)
        self.l_cap.resize(2 * <int64_t>n, 0)
        self.pool_holes = 0
        self.cur = 0
        self.head_cur = 0
        self._make_search_state()
        self.depth.resize(n, 0)
        self.done.resize(n, 0)
        self.loop_w.resize(n, INT32_MAX)
        self.loop_c1.resize(n, -1)
        self.loop_c2.resize(n, -1)
        self.f_cnt.resize(n, 0)
        self.b_cnt.resize(n, 0)
        self.keep_hops = True
        self.n_ids = 0
        self.nf = self.nb = 0
        self.f_file = self.b_file = NULL
        for i in range(tail.shape[0]):
            if tail[i] != head[i]:  # self-loops never lie on a shortest path
                self._add_arc(tail[i], head[i], weight[i], -1, -1, 1, label[i])

    cdef void _make_search_state(self) noexcept:
        """The witness searches' and head maps' per-node state, as new: zeros and no arc (no search or head map is
        numbered 0: their numbers are incremented before use), so whatever numbers the searches are at stays
        valid."""
        self.lab.resize(self.n)  # value-initialized: zeros
        self.head_arc.resize(self.n, -1)
        self.head_stamp.resize(self.n, 0)

    cdef void _open_spill(self, object spill_dir) except *:
        """The two spill files: unnamed temporary files in ``spill_dir`` (None: the system's temporary dir)."""
        import os
        import tempfile

        cdef FILE* spill
        cdef int fd, k
        for k in range(2):
            with tempfile.TemporaryFile(dir=spill_dir) as f:
                fd = os.dup(f.fileno())
            spill = fdopen(fd, "w+b")
            if spill == NULL:
                os.close(fd)
                raise OSError("no temporary file for the hierarchy's arcs")
            setvbuf(spill, NULL, _IOFBF, SPILL_BUFFER)
            if k == 0:
                self.f_file = spill
            else:
                self.b_file = spill

    def __dealloc__(self):
        if self.f_file != NULL:
            fclose(self.f_file)
        if self.b_file != NULL:
            fclose(self.b_file)

    cdef int32_t _new_arc(self, int32_t u, int32_t x, int32_t w, int32_t c1, int32_t c2, int32_t hops) noexcept:
        """A new arc (next permanent id) in a free slot; its slot."""
        cdef int32_t a
        if self.free_slots.empty():
            a = <int32_t>self.hw.size()
            self.a_tail.push_back(u)
            self.hw.push_back(_HeadW(x, w))
            self.a_c1.push_back(c1)
            self.a_c2.push_back(c2)
            self.a_id.push_back(self.n_ids)
            if self.keep_hops:
                self.a_hops.push_back(hops)
        else:
            a = self.free_slots.back()
            self.free_slots.pop_back()
            self.a_tail[a], self.a_c1[a], self.a_c2[a] = u, c1, c2
            self.hw[a].head, self.hw[a].w = x, w
            self.a_id[a] = self.n_ids
            if self.keep_hops:
                self.a_hops[a] = hops
        self.n_ids += 1
        return a

    cdef void _spill(self, FILE* f, int32_t a, int32_t other) noexcept:
        """Append arc (slot) ``a`` to a hierarchy list's file."""
        cdef int32_t rec[REC]
        rec[0], rec[1], rec[2], rec[3], rec[4] = self.a_id[a], other, self.hw[a].w, self.a_c1[a], self.a_c2[a]
        fwrite(rec, sizeof(int32_t), REC, f)

    cdef void _loop(self, int32_t u, int32_t w, int32_t c1, int32_t c2) noexcept:
        if w < self.loop_w[u]:
            self.loop_w[u] = w
            self.loop_c1[u] = c1
            self.loop_c2[u] = c2

    cdef void _add_arc(self, int32_t u, int32_t x, int32_t w, int32_t c1, int32_t c2, int32_t hops,
                       int32_t label):
        """Add u->x, or lower the weight of an existing u->x (it is no child of any shortcut yet)."""
        cdef size_t i
        cdef int32_t a
        for i in range(self._n(2 * u)):
            a = self._arc(2 * u, i)
            if self.hw[a].head == x:
                if w < self.hw[a].w:
                    self.hw[a].w = w
                    self.a_c1[a] = c1
                    self.a_c2[a] = c2
                    self.a_hops[a] = hops
                    self.orig_label[self.a_id[a]] = label
                return
        a = self._new_arc(u, x, w, c1, c2, hops)
        self.orig_label.push_back(label)
        self._append(2 * u, a)
        self._append(2 * x + 1, a)

    cdef void _witness(self, int32_t s, int32_t skip, int64_t limit, int targets) noexcept:
        """Dijkstra from ``s`` avoiding ``skip``, until ``targets`` marked nodes are settled, beyond ``limit``,
        after settle_limit settled nodes or (relax_limit > 0) once that many arcs are relaxed."""
        # the heap's vector is the instance's, kept between searches: a new one per search spent ~5 % of a
        # country's contraction in malloc (what std::priority_queue does, with the same order)
        cdef pair[int64_t, int32_t] top
        cdef int32_t u, x, a
        cdef int64_t d, nd
        cdef int settled = 0
        cdef int64_t relaxed = 0
        cdef int32_t deg
        cdef int32_t* adj
        cdef size_t i
        self.lab[s].stamp = self.cur
        self.lab[s].dist = 0
        self.w_heap.clear()
        self.w_heap.push_back(pair[int64_t, int32_t](0, s))
        while not self.w_heap.empty():
            pop_heap(self.w_heap.begin(), self.w_heap.end())
            top = self.w_heap.back()
            self.w_heap.pop_back()
            d = -top.first
            u = top.second
            if d > self.lab[u].dist:
                continue
            if d > limit:
                break
            settled += 1
            self.n_settled += 1
            if self.lab[u].target == self.cur:
                targets -= 1
                if targets <= 0:
                    break
            if settled > self.settle_limit or (self.relax_limit > 0 and relaxed > self.relax_limit):
                break
            deg = self.l_size[2 * u]
            adj = self.pool.data() + self.l_start[2 * u]  # the pool does not move during a search
            relaxed += deg
            for i in range(deg):
                a = adj[i]
                x = self.hw[a].head
                if x == skip:
                    continue
                nd = d + self.hw[a].w
                if self.lab[x].stamp != self.cur or nd < self.lab[x].dist:
                    self.lab[x].stamp = self.cur
                    self.lab[x].dist = nd
                    self.w_heap.push_back(pair[int64_t, int32_t](-nd, x))
                    push_heap(self.w_heap.begin(), self.w_heap.end())

    cdef void _map_heads(self, int32_t u) noexcept:
        """Map the heads of ``u``'s arcs to those arcs (head_arc, valid where head_stamp is head_cur)."""
        cdef int32_t a
        cdef size_t i
        self.head_cur += 1
        if self.head_cur == INT32_MAX:
            for i in range(self.head_stamp.size()):
                self.head_stamp[i] = 0
            self.head_cur = 1
        for i in range(self._n(2 * u)):
            a = self._arc(2 * u, i)
            self.head_arc[self.hw[a].head] = a
            self.head_stamp[self.hw[a].head] = self.head_cur

    cdef inline bint _direct(self, int32_t x, int64_t w) noexcept:
        """Whether the mapped node's own arc to ``x`` is a witness for a path of weight ``w``."""
        return self.head_stamp[x] == self.head_cur and self.hw[self.head_arc[x]].w <= w

    cdef void _shortcuts(self, int32_t m) noexcept:
        """Fill the scratch with the shortcuts contracting ``m`` needs (self-loops included).

        A tail's own arc to a head, no heavier than the path through ``m``, is a witness its search would find
        first (the source's arcs are relaxed before any limit applies): such heads are no targets, and a tail
        whose heads all have one searches nothing. The same shortcuts: on the 5M-node synthetic country's car
        graph (dissection-ordered, so late nodes' neighbours are mostly cliques already) 14-18 % off the
        hierarchy's time, on a 300 x 300 grid 22-35 %."""
        cdef size_t i, j
        cdef int32_t a1, a2, u, x
        cdef int64_t w, limit
        cdef int targets
        # m's lists: searches do not move the pool, and nothing is added to it here
        cdef int32_t n_in = self.l_size[2 * m + 1], n_out = self.l_size[2 * m]
        cdef int32_t* ins = self.pool.data() + self.l_start[2 * m + 1]
        cdef int32_t* outs = self.pool.data() + self.l_start[2 * m]
        self.sc_tail.clear()
        self.sc_head.clear()
        self.sc_w.clear()
        self.sc_c1.clear()
        self.sc_c2.clear()
        for i in range(n_in):
            a1 = ins[i]
            u = self.a_tail[a1]
            limit = -1
            targets = 0
            self.cur += 1
            self._map_heads(u)
            for j in range(n_out):
                a2 = outs[j]
                x = self.hw[a2].head
                w = <int64_t>self.hw[a1].w + self.hw[a2].w
                if x != u and not self._direct(x, w):
                    limit = max(limit, w)
                    if self.lab[x].target != self.cur:
                        self.lab[x].target = self.cur
                        targets += 1
            if targets > 0:
                self._witness(u, m, limit, targets)
            for j in range(n_out):
                a2 = outs[j]
                x = self.hw[a2].head
                w = <int64_t>self.hw[a1].w + self.hw[a2].w
                if x != u and (self._direct(x, w) or self.lab[x].stamp == self.cur and self.lab[x].dist <= w):
                    continue  # witness path
                if x == u and w >= self.loop_w[u]:
                    continue
                self.sc_tail.push_back(u)
                self.sc_head.push_back(x)
                self.sc_w.push_back(<int32_t>min(w, <int64_t>INT32_MAX - 1))
                self.sc_c1.push_back(a1)
                self.sc_c2.push_back(a2)

    cdef double _priority(self, int32_t m) noexcept:
        """OSRM's node priority: added/removed edges, added/removed original edges, and depth."""
        self.n_prio += 1
        cdef size_t i
        cdef int64_t removed = self._n(2 * m + 1) + self._n(2 * m), removed_hops = 0
        cdef int64_t added = 0, added_hops = 0
        for i in range(self._n(2 * m + 1)):
            removed_hops += self.a_hops[self._arc(2 * m + 1, i)]
        for i in range(self._n(2 * m)):
            removed_hops += self.a_hops[self._arc(2 * m, i)]
        self._shortcuts(m)
        for i in range(self.sc_tail.size()):
            if self.sc_tail[i] != self.sc_head[i]:
                added += 1
                added_hops += self.a_hops[self.sc_c1[i]] + self.a_hops[self.sc_c2[i]]
        if removed == 0 or removed_hops == 0:
            return self.depth[m]
        return 2.0 * added / removed + 4.0 * added_hops / removed_hops + self.depth[m]

    cdef inline int32_t _n(self, int64_t l) noexcept:
        return self.l_size[l]

    cdef inline int32_t _arc(self, int64_t l, int64_t i) noexcept:
        return self.pool[self.l_start[l] + i]

    cdef void _append(self, int64_t l, int32_t a) noexcept:
        cdef int64_t s = self.l_start[l], end = self.pool.size(), k
        cdef int32_t size = self.l_size[l], cap = self.l_cap[l], room
        if size == cap:
            room = 4 if cap < 4 else 2 * cap
            if cap > 0 and s + cap == end:  # last in the pool: grows in place
                self.pool.resize(end + room - cap)
            else:
                if self.pool_holes > POOL_COMPACT_MIN and 2 * self.pool_holes > end:
                    self._compact()
                    s, end = self.l_start[l], self.pool.size()
                self.pool.resize(end + room)
                for k in range(size):
                    self.pool[end + k] = self.pool[s + k]
                self.pool_holes += cap
                s = end
                self.l_start[l] = s
            self.l_cap[l] = room
        self.pool[s + size] = a
        self.l_size[l] = size + 1

    cdef void _remove(self, int64_t l, int32_t a) noexcept:
        """Remove ``a`` from list ``l`` (the last entry takes its place)."""
        cdef int64_t s = self.l_start[l], i
        cdef int32_t last = self.l_size[l] - 1
        for i in range(last + 1):
            if self.pool[s + i] == a:
                self.pool[s + i] = self.pool[s + last]
                self.l_size[l] = last
                return

    cdef void _release(self, int64_t l) noexcept:
        if self.l_cap[l] > 0 and self.l_start[l] + self.l_cap[l] == <int64_t>self.pool.size():
            self.pool.resize(self.l_start[l])
        else:
            self.pool_holes += self.l_cap[l]
        self.l_size[l] = 0
        self.l_cap[l] = 0
        self.l_start[l] = 0

    cdef void _compact(self) noexcept:
        """Copy the lists into a new pool without the holes (in list order)."""
        cdef vector[int32_t] pool
        cdef int64_t l, k, pos = 0, total = 0
        for l in range(<int64_t>self.l_cap.size()):
            total += self.l_cap[l]
        pool.resize(total)
        for l in range(<int64_t>self.l_cap.size()):
            if self.l_cap[l] == 0:
                continue
            for k in range(self.l_size[l]):
                pool[pos + k] = self.pool[self.l_start[l] + k]
            self.l_start[l] = pos
            pos += self.l_cap[l]
        self.pool.swap(pool)
        self.pool_holes = 0

    cdef void _add_shortcuts(self) noexcept:
        """Add the scratch's shortcuts (or lower existing arcs to their weight). They come grouped by tail, so
        each tail's heads are mapped to their arcs once: linear in the tail's degree, not quadratic."""
        cdef size_t j, i
        cdef int32_t u = -1, x, a, hops = 0
        for j in range(self.sc_tail.size()):
            if self.sc_tail[j] == self.sc_head[j]:
                self._loop(self.sc_tail[j], self.sc_w[j], self.a_id[self.sc_c1[j]], self.a_id[self.sc_c2[j]])
                continue
            if self.sc_tail[j] != u:
                u = self.sc_tail[j]
                self._map_heads(u)
            x = self.sc_head[j]
            if self.keep_hops:
                hops = self.a_hops[self.sc_c1[j]] + self.a_hops[self.sc_c2[j]]
            if self.head_stamp[x] == self.head_cur:
                a = self.head_arc[x]
                if self.sc_w[j] < self.hw[a].w:
                    self.hw[a].w = self.sc_w[j]
                    self.a_c1[a] = self.a_id[self.sc_c1[j]]
                    self.a_c2[a] = self.a_id[self.sc_c2[j]]
                    if self.keep_hops:
                        self.a_hops[a] = hops
                continue
            a = self._new_arc(u, x, self.sc_w[j], self.a_id[self.sc_c1[j]], self.a_id[self.sc_c2[j]], hops)
            self._append(2 * u, a)
            self._append(2 * x + 1, a)
            self.head_arc[x] = a
            self.head_stamp[x] = self.head_cur

    cdef void _contract_node(self, int32_t m, vector[int32_t]& nbrs) noexcept:
        """Contract ``m`` with the shortcuts in the scratch: add them, move m's arcs to the hierarchy's lists (their
        slots freed) and leave m's neighbours in ``nbrs``."""
        cdef size_t j
        cdef int32_t a, x
        self._add_shortcuts()
        self.done[m] = 1
        nbrs.clear()
        self.f_cnt[m] = <int32_t>self._n(2 * m)
        self.b_cnt[m] = <int32_t>self._n(2 * m + 1)
        for j in range(self._n(2 * m)):
            a = self._arc(2 * m, j)
            x = self.hw[a].head
            self._spill(self.f_file, a, x)
            self._remove(2 * x + 1, a)
            self.depth[x] = max(self.depth[x], self.depth[m] + 1)
            nbrs.push_back(x)
        for j in range(self._n(2 * m + 1)):
            a = self._arc(2 * m + 1, j)
            x = self.a_tail[a]
            self._spill(self.b_file, a, x)
            self._remove(2 * x, a)
            self.depth[x] = max(self.depth[x], self.depth[m] + 1)
            nbrs.push_back(x)
        self.nf += self.f_cnt[m]
        self.nb += self.b_cnt[m]
        for j in range(self._n(2 * m)):
            self.free_slots.push_back(self._arc(2 * m, j))
        for j in range(self._n(2 * m + 1)):
            self.free_slots.push_back(self._arc(2 * m + 1, j))
        self._release(2 * m)
        self._release(2 * m + 1)

    def run(self, progress=None, core_order=None, sink=None, spill_dir=None):
        """Contract every node; return the hierarchy as arrays (see lds.graph.prepare for their meaning).

        When contraction by priority stops early (the core limits), ``core_order(nodes, tails, heads)`` — given
        the nodes left and the arcs between them — may return the order in which to contract those too (a nested
        dissection: separators last), or that order and its cells (see _contract_cells); without it they stay a
        core."""
        # a max-heap over a vector (what std::priority_queue is), so it can be freed before the ordered part
        cdef vector[pair[double, int32_t]] queue
        cdef pair[double, int32_t] top
        cdef int32_t m, x, i, a
        cdef size_t j
        cdef double prio
        cdef int64_t order = 0, degree, k
        cdef vector[int32_t] rank
        cdef vector[double] cur_prio
        cdef vector[int32_t] nbrs
        cdef int settle_limit
        self._open_spill(spill_dir)
        rank.resize(self.n, -1)
        cur_prio.resize(self.n, 0)
        settle_limit = self.settle_limit
        if self.first_settle_limit > 0:  # first priorities from short searches: each is redone in full when popped
            self.settle_limit = self.first_settle_limit
        for i in range(self.n):
            cur_prio[i] = self._priority(i)
            _heap_push(queue, -cur_prio[i], i)
        self.settle_limit = settle_limit
        while not queue.empty():
            top = _heap_pop(queue)
            m = top.second
            if self.done[m] or -top.first != cur_prio[m]:
                continue  # contracted, or a stale entry
            degree = <int64_t>(self._n(2 * m + 1) + self._n(2 * m))
            if self.core_degree > 0 and degree > self.core_degree:
                break  # even the cheapest node is dense now: leave the rest as the core
            if self.soft_core_degree > 0 and degree > self.soft_core_degree and self.n - order > self.soft_core_nodes:
                break  # dense while much is left: the hierarchy is densifying (grid-like), stop here
            prio = self._priority(m)  # also leaves m's shortcuts in the scratch
            if prio != cur_prio[m] and not queue.empty() and prio > -queue.front().first + 1e-9:
                cur_prio[m] = prio
                _heap_push(queue, -prio, m)
                continue
            self._contract_node(m, nbrs)
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
                        _heap_push(queue, -prio, x)
            if progress is not None and order % self.report_every == 0:
                progress(order, self.n)
        vector[pair[double, int32_t]]().swap(queue)
        vector[double]().swap(cur_prio)
        if core_order is not None and order < self.n:
            self.ordered_nodes = self.n - order
            self.keep_hops = False
            _free(self.a_hops)
            self.settle_limit = self.ordered_settle_limit
            self.relax_limit = self.ordered_relax_limit
            # the searches' per-node state is not read while the order is made: freed for it, then made again,
            # 24 bytes a node (0.4 GB of a 20M-node country's car)
            vector[_Label]().swap(self.lab)
            _free(self.head_arc)
            _free(self.head_stamp)
            ordered = core_order(*self._left())
            self._make_search_state()
            cells = None
            if isinstance(ordered, tuple):
                ordered, cells = ordered
            malloc_trim(0)  # the order's temporaries (numpy, in the heap) would stay resident beside the arcs
            if cells is None:
                for m in ordered:
                    order = self._take(m, rank, order, nbrs, progress)
            else:
                order = self._contract_cells(np.ascontiguousarray(ordered, dtype=np.int32),
                                             np.ascontiguousarray(cells, dtype=np.int64), rank, order, nbrs,
                                             progress)
        # The core (uncontracted nodes, when contraction stopped early) keeps every arc between its nodes in
        # both lists, so the query runs a plain bidirectional Dijkstra once both searches are inside it.
        self.core_size = 0
        for m in range(self.n):
            if self.done[m]:
                continue
            self.core_size += 1
            rank[m] = <int32_t>order
            order += 1
            self.f_cnt[m] = <int32_t>self._n(2 * m)
            self.b_cnt[m] = <int32_t>self._n(2 * m + 1)
            self.nf += self.f_cnt[m]
            self.nb += self.b_cnt[m]
            for j in range(self._n(2 * m)):
                a = self._arc(2 * m, j)
                self._spill(self.f_file, a, self.hw[a].head)
            for j in range(self._n(2 * m + 1)):
                a = self._arc(2 * m + 1, j)
                self._spill(self.b_file, a, self.a_tail[a])
        return self._export(rank, sink)

    cdef int64_t _contract_cells(self, const int32_t[::1] ordered, const int64_t[::1] cells, vector[int32_t]& rank,
                                 int64_t order, vector[int32_t]& nbrs, object progress) except -1:
        """Contract ``ordered`` cell by cell (runs of equal ``cells``: a dissection's leaves and separators, whose
        order among themselves is free), within a cell the node with the fewest arcs it could add first (ins x
        outs less the arcs it removes, on the live lists: the minimum degree rule of sparse elimination)."""
        cdef int64_t n = ordered.shape[0], s = 0, e, i, best_i
        cdef int64_t key, best
        cdef int32_t m
        cdef vector[int32_t] block
        while s < n:
            e = s + 1
            while e < n and cells[e] == cells[s]:
                e += 1
            block.clear()
            for i in range(s, e):
                block.push_back(ordered[i])
            while not block.empty():
                best_i = 0
                best = 0
                for i in range(<int64_t>block.size()):
                    m = block[i]
                    key = <int64_t>self._n(2 * m + 1) * self._n(2 * m) - self._n(2 * m + 1) - self._n(2 * m)
                    if i == 0 or key < best:
                        best, best_i = key, i
                m = block[best_i]
                block.erase(block.begin() + best_i)
                order = self._take(m, rank, order, nbrs, progress)
            s = e
        return order

    cdef int64_t _take(self, int32_t m, vector[int32_t]& rank, int64_t order, vector[int32_t]& nbrs,
                       object progress) except -1:
        """Contract ``m`` as the ``order``-th node of a given order (its shortcuts found first); the next order."""
        self._shortcuts(m)
        self._contract_node(m, nbrs)
        rank[m] = <int32_t>order
        order += 1
        if progress is not None and order % self.report_every == 0:
            progress(order, self.n)
        return order

    cdef tuple _left(self):
        """The nodes not contracted yet and the arcs between them (tails, heads), counted first and written once
        (grown by doubling and then copied, the 5M-node country's ~40M took three times their size at the peak)."""
        cdef int64_t n_nodes = 0, n_arcs = 0, i = 0, k = 0
        cdef int32_t m
        cdef size_t j
        for m in range(self.n):
            if not self.done[m]:
                n_nodes += 1
                n_arcs += self._n(2 * m)
        nodes, tails, heads = np.empty(n_nodes, np.int32), np.empty(n_arcs, np.int32), np.empty(n_arcs, np.int32)
        cdef int32_t[::1] nv = nodes, tv = tails, hv = heads
        for m in range(self.n):
            if self.done[m]:
                continue
            nv[i] = m
            i += 1
            for j in range(self._n(2 * m)):
                tv[k] = m
                hv[k] = self.hw[self._arc(2 * m, j)].head
                k += 1
        return nodes, tails, heads

    cdef void _free_scratch(self):
        """Free what only contraction needs (the live arcs, adjacency, the searches' and priorities' state)."""
        _free(self.a_tail)
        vector[_HeadW]().swap(self.hw)
        _free(self.a_c1)
        _free(self.a_c2)
        _free(self.a_hops)
        _free(self.a_id)
        _free(self.free_slots)
        vector[_Label]().swap(self.lab)
        _free(self.head_arc)
        _free(self.head_stamp)
        _free(self.depth)
        _free(self.pool)
        _free(self.l_size)
        _free(self.l_cap)
        vector[int64_t]().swap(self.l_start)
        vector[pair[int64_t, int32_t]]().swap(self.w_heap)
        vector[uint8_t]().swap(self.done)

    cdef void _scan(self, FILE* f, vector[int32_t]& cnt, const int64_t[::1] off, int64_t base, int field, int how,
                    int32_t[::1] new_id, int32_t[::1] out) except *:
        """Read a list's spill file back: its arc at position p of the exported list (by rank, each node's arcs
        in the order they were listed) gives ``out[base + p]``: its ``field`` AS_STORED, RENUMBERED (an arc id) or
        RANKED (a node, as its rank), its LABEL, or its list's OWNER (its rank); or, NEW_ID, it sets
        ``new_id[id] = base + p``."""
        cdef vector[int32_t] buf
        cdef size_t avail = 0, pos = 0
        cdef int32_t r, m, v
        cdef int32_t* rec
        cdef int64_t k, p
        buf.resize(SPILL_CHUNK * REC)
        if fflush(f) != 0 or ferror(f):
            raise OSError("could not write the hierarchy's spill file (disk full?)")
        rewind(f)
        for r in range(self.n):  # the file is in contraction (rank) order
            m = self.node_at[r]
            for k in range(cnt[m]):
                if pos == avail:
                    avail = fread(buf.data(), sizeof(int32_t) * REC, SPILL_CHUNK, f)
                    pos = 0
                    if avail == 0:
                        raise OSError("hierarchy spill file cut short")
                rec = &buf[pos * REC]
                pos += 1
                p = base + off[r] + k
                if how == NEW_ID:
                    new_id[rec[0]] = <int32_t>p
                    continue
                v = rec[field]
                if how == RENUMBERED:
                    v = new_id[v] if v >= 0 else -1
                elif how == RANKED:
                    v = self.rank_of[v]
                elif how == LABEL:
                    v = self.orig_label[rec[0]] if rec[3] < 0 else -1
                elif how == OWNER:
                    v = r
                out[p] = v

    cdef object _column(self, int field, int how, int32_t[::1] new_id, const int64_t[::1] fo,
                        const int64_t[::1] bo, bint fwd=True, bint bwd=True, int bwd_how=-1):
        """One int32 column of the exported arcs (forward lists then backward ones, or either alone) from the
        spill files (see _scan; ``bwd_how`` overrides ``how`` for the backward lists)."""
        out = np.empty((self.nf if fwd else 0) + (self.nb if bwd else 0), np.int32)
        if fwd:
            self._scan(self.f_file, self.f_cnt, fo, 0, field, how, new_id, out)
        if bwd:
            self._scan(self.b_file, self.b_cnt, bo, self.nf if fwd else 0, field, how if bwd_how < 0 else bwd_how,
                       new_id, out)
        return out

    cdef dict _export(self, vector[int32_t]& rank, object sink):
        """The hierarchy as arrays read back from the spill files one column at a time; each goes to
        ``sink(name, array)`` when given (which may write and drop it), else into the returned dict.

        Its nodes are numbered by rank (``rank``: a graph node's number in the hierarchy; ``node``: the graph node
        of each): a query's upward searches run through nodes of neighbouring ranks (a separator's, a cell's),
        whose labels and arc lists then share pages and cache lines (at 5M OSM nodes, an upward search space of
        ~500 nodes spans ~12 pages of labels instead of ~140 in the graph's own order)."""
        cdef Py_ssize_t n = self.n
        cdef int32_t m
        out = {}

        def emit(name, array):
            if sink is None:
                out[name] = array
            else:
                sink(name, array)

        self._free_scratch()
        malloc_trim(0)
        fwd_off, bwd_off = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
        cdef int64_t[::1] fo = fwd_off, bo = bwd_off
        cdef int32_t r
        self.node_at.resize(n)
        for m in range(n):
            self.node_at[rank[m]] = m
        for r in range(n):
            m = self.node_at[r]
            fo[r + 1] = fo[r] + self.f_cnt[m]
            bo[r + 1] = bo[r] + self.b_cnt[m]
        self.rank_of = rank
        emit("rank", _array(rank))
        node = _array(self.node_at)
        emit("node", node)
        emit("fwd_off", fwd_off)
        emit("bwd_off", bwd_off)
        # an arc listed twice (the core's) is renumbered to its backward copy, the later one
        new_id = np.full(self.n_ids, -1, np.int32)
        cdef int32_t[::1] nid = new_id
        self._column(0, NEW_ID, nid, fo, bo)
        emit("bwd_tail", self._column(1, RANKED, nid, fo, bo, False, True, -1))
        w = self._column(2, AS_STORED, nid, fo, bo)
        emit("fwd_w", w[:self.nf])
        emit("bwd_w", w[self.nf:])
        del w
        head = self._column(1, RANKED, nid, fo, bo, True, True, OWNER)
        emit("arc_head", head)
        emit("fwd_head", head[:self.nf])
        del head
        emit("arc_label", self._column(0, LABEL, nid, fo, bo))
        _free(self.orig_label)
        c1 = self._column(3, RENUMBERED, nid, fo, bo)
        out["_arcs"] = len(c1)
        out["_shortcuts"] = int(np.count_nonzero(c1 >= 0))
        emit("arc_c1", c1)
        del c1
        emit("arc_c2", self._column(4, RENUMBERED, nid, fo, bo))
        emit("loop_c1", _renumber(_array(self.loop_c1)[node], new_id))
        emit("loop_c2", _renumber(_array(self.loop_c2)[node], new_id))
        emit("loop_w", _array(self.loop_w)[node])
        _free(self.rank_of)
        fclose(self.f_file)
        fclose(self.b_file)
        self.f_file = self.b_file = NULL
        return out


def contract(int32_t n, dict arcs, int settle_limit=500, bint update_neighbours=True, progress=None,
             int64_t report_every=0, int64_t core_degree=0, int64_t soft_core_degree=0,
             double soft_core_share=0.0, core_order=None, int ordered_settle_limit=0,
             int64_t ordered_relax_limit=0, sink=None, spill_dir=None, int first_settle_limit=0):
    """Contraction hierarchy of a directed graph with integer weights: nodes contracted in order of OSRM's
    priority, re-evaluated for the neighbours of each contracted node and lazily when popped.

    ``arcs`` holds the graph's arcs as int32 arrays ``tail``, ``head``, ``weight`` and ``label`` (what an original
    arc stands for); they are taken out of it once copied, so the caller can hand over its only references.

    With ``core_degree`` > 0 contraction stops once the cheapest node left has more arcs than that; with
    ``soft_core_degree`` > 0 it already stops at that many arcs while more than ``soft_core_share`` of the nodes
    are left. ``core_order(nodes, tails, heads)`` then orders the nodes left (a nested dissection,
    lds.graph.dissection) and they are contracted in that order too (given as ``(order, cells)``, in any order
    within each run of equal cells, fewest possible new arcs first); without it they form a core searched by
    plain bidirectional Dijkstra (what OSRM's core factor does). Either bounds the build on networks whose
    hierarchy densifies (grids with turn costs). ``ordered_settle_limit`` > 0 bounds the witness searches of
    the ordered part instead of ``settle_limit``, and ``ordered_relax_limit`` > 0 stops them once they have
    relaxed that many arcs: its nodes are dense, so each settled node costs many arcs, and the order, not the
    witnesses, is what keeps its shortcuts few. ``first_settle_limit`` > 0 bounds the searches of every node's
    first priority instead (each is evaluated again, in full, when the node comes up).

    Returns the hierarchy's arrays (see lds.graph.prepare) and ``_arcs``/``_shortcuts`` counts; with ``sink``
    each arc-sized array goes to ``sink(name, array)`` as soon as it is read back instead (to be written and
    dropped: a country's arrays never all in memory at once). The contracted arcs wait in two unnamed temporary
    files in ``spill_dir`` (default: the system's temporary dir; ~20 bytes per arc)."""
    c = _Contractor(n, arcs.pop("tail"), arcs.pop("head"), arcs.pop("weight"), arcs.pop("label"), settle_limit,
                    update_neighbours)
    c.ordered_settle_limit = ordered_settle_limit if ordered_settle_limit > 0 else settle_limit
    c.ordered_relax_limit = ordered_relax_limit
    c.first_settle_limit = first_settle_limit
    if report_every:
        c.report_every = report_every
    c.core_degree = core_degree
    c.soft_core_degree = soft_core_degree
    c.soft_core_nodes = <int64_t>(soft_core_share * n)
    out = c.run(progress, core_order, sink, spill_dir)
    out["_stats"] = (c.n_prio, c.n_settled)
    out["ordered_nodes"] = np.array([c.ordered_nodes], dtype=np.int64)
    out["core_size"] = np.array([c.core_size], dtype=np.int64)
    return out


def shortcut_sums(const int32_t[::1] arc_c1, const int32_t[::1] arc_c2, double[::1] values):
    """Fill ``values`` of every shortcut with the sum of its two halves' (original arcs hold their own on entry);
    children first, with an explicit stack (hierarchies are deep). One quantity at a time, so a country's arc
    costs need one arc-sized float array in memory, not two."""
    cdef Py_ssize_t n = arc_c1.shape[0], a, top
    cdef vector[uint8_t] done
    cdef vector[int32_t] stack
    cdef int32_t c1, c2
    done.resize(n, 0)
    for a in range(n):
        if arc_c1[a] < 0:
            done[a] = 1
    for a in range(n):
        if done[a]:
            continue
        stack.push_back(<int32_t>a)
        while not stack.empty():
            top = stack.back()
            c1 = arc_c1[top]
            c2 = arc_c2[top]
            if not done[c1]:
                stack.push_back(c1)
                continue
            if not done[c2]:
                stack.push_back(c2)
                continue
            values[top] = values[c1] + values[c2]
            done[top] = 1
            stack.pop_back()
