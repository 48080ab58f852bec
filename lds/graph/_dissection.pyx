# distutils: language = c++
# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Nested dissection order in C++ (see lds.graph.dissection for the method and its settings).

A country's dissection visits every node once per level and direction; in numpy each cell cost a dozen array
passes and temporaries, a third of the car hierarchy's build. Here the cells are ranges of two arrays split in
place (their nodes ascending, their arcs in any order: a cut's sizes depend only on which arcs cross it), so the
whole dissection holds one copy of the arcs and a few node-sized arrays.
"""

import numpy as np

from libc.math cimport ceil, fabs, floor, rint
from libc.stdint cimport int32_t, int64_t, uint8_t
from libcpp.algorithm cimport sort
from libcpp.pair cimport pair
from libcpp.vector cimport vector


cdef struct _Job:
    int64_t ns, ne  # nodes: ids[ns:ne]
    int64_t a0, a1  # arcs: at/ah[a0:a1]
    bint sep  # a separator, output once both halves are


cdef inline double _key(double dx, double dy, double x, double y) noexcept nogil:
    """A node's coordinate along (dx, dy) as numpy's ``round(v, 2)``: scaled, rounded half to even, scaled back
    (positions equal to the centimetre count as one: the two directions of a road, a grid's column)."""
    return rint((dx * x + dy * y) * 100.0) / 100.0


cdef void _sizes(const int32_t* at, const int32_t* ah, const int32_t* rank, int64_t m, int64_t n,
                 vector[int32_t]& far, vector[int32_t]& near, vector[int64_t]& left, vector[int64_t]& right,
                 vector[int64_t]& size) noexcept nogil:
    """``size[k]`` for every cut k in 0..n of n ranked nodes: the fewer distinct left or right ends of the arcs
    crossing it (arcs ``at``/``ah``, their ends ranked by ``rank``: read through it, not copied, as a country's
    cells have tens of millions of arcs). A node of rank r is a left end for the cuts in (r, its farthest
    neighbour's rank] and a right end for those in (its nearest neighbour's rank, r]: two difference arrays,
    linear time."""
    cdef int64_t i, r
    cdef int64_t cl = 0, cr = 0
    cdef int32_t lo, hi
    far.assign(n, -1)
    near.assign(n, <int32_t>n)
    left.assign(n + 2, 0)
    right.assign(n + 2, 0)
    size.resize(n + 1)
    for i in range(m):
        lo, hi = rank[at[i]], rank[ah[i]]
        if lo > hi:
            lo, hi = hi, lo
        if hi > far[lo]:
            far[lo] = hi
        if lo < near[hi]:
            near[hi] = lo
    for r in range(n):
        if far[r] > r:
            left[r + 1] += 1
            left[far[r] + 1] -= 1
        if near[r] < r:
            right[near[r] + 1] += 1
            right[r + 1] -= 1
    for i in range(n + 1):
        cl += left[i]
        cr += right[i]
        size[i] = min(cl, cr)


cdef inline int32_t _find(vector[int32_t]& root, int32_t x) noexcept nogil:
    """Union-find root of ``x``, halving the path on the way."""
    while root[x] != x:
        root[x] = root[root[x]]
        x = root[x]
    return x


cdef int64_t _part_size(const int32_t* at, const int32_t* ah, const int32_t* rank, int64_t m, int64_t n, int64_t k,
                        vector[int32_t]& root, vector[int32_t]& n_lo, vector[int32_t]& n_hi,
                        vector[uint8_t]& end) noexcept nogil:
    """The separator of cut ``k`` of n ranked nodes when each connected part of the arcs crossing it (arcs
    ``at``/``ah``, their ends ranked by ``rank``) gives up its side with fewer distinct ends."""
    cdef int64_t i, total = 0
    cdef int32_t a, b, lo, hi
    root.resize(n)
    n_lo.assign(n, 0)
    n_hi.assign(n, 0)
    end.assign(n, 0)
    for i in range(n):
        root[i] = <int32_t>i
    for i in range(m):
        lo, hi = rank[at[i]], rank[ah[i]]
        if lo > hi:
            lo, hi = hi, lo
        if lo < k <= hi:
            end[lo] = 1
            end[hi] = 1
            a, b = _find(root, lo), _find(root, hi)
            if a != b:
                root[a] = b
    for i in range(n):
        if end[i]:
            if i < k:
                n_lo[_find(root, <int32_t>i)] += 1
            else:
                n_hi[_find(root, <int32_t>i)] += 1
    for i in range(n):
        if root[i] == i:
            total += min(n_lo[i], n_hi[i])
    return total


def separator_sizes(const int32_t[::1] lo, const int32_t[::1] hi, int64_t n):
    """For every cut ``k`` of ``n`` ranked nodes (ranks < k on the left), the size of its separator: the fewer of
    the left and right ends of the arcs crossing it (arcs as their ends' ranks ``lo`` < ``hi``)."""
    cdef vector[int32_t] far, near, identity
    cdef vector[int64_t] left, right, size
    cdef int64_t k
    identity.resize(n)
    for k in range(n):
        identity[k] = <int32_t>k
    _sizes(&lo[0] if lo.shape[0] else NULL, &hi[0] if hi.shape[0] else NULL, identity.data(), lo.shape[0], n, far,
           near, left, right, size)
    out = np.empty(n + 1, np.int64)
    cdef int64_t[::1] o = out
    for k in range(n + 1):
        o[k] = size[k]
    return out


def order(const int32_t[::1] nodes, int32_t[::1] tails, int32_t[::1] heads, const double[::1] px,
          const double[::1] py, int64_t leaf_nodes, double cut_share, const double[:, ::1] directions,
          int64_t[::1] cell=None, bint per_part=False):
    """Positions in ``nodes`` (ascending ids; ``px``/``py`` their coordinates) in nested dissection order: each
    cell of more than ``leaf_nodes`` is cut straight across along one of ``directions`` (rows dx, dy), with at
    least ``cut_share`` of its nodes on either side, where its separator (the fewer distinct ends of the arcs
    crossing, on one side; with ``per_part`` the best cut of each direction is then sized by giving up, for each
    connected part of its crossing arcs, the side with fewer ends) is smallest, preferring cuts between distinct
    positions, then balance; both halves come first, the separator after them (with ``per_part`` each part's
    smaller side, else the smaller side of the whole cut). ``tails``/``heads`` are the arcs between the nodes
    (node ids), overwritten: they hold the cells' arcs as the cells split (no copy: the 5M-node country's car
    has ~40M arcs left to order). When given, ``cell`` (n) receives the number of the leaf or separator each
    position belongs to (ascending in the order: a run of equal numbers is one leaf or one separator)."""
    cdef int64_t n = nodes.shape[0], m = tails.shape[0], i, j, k, d, nd = directions.shape[0]
    out = np.empty(n, np.int64)
    if n == 0:
        return out
    cdef int64_t[::1] res = out
    cdef int64_t n_out = 0, n_cells = 0
    cdef bint cells = cell is not None
    # node ids -> positions; arcs in positions
    cdef vector[int32_t] loc
    loc.assign(<int64_t>nodes[n - 1] + 1, -1)
    for i in range(n):
        loc[nodes[i]] = <int32_t>i
    cdef int32_t* at = &tails[0] if m else NULL
    cdef int32_t* ah = &heads[0] if m else NULL
    for i in range(m):
        at[i] = loc[at[i]]
        ah[i] = loc[ah[i]]
    vector[int32_t]().swap(loc)
    cdef vector[int32_t] ids, tmp, rank, mark_l, mark_r
    cdef vector[uint8_t] side, placed
    cdef vector[int32_t] far, near
    cdef vector[int64_t] left, right, size
    cdef vector[pair[double, int32_t]] keys
    cdef vector[int32_t] ords
    cdef vector[double] kv
    cdef int32_t* srt
    cdef int64_t best_d = 0
    cdef vector[_Job] stack
    cdef _Job job, sub
    ids.resize(n)
    for i in range(n):
        ids[i] = <int32_t>i
    rank.resize(n)
    # every node along each direction: by key, then id (each cell's stays so as cells split: a stable sort)
    ords.resize(nd * n)
    for d in range(nd):
        keys.resize(n)
        for i in range(n):
            keys[i] = pair[double, int32_t](_key(directions[d, 0], directions[d, 1], px[i], py[i]), <int32_t>i)
        sort(keys.begin(), keys.end())
        for i in range(n):
            ords[d * n + i] = keys[i].second
    vector[pair[double, int32_t]]().swap(keys)
    side.assign(n, 0)
    placed.assign(n, 0)
    mark_l.assign(n, -1)
    mark_r.assign(n, -1)
    cdef vector[int32_t] root, part_l, part_r, p_root, p_lo, p_hi
    cdef vector[uint8_t] p_end
    if per_part:
        root.resize(n)
        part_l.resize(n)
        part_r.resize(n)
    cdef int32_t stamp = 0, x, y
    cdef int64_t c, ns, ne, a0, a1, best_k, pick, kmin, kmax, half, n_l, n_r, p, q, cl, cr, cs
    cdef int64_t best_size, pick_size
    cdef double dx, dy, best_bal, pick_bal, bal
    cdef bint any_gap, found, use_gap, sep_left
    job.ns, job.ne, job.a0, job.a1, job.sep = 0, n, 0, m, False
    stack.push_back(job)
    with nogil:
        while not stack.empty():
            job = stack.back()
            stack.pop_back()
            ns, ne, a0, a1 = job.ns, job.ne, job.a0, job.a1
            c = ne - ns
            if job.sep or c <= leaf_nodes:
                for i in range(ns, ne):
                    res[n_out] = ids[i]
                    if cells:
                        cell[n_out] = n_cells
                    n_out += 1
                n_cells += 1
                continue
            # the best cut over the directions, k nodes on the left: kmin <= k <= kmax
            kmin = max(<int64_t>ceil(cut_share * c), 0)
            kmax = min(<int64_t>floor((1 - cut_share) * c), c)
            found = False
            best_size, best_bal, half = 0, 0.0, 0
            for d in range(nd):
                dx, dy = directions[d, 0], directions[d, 1]
                srt = ords.data() + d * n + ns  # the cell's nodes along d, kept sorted as cells split
                for i in range(c):
                    rank[srt[i]] = <int32_t>i
                kv.resize(c)
                for i in range(max(kmin - 1, 0), min(kmax + 1, c)):  # the keys the candidate cuts compare
                    x = srt[i]
                    kv[i] = _key(dx, dy, px[x], py[x])
                _sizes(at + a0, ah + a0, rank.data(), a1 - a0, c, far, near, left, right, size)
                # candidates: between cut_share and 1 - cut_share, at a gap between positions if there is one
                any_gap = False
                for k in range(kmin, kmax + 1):
                    if k == 0 or k == c or kv[k] != kv[k - 1]:
                        any_gap = True
                        break
                pick = -1
                pick_size, pick_bal = 0, 0.0
                for k in range(kmin, kmax + 1):
                    if any_gap and not (k == 0 or k == c or kv[k] != kv[k - 1]):
                        continue
                    bal = fabs(k - c / 2.0)
                    if pick < 0 or size[k] < pick_size or (size[k] == pick_size and bal < pick_bal):
                        pick, pick_size, pick_bal = k, size[k], bal
                if per_part and pick >= 0:
                    pick_size = _part_size(at + a0, ah + a0, rank.data(), a1 - a0, c, pick, p_root, p_lo, p_hi,
                                           p_end)
                if not found or pick_size < best_size or (pick_size == best_size and pick_bal < best_bal):
                    found = True
                    best_size, best_bal, half, best_d = pick_size, pick_bal, pick, d
            # split: sides, the crossing arcs' ends on either side, the fewer of them the separator
            srt = ords.data() + best_d * n + ns
            for i in range(c):
                side[srt[i]] = i >= half
            stamp += 1
            n_l = n_r = 0
            for i in range(a0, a1):
                x, y = at[i], ah[i]
                if side[x] == side[y]:
                    continue
                if side[x] == 1:
                    x, y = y, x
                if mark_l[x] != stamp:
                    mark_l[x] = stamp
                    n_l += 1
                if mark_r[y] != stamp:
                    mark_r[y] = stamp
                    n_r += 1
            if per_part:
                # each connected part of the crossing arcs is cut on its own side with fewer ends: still every
                # crossing arc loses an end, and a cut through crossings leaning both ways costs less
                for i in range(ns, ne):
                    x = ids[i]
                    root[x] = x
                    part_l[x] = part_r[x] = 0
                for i in range(a0, a1):
                    x, y = at[i], ah[i]
                    if side[x] != side[y]:
                        x, y = _find(root, x), _find(root, y)
                        if x != y:
                            root[x] = y
                for i in range(ns, ne):
                    x = ids[i]
                    if mark_l[x] == stamp:
                        part_l[_find(root, x)] += 1
                    if mark_r[x] == stamp:
                        part_r[_find(root, x)] += 1
                for i in range(ns, ne):
                    x = ids[i]
                    if mark_l[x] != stamp and mark_r[x] != stamp:
                        continue
                    y = _find(root, x)
                    if mark_l[x] == stamp and part_l[y] <= part_r[y] or mark_r[x] == stamp and part_r[y] < part_l[y]:
                        placed[x] = 1
            else:
                sep_left = n_l <= n_r
                for i in range(ns, ne):
                    x = ids[i]
                    if sep_left and mark_l[x] == stamp or not sep_left and mark_r[x] == stamp:
                        placed[x] = 1
            # arcs kept: within a side, neither end placed; left ones first, then right ones (order is free)
            p = a0
            for i in range(a0, a1):
                x, y = at[i], ah[i]
                if side[x] != side[y] or placed[x] or placed[y]:
                    continue
                at[p], ah[p] = x, y
                p += 1
            q = p
            i = a0
            while i < q:  # partition [a0, p) into left and right
                if side[at[i]] == 0:
                    i += 1
                else:
                    q -= 1
                    at[i], at[q] = at[q], at[i]
                    ah[i], ah[q] = ah[q], ah[i]
            # nodes in each order (ascending ids, then along each direction): left, right, separator
            tmp.resize(c)
            n_l = n_r = 0
            for i in range(ns, ne):
                x = ids[i]
                if not placed[x]:
                    if side[x] == 0:
                        n_l += 1
                    else:
                        n_r += 1
            for d in range(-1, nd):
                srt = ids.data() + ns if d < 0 else ords.data() + d * n + ns
                cl, cr, cs = 0, n_l, n_l + n_r
                for i in range(c):
                    x = srt[i]
                    if placed[x]:
                        tmp[cs] = x
                        cs += 1
                    elif side[x] == 0:
                        tmp[cl] = x
                        cl += 1
                    else:
                        tmp[cr] = x
                        cr += 1
                for i in range(c):
                    srt[i] = tmp[i]
            sub.ns, sub.ne, sub.a0, sub.a1, sub.sep = ns + n_l + n_r, ne, 0, 0, True
            stack.push_back(sub)  # after both halves
            sub.ns, sub.ne, sub.a0, sub.a1, sub.sep = ns + n_l, ns + n_l + n_r, q, p, False
            stack.push_back(sub)
            sub.ns, sub.ne, sub.a0, sub.a1, sub.sep = ns, ns + n_l, a0, q, False
            stack.push_back(sub)  # first
    return out
