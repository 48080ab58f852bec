"""The LDS functions in carto_dw SQL (``lds_geocode``, ``lds_reverse``, ``lds_route``, ``lds_isoline``) through the
SQL API with auth on, over the real Monaco build: the same answers as the /v3/lds endpoints, NULLs, quota per
row, refusal without ``lds``, over-quota, bad arguments; and at the warehouse level: no binding outside the SQL
API, the statement timeout stopping a long run of isolines."""

from __future__ import annotations

import json

import pytest
import shapely
import shapely.geometry
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token

from lds.errors import LdsError
from lds.warehouse import StatementTimeout, callers

ADMIN = bearer(ADMIN_TOKEN)
# Real Monaco addresses (one with typos, one nothing matches), an empty text and a NULL.
ADDRESSES = [
    "14 allee lazare sauvaigo",
    "Boulevard des Moulins 12",
    "Rue Grimaldi 5",
    "avenue de la costa 3",
    "boulevard princesse charlotte 20",
    "bulevard des mulins 12",
    "zzzz qqqq xxxx",
    "",
    None,
]
ORIGIN, DESTINATION = (7.4197, 43.7311), (7.4270, 43.7400)
POINT = "{},{}"  # lon,lat as the endpoints take it
GRANT = {"connection_name": "carto_dw", "source": "carto_dw.main.addrs"}
BY_ID = (
    "SELECT id, g.latitude, g.longitude, g.formatted_address, g.match_type, g.match_confidence "
    "FROM (SELECT id, lds_geocode(addr) AS g FROM addrs) ORDER BY id"
)


@pytest.fixture(scope="module")
def fn_app(lds_core, tmp_path_factory):
    from lds.api.connections import connections_of
    from lds.app import create_app

    app = create_app(auth_settings(lds_core.data.path, tmp_path_factory.mktemp("ldsfn")), lds=lds_core)
    client = app.test_client()
    values = ", ".join(f"({i}, {'NULL' if a is None else repr(a)})" for i, a in enumerate(ADDRESSES))
    ok(
        client.post(
            "/v3/sql/carto_dw/query",
            headers=ADMIN,
            json={"q": f"CREATE OR REPLACE TABLE addrs AS SELECT * FROM (VALUES {values}) t(id, addr)"},
        )
    )
    yield app
    connections_of(app).close()


@pytest.fixture()
def client(fn_app):
    return fn_app.test_client()


def ok(r):
    assert r.status_code == 200, (r.status_code, r.get_data(as_text=True)[:300])
    return r.get_json()


def sql(client, q, headers=ADMIN, **params):
    return client.post("/v3/sql/carto_dw/query", json={"q": q, **params}, headers=headers)


def error(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json()
    assert set(body) == {"error", "status"} and body["status"] == status
    return body["error"]


def used(client, token):
    return {s["service"]: s["used_quota"] for s in client.get("/v3/lds/stats", headers=bearer(token)).get_json()}


def api_geocode(client, headers, address):
    r = client.get("/v3/lds/geocoding/geocode", query_string={"address": address, "limit": 1}, headers=headers)
    if r.status_code == 400:
        return None
    entry = r.get_json()[0]
    return entry["value"][0] if entry["value"] else None


def test_lds_geocode_answers_a_table_as_the_geocoding_api(client):
    token = make_token(client, allowed_apis=["sql", "lds"], grants=[GRANT])
    api = bearer(make_token(client))
    out = ok(sql(client, BY_ID, bearer(token)))
    assert [c["type"] for c in out["schema"]] == ["number", "number", "number", "string", "string", "number"]
    matched = 0
    for row, address in zip(out["rows"], ADDRESSES, strict=True):
        want = None if address is None else api_geocode(client, api, address)
        if want is None:  # NULL input, nothing matches, or a text the API refuses (empty): NULL
            assert row["latitude"] is None and row["formatted_address"] is None, (address, row)
            continue
        matched += 1
        assert (
            row["latitude"],
            row["longitude"],
            row["formatted_address"],
            row["match_type"],
            row["match_confidence"],
        ) == (
            want["latitude"],
            want["longitude"],
            want["formattedAddress"],
            want["matchType"],
            want["matchConfidence"],
        ), address
    assert matched >= 5
    # one unit per non-NULL address (the empty text included, as a batch item), nothing for the NULL
    assert used(client, token)["geocoding"] == len(ADDRESSES) - 1
    row = ok(
        sql(client, "SELECT lds_geocode('Boulevard des Moulins 12', 'FR') AS g, lds_geocode(NULL) AS n", bearer(token))
    )["rows"][0]
    assert row == {"g": None, "n": None}  # a country filter that excludes Monaco
    assert used(client, token)["geocoding"] == len(ADDRESSES)


def test_create_table_as_geocodes_a_whole_table_in_one_statement(client):
    ok(sql(client, "CREATE OR REPLACE TABLE geocoded AS SELECT *, lds_geocode(addr, 'MC') AS g FROM addrs"))
    out = ok(
        sql(
            client, "SELECT id, ST_Point(g.longitude, g.latitude) AS geom FROM geocoded WHERE g IS NOT NULL ORDER BY id"
        )
    )
    assert {c["name"]: c["type"] for c in out["schema"]} == {"id": "number", "geom": "geometry"}
    assert len(out["rows"]) >= 5
    point = json.loads(out["rows"][0]["geom"])
    assert point["type"] == "Point" and 7.40 < point["coordinates"][0] < 7.45


def test_reverse_route_and_isoline_match_the_api(client):
    token = make_token(client, allowed_apis=["sql", "lds"], grants=[GRANT])
    h = bearer(token)
    want = client.get(
        "/v3/lds/geocoding/reverse", query_string={"lat": ORIGIN[1], "lon": ORIGIN[0]}, headers=ADMIN
    ).get_json()[0]["value"][0]
    row = ok(
        sql(
            client,
            "SELECT lds_reverse($1, $2) AS r, lds_reverse(NULL, 43.7) AS n, lds_reverse(0, 0) AS o",
            h,
            queryParameters=list(ORIGIN),
        )
    )["rows"][0]
    assert row["n"] is None and row["o"] is None  # NULL input; a point outside the data
    assert (row["r"]["formatted_address"], row["r"]["latitude"], row["r"]["distance"]) == (
        want["formattedAddress"],
        want["latitude"],
        want["distance"],
    )

    for mode in ("car", "walk"):
        q = {"origin": POINT.format(*ORIGIN), "destination": POINT.format(*DESTINATION), "mode": mode}
        want = client.get("/v3/lds/routing", query_string=q, headers=ADMIN).get_json()[0]["value"][0]
        out = ok(
            sql(
                client,
                "SELECT r.distance, r.duration, r.geom, ST_Length_Spheroid(r.geom) > 0 AS long "
                "FROM (SELECT lds_route($1, $2, $3, $4, $5) AS r)",
                h,
                queryParameters=[*ORIGIN, *DESTINATION, mode],
            )
        )
        row = out["rows"][0]
        assert {c["name"]: c["type"] for c in out["schema"]}["geom"] == "geometry"
        assert (row["distance"], row["duration"]) == (want["distance"], want["duration"])
        line = json.loads(row["geom"])
        assert line["type"] == "LineString" and line["coordinates"] == want["geom"]["coordinates"]
    assert ok(sql(client, "SELECT lds_route(NULL, 43.73, 7.42, 43.74) AS r", h))["rows"] == [{"r": None}]

    want = client.get(
        "/v3/lds/isolines", query_string={"origin": POINT.format(*ORIGIN), "range": 300, "mode": "walk"}, headers=ADMIN
    ).get_json()[0]["value"][0]["geom"]
    out = ok(
        sql(
            client,
            "SELECT g, ST_IsValid(g) AS valid, ST_GeometryType(g) AS kind FROM "
            "(SELECT lds_isoline($1, $2, 300, 'time', 'walk') AS g)",
            h,
            queryParameters=list(ORIGIN),
        )
    )
    row = out["rows"][0]
    assert row["valid"] is True and row["kind"] == "MULTIPOLYGON"
    got = shapely.geometry.shape(json.loads(row["g"]))
    assert got.area > 0 and got.symmetric_difference(shapely.geometry.shape(want)).area < 1e-9 * got.area
    assert ok(sql(client, "SELECT lds_isoline(7.42, NULL, 300) AS g", h))["rows"] == [{"g": None}]
    assert used(client, token) == {"geocoding": 2, "routing": 2, "isolines": 1}  # non-NULL calls only


@pytest.mark.parametrize(
    ("q", "says"),
    [
        ("SELECT lds_route(7.4197, 43.7311, 7.4270, 43.7400, 'plane')", "parameter 'mode' must be one of"),
        ("SELECT lds_isoline(7.4197, 43.7311, 0)", "parameter 'range' must be between 1 and 3600"),
        ("SELECT lds_isoline(7.4197, 43.7311, 300, 'weeks')", "range_type"),
        ("SELECT lds_reverse(7.42, 100)", "lat"),
        ("SELECT lds_geocode('a', 'b', 'c')", "lds_geocode"),
    ],
)
def test_bad_arguments_fail_the_statement_with_400(client, q, says):
    message = error(sql(client, q), 400)
    assert says in message and "Traceback" not in message and "At:" not in message


def test_a_token_without_lds_may_not_call_them(client):
    token = make_token(client, allowed_apis=["sql"], grants=[GRANT])
    assert "lds_geocode" in error(sql(client, "SELECT lds_geocode(addr) FROM addrs", bearer(token)), 403)
    # the exact text of a SQL grant skips the function check; the function itself still refuses
    q = "SELECT lds_geocode(addr) AS g FROM addrs"
    token = make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "carto_dw", "source": q}])
    assert "lds API" in error(sql(client, q, bearer(token)), 403)
    token = make_token(client, allowed_apis=["sql", "lds"], grants=[{"connection_name": "carto_dw", "source": q}])
    assert len(ok(sql(client, q, bearer(token)))["rows"]) == len(ADDRESSES)


def test_over_quota_fails_the_statement_with_429(client):
    token = make_token(client, allowed_apis=["sql", "lds"], grants=[GRANT], quotas={"geocoding": 3})
    h = bearer(token)
    r = sql(client, "SELECT lds_geocode(addr) AS g FROM addrs", h)
    assert "Monthly geocoding quota exceeded" in error(r, 429) and int(r.headers["Retry-After"]) > 0
    assert used(client, token)["geocoding"] == 0  # the batch that did not fit was not charged
    assert len(ok(sql(client, "SELECT lds_geocode(addr) AS g FROM addrs WHERE id < 3", h))["rows"]) == 3
    assert used(client, token)["geocoding"] == 3
    error(sql(client, "SELECT lds_geocode('Rue Grimaldi 5') AS g", h), 429)


def test_the_functions_answer_only_inside_the_sql_api(lds_core, tmp_path):
    from lds.warehouse.carto_dw import CartoDW

    dw = CartoDW(tmp_path / "dw")
    try:
        with (
            pytest.raises(LdsError, match="only in statements run through the SQL API"),
            dw.query("SELECT lds_geocode('Rue Grimaldi 5')", timeout_s=30) as q,
        ):
            list(q.rows())
        with callers.calling(callers.LdsCalls(lds_core)):
            q = dw.query("SELECT lds_geocode('Rue Grimaldi 5').formatted_address LIKE '%Grimaldi%' AS m", timeout_s=30)
        with q:
            assert list(q.rows()) == [(True,)]
    finally:
        dw.close()


def test_the_statement_timeout_stops_a_long_run_of_isolines(lds_core, tmp_path):
    """DuckDB's interrupt does not reach into a Python function: the functions check the deadline per row."""
    from lds.warehouse.carto_dw import CartoDW

    class Counting:
        def __init__(self, core):
            self.core, self.calls = core, 0

        def isolines(self, *args, **kw):
            self.calls += 1
            return self.core.isolines(*args, **kw)

    core = Counting(lds_core)
    dw = CartoDW(tmp_path / "dw")
    rows = 2000
    try:
        dw.test()  # the lake and this thread's read cursor are made, and the graph's indexes built, before the clock
        lds_core.warm()
        with callers.calling(callers.LdsCalls(core)):
            q = dw.query(
                f"SELECT lds_isoline(7.4197 + i * 1e-6, 43.7311, 3600) FROM range({rows}) t(i)",
                timeout_s=2,
                read_only=True,
            )
        with pytest.raises(StatementTimeout), q:
            list(q.rows())
        assert 0 < core.calls < rows
    finally:
        dw.close()


def test_a_sql_job_charges_its_submitter_from_any_process(fn_app, client, lds_core, tmp_path):
    """What a SQL job does in its worker: the submitter kept as JSON, charged in the state store at once."""
    from lds.warehouse.carto_dw import CartoDW

    token = make_token(client, allowed_apis=["sql", "lds"], grants=[GRANT], quotas={"routing": 2})
    principal = fn_app.extensions["lds_access"].authenticate(token)
    caller = json.loads(json.dumps(callers.caller_of(principal)))
    settings = fn_app.extensions["lds_settings"]
    dw = CartoDW(tmp_path / "dw")
    route = "SELECT lds_route(7.4197, 43.7311, 7.4270, 43.74 + i * 1e-4).distance FROM range({n}) t(i)"
    try:
        with callers.calling(callers.for_job(lds_core, settings, caller)):
            q = dw.query(route.format(n=2), timeout_s=30)
        with q:
            assert len(list(q.rows())) == 2
        assert used(client, token)["routing"] == 2
        with callers.calling(callers.for_job(lds_core, settings, caller)):
            q = dw.query(route.format(n=1), timeout_s=30)
        with pytest.raises(LdsError, match="Monthly routing quota exceeded") as raised, q:
            list(q.rows())
        assert raised.value.status == 429
        refused = {**caller, "allowed_apis": ["sql"]}
        with callers.calling(callers.for_job(lds_core, settings, refused)):
            q = dw.query(route.format(n=1), timeout_s=30)
        with pytest.raises(LdsError, match="not allowed to use the lds API") as raised, q:
            list(q.rows())
        assert raised.value.status == 403
    finally:
        dw.close()
