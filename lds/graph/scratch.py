"""Per-node and per-edge scratch arrays of the searches, lent to one search at a time and bounded in memory.

A search on a country's graph touches a few thousand of its millions of nodes, but an array of +inf per node, one
per thread, makes every page resident in every thread of every worker (at 5M OSM nodes, 48 MB per thread for walk
isolines alone, four threads per worker). Here an array is anonymous memory that reads as zero until written, so
a cost is stored as its bits XOR +inf's (:func:`put_cost` / :func:`get_cost`, as lds.graph._search does), so
"not reached" (+inf) is the all-zero bits of a page never written, a process holds only the
pages its searches wrote, the threads of a worker share the arrays (one per search running at that moment, not one
per thread), and an array holding more than a budget when it comes back is handed back to the system
(``MADV_DONTNEED``: the pages read as zero again, faulted in anew by the next search).
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from lds.graph._search import mapped_bytes

PAGE = mmap.PAGESIZE


def zero_array(n: int, dtype) -> tuple[np.ndarray, mmap.mmap]:
    """``n`` zeros of ``dtype`` in private anonymous memory mapped only where written, and the map (kept alive with
    the array: the array is a view of it)."""
    size = max(int(n) * np.dtype(dtype).itemsize, 1)
    mm = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    return np.frombuffer(mm, dtype=dtype, count=int(n)), mm


def resident_bytes(array: np.ndarray) -> int:
    """Bytes of ``array``'s pages the process has mapped (``mincore``): those its searches wrote since it was
    mapped or released, and those they only read (each the kernel's one shared page of zeros: an overestimate of
    what the process holds, so at worst an array is released a little early)."""
    return mapped_bytes(array.reshape(-1).view(np.uint8))


class ScratchPool:
    """Zero-filled arrays of ``n`` items, one lent per search (:meth:`lend`); a worker's threads share them.

    A borrower leaves the array all zero (it clears what it wrote); an array coming back holding more than
    ``budget_bytes`` of pages is released to the system (its zeros then cost nothing until written again)."""

    def __init__(self, n: int, dtype, budget_bytes: int):
        self.n = int(n)
        self.dtype = np.dtype(dtype)
        self.budget_bytes = int(budget_bytes)
        self._free: list[tuple[np.ndarray, mmap.mmap]] = []
        self._lock = threading.Lock()
        self.made = 0  # arrays mapped (the most searches that ran at once)
        self.released = 0  # times an array went back to the system

    @contextmanager
    def lend(self) -> Iterator[np.ndarray]:
        with self._lock:
            item = self._free.pop() if self._free else None
            if item is None:
                self.made += 1
        if item is None:
            item = zero_array(self.n, self.dtype)
        try:
            yield item[0]
        finally:
            if resident_bytes(item[0]) > self.budget_bytes:
                item[1].madvise(mmap.MADV_DONTNEED)
                self.released += 1
            with self._lock:
                self._free.append(item)

    def resident_bytes(self) -> int:
        """Bytes the idle arrays hold (those lent out are not counted)."""
        with self._lock:
            return sum(resident_bytes(a) for a, _ in self._free)


INF_BITS = np.uint64(0x7FF0000000000000)  # +inf's bits


def cost_pool(n: int, budget_bytes: int) -> ScratchPool:
    """A pool of per-item cost arrays (uint64: each cost's bits XOR +inf's, so a fresh array reads +inf)."""
    return ScratchPool(n, np.uint64, budget_bytes)


def put_cost(array: np.ndarray, index: np.ndarray, cost: np.ndarray) -> None:
    """Record ``cost`` (float64) at ``index`` of a cost array (:func:`cost_pool`); clear with ``array[index] = 0``."""
    array[index] = np.ascontiguousarray(cost, dtype=np.float64).view(np.uint64) ^ INF_BITS


def get_cost(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The costs :func:`put_cost` recorded at ``index`` (float64), +inf where none was."""
    return (array[index] ^ INF_BITS).view(np.float64)
