"""One declaration per service: the Flask routes, the CLI commands, the job kinds and the cache keys all come
from it, and the core enforces the same limits as the API, so an embedding program gets the same 400s."""

from __future__ import annotations

import json

import pytest

from lds.cache import with_cache
from lds.cache.keys import cache_key
from lds.cache.store import LocalLRU
from lds.errors import BadRequest
from lds.jobs.kinds import KINDS
from lds.services import BATCH, ROUTING, SERVICES

ROUTE = {"origin": "7.4197,43.7311", "destination": "7.4270,43.7400"}


def test_flask_routes_are_the_declarations(app):
    rules = {r.rule: r for r in app.url_map.iter_rules() if r.endpoint.startswith("answers.")}
    assert set(rules) == {s.path for s in SERVICES.values()}
    for s in SERVICES.values():
        assert set(s.methods) <= rules[s.path].methods


def test_job_kinds_are_the_declared_jobs():
    kind = KINDS[BATCH.job.kind]
    assert kind.service == BATCH.quota
    assert kind.run  # answered by the service's core method, exercised by tests/jobs


def test_the_cache_stores_under_the_declared_endpoint_and_key(lds_core):
    lds = with_cache(lds_core, store=LocalLRU(100, 60), settings=lds_core.settings.replace(cache_enabled=True))
    kwargs = {"origin": (7.4197, 43.7311), "destination": (7.4270, 43.7400), "waypoints": [], "mode": "car"}
    value = lds.route(**kwargs)
    key = cache_key(lds.settings.redis_prefix, lds_core.data_version, ROUTING.cache, ROUTING.cache_key(kwargs, lds.settings))
    assert json.loads(lds.store.get_many([key])[0]) == json.loads(json.dumps(value))


@pytest.mark.parametrize("argv,url", [
    (["route", "7.4197,43.7311", "7.4270,43.7400", "--mode", "walk", "--waypoints", "43.7350,7.4210"],
     "/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400&mode=walk&waypoints=43.7350,7.4210"),
    (["isoline", "7.4197,43.7311", "--range", "300,600", "--range-type", "distance", "--mode", "walk"],
     "/v3/lds/isolines?origin=7.4197,43.7311&range=300,600&range_type=distance&mode=walk"),
    (["geocode", "Boulevard des Moulins", "--country", "mc", "--limit", "2"],
     "/v3/lds/geocoding/geocode?address=Boulevard+des+Moulins&country=mc&limit=2"),
    (["reverse", "43.7384", "7.4246", "--language", "en"], "/v3/lds/geocoding/reverse?lat=43.7384&lon=7.4246&language=en"),
    (["isoline", "7.4197,43.7311", "--range", "999999"], "/v3/lds/isolines?origin=7.4197,43.7311&range=999999"),
    (["route", "7.4197,43.7311", "nowhere"], "/v3/lds/routing?origin=7.4197,43.7311&destination=nowhere"),
])
def test_cli_prints_what_the_api_answers(client, monaco_dir, capsys, monkeypatch, argv, url):
    from lds.cli import main

    monkeypatch.setenv("LDS_CACHE_ENABLED", "false")
    code = main([*argv, "--data", str(monaco_dir)])
    printed = json.loads(capsys.readouterr().out)
    r = client.get(url)
    assert printed == r.get_json()
    assert code == (0 if r.status_code == 200 else 2)


# the same bad request, through the API and straight to the core
CORE_LIMITS = [
    ("/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400&waypoints=" + ";".join(["43.7311,7.4197"] * 26),
     lambda lds: lds.route((7.4197, 43.7311), (7.4270, 43.7400), [(7.4197, 43.7311)] * 26)),
    ("/v3/lds/routing?origin=7.4197,93&destination=7.4270,43.7400", lambda lds: lds.route((7.4197, 93), (7.4270, 43.74))),
    ("/v3/lds/routing?origin=7.4197,43.7311&destination=7.4270,43.7400&mode=boat",
     lambda lds: lds.route((7.4197, 43.7311), (7.4270, 43.7400), mode="boat")),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=999999", lambda lds: lds.isolines((7.4197, 43.7311), [999999])),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=70000&range_type=distance",
     lambda lds: lds.isolines((7.4197, 43.7311), [70000], "distance")),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=1,2,3,4,5,6", lambda lds: lds.isolines((7.4197, 43.7311), [1, 2, 3, 4, 5, 6])),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=0.5", lambda lds: lds.isolines((7.4197, 43.7311), [0.5])),
    ("/v3/lds/isolines?origin=7.4197,43.7311&range=300&range_type=weight",
     lambda lds: lds.isolines((7.4197, 43.7311), [300], "weight")),
    ("/v3/lds/geocoding/geocode?address=Monaco&limit=51", lambda lds: lds.geocode("Monaco", limit=51)),
    ("/v3/lds/geocoding/geocode?address=" + "x" * 501, lambda lds: lds.geocode("x" * 501)),
    ("/v3/lds/geocoding/geocode?address=Monaco&country=MCO", lambda lds: lds.geocode("Monaco", country="MCO")),
    ("/v3/lds/geocoding/reverse?lat=91&lon=7.4", lambda lds: lds.reverse(91, 7.4)),
]


@pytest.mark.parametrize("url,call", CORE_LIMITS, ids=[u[:70] for u, _ in CORE_LIMITS])
def test_the_core_refuses_what_the_api_refuses_in_the_same_words(client, lds_core, url, call):
    r = client.get(url)
    assert r.status_code == 400
    with pytest.raises(BadRequest) as refused:
        call(lds_core)
    assert refused.value.message == r.get_json()["error"]
