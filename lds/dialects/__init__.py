"""Other APIs of the field spoken from the same core: OSRM, Nominatim and Valhalla requests parsed and answers
shaped as those servers do, so their clients (geopy, leaflet-routing-machine, routingpy, ...) work unchanged.
Plain functions, no Flask: :mod:`lds.api.dialects` is the HTTP layer over them."""

from __future__ import annotations

from lds.errors import LdsError


class DialectError(LdsError):
    """An error in a dialect's own vocabulary: ``code`` is the server's error code (OSRM's ``InvalidQuery``...)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message, status)
        self.code = code
