"""The SQL API's grant check, attacked: what an API access token may run on a connection.

Most cases are pure decisions of lds.sql.access; the engine behaviours those decisions rely on (DuckDB's
system catalog and case rules, PostgreSQL's CTE scoping, pg_catalog lookup and name truncation) are shown
against a real DuckDB and the real PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import duckdb
import psycopg
import pytest
from authfixtures import pg_database, pg_database_url

from lds.errors import Forbidden
from lds.sql.access import MAX_SQL_CHARS, check_sql_access, dialect_for, normalise_sql

GRANT_SQL = "SELECT name, geom FROM shop.secret WHERE city = $1 AND kind = 'café  bar'"
CONFIG = {
    "duckdb": {"connection_name": "carto_dw", "default_schema": "main", "default_catalog": "carto_dw"},
    "postgres": {"connection_name": "pg", "default_schema": "public", "default_catalog": "gis"},
}


def grants(dialect: str) -> list[dict[str, str]]:
    conn = CONFIG[dialect]["connection_name"]
    cat = CONFIG[dialect]["default_catalog"]
    schema = CONFIG[dialect]["default_schema"]
    return [
        {"connection_name": conn, "source": f"{cat}.{schema}.stores"},
        {"connection_name": conn, "source": f"{cat}.lds.*"},
        {"connection_name": conn, "source": GRANT_SQL},
        {"connection_name": "other", "source": "*"},  # another connection's grants never count
        {"connection_name": "other", "source": f"{cat}.{schema}.secret"},
    ]


def check(sql: str, dialect: str, **kw):
    args = {**CONFIG[dialect], "grants": grants(dialect), **kw}
    return check_sql_access(sql, dialect=dialect, **args)


def refused(sql: str, dialect: str, match: str | None = None, **kw) -> str:
    with pytest.raises(Forbidden, match=match) as info:
        check(sql, dialect, **kw)
    assert info.value.status == 403
    return info.value.message


BOTH = pytest.mark.parametrize("dialect", ["duckdb", "postgres"])


# --- (b) read-only queries over granted tables -----------------------------------------------------------
@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT * FROM stores",
    "select id, name from stores where id > 3 order by name limit 10",
    "SELECT * FROM lds.addresses a JOIN lds.streets s ON a.street_id = s.id",
    "SELECT s.* FROM stores s LEFT JOIN lds.places p ON true",
    "WITH near AS (SELECT * FROM lds.places WHERE id < 5) SELECT n.id FROM near n JOIN stores ON true",
    "SELECT * FROM stores WHERE id IN (SELECT id FROM lds.roads)",
    "SELECT (SELECT count(*) FROM lds.roads) AS n, lower(name) FROM stores",
    "SELECT 1 UNION ALL SELECT id FROM stores EXCEPT SELECT id FROM lds.roads",
    "VALUES (1, 'a'), (2, 'b')",
    "SELECT 1;",
    "  SELECT coalesce(name, 'x'), round(price, 2), st_astext(geom) FROM stores ; ",
    "SELECT * FROM stores WHERE name = $1 AND id > $2",
    "SELECT count(*) FILTER (WHERE id > 2), max(id) FROM stores GROUP BY name HAVING count(*) > 1",
    "SELECT row_number() OVER (PARTITION BY name ORDER BY id) FROM stores",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
    "SELECT * FROM generate_series(1, 3)",
    "SELECT * FROM stores s, LATERAL (SELECT * FROM lds.roads r WHERE r.id = s.id) x",
    "SELECT * FROM (SELECT * FROM stores) AS secret",  # an alias named like a table is no table
])
def test_read_only_queries_over_granted_tables_pass(sql, dialect):
    access = check(sql, dialect)
    assert access.via == "tables" and access.sql == sql


@BOTH
def test_tables_are_reported_fully_qualified(dialect):
    cat, schema = CONFIG[dialect]["default_catalog"], CONFIG[dialect]["default_schema"]
    access = check("SELECT * FROM stores JOIN lds.roads ON true", dialect)
    assert set(access.tables) == {(cat, schema, "stores"), (cat, "lds", "roads")}


@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT * FROM secret",
    "SELECT * FROM shop.stores",  # same table name, other schema
    "SELECT * FROM othercat.lds.roads",  # wildcard schema, other catalog
    "SELECT * FROM stores JOIN secret ON true",
    "SELECT * FROM stores WHERE id IN (SELECT id FROM secret)",
    "SELECT * FROM stores WHERE EXISTS (SELECT 1 FROM secret)",
    "SELECT (SELECT max(pw) FROM secret) FROM stores",
    "SELECT name FROM stores GROUP BY name HAVING count(*) > (SELECT count(*) FROM secret)",
    "SELECT * FROM stores ORDER BY (SELECT 1 FROM secret LIMIT 1)",
    "SELECT * FROM stores JOIN lds.roads ON roads.id = (SELECT id FROM secret LIMIT 1)",
    "SELECT lower((SELECT pw FROM secret LIMIT 1)) FROM stores",
    "SELECT * FROM stores UNION SELECT * FROM secret",
    "SELECT * FROM stores INTERSECT SELECT * FROM secret",
    "(SELECT * FROM stores) UNION ALL (SELECT * FROM (SELECT * FROM secret) s)",
    "SELECT * FROM stores, LATERAL (SELECT * FROM secret) x",
    "WITH a AS (SELECT * FROM secret) SELECT * FROM stores",  # an unused CTE still reads
    "WITH a AS (SELECT 1) SELECT * FROM a, (WITH b AS (SELECT * FROM secret) SELECT * FROM b) x",
    "SELECT * FROM stores s WHERE s.id = ANY (SELECT id FROM secret)",
    "VALUES ((SELECT pw FROM secret LIMIT 1))",
    "SELECT * FROM stores CROSS JOIN (VALUES (1)) v(x) WHERE x IN (TABLE secret)",
    "SELECT * FROM stores, secret",
    "SELECT * FROM stores NATURAL JOIN secret",
    "SELECT * FROM stores JOIN secret USING (id)",
    "SELECT * FROM stores FULL OUTER JOIN secret ON true",
    "FROM secret",
    "SELECT * FROM (FROM secret)",
    "SELECT * FROM stores WHERE name = (SELECT pw FROM secret) OR id BETWEEN 1 AND (SELECT 2 FROM secret)",
    "SELECT CASE WHEN id > 1 THEN (SELECT pw FROM secret) END FROM stores",
    "SELECT * FROM stores s WHERE s.id IN (WITH x AS (SELECT id FROM secret) SELECT id FROM x)",
])
def test_a_table_not_granted_anywhere_in_the_query_is_refused(sql, dialect):
    msg = refused(sql, dialect, match="no grant covering table")
    assert "secret" in msg or "stores" in msg or "roads" in msg


@BOTH
def test_refusal_names_the_first_uncovered_table_and_connection(dialect):
    cat, schema = CONFIG[dialect]["default_catalog"], CONFIG[dialect]["default_schema"]
    msg = refused("SELECT * FROM stores JOIN hidden1 ON true JOIN hidden2 ON true", dialect)
    assert f"{cat}.{schema}.hidden1" in msg and "hidden2" not in msg
    assert CONFIG[dialect]["connection_name"] in msg


@BOTH
def test_no_grant_on_the_connection_refuses_everything(dialect):
    with pytest.raises(Forbidden, match="no grant on connection"):
        check_sql_access("SELECT 1", dialect=dialect, connection_name="nowhere", grants=grants(dialect),
                         default_schema="main")


@BOTH
def test_wildcard_schema_and_star_grants(dialect):
    conn = CONFIG[dialect]["connection_name"]
    star = [{"connection_name": conn, "source": "*"}]
    assert check("SELECT * FROM secret JOIN anything.at_all ON true", dialect, grants=star).via == "tables"
    # `*` covers tables, never writes or forbidden functions
    refused("DELETE FROM secret", dialect, grants=star)
    refused("SELECT pg_read_file('/etc/passwd')", dialect, grants=star)
    cat = CONFIG[dialect]["default_catalog"]
    wild = [{"connection_name": conn, "source": f"{cat}.lds.*"}]
    assert check("SELECT * FROM lds.anything", dialect, grants=wild).via == "tables"
    refused("SELECT * FROM lds_private.anything", dialect, grants=wild)
    refused("SELECT * FROM anything", dialect, grants=wild)


# --- statements and constructs that are never read-only --------------------------------------------------
@BOTH
@pytest.mark.parametrize("sql", [
    "DROP TABLE stores",
    "CREATE TABLE x AS SELECT * FROM stores",
    "CREATE VIEW v AS SELECT * FROM stores",
    "ALTER TABLE stores ADD COLUMN x int",
    "TRUNCATE stores",
    "INSERT INTO stores VALUES (1)",
    "UPDATE stores SET name = 'x'",
    "DELETE FROM stores",
    "MERGE INTO stores USING lds.roads r ON true WHEN MATCHED THEN DELETE",
    "COPY stores TO '/tmp/x.csv'",
    "SET search_path = secret",
    "CALL something()",
    "GRANT SELECT ON stores TO public",
    "BEGIN",
    "SELECT * INTO newtable FROM stores",
    "SELECT * FROM stores FOR UPDATE",
    "WITH d AS (DELETE FROM stores RETURNING *) SELECT * FROM d",
    "WITH u AS (UPDATE stores SET name = 'x' RETURNING id) SELECT * FROM stores",
    "WITH i AS (INSERT INTO stores VALUES (1) RETURNING *) SELECT 1",
    "EXPLAIN ANALYZE DELETE FROM stores",
])
def test_ddl_dml_and_writes_hidden_in_queries_are_refused(sql, dialect):
    refused(sql, dialect)


@pytest.mark.parametrize("sql", [
    "ATTACH '/tmp/other.db' AS o",
    "DETACH carto_dw",
    "PRAGMA enable_profiling",
    "INSTALL httpfs",
    "LOAD httpfs",
    "USE memory",
    "EXPORT DATABASE '/tmp/x'",
    "CREATE SECRET s (TYPE s3, KEY_ID 'x')",
    "SUMMARIZE stores",
    "DESCRIBE stores",
    "PIVOT stores ON name USING count(*)",
    "CHECKPOINT",
])
def test_duckdb_statements_are_refused(sql):
    refused(sql, "duckdb")


def test_duckdb_join_kinds_still_check_every_table():
    refused("SELECT * FROM stores POSITIONAL JOIN secret", "duckdb", match="secret")
    refused("SELECT * FROM stores ASOF JOIN secret USING (id)", "duckdb", match="secret")
    assert check("SELECT * FROM stores ASOF JOIN lds.roads USING (id)", "duckdb").via == "tables"


def test_the_refused_statement_is_named():
    assert "CHECKPOINT" in refused("CHECKPOINT", "duckdb")
    assert "TRUNCATE" in refused("TRUNCATE stores", "postgres")
    assert "DROP" in refused("/* hi */ DROP TABLE stores", "postgres")


@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT 1; DROP TABLE stores",
    "SELECT * FROM stores; DELETE FROM stores;",
    "SELECT 1;SELECT * FROM secret",
    "SELECT 1 -- harmless\n; DROP TABLE stores",
    "SELECT 1 /* comment */; DROP TABLE stores /* ; */",
    "SELECT 1 /* /* nested */ */; DROP TABLE stores",
    "SELECT ';' AS x; DROP TABLE stores",
])
def test_multi_statement_tricks_are_refused(sql, dialect):
    refused(sql, dialect, match="statements|DROP|DELETE|no grant")


@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT 1 -- ; DROP TABLE stores",
    "SELECT 1 /* ; DROP TABLE stores */",
    "SELECT ';DROP TABLE stores' AS x",
    "SELECT $$;DROP TABLE stores$$ AS x",
])
def test_statement_text_inside_comments_and_strings_is_inert(sql, dialect):
    assert check(sql, dialect).via == "tables"


@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT 1 /* unterminated",
    "SELECT * FROM",
    "SELEKT 1",
    "SELECT 'unterminated",
    "SELECT (1",
    ")",
    "SELECT 1 /* /* nested */ ; DROP TABLE stores; /* */",
    'SELECT * FROM U&"\\0073ecret"',
    'SELECT * FROM U&"!0073ecret" UESCAPE \'!\'',
])
def test_unparseable_text_is_refused(sql, dialect):
    refused(sql, dialect)


@BOTH
@pytest.mark.parametrize("sql", ["", "   ", ";", " ; ; "])
def test_empty_text_is_refused(sql, dialect):
    refused(sql, dialect)


# --- CTE scoping -----------------------------------------------------------------------------------------
@BOTH
def test_cte_names_are_not_tables_where_visible(dialect):
    assert check("WITH secret AS (SELECT * FROM stores) SELECT * FROM secret", dialect).via == "tables"
    assert check("WITH a AS (SELECT * FROM stores), b AS (SELECT * FROM a) SELECT * FROM b", dialect)
    assert check("WITH secret AS (SELECT 1) SELECT * FROM (SELECT * FROM secret) x", dialect)


@BOTH
@pytest.mark.parametrize("sql", [
    # a non-recursive CTE's own name inside its body is the real table
    "WITH secret AS (SELECT * FROM secret) SELECT * FROM secret",
    # a later CTE is not visible to an earlier one
    "WITH a AS (SELECT * FROM secret), secret AS (SELECT 1) SELECT * FROM a",
    # a CTE of another subquery is not visible outside it
    "SELECT * FROM (WITH secret AS (SELECT 1) SELECT * FROM secret) x, secret",
    # a schema-qualified name is never a CTE
    "WITH secret AS (SELECT 1) SELECT * FROM shop.secret",
    # a CTE body reading an ungranted table
    "WITH stores AS (SELECT * FROM secret) SELECT * FROM stores",
])
def test_cte_shadowing_tricks_are_refused(sql, dialect):
    refused(sql, dialect, match="no grant covering table")


# --- names: quoting, case, qualification, system catalogs ------------------------------------------------
def test_duckdb_names_are_case_insensitive_even_quoted():
    for sql in ('SELECT * FROM "STORES"', "SELECT * FROM Stores", 'SELECT * FROM "CARTO_DW"."Main"."stores"',
                "SELECT * FROM carto_dw.main.stores", "SELECT * FROM main.stores", 'SELECT * FROM LDS."Roads"'):
        assert check(sql, "duckdb").via == "tables", sql
    refused('SELECT * FROM "SECRET"', "duckdb")


def test_postgres_quoted_names_keep_case_and_unquoted_fold():
    assert check("SELECT * FROM STORES", "postgres").via == "tables"
    assert check('SELECT * FROM "stores"', "postgres").via == "tables"
    assert check('SELECT * FROM "public"."stores"', "postgres").via == "tables"
    refused('SELECT * FROM "Stores"', "postgres")  # another table in PostgreSQL
    refused('SELECT * FROM "LDS".roads', "postgres")
    # a grant names a table literally: public.Stores is the table "Stores", not stores
    g = [{"connection_name": "pg", "source": "gis.public.Stores"}]
    assert check('SELECT * FROM "Stores"', "postgres", grants=g).via == "tables"
    refused("SELECT * FROM Stores", "postgres", grants=g)


def test_postgres_truncates_long_names_like_the_server():
    long_schema = "a" * 63
    g = [{"connection_name": "pg", "source": f"gis.{long_schema}.*"}]
    assert check(f"SELECT * FROM {long_schema}xyz.t", "postgres", grants=g).via == "tables"
    g = [{"connection_name": "pg", "source": "gis.public.*"}]
    refused(f"SELECT * FROM {'b' * 63}extra.t", "postgres", grants=g)


def test_postgres_unqualified_names_must_be_covered_on_the_whole_search_path():
    # the driver sets search_path = <schema>, public: an unqualified name may land in either
    g = [{"connection_name": "pg", "source": "gis.shop.*"}]
    kw = {"default_schema": "shop", "search_path": ["shop", "public"], "grants": g}
    msg = refused("SELECT * FROM items", "postgres", **kw)
    assert "gis.public.items" in msg and "qualify" in msg
    assert check("SELECT * FROM shop.items", "postgres", **kw).via == "tables"
    g2 = g + [{"connection_name": "pg", "source": "gis.public.*"}]
    assert check("SELECT * FROM items", "postgres", **{**kw, "grants": g2}).via == "tables"


@pytest.mark.parametrize("name", ["pg_stat_activity", "pg_user", "pg_settings", "pg_authid", "pg_largeobject"])
def test_postgres_pg_names_resolve_to_pg_catalog_first(name):
    g = [{"connection_name": "pg", "source": "gis.public.*"}]
    refused(f"SELECT * FROM {name}", "postgres", match="pg_catalog", grants=g)
    refused(f"SELECT * FROM pg_catalog.{name}", "postgres", grants=g)
    refused(f"SELECT * FROM information_schema.{name}", "postgres", grants=g)


def test_duckdb_system_catalog_views_are_refused_even_under_a_wildcard():
    g = [{"connection_name": "carto_dw", "source": "carto_dw.main.*"}]
    con = duckdb.connect()
    try:
        internal = con.sql("SELECT schema_name, view_name FROM duckdb_views() WHERE internal").fetchall()
    finally:
        con.close()
    assert len(internal) > 20
    for schema, view in internal:
        if schema == "main" or schema == "pg_catalog":
            refused(f"SELECT * FROM {view}", "duckdb", grants=g)
            refused(f"SELECT * FROM main.{view}", "duckdb", grants=g)
        refused(f"SELECT * FROM {schema}.{view}", "duckdb", grants=g)
        refused(f"SELECT * FROM system.{schema}.{view}", "duckdb", grants=g)
    assert check("SELECT * FROM anything", "duckdb", grants=g).via == "tables"


def test_duckdb_catalog_or_schema_ambiguity_needs_both_covered():
    # `memory.t` is catalog memory's main.t when there is no schema "memory" in carto_dw
    g = [{"connection_name": "carto_dw", "source": "carto_dw.memory.*"}]
    refused("SELECT * FROM memory.t", "duckdb", grants=g, match="memory.main.t")
    refused("SELECT * FROM lake2.t", "duckdb", grants=g + [{"connection_name": "carto_dw",
                                                              "source": "carto_dw.lake2.*"}], catalogs=["lake2"])
    refused("SELECT * FROM temp.main.t", "duckdb", grants=g)


@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT * FROM 'data.csv'",
    'SELECT * FROM "/etc/passwd"',
    "SELECT * FROM 'https://example.com/x.parquet'",
    "SELECT * FROM 's3://bucket/key'",
    'SELECT * FROM "data.parquet"',
    "SELECT * FROM '~/.ssh/id_rsa'",
])
def test_file_and_url_like_table_names_are_refused_even_under_a_wildcard(sql, dialect):
    conn, cat, schema = (CONFIG[dialect][k] for k in ("connection_name", "default_catalog", "default_schema"))
    refused(sql, dialect, grants=[{"connection_name": conn, "source": f"{cat}.{schema}.*"}])


def test_four_part_names_are_refused():
    refused("SELECT * FROM a.b.c.d", "duckdb")
    refused("SELECT * FROM a.b.c.d", "postgres")


# --- functions -------------------------------------------------------------------------------------------
@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM read_json('x.json')",
    "SELECT * FROM read_json_auto('x.json')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM st_read('/tmp/x.shp')",
    "SELECT * FROM ST_Read('/tmp/x.shp')",
    "SELECT * FROM st_readosm('x.pbf')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM query('SELECT * FROM secret')",
    "SELECT * FROM query_table('secret')",
    "SELECT * FROM sniff_csv('x.csv')",
    "SELECT * FROM parquet_metadata('x.parquet')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM pg_ls_dir('/')",
    "SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a int)",
    "SELECT * FROM ts_stat('SELECT vec FROM secret')",
    "SELECT * FROM stores_macro()",
    "SELECT * FROM ROWS FROM (pg_ls_dir('/'))",
    "SELECT * FROM ROWS FROM (generate_series(1, 2), pg_ls_dir('/'))",
    "SELECT * FROM stores, pg_sleep(10)",
    "SELECT * FROM $1",
])
def test_table_functions_that_read_files_or_run_sql_are_refused(sql, dialect):
    refused(sql, dialect, match="not allowed|could not be checked")


@BOTH
@pytest.mark.parametrize("sql", [
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(1, '/tmp/x')",
    "SELECT dblink_exec('host=x', 'DROP TABLE t')",
    "SELECT pg_sleep(100)",
    "SELECT nextval('seq')",
    "SELECT setval('seq', 1)",
    "SELECT currval('seq')",
    "SELECT set_config('search_path', 'secret', false)",
    "SELECT current_setting('lds.secret')",
    "SELECT query_to_xml('SELECT * FROM secret', true, true, '')",
    "SELECT pg_terminate_backend(1)",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_notify('c', 'x')",
    "SELECT getenv('HOME')",
    "SELECT json_execute_serialized_sql('{}')",
    "SELECT read_csv('x')",
    "SELECT lds_geocode(name) FROM stores",
    "SELECT name FROM stores WHERE pg_sleep(1) IS NULL",
    "SELECT name FROM stores ORDER BY nextval('seq')",
    "SELECT count(*) FROM stores GROUP BY name HAVING pg_sleep(1) IS NOT NULL",
    "SELECT pg_catalog.pg_sleep(1)",
    "SELECT public.lower(name) FROM stores",
    "SELECT pg_sleep(1) FILTER (WHERE true) FROM stores",
    "SELECT count(*) OVER (PARTITION BY pg_sleep(1)) FROM stores",
    "SELECT \"pg_sleep\"(1)",
    "SELECT PG_SLEEP(1)",
    "SELECT * FROM stores WHERE id IN (SELECT nextval('s'))",
    "SELECT lower(pg_read_file('/etc/passwd'))",
    "SELECT ST_EstimatedExtent('public', 'secret', 'geom')",
    "SELECT st_addband(rast, 1, '/etc/passwd', NULL::int[]) FROM stores",
    "SELECT * FROM stores WHERE pg_relation_size('secret') > 0",
    "SELECT to_regclass('secret')",
])
def test_side_effect_and_file_functions_are_refused_anywhere(sql, dialect):
    refused(sql, dialect, match="not allowed|could not be checked")


def test_lds_functions_pass_only_when_the_caller_allows_them():
    sql = "SELECT lds_geocode(name, 'ES') AS g FROM stores"
    refused(sql, "duckdb", match="lds_geocode")
    access = check(sql, "duckdb", extra_functions=["lds_geocode", "lds_reverse", "lds_route", "lds_isoline"])
    assert "lds_geocode" in access.functions


# --- (a) the exact text of a SQL grant -------------------------------------------------------------------
@BOTH
@pytest.mark.parametrize("sql", [
    GRANT_SQL,
    GRANT_SQL + ";",
    "  " + GRANT_SQL + " ;\n",
    GRANT_SQL.replace(" FROM ", "\n  FROM ").replace(" WHERE ", "\n\tWHERE "),
])
def test_the_exact_text_of_a_sql_grant_runs_as_granted(sql, dialect):
    access = check(sql, dialect)
    assert access.via == "grant" and access.sql == GRANT_SQL  # the grant's own text is what runs


@BOTH
@pytest.mark.parametrize("sql", [
    GRANT_SQL.replace("$1", "$1 OR true"),
    GRANT_SQL.replace("city = $1 AND ", ""),
    GRANT_SQL.replace("café  bar", "café bar"),  # whitespace inside a literal is data
    GRANT_SQL.replace("SELECT", "select"),
    GRANT_SQL.replace("name, geom", "*"),
    GRANT_SQL + "; DROP TABLE stores",
    GRANT_SQL + " UNION SELECT pw, pw FROM shop.secret",
    # a comment that would swallow the WHERE clause once newlines are collapsed
    "SELECT name, geom FROM shop.secret -- WHERE city = $1 AND kind = 'café  bar'",
    "SELECT name, geom FROM shop.secret -- \nWHERE city = $1 AND kind = 'café  bar'",
    "SELECT name, geom FROM shop.secret /* WHERE city = $1 AND kind = 'café  bar' */",
])
def test_text_that_differs_from_the_grant_is_checked_as_a_query_and_refused(sql, dialect):
    refused(sql, dialect, match="no grant covering table|statements|DROP")


def test_a_comment_in_the_grant_keeps_its_newline():
    g = [{"connection_name": "pg", "source": "SELECT a FROM shop.t -- note\nWHERE b = 1"}]
    assert check("SELECT a FROM shop.t -- note\n   WHERE b = 1", "postgres", grants=g).via == "grant"
    refused("SELECT a FROM shop.t -- note WHERE b = 1", "postgres", grants=g)


def test_normalise_sql_collapses_only_whitespace_outside_literals_and_comments():
    assert normalise_sql("  SELECT\n\t a ,  'x  y'  FROM \"T  1\"  ;; ") == "SELECT a , 'x  y' FROM \"T  1\""
    assert normalise_sql("SELECT 1 -- c\n  FROM t") == "SELECT 1 -- c\nFROM t"
    assert normalise_sql("SELECT $x$ a  b $x$,  E'it\\'s  x'") == "SELECT $x$ a  b $x$, E'it\\'s  x'"
    assert normalise_sql("SELECT /* a   b */ 1") == "SELECT /* a   b */ 1"


@BOTH
def test_parameters_are_values_not_text(dialect):
    assert check("SELECT * FROM stores WHERE id = $1 OR name = $2", dialect).via == "tables"
    if dialect == "duckdb":
        assert check("SELECT * FROM stores WHERE name = $name", dialect).via == "tables"
    refused("SELECT * FROM stores WHERE id = $1; DELETE FROM stores WHERE id = $1", dialect)


# --- size and depth --------------------------------------------------------------------------------------
@BOTH
def test_deeply_nested_queries_are_refused_not_crashed(dialect):
    for depth in (300, 3000, 20000):
        sql = "SELECT " + "(" * depth + "1" + ")" * depth + " FROM stores"
        try:
            check(sql, dialect)
        except Forbidden:
            pass  # refused cleanly: no RecursionError, no other exception
        sub = "SELECT * FROM stores"
        for _ in range(depth // 10):
            sub = f"SELECT * FROM ({sub}) s"
        try:
            check(sub, dialect)
        except Forbidden:
            pass


@BOTH
def test_deep_nesting_cannot_hide_an_ungranted_table(dialect):
    sub = "SELECT * FROM secret"
    for _ in range(60):
        sub = f"SELECT * FROM ({sub}) s"
    refused(sub, dialect)


@BOTH
def test_over_long_text_is_refused(dialect):
    sql = "SELECT 1 AS a" + ", 1" * (MAX_SQL_CHARS // 3)
    refused(sql, dialect, match="limited")
    wide = "SELECT " + ", ".join(f"c{i}" for i in range(5000)) + " FROM stores"
    assert check(wide, dialect).via == "tables"
    refused(wide, dialect, match="limited to 1000 characters", max_chars=1000)
    ors = "SELECT * FROM stores WHERE " + " OR ".join(f"id = {i}" for i in range(3000))  # deeper than recursion
    assert check(ors, dialect).via == "tables"


def test_unknown_dialect_or_provider_is_refused():
    with pytest.raises(Forbidden):
        check_sql_access("SELECT 1", dialect="mysql", connection_name="x", grants=[], default_schema="main")
    with pytest.raises(Forbidden):
        dialect_for("bigquery")
    assert dialect_for("carto_dw") == "duckdb" and dialect_for("postgres") == "postgres"


# --- the engine behaviours the rules rely on, shown on the real engines ----------------------------------
def test_duckdb_behaviours_the_rules_rely_on():
    con = duckdb.connect()
    try:
        con.execute('CREATE TABLE "Foo"(a int)')
        with pytest.raises(duckdb.CatalogException):  # case-insensitive even when quoted
            con.execute("CREATE TABLE foo(a int)")
        assert con.sql("SELECT count(*) FROM pg_class").fetchone()[0] > 0  # unqualified -> system.pg_catalog
        assert con.sql("SELECT count(*) FROM main.sqlite_master").fetchone() is not None  # main. -> system
    finally:
        con.close()


@pytest.fixture(scope="module")
def pg_db():
    with pg_database("lds_sqlaccess") as name:
        yield pg_database_url(name)


def test_postgres_behaviours_the_rules_rely_on(pg_db):
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE secret(pw text); INSERT INTO secret VALUES ('hunter2')")
        conn.execute("CREATE TABLE pg_settings(x int)")  # a public table named like a catalog view
        # a non-recursive CTE's own name in its body is the real table
        row = conn.execute("WITH secret AS (SELECT * FROM secret) SELECT pw FROM secret").fetchone()
        assert row == ("hunter2",)
        # unqualified pg_* names resolve in pg_catalog before the search path
        cols = [d.name for d in conn.execute("SELECT * FROM pg_settings LIMIT 1").description]
        assert "x" not in cols and "setting" in cols
        # identifiers are truncated to 63 bytes
        conn.execute(f"CREATE TABLE {'t' * 63}(a int)")
        assert conn.execute(f"SELECT count(*) FROM {'t' * 63}_and_more").fetchone() == (0,)


@BOTH
def test_hostile_garbage_only_ever_gives_forbidden(dialect):
    import random

    rnd = random.Random(11)
    words = ["SELECT", "FROM", "WHERE", "(", ")", ";", "'", '"', "$1", "$$", "/*", "*/", "--", "\n", "stores",
             "secret", "WITH", "AS", "UNION", ",", ".", "*", "DROP", "TABLE", "INTO", "ROWS", "LATERAL", "JOIN",
             "pg_sleep", "read_csv", "E'\\'", "::", "[", "]", "{", "}", "=>", "->", "VALUES", "lower", "1"]
    for _ in range(400):
        sql = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 25)))
        try:
            access = check(sql, dialect)
        except Forbidden:
            continue
        # whatever passes read granted tables only
        assert all(t[2] in ("stores", "roads", "addresses", "streets", "places") or t[1] == "lds"
                   for t in access.tables), sql


PG_ALLOWED = [
    "SELECT * FROM stores",
    "SELECT * FROM lds.roads r JOIN stores s ON r.id = s.id WHERE s.id IN (SELECT id FROM lds.places)",
    "WITH secret AS (SELECT * FROM stores) SELECT * FROM secret",
    "WITH stores AS (SELECT * FROM lds.roads) SELECT * FROM stores",
    "SELECT (SELECT count(*) FROM lds.roads) AS n, lower(name) FROM stores",
    "SELECT 1 UNION ALL SELECT id FROM stores EXCEPT SELECT id FROM lds.roads",
    "SELECT * FROM stores s, LATERAL (SELECT * FROM lds.roads r WHERE r.id = s.id) x",
    "SELECT * FROM (SELECT * FROM stores) AS secret",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r, stores",
    "SELECT * FROM STORES",
    'SELECT * FROM "public"."stores"',
    "SELECT * FROM generate_series(1, 3) g, stores",
]


def _relations(plan) -> set[tuple[str, str]]:
    found = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add((plan["Schema"], plan["Relation Name"]))
        for value in plan.values():
            found |= _relations(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _relations(value)
    return found


def test_postgres_reads_no_table_beyond_those_the_check_covered(pg_db):
    """The engine's own plan: every relation PostgreSQL reads for an allowed query is one the check covered."""
    dbname = pg_db.rsplit("/", 1)[1]
    with psycopg.connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS lds; CREATE SCHEMA IF NOT EXISTS shop")
        for table in ("public.stores", "public.secret", "lds.roads", "lds.places", "shop.secret"):
            conn.execute(f"CREATE TABLE IF NOT EXISTS {table}(id int, name text, price numeric)")
        conn.execute("SET search_path = public")
        g = [{"connection_name": "pg", "source": f"{dbname}.public.stores"},
             {"connection_name": "pg", "source": f"{dbname}.lds.*"}]
        for sql in PG_ALLOWED:
            access = check(sql, "postgres", grants=g, default_catalog=dbname)
            plan = conn.execute(f"EXPLAIN (FORMAT JSON, VERBOSE) {sql}").fetchone()[0]
            read = {(dbname, schema, rel) for schema, rel in _relations(plan)}
            assert read and read <= set(access.tables), (sql, read, access.tables)
        # and what the check refuses really reads something else
        for sql in ("WITH secret AS (SELECT * FROM secret) SELECT * FROM secret",
                    "SELECT * FROM (WITH secret AS (SELECT 1) SELECT * FROM secret) x, secret"):
            refused(sql, "postgres", grants=g, default_catalog=dbname)
            plan = conn.execute(f"EXPLAIN (FORMAT JSON, VERBOSE) {sql}").fetchone()[0]
            assert ("public", "secret") in _relations(plan)


DUCK_ALLOWED = PG_ALLOWED[:-3] + [
    'SELECT * FROM "STORES"',
    "SELECT * FROM carto_dw.main.stores",
    "FROM stores",
    "SELECT * FROM range(3) g, stores",
    "SELECT * FROM stores ASOF JOIN lds.roads USING (id)",
    "SELECT * FROM stores POSITIONAL JOIN lds.places",
]


def _duck_tables(plan) -> set[tuple[str, str, str]]:
    found = set()
    if isinstance(plan, dict):
        table = (plan.get("extra_info") or {}).get("Table")
        if table:
            found.add(tuple(p.strip('"').lower() for p in table.split(".")))
        for value in plan.get("children", []):
            found |= _duck_tables(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _duck_tables(value)
    return found


def test_duckdb_reads_no_table_beyond_those_the_check_covered():
    """DuckDB's own plan: every table it scans for an allowed query is one the check covered."""
    import json

    con = duckdb.connect()
    try:
        con.execute("ATTACH ':memory:' AS carto_dw; USE carto_dw; CREATE SCHEMA lds")
        for table in ("stores", "secret", "lds.roads", "lds.places"):
            con.execute(f"CREATE TABLE {table}(id int, name text, price decimal)")
        g = [{"connection_name": "carto_dw", "source": "carto_dw.main.stores"},
             {"connection_name": "carto_dw", "source": "carto_dw.lds.*"}]
        for sql in DUCK_ALLOWED:
            access = check(sql, "duckdb", grants=g)
            plan = json.loads(con.execute(f"EXPLAIN (FORMAT json) {sql}").fetchall()[0][1])
            read = _duck_tables(plan)
            assert read and read <= set(access.tables), (sql, read, access.tables)
    finally:
        con.close()


def test_a_sql_grant_on_another_connection_does_not_match():
    g = [{"connection_name": "other", "source": GRANT_SQL}, {"connection_name": "pg", "source": "gis.public.stores"}]
    refused(GRANT_SQL, "postgres", grants=g, match="shop.secret")
