"""Proxy routes to an upstream CARTO (or CARTO-compatible) platform: no Flask here.

:mod:`lds.proxy.upstream` reads the settings (which APIs go upstream, with which token), :mod:`lds.proxy.headers`
is the header policy, :mod:`lds.proxy.client` the pooled HTTP client with its limits and the 502/504 errors,
:mod:`lds.proxy.fallback` the LDS facade that sends what the loaded extract cannot answer upstream. The Flask
side is :mod:`lds.api.proxy`; docs/proxy.md says how it all behaves.
"""

from lds.proxy.upstream import API_PREFIXES, Upstream, api_of

__all__ = ["API_PREFIXES", "Upstream", "api_of"]
