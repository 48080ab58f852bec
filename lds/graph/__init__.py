"""Loaded road graphs: arrays, snapping, shortest paths and bounded searches."""
