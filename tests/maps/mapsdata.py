"""The small map data the Maps API tests (Python and Node) share."""

# 400 points on a 20 x 20 grid over Monaco, three kinds; 3 squares; a table no grant covers
PG_SETUP = (
    "CREATE EXTENSION postgis",
    "CREATE SCHEMA geo",
    "CREATE TABLE geo.places (id int, name text, kind text, pop numeric, since timestamp, geom geometry(Point, 4326))",
    (
        "INSERT INTO geo.places SELECT i, 'p' || i, (ARRAY['shop', 'cafe', 'bank'])[1 + i % 3], i * 1.5, "
        "timestamp '2024-01-01' + i * interval '1 day', "
        "ST_SetSRID(ST_MakePoint(7.40 + (i % 20) * 0.002, 43.72 + (i / 20) * 0.001), 4326) "
        "FROM generate_series(0, 399) i"
    ),
    "CREATE INDEX ON geo.places USING gist (geom)",
    "CREATE TABLE geo.zones (id int, geom geometry(Polygon, 4326))",
    (
        "INSERT INTO geo.zones SELECT i, ST_MakeEnvelope(7.40 + i * 0.01, 43.72, 7.405 + i * 0.01, 43.725, 4326) "
        "FROM generate_series(0, 2) i"
    ),
    "CREATE TABLE geo.secret (id int, geom geometry(Point, 4326))",
    "INSERT INTO geo.secret VALUES (1, ST_SetSRID(ST_MakePoint(7.42, 43.73), 4326))",
)
# 100 points on a 10 x 10 grid over Monaco in carto_dw, four groups
DW_SETUP = (
    "CREATE OR REPLACE TABLE spots AS SELECT i AS id, 'n' || i AS name, i % 4 AS grp, "
    "ST_Point(7.40 + (i % 10) * 0.004, 43.72 + (i // 10) * 0.002) AS geom FROM range(100) t(i)"
)
