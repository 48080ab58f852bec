"""Imports (CARTO §6): a file at a URL becomes a table in a connection (no Flask here).

The pipeline, one module per step: :mod:`fetch` downloads it safely (SSRF checks on every hop, size and
time limits), :mod:`detect` tells the format from the bytes, :mod:`archives` unpacks zips defensively,
:mod:`readers` turn each format into Arrow record batches with a WKB ``geom`` in EPSG:4326, :mod:`stage`
writes them to a Parquet file (geocoding addresses on the way when asked), and :mod:`load` lands that file
in ``carto_dw`` or PostgreSQL atomically. :mod:`service` ties them to the job queue and the API.
"""
