# Per-node search labels read as zero until written, in anonymous memory mapped only where written: a search touches
# few of a country's nodes, so a process holds the pages its searches reached, not a zero-filled array per node.
from posix.mman cimport MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, PROT_READ, PROT_WRITE, mmap, munmap


cdef inline void* zero_pages(size_t size, str what) except NULL:
    """``size`` bytes of zeros, mapped as written (free them with ``munmap(p, size)``); MemoryError naming ``what``."""
    cdef void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if p == MAP_FAILED:
        raise MemoryError(what)
    return p
