"""The ``sales`` table the SQL Model API tests over HTTP and through CARTO's client share (PostgreSQL + carto_dw):
120 rows over Monaco, four zones, an amount, a day-by-day timestamp; and ``shop.secrets``, which no grant covers."""

SALES_SQL = (
    "CREATE TABLE {s}sales AS SELECT i AS id, CASE i % 4 WHEN 0 THEN 'north' WHEN 1 THEN 'south' "
    "WHEN 2 THEN 'east' ELSE 'west' END AS zone, CAST(i * 7 % 50 AS DOUBLE PRECISION) AS amount, "
    "CAST('2024-01-01' AS TIMESTAMP) + i * INTERVAL '1 day' AS ts, {point} AS geom FROM {series}"
)
PG_SETUP = (
    "CREATE EXTENSION postgis",
    "CREATE SCHEMA shop",
    SALES_SQL.format(
        s="shop.",
        point="ST_SetSRID(ST_MakePoint(7.40 + i / 5000.0, 43.72 + i / 5000.0), 4326)",
        series="generate_series(1, 120) AS g(i)",
    ),
    "CREATE TABLE shop.secrets AS SELECT 1 AS id, 'x' AS zone",
)
DW_SETUP = SALES_SQL.format(
    s="", point="ST_Point(7.40 + i / 5000.0, 43.72 + i / 5000.0)", series="range(1, 121) AS g(i)"
)
