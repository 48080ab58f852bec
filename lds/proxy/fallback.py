"""Outside the extract -> upstream: the LDS facade that sends what the loaded data cannot answer to the upstream.

With ``upstream_outside_extract`` on, the app's core (the cached facade, :mod:`lds.cache.cached`) is wrapped in
:class:`UpstreamFallback`; it has the core's methods and results, so the Flask views, the fast path below
Flask and the in-process job runner all fall back alike and answer with the same bytes. What "cannot answer"
means is what the core reports today:

- route, isolines: :class:`~lds.errors.OutOfCoverage` (a point farther than ``snap_radius_m`` from the mode's
  roads: the 422), for any of the route's points;
- reverse: :class:`~lds.errors.OutOfCoverage` (outside the data's bounding box, or nothing near: the
  "outside the loaded data" error entry);
- geocode: no candidate (the "No results found" entry): the address is not in the loaded data;
- batch: the entries without a candidate, sent upstream together in one batch and put back in their places.

Every other answer, errors included (400, a 404 "no route" between two covered points), stays local. The
upstream is called with the lds upstream token, never the caller's token (it is one of this installation);
its errors are those of :func:`lds.proxy.client.upstream_error`, and a 5xx gives the caller's quota back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from lds.errors import BadGateway, OutOfCoverage
from lds.geocoding.batch import NO_RESULT
from lds.proxy.client import UpstreamClient, upstream_error
from lds.proxy.upstream import Upstream


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _lonlat(point: Sequence[float]) -> str:
    return f"{_number(point[0])},{_number(point[1])}"


class UpstreamFallback:
    """The LDS facade with the upstream's answers where the loaded data has none; everything else forwarded."""

    def __init__(self, inner: Any, client: UpstreamClient, token: str):
        self.inner = inner
        self.client = client
        self._token = token
        from lds import services  # the paths: the declarations are the one place they are written

        self._services = services

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    # --- the services ----------------------------------------------------------------------
    def route(
        self,
        origin: Sequence[float],
        destination: Sequence[float],
        waypoints: Sequence[Sequence[float]] = (),
        mode: str = "car",
    ) -> dict:
        try:
            return self.inner.route(origin, destination, waypoints, mode)
        except OutOfCoverage:
            query = {"origin": _lonlat(origin), "destination": _lonlat(destination), "mode": mode}
            if waypoints:
                query["waypoints"] = ";".join(f"{_number(p[1])},{_number(p[0])}" for p in waypoints)  # lat,lon
            value = self._single(self._services.ROUTING.path, query)
            if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
                raise BadGateway("the upstream API answered a route that is not one route object") from None
            return value[0]

    def isolines(
        self, origin: Sequence[float], ranges: Sequence[float], range_type: str = "time", mode: str = "car"
    ) -> list[dict]:
        try:
            return self.inner.isolines(origin, ranges, range_type, mode)
        except OutOfCoverage:
            query = {
                "origin": _lonlat(origin),
                "range": ",".join(_number(r) for r in ranges),
                "range_type": range_type,
                "mode": mode,
            }
            value = self._single(self._services.ISOLINES.path, query)
            if not isinstance(value, list):
                raise BadGateway("the upstream API answered isolines that are not a list") from None
            return value

    def geocode(self, address: str, country: str | None = None, limit: int | None = None) -> list[dict]:
        found = self.inner.geocode(address, country, limit)
        if found:
            return found
        query = {
            "address": address,
            **({"country": country} if country else {}),
            **({"limit": str(limit)} if limit is not None else {}),
        }
        return self._candidates(self._services.GEOCODE.path, query, None)

    def reverse(self, lat: float, lon: float, language: str | None = None) -> list[dict]:
        try:
            return self.inner.reverse(lat, lon, language)
        except OutOfCoverage as exc:
            query = {"lat": _number(lat), "lon": _number(lon), **({"language": language} if language else {})}
            return self._candidates(self._services.REVERSE.path, query, exc)

    def geocode_batch(self, items: list, country: str | None = None, limit: int | None = None) -> list[dict]:
        """Local answers where the data has them; every entry without a candidate from one upstream batch, in
        its place."""
        entries = list(self.inner.geocode_batch(items, country, limit))
        missing = [i for i, entry in enumerate(entries) if entry.get("error") == NO_RESULT]
        if not missing:
            return entries
        body: dict[str, Any] = {"addresses": [items[i] for i in missing]}
        if country is not None:
            body["country"] = country
        if limit is not None:
            body["limit"] = limit
        answer = self._call("POST", self._services.BATCH.path, "", body)
        if not isinstance(answer, list) or len(answer) != len(missing) or not all(isinstance(e, dict) for e in answer):
            raise BadGateway(
                f"the upstream API answered the batch of {len(missing)} addresses with something else "
                "than one entry per address"
            )
        for i, entry in zip(missing, answer, strict=True):
            error = entry.get("error")
            value = entry.get("value")
            entries[i] = {
                "error": error if isinstance(error, str) else None,
                "value": value if isinstance(value, list) else [],
            }
        return entries

    # --- plumbing --------------------------------------------------------------------------
    def _call(self, method: str, path: str, query: str, body: Any = None) -> Any:
        from lds.cache import current_outcome

        outcome = current_outcome()
        if outcome is not None:
            outcome.upstream += 1  # not a local answer: the fast path's response memo must not keep it
        status, headers, value = self.client.json(method, path, query, body, self._token)
        if not 200 <= status < 300:
            raise upstream_error(status, value, headers)
        return value

    def _entry(self, path: str, query: dict[str, str]) -> dict:
        """The one ``{"error", "value"}`` entry of an upstream LDS answer."""
        body = self._call("GET", path, urlencode(query))
        if not isinstance(body, list) or len(body) != 1 or not isinstance(body[0], dict):
            raise BadGateway("the upstream API answered something else than CARTO's LDS envelope")
        return body[0]

    def _single(self, path: str, query: dict[str, str]) -> Any:
        entry = self._entry(path, query)
        if entry.get("error"):
            raise OutOfCoverage(f"upstream: {str(entry['error'])[:300]}")
        return entry.get("value")

    def _candidates(self, path: str, query: dict[str, str], local: OutOfCoverage | None) -> list[dict]:
        """Geocoding candidates from the upstream: [] (no result) or, for reverse, its error as the entry's."""
        entry = self._entry(path, query)
        value = entry.get("value")
        if entry.get("error") or not value:
            if local is not None:
                raise OutOfCoverage(f"upstream: {str(entry.get('error') or NO_RESULT)[:300]}") from None
            return []
        if not isinstance(value, list):
            raise BadGateway("the upstream API answered candidates that are not a list")
        return value


def outside_extract(lds: Any, settings: Any) -> Any:
    """``lds`` behind :class:`UpstreamFallback` when ``upstream_outside_extract`` is on, else ``lds`` itself."""
    upstream = Upstream.from_settings(settings)  # ValueError for settings that cannot work: at start-up
    if upstream is None or not upstream.outside_extract:
        return lds
    return UpstreamFallback(lds, UpstreamClient(upstream, settings), upstream.token_for("lds"))
