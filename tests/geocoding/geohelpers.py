"""Helpers of the geocoding tests: isolated settings and tiny synthetic OSM XML extracts."""

from __future__ import annotations

from osmxml import write_osm  # noqa: F401  (re-exported for the geocoding tests)

from lds.settings import Settings


def geo_settings(**overrides) -> Settings:
    return Settings.from_env(env={}, **overrides)
