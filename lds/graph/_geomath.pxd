# Small inline geometry helpers shared by the Cython modules (turn costs and guidance); a .pxd so each
# module inlines them instead of calling across modules.
from libc.math cimport M_PI, cos, sqrt


cdef inline double _deviation(double b_in, double b_out) noexcept nogil:
    """Turn angle in (-180, 180]: 0 straight on, positive to the right."""
    cdef double d = b_out - b_in
    while d > 180.0:
        d -= 360.0
    while d <= -180.0:
        d += 360.0
    return d


cdef inline double _dist_m(double lon0, double lat0, double lon1, double lat1) noexcept nogil:
    """Metres between two nearby points (local equirectangular; exact enough within one edge)."""
    cdef double deg = M_PI / 180.0
    cdef double dx = (lon1 - lon0) * cos(lat0 * deg) * deg * 6371008.8
    cdef double dy = (lat1 - lat0) * deg * 6371008.8
    return sqrt(dx * dx + dy * dy)
