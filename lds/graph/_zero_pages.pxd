# Per-node search labels read as zero until written, in anonymous memory mapped only where written: a search touches
# few of a country's nodes, so a process holds the pages its searches reached, not a zero-filled array per node.
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.mman cimport (MADV_DONTNEED, MAP_ANONYMOUS, MAP_FAILED, MAP_PRIVATE, PROT_READ, PROT_WRITE, madvise,
                         mincore, mmap, munmap)
from posix.unistd cimport sysconf, _SC_PAGESIZE


cdef inline void* zero_pages(size_t size, str what) except NULL:
    """``size`` bytes of zeros, mapped as written (free them with ``munmap(p, size)``); MemoryError naming ``what``."""
    cdef void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if p == MAP_FAILED:
        raise MemoryError(what)
    return p


cdef inline size_t resident_bytes(void* p, size_t size) except? 0:
    """Bytes of a :func:`zero_pages` map the process holds (``mincore``)."""
    cdef size_t page = <size_t>sysconf(_SC_PAGESIZE), n = (size + page - 1) // page, k, held = 0
    cdef unsigned char* vec = <unsigned char*>malloc(n if n else 1)
    if vec == NULL:
        raise MemoryError("mincore vector")
    try:
        if mincore(p, size, vec) != 0:
            raise OSError("mincore failed")
        for k in range(n):
            held += vec[k] & 1
    finally:
        free(vec)
    return held * page


cdef inline void release_pages(void* p, size_t size) noexcept nogil:
    """Hand a :func:`zero_pages` map's pages back to the system: they read as zero again."""
    madvise(p, size, MADV_DONTNEED)


# Scratch arrays of lds.graph.scratch hold a value per node or edge as its float64 bits XOR the bits of the value
# that means "none yet" (``none_hi``, the high half of those bits: INF_BITS_HI for a cost, MINUS_ONE_BITS_HI for a
# walk's metres left), so the zero bits of a page never written read as that value: exact for every double, and a
# search maps only the pages it writes.
cdef enum:
    INF_BITS_HI = 0x7FF00000  # +inf's high 32 bits (the low ones are zero)
    MINUS_ONE_BITS_HI = 0xBFF00000  # -1.0's


cdef inline double read_bits(const uint64_t* a, int64_t i, uint64_t none_hi) noexcept nogil:
    cdef uint64_t b = a[i] ^ (none_hi << 32)
    cdef double x
    memcpy(&x, &b, 8)
    return x


cdef inline void write_bits(uint64_t* a, int64_t i, double x, uint64_t none_hi) noexcept nogil:
    cdef uint64_t b
    memcpy(&b, &x, 8)
    a[i] = b ^ (none_hi << 32)
