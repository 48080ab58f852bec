"""Imports API over HTTP with auth on: submit (202), status, list, cancel, preview; both destinations (the
embedded carto_dw and a PostgreSQL connection to a throwaway database); tokens and grants; refusals at
submission (400/403/404/429) and while running (job failure with the reason in ``error`` and ``logs``);
geocoding on import charged per row."""

from __future__ import annotations

import time

import pytest
import shapely
from authfixtures import *
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token, pg_database
from importfixtures import *
from importfixtures import big_csv, csv_bytes, gdal_bytes, zip_bytes
from sqlfixtures import envelope, warehouse_app

ADMIN = bearer(ADMIN_TOKEN)
FINAL = ("success", "failure", "cancelled")


@pytest.fixture(scope="module")
def pgname():
    with pg_database("lds_importapi_test", "CREATE EXTENSION postgis") as name:
        yield name


@pytest.fixture(scope="module")
def api(lds_core, tmp_path_factory, server, pgname):
    settings = auth_settings(
        lds_core.data.path,
        tmp_path_factory.mktemp("importapi"),
        import_allowed_hosts=server.host,
        import_max_active=2,
        import_max_bytes=400_000,
        job_local_threads=2,
    )
    with warehouse_app(lds_core, settings, pgname) as app:
        yield app


@pytest.fixture()
def client(api):
    return api.test_client()


def submit(client, headers=ADMIN, **body):
    r = client.post("/v3/imports", json=body, headers=headers)
    assert r.status_code == 202, (r.status_code, r.get_json())
    out = r.get_json()
    assert out["status"] == "pending" and out["jobId"]
    return out["jobId"]


def wait(client, job_id, statuses=FINAL, headers=ADMIN, timeout=60, logged=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        doc = client.get(f"/v3/imports/{job_id}", headers=headers).get_json()
        if doc["status"] in statuses and (logged is None or any(logged in line for line in doc["logs"])):
            return doc
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} stayed {doc['status']}: {doc}")


def sql(client, connection, q):
    r = client.post(f"/v3/sql/{connection}/query", json={"q": q}, headers=ADMIN)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["rows"]


def test_import_into_carto_dw_and_postgres(client, server, tmp_path):
    url = server.add("api.csv", csv_bytes("wkt"), "text/csv")
    job = submit(client, connection="carto_dw", url=url, destination="api.places")
    doc = wait(client, job)
    assert doc["status"] == "success", doc
    assert doc["rowsImported"] == 3 and doc["destination"] == "carto_dw.api.places" and doc["error"] is None
    assert {"name": "geom", "type": "geometry"} in doc["schema"] and doc["jobId"] == job
    assert any("format: csv" in line for line in doc["logs"])
    assert len(sql(client, "carto_dw", "SELECT * FROM api.places")) == 3

    gj = server.add("api.geojson", gdal_bytes(tmp_path, "GeoJSON", ".geojson"), "application/json")
    job2 = submit(client, connection="pg", url=gj, destination="public.places", overwrite=False, autoguessing=True)
    doc2 = wait(client, job2)
    assert doc2["status"] == "success" and doc2["destination"].endswith(".public.places"), doc2
    got = sql(client, "pg", "SELECT name, geom FROM public.places ORDER BY name")
    assert [r["name"] for r in got] == ["Casino", "Palais", "Port Hercule"]
    assert shapely.from_geojson(got[0]["geom"]).x == pytest.approx(7.4197)

    listed = client.get("/v3/imports", headers=ADMIN).get_json()
    ids = [d["jobId"] for d in listed]
    assert job in ids and job2 in ids and "logs" not in listed[0]
    # the table exists now: overwrite=false fails the job cleanly, the table keeps its rows
    job3 = submit(client, connection="carto_dw", url=url, destination="api.places")
    doc3 = wait(client, job3)
    assert doc3["status"] == "failure" and "already exists" in doc3["error"]
    assert len(sql(client, "carto_dw", "SELECT * FROM api.places")) == 3


def test_tokens_need_the_imports_api_and_a_grant(client, server):
    url = server.add("tok.csv", csv_bytes("latlon"), "text/csv")
    granted = make_token(client, allowed_apis=["imports"], grants=[{"connection_name": "pg", "source": "tok.mine"}])
    sql_only = make_token(client, allowed_apis=["sql"], grants=[{"connection_name": "pg", "source": "tok.mine"}])
    other = make_token(client, allowed_apis=["imports"], grants=[{"connection_name": "pg", "source": "*"}])
    envelope(
        client.post(
            "/v3/imports", json={"connection": "pg", "url": url, "destination": "tok.mine"}, headers=bearer(sql_only)
        ),
        403,
    )
    assert "grant" in envelope(
        client.post(
            "/v3/imports", headers=bearer(granted), json={"connection": "pg", "url": url, "destination": "tok.other"}
        ),
        403,
    )
    job = submit(client, bearer(granted), connection="pg", url=url, destination="tok.mine")
    assert wait(client, job, headers=bearer(granted))["status"] == "success"
    # another token sees neither the job nor its status; the admin sees it
    envelope(client.get(f"/v3/imports/{job}", headers=bearer(other)), 404)
    envelope(client.post(f"/v3/imports/{job}/cancel", headers=bearer(other)), 404)
    assert job not in [d["jobId"] for d in client.get("/v3/imports", headers=bearer(other)).get_json()]
    assert job in [d["jobId"] for d in client.get("/v3/imports", headers=bearer(granted)).get_json()]
    envelope(client.get("/v3/imports", headers={}), 401)


def test_refusals_at_submission(client, server):
    url = server.add("ok.csv", csv_bytes("wkt"), "text/csv")
    bad = {
        "loopback name not allowed": ({"url": f"http://localhost:{server.port}/f/ok.csv"}, 400, "LDS_IMPORT_ALLOWED"),
        "private address": ({"url": "http://10.0.0.1/x.csv"}, 400, "private"),
        "metadata address": ({"url": "http://169.254.169.254/latest/meta-data"}, 400, "link-local"),
        "file off": ({"url": "file:///etc/passwd"}, 400, "file://"),
        "scheme": ({"url": "ftp://example.com/x.csv"}, 400, "scheme"),
        "no url": ({"url": None}, 400, "url"),
        "destination": ({"destination": "a.b.c.d"}, 400, "destination"),
        "other database": ({"destination": "otherdb.s.t"}, 400, "database"),
        "no connection": ({"connection": "nope"}, 404, "nope"),
        "overwrite type": ({"overwrite": "yes"}, 400, "overwrite"),
        "geocode shape": ({"geocode": "address"}, 400, "geocode"),
    }
    for what, (change, status, words) in bad.items():
        body = {"connection": "carto_dw", "url": url, "destination": "ref.t", **change}
        message = envelope(client.post("/v3/imports", json=body, headers=ADMIN), status)
        assert words.lower() in message.lower(), (what, message)
    envelope(client.post("/v3/imports", json=[1], headers=ADMIN), 400)
    envelope(client.post("/v3/imports", data="{", content_type="application/json", headers=ADMIN), 400)
    envelope(client.get("/v3/imports/nope", headers=ADMIN), 404)


@pytest.mark.parametrize(
    "case",
    ["redirect_to_loopback", "zip_bomb", "traversal", "too_large", "malformed", "html"],
)
def test_refusals_while_running_fail_the_job_and_write_nothing(client, server, case):
    name = f"run_{case}"
    if case == "redirect_to_loopback":
        url = f"http://{server.host}/redirect?to=http://localhost:{server.port}/f/x.csv"
        words = "LDS_IMPORT_ALLOWED_HOSTS"
    elif case == "zip_bomb":
        url = server.add(f"{name}.zip", zip_bytes({"a.csv": b"1" * (30 * 1024 * 1024)}), "application/zip")
        words = "zip bomb"
    elif case == "traversal":
        url = server.add(f"{name}.zip", zip_bytes({"../../../tmp/evil.csv": b"a\n1\n"}), "application/zip")
        words = "path traversal"
    elif case == "too_large":
        url = server.add(f"{name}.csv", big_csv(20_000), "text/csv", route="chunked")
        words = "LDS_IMPORT_MAX_BYTES"
    elif case == "malformed":
        url = server.add(f"{name}.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Fea', "text/plain")
        words = "could not be read as geojson"
    else:
        url = server.add(f"{name}.csv", b"<!doctype html><html>Please log in</html>", "text/csv")
        words = "HTML page"
    job = submit(client, connection="pg", url=url, destination=f"refused.{name}")
    doc = wait(client, job)
    assert doc["status"] == "failure" and words in doc["error"], doc
    assert any(words in line for line in doc["logs"]), doc["logs"]
    assert sql(client, "pg", f"SELECT count(*) AS n FROM pg_class WHERE relname = '{name}'")[0]["n"] == 0


def test_cancel_and_the_concurrency_limit(client, server):
    slow = server.add("slow.csv", big_csv(2_000), "text/csv", route="slow")  # ~100 KB at 64 B / 50 ms
    first = submit(client, connection="carto_dw", url=slow, destination="slow.a")
    second = submit(client, connection="pg", url=slow, destination="slow.b")
    message = envelope(
        client.post(
            "/v3/imports", headers=ADMIN, json={"connection": "carto_dw", "url": slow, "destination": "slow.c"}
        ),
        429,
    )
    assert "LDS_IMPORT_MAX_ACTIVE" in message
    wait(client, first, statuses=("running",), logged="downloading")
    r = client.post(f"/v3/imports/{first}/cancel", headers=ADMIN)
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    envelope(client.post(f"/v3/imports/{first}/cancel", headers=ADMIN), 409)
    # one slot is free again
    third = submit(client, connection="carto_dw", url=slow, destination="slow.c")
    for job in (second, third):
        assert client.post(f"/v3/imports/{job}/cancel", headers=ADMIN).get_json()["status"] == "cancelled"
    deadline = time.time() + 30
    jobs = client.application.extensions["lds_jobs"]
    while jobs.active_count("import") and time.time() < deadline:
        time.sleep(0.05)
    staging = client.application.extensions["lds_settings"].state_dir + "/imports"
    while time.time() < deadline:  # every worker noticed its cancel and removed its staging folder
        import os

        if not [d for d in os.listdir(staging) if d in (first, second, third)]:
            break
        time.sleep(0.1)
    assert not [d for d in os.listdir(staging) if d in (first, second, third)]
    assert sql(client, "carto_dw", "SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'slow'")[0]["n"] == 0


def test_preview(client, server, tmp_path):
    url = server.add("pv.kml", gdal_bytes(tmp_path, "KML", ".kml"), "text/xml")
    r = client.post("/v3/imports/preview", json={"url": url}, headers=ADMIN)
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["format"] == "kml" and {"name": "geom", "type": "geometry"} in out["columns"] and len(out["rows"]) == 3
    envelope(client.post("/v3/imports/preview", json={"url": "http://127.0.0.2/x"}, headers=ADMIN), 400)
    envelope(client.post("/v3/imports/preview", json={}, headers=ADMIN), 400)


def test_geocode_on_import_charges_per_row(client, server):
    body = b"id,address\n1,Boulevard des Moulins 12\n2,Rue Grimaldi 5\n3,\n4,zzzz qqqq xxxx\n"
    url = server.add("addresses.csv", body, "text/csv")
    token = make_token(client, allowed_apis=["imports"], grants=[{"connection_name": "carto_dw", "source": "*"}])
    access = client.application.extensions["lds_access"]

    def used():
        stats = access.stats(access.authenticate(token))
        return next(s["used_quota"] for s in stats if s["service"] == "geocoding")

    before = used()
    job = submit(
        client,
        bearer(token),
        connection="carto_dw",
        url=url,
        destination="geo.addresses",
        geocode={"address_column": "address"},
    )
    doc = wait(client, job, headers=bearer(token))
    assert doc["status"] == "success", doc
    names = [c["name"] for c in doc["schema"]]
    assert names[-3:] == ["geocode_match_type", "geocode_confidence", "geom"]
    got = sql(
        client, "carto_dw", "SELECT id, geom, geocode_match_type, geocode_confidence FROM geo.addresses ORDER BY id"
    )
    assert got[0]["geom"] and got[0]["geocode_match_type"] and got[0]["geocode_confidence"] > 0
    lon, lat = shapely.get_coordinates(shapely.from_geojson(got[0]["geom"]))[0]
    assert 7.40 < lon < 7.44 and 43.72 < lat < 43.76
    assert got[2]["geom"] is None and got[2]["geocode_match_type"] is None
    assert used() - before == 4
    missing = submit(
        client,
        bearer(token),
        connection="carto_dw",
        url=url,
        destination="geo.none",
        geocode={"address_column": "street"},
    )
    assert "not a column" in wait(client, missing, headers=bearer(token))["error"]
