"""The Maps answer cache's pieces on real components: a PostgreSQL data version sampled at most every
``reuse_s`` (a write elsewhere on the server moves it), tiles stored with their counts in the real Redis."""

from __future__ import annotations

import psycopg
from authfixtures import *
from authfixtures import REDIS_URL, pg_database, pg_database_url

from lds.maps.cache import cached_tile, data_version, maps_key
from lds.maps.tiles import MVT_TYPE, Tile
from lds.warehouse.postgres import Postgres, PostgresConfig


def test_postgres_version_is_reused_for_reuse_s_then_sampled_again():
    with pg_database("lds_maps_version", "CREATE TABLE t (x int)") as name:
        creds = {"host": "127.0.0.1", "database": name, "username": "postgres", "sslmode": "disable"}
        wh = Postgres(PostgresConfig.from_credentials(creds))
        try:
            first = data_version(wh, 3600)
            with psycopg.connect(pg_database_url(name), autocommit=True) as conn:
                conn.execute("INSERT INTO t VALUES (1)")
            assert data_version(wh, 3600) == first  # reused
            assert data_version(wh, 0) != first  # asked again: the write moved it
        finally:
            wh.close()


def test_tiles_round_trip_through_redis_with_their_counts(redis_prefix):
    from lds.cache.store import RedisStore
    from lds.redisconn import redis_client

    store = RedisStore(redis_client(REDIS_URL, 1.0), 60, 1.0)
    key = maps_key(redis_prefix, "tile", "abc")
    made = []

    def make() -> Tile:
        made.append(1)
        return Tile(b"\x1a\x02xy" * 1000, MVT_TYPE, 7, 9, 18)

    tile, hit = cached_tile(store, key, make, max_bytes=1 << 20)
    again, hit2 = cached_tile(store, key, make, max_bytes=1 << 20)
    assert (hit, hit2, len(made)) == (False, True, 1)
    assert again == tile and again.dropped_fraction == 0.5
    big, _ = cached_tile(store, key + "big", make, max_bytes=10)  # above the limit: made, not kept
    assert cached_tile(store, key + "big", make, max_bytes=10)[1] is False and len(made) == 3 and big.features == 7
