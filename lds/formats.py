"""The on-disk contract between `lds build` and the serving path: format versions, flag bits, class tables.

Both sides import these from here, so serving never imports ``lds.build`` (nor osmium or scipy.sparse,
which only building needs). Bump a version when the layout or meaning of what it covers changes: older
builds are then refused with "rebuild", never misread.
"""

from __future__ import annotations

# meta.json ``data_format`` of a whole data directory (lds.build.pipeline writes it, lds.dataset checks it).
DATA_FORMAT = 3  # 3: barrier nodes cut car graphs

# meta.json ``model_version``: what a build computes from the same extract (speeds, access, turn costs, derived
# arrays). Older builds still load (the layout is the same); `lds build --if-changed` rebuilds them.
MODEL_VERSION = 5  # 2: walking leaves cycleways without a foot tag; the matrix's arc costs written at build
# 3: the structures a server built at load derived at build (DERIVED_ARRAYS), and the address index's nearest-point
# grids (``<name>_grid_*.npy``, lds.geocoding.nearest; an index without them builds them in memory at load)
# 4: the served hierarchy compacted (CH_COMPACTED): the matrix's arc costs float32, the contraction's per-arc head
# and label dropped by the derived stage (a build that still has them is served as before), and no float copy of
# the upward weights for the alternatives (the derived ``spaces``: their searches run on the integer weights)
# 5: the hierarchy's nodes numbered by rank (CH_BY_RANK): a query's searches touch a tenth of the pages

# Arrays `lds build` derives from a mode's graph for serving (lds.build.derived), written beside it in graph/<mode>/ as
# ``derived_<part>_<name>.npy`` and memory-mapped at load, so servers neither build them at start-up nor hold them in
# anonymous memory: the isolines' search index (``search``), the roads that claim places (``snapping``, ``claims``),
# the roads cut off from the network (``cutoff``) and, in the car graph, the walking-only ways of the walking graph
# for park and walk (``foot``). A build without them
# (model_version 2) is served by computing them at load.
DERIVED_PREFIX = "derived_"
DERIVED_ARRAYS = {
    "search": ("indptr", "adj_edge", "adj_dst", "adj_time", "adj_distance"),
    "snapping": ("edges",),
    "claims": ("edges", "bounds"),
    "cutoff": ("edges", "bounds"),
    "foot": ("indptr", "adj_edge", "adj_dst", "adj_len", "seed_node", "seed_edge", "seed_frac", "seed_src",
             "ways_edges", "ways_bounds"),
}

# ch.json ``format`` of a mode's routing hierarchy (lds.graph.prepare writes it, lds.graph.router checks it).
CH_FORMAT = 2

# The contraction's per-arc arrays the served hierarchy does without (lds.build.derived.compact_arcs deletes them;
# lds.graph.router serves either layout, told apart by the label's file). ``ch_arc_c1``, the first half of a shortcut
# and -1 for an original arc, then holds ``~edge`` (negative) for an original arc instead: one int32 says how to
# unpack an arc, and its label needs no array of its own. An arc's head needs none either: it is the node whose
# forward list holds it, or the owner of its backward list.
CH_COMPACTED = ("ch_arc_label", "ch_arc_head")

# A hierarchy whose nodes are numbered by rank (lds.graph._ch, model version 5) has this array: the graph node of
# each of its nodes (``ch_rank`` maps the other way). Its lists, loops and arcs' heads and tails are in its own
# numbers; queries map the graph's nodes in and out. A hierarchy without it uses the graph's numbers.
CH_BY_RANK = "ch_node"

# Address index manifest ``format`` (lds.geocoding.build writes it, lds.geocoding.index checks it).
GEOCODER_FORMAT = 1

# Highway classes in a fixed order: the index is stored per edge (``edge_class``).
HIGHWAY_CLASSES = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
    "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street",
    "service", "road", "track", "pedestrian", "footway", "path", "cycleway", "steps", "bridleway",
    "corridor", "other",
)
CLASS_INDEX = {name: i for i, name in enumerate(HIGHWAY_CLASSES)}

# Bits of ``edge_flags`` (the Cython modules _turns and _guidance repeat FLAG_RESTRICTED = 16).
FLAG_ROUNDABOUT, FLAG_TOLL, FLAG_TUNNEL, FLAG_BRIDGE = 1, 2, 4, 8
FLAG_RESTRICTED = 16  # per direction: access=destination and the like, only to reach or leave (OSRM "restricted")

# OSRM gives a turn from an open road into an access-restricted one (access=destination, ...) its maximum turn
# weight, so such roads are used only to reach or leave a point on them; an hour has the same effect here while
# keeping int32 millisecond sums far from overflow. Baked into the hierarchy's weights and subtracted again
# from the reported turn durations, so build and query must agree on it.
RESTRICTED_ENTRY_PENALTY_S = 3600.0

# Address index: entity kinds (``ent_kind``) and address flags (``addr_flags``).
KIND_STREET, KIND_PLACE, KIND_POI, KIND_POSTCODE = 0, 1, 2, 3
FLAG_INTERPOLATED, FLAG_INFERRED = 1, 2

# The LDS tables (lds.build.tables writes them, lds.warehouse.carto_dw serves them as lds.<name>): one GeoParquet
# file each in TABLES_DIR of the data directory, and the same rows in TABLES_DB, a DuckDB file carto_dw attaches
# read-only (a file DuckDB may read through read_parquet it may also overwrite with COPY ... TO).
TABLES_FORMAT = 1
TABLES_DIR = "tables"
TABLES_DB = "lds_tables.duckdb"
LDS_TABLES = ("addresses", "streets", "places", "roads")
