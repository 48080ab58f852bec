"""Address index: forward, reverse and batch geocoding from an OSM extract (no Flask here).

Pipeline: ``build`` reads the extract into a directory of numpy arrays (``index.AddressIndex`` loads
them); ``search`` answers free-form text, ``reverse`` a coordinate, ``batch`` a list of queries.
``normalize`` is shared by build and query so both sides see the same tokens.
"""
