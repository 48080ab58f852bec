"""Thin HTTP layer: Flask blueprints that parse, validate, call the core and shape CARTO JSON."""
