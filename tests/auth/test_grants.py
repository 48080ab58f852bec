"""Grant matching: exact table, wildcard, '*', SQL text; and validation of grants in a token body."""

import pytest

from lds.auth.grants import grant_covers, grants_cover, is_sql, validate_grant
from lds.errors import BadRequest


def g(source, connection="carto_dw"):
    return validate_grant({"connection_name": connection, "source": source})


def test_exact_table_covers_only_that_table():
    grant = g("proj.ds.airports")
    assert grant_covers(grant, "carto_dw", "proj.ds.airports")
    assert grant_covers(grant, "carto_dw", "`proj.ds.airports`")
    assert grant_covers(grant, "carto_dw", "`proj`.`ds`.`airports`")
    assert not grant_covers(grant, "carto_dw", "proj.ds.airports2")
    assert not grant_covers(grant, "carto_dw", "proj.ds.Airports")  # case-sensitive: refuse when unsure
    assert not grant_covers(grant, "carto_dw", "proj.ds")
    assert not grant_covers(grant, "other_conn", "proj.ds.airports")
    assert not grant_covers(grant, "carto_dw", "SELECT * FROM proj.ds.airports")


def test_wildcard_covers_tables_under_the_prefix_only():
    grant = g("proj.ds.*")
    assert grant_covers(grant, "carto_dw", "proj.ds.airports")
    assert grant_covers(grant, "carto_dw", "proj.ds.airports.tileset_part")
    assert not grant_covers(grant, "carto_dw", "proj.ds")
    assert not grant_covers(grant, "carto_dw", "proj.ds2.airports")
    assert not grant_covers(grant, "carto_dw", "proj.dsx.airports")
    assert not grant_covers(grant, "carto_dw", "other.ds.airports")
    assert not grant_covers(grant, "carto_dw", "proj.ds.*")
    assert not grant_covers(grant, "carto_dw", "SELECT * FROM proj.ds.airports")


def test_star_covers_everything_on_its_connection_only():
    grant = g("*")
    assert grant_covers(grant, "carto_dw", "a.b.c")
    assert grant_covers(grant, "carto_dw", "SELECT 1")
    assert not grant_covers(grant, "other", "a.b.c")


def test_sql_text_matches_the_same_query_modulo_whitespace():
    grant = g("SELECT * FROM `carto-demo-data`.demo_tables.retail_stores WHERE city = @groupcity")
    same = "select   * FROM `carto-demo-data`.demo_tables.retail_stores\n WHERE city = @groupcity ;"
    assert not grant_covers(grant, "carto_dw", same)  # keyword case is part of the text: exact match only
    assert grant_covers(grant, "carto_dw", same.replace("select", "SELECT"))
    assert not grant_covers(grant, "carto_dw", "SELECT * FROM `carto-demo-data`.demo_tables.retail_stores")
    assert not grant_covers(grant, "carto_dw", "carto-demo-data.demo_tables.retail_stores")
    assert is_sql("  WITH a AS (SELECT 1) SELECT * FROM a") and is_sql("(SELECT 1)") and not is_sql("a.b.c")


def test_any_of_several_grants():
    grants = [g("proj.ds.a"), g("proj.other.*", connection="bq")]
    assert grants_cover(grants, "carto_dw", "proj.ds.a")
    assert grants_cover(grants, "bq", "proj.other.z")
    assert not grants_cover(grants, "carto_dw", "proj.other.z")
    assert not grants_cover([], "carto_dw", "proj.ds.a")


@pytest.mark.parametrize("source", ["proj.*", "proj.*.x", "*.ds.t", "proj..t", "proj.ds*.t", "", "  "])
def test_invalid_sources_are_refused(source):
    with pytest.raises(BadRequest):
        g(source)


@pytest.mark.parametrize("grant", [None, "x", {"source": "a.b.c"}, {"connection_name": "", "source": "a.b.c"},
                                   {"connection_name": "c", "source": 3}, {"connection_name": "c", "source": "a.b", "x": 1}])
def test_malformed_grants_are_refused(grant):
    with pytest.raises(BadRequest):
        validate_grant(grant)


def test_require_source_for_sql_and_maps_blueprints():
    from lds.auth.access import AccessControl
    from lds.auth.tokens import Principal
    from lds.errors import Forbidden

    token = Principal(id="t", kind="api", name="t", allowed_apis=("sql",), grants=(g("proj.ds.*"),))
    AccessControl.require_source(token, "carto_dw", "proj.ds.stores")
    with pytest.raises(Forbidden, match="no grant"):
        AccessControl.require_source(token, "carto_dw", "proj.secret.salaries")
    AccessControl.require_source(Principal(id="admin", kind="admin", name="admin"), "any", "SELECT 1")
