"""Maps API core (CARTO §3), no Flask: sources over a connection, TileJSON, vector tiles.

:mod:`lds.maps.source` resolves a table or query source and checks the caller's grants (the widgets' SQL
Model API reuses it); :mod:`lds.maps.tilejson` answers the instantiation and the TileJSON;
:mod:`lds.maps.tiles` makes Mapbox Vector Tiles (or GeoJSON) in the warehouse; :mod:`lds.maps.cells` serves
h3 and quadbin sources (tiles of aggregated cells, :mod:`lds.maps.cellindex` for the index arithmetic).
"""
