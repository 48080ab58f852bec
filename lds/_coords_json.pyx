# cython: cdivision=True
"""JSON text of coordinate pairs already rounded to a few decimals, in C: ``[[x,y],[x,y],...]``.

A value v that is k / 10**d exactly (as ``numpy.round(x, d)`` makes it, |k| < 10**15) is written as k's digits
with the decimal point put back and trailing zeros dropped: the shortest text that reads back as v, the same
bytes orjson writes, a few times faster than orjson's numpy path. Any other value is written by Python's own
``repr`` (the same number, though perhaps not orjson's notation), NaN and infinities as ``null`` (as orjson).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport isfinite, llround, signbit
from libc.stdint cimport int64_t, uint32_t
from libc.string cimport memcpy, strlen


cdef extern from "Python.h":
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags, int* ptype) except NULL
    int Py_DTSF_ADD_DOT_0

cdef enum:
    MAX_NUMBER = 32  # bytes any number takes at most (repr of a double: 24)


cdef double[16] POW10
cdef int _k
POW10[0] = 1.0
for _k in range(1, 16):
    POW10[_k] = POW10[_k - 1] * 10.0


cdef inline char* _rounded(char* p, double v, int decimals, double scale) noexcept nogil:
    """Write v when it is k / scale exactly and not too large; return the end, or NULL to let repr write it."""
    cdef int64_t k, whole, frac
    cdef uint32_t w32, f32
    cdef char digits[24]
    cdef int n, i, last
    if not (-1e15 < v * scale < 1e15):  # below 2**50: k / scale is exact, and a double apart from its neighbours
        return NULL
    k = llround(v * scale)
    if <double>k / scale != v:
        return NULL
    if k < 0 or (k == 0 and signbit(v)):
        p[0] = 45  # -
        p += 1
        k = -k
    whole = k // <int64_t>scale
    frac = k - whole * <int64_t>scale
    if whole < 1000:  # the usual longitude or latitude: up to three digits, 32-bit arithmetic
        w32 = <uint32_t>whole
        if w32 >= 100:
            p[0] = <char>(48 + w32 // 100)
            p[1] = <char>(48 + w32 // 10 % 10)
            p += 2
        elif w32 >= 10:
            p[0] = <char>(48 + w32 // 10)
            p += 1
        p[0] = <char>(48 + w32 % 10)
        p += 1
    else:
        n = 0
        while whole:
            digits[n] = <char>(48 + whole % 10)
            whole //= 10
            n += 1
        for i in range(n):
            p[i] = digits[n - 1 - i]
        p += n
    p[0] = 46  # .
    p += 1
    if frac == 0:
        p[0] = 48  # 0
        return p + 1
    last = decimals
    while frac % 10 == 0:  # trailing zeros dropped
        frac //= 10
        last -= 1
    if frac < <int64_t>4294967296:
        f32 = <uint32_t>frac
        for i in range(last - 1, -1, -1):
            p[i] = <char>(48 + f32 % 10)
            f32 //= 10
    else:
        for i in range(last - 1, -1, -1):
            p[i] = <char>(48 + frac % 10)
            frac //= 10
    return p + last


cdef char* _number(char* p, double v, int decimals, double scale) except NULL:
    cdef char* end
    cdef char* text
    cdef size_t n
    if not isfinite(v):
        memcpy(p, b"null", 4)
        return p + 4
    end = _rounded(p, v, decimals, scale)
    if end != NULL:
        return end
    text = PyOS_double_to_string(v, b"r", 0, Py_DTSF_ADD_DOT_0, NULL)
    n = strlen(text)
    memcpy(p, text, n)
    PyMem_Free(text)
    return p + n


def pairs_json(const double[:, ::1] xy, int decimals) -> bytes:
    """``[[x,y],...]`` of an (n, 2) float64 array whose values are rounded to ``decimals`` (0 to 15)."""
    if not 0 <= decimals <= 15:
        raise ValueError("decimals must be 0 to 15")
    if xy.shape[1] != 2:
        raise ValueError("an (n, 2) array")
    cdef Py_ssize_t n = xy.shape[0], i
    cdef double scale = POW10[decimals]
    cdef char* start = <char*>PyMem_Malloc(2 + n * (2 * MAX_NUMBER + 4))
    if start == NULL:
        raise MemoryError()
    cdef char* p = start
    try:
        p[0] = 91  # [
        p += 1
        for i in range(n):
            if i:
                p[0] = 44  # ,
                p += 1
            p[0] = 91  # [
            p = _number(p + 1, xy[i, 0], decimals, scale)
            p[0] = 44  # ,
            p = _number(p + 1, xy[i, 1], decimals, scale)
            p[0] = 93  # ]
            p += 1
        p[0] = 93  # ]
        p += 1
        return PyBytes_FromStringAndSize(start, p - start)
    finally:
        PyMem_Free(start)
