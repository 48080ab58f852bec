"""The caching facade over the real Monaco core: hits, keys per build, errors and size limits, Redis."""

import json
import shutil

import pytest

from lds import fastjson, metrics
from lds.cache import CachedLDS, begin_outcome, with_cache
from lds.cache.store import LocalLRU, RedisStore
from lds.core import LDS
from lds.errors import LdsError
from lds.redisconn import redis_client as make_client

ORIGIN = (7.4197, 43.7311)


def as_json(value) -> bytes:
    """An answer as the API writes it (isoline rings are numpy arrays when computed, lists when cached)."""
    return fastjson.dumps(value)


def cached(core, store=None, **overrides) -> CachedLDS:
    settings = core.settings.replace(cache_enabled=True, **overrides)
    return with_cache(core, store if store is not None else LocalLRU(1000, 60), settings=settings)


def test_second_identical_question_is_a_hit_with_the_same_answer(lds_core):
    lds = cached(lds_core)
    first = begin_outcome()
    a = lds.isolines(ORIGIN, [300], "time", "walk")
    assert (first.hits, first.misses, first.label) == (0, 1, "miss")
    second = begin_outcome()
    b = lds.isolines((7.41970000001, 43.73110000004), [300.0], "time", "walk")  # same after rounding
    assert (second.hits, second.misses, second.label) == (1, 0, "hit")
    assert as_json(a) == as_json(b) == as_json(lds_core.isolines(ORIGIN, [300], "time", "walk"))


def test_other_parameters_are_other_answers(lds_core):
    lds = cached(lds_core)
    lds.isolines(ORIGIN, [300], "time", "walk")
    for args in [(ORIGIN, [600], "time", "walk"), (ORIGIN, [300], "distance", "walk"), ((7.4200, 43.7311), [300], "time", "walk")]:
        outcome = begin_outcome()
        lds.isolines(*args)
        assert outcome.label == "miss", args


def test_a_rebuild_never_serves_the_old_answers(lds_core, monaco_dir, tmp_path):
    store = LocalLRU(1000, 60)
    old = cached(lds_core, store)
    old.isolines(ORIGIN, [300], "time", "walk")
    rebuilt_dir = tmp_path / "rebuilt"
    shutil.copytree(monaco_dir, rebuilt_dir)
    meta = json.loads((rebuilt_dir / "meta.json").read_text())
    meta["data_version"] = meta["data_version"] + "-rebuilt"
    (rebuilt_dir / "meta.json").write_text(json.dumps(meta))
    new = cached(LDS(lds_core.settings.replace(data_dir=str(rebuilt_dir))), store)
    outcome = begin_outcome()
    new.isolines(ORIGIN, [300], "time", "walk")
    assert outcome.label == "miss"
    assert old.key("isolines", {"a": 1}) != new.key("isolines", {"a": 1})


def test_errors_are_not_cached(lds_core):
    store = LocalLRU(1000, 60)
    lds = cached(lds_core, store)
    for _ in range(2):
        outcome = begin_outcome()
        with pytest.raises(LdsError):
            lds.isolines((0.0, 0.0), [300], "time", "walk")  # far outside Monaco
        assert outcome.hits == 0
    assert len(store) == 0


def test_answers_over_the_size_limit_are_not_cached(lds_core):
    store = LocalLRU(1000, 60)
    lds = cached(lds_core, store, cache_max_entry_bytes=100)
    before = metrics.CACHE_OVERSIZE.labels("isolines")._value.get()
    lds.isolines(ORIGIN, [300], "time", "walk")
    assert len(store) == 0 and metrics.CACHE_OVERSIZE.labels("isolines")._value.get() == before + 1


def test_redis_cache_is_shared_between_processes(lds_core, redis_url, redis_client, redis_ns):
    """Two facades with their own Redis connections (two processes or machines) share answers."""
    one = cached(lds_core, RedisStore(make_client(redis_url, 0.5), 60, 5), redis_prefix=redis_ns)
    two = cached(lds_core, RedisStore(make_client(redis_url, 0.5), 60, 5), redis_prefix=redis_ns)
    value = one.isolines(ORIGIN, [300], "time", "walk")
    outcome = begin_outcome()
    assert as_json(two.isolines(ORIGIN, [300], "time", "walk")) == as_json(value) and outcome.label == "hit"
    keys = [k.decode() for k in redis_client.scan_iter(f"{redis_ns}c:*")]
    assert keys == [one.key("isolines", {"origin": list(ORIGIN), "ranges": [300.0], "range_type": "time",
                                         "mode": "walk"})]
    assert keys[0].startswith(f"{redis_ns}c:{lds_core.data_version}:isolines:")
    assert 0 < redis_client.ttl(keys[0]) <= lds_core.settings.cache_ttl_s


def test_dead_redis_still_answers(lds_core):
    from redisfixtures import free_port

    lds = cached(lds_core, RedisStore(make_client(f"redis://127.0.0.1:{free_port()}/0", 0.1), 60, 30))
    outcome = begin_outcome()
    assert as_json(lds.isolines(ORIGIN, [300], "time", "walk")) == as_json(lds_core.isolines(ORIGIN, [300], "time", "walk"))
    assert outcome.label == "miss" and lds.store.breaker.is_open
    assert lds.status()["cache"] == {"backend": "redis", "redis_bypassed": True}


def test_everything_else_is_the_core(lds_core):
    lds = cached(lds_core)
    assert lds.graphs is lds_core.graphs and lds.data_version == lds_core.data_version
    assert with_cache(lds) is lds


class Spy:
    """The real core, recording which batch items it is asked to compute."""

    def __init__(self, core):
        self.core = core
        self.computed: list = []

    def __getattr__(self, name):
        return getattr(self.core, name)

    def geocode_batch(self, items, country=None, limit=None):
        self.computed.extend(items)
        return self.core.geocode_batch(items, country=country, limit=limit)


@pytest.fixture(scope="module")
def two_addresses(lds_core):
    graph, found = lds_core.graphs["car"], []
    for i in range(0, graph.n_nodes, 11):
        answer = lds_core.reverse(float(graph.node_lat[i]), float(graph.node_lon[i]))
        text = answer[0].get("formattedAddress") if answer else None
        if text and text not in found:
            found.append(text)
        if len(found) == 4:
            return found
    raise AssertionError("no addresses found in Monaco")


def test_batch_items_are_cached_one_by_one_and_only_misses_are_computed(lds_core, two_addresses):
    a, b, c, d = two_addresses
    spy = Spy(lds_core)
    lds = cached(spy)
    expected = lds_core.geocode_batch([a, b, c, d, ""])
    lds.geocode_batch([a, b])
    lds.geocode(c)  # a single geocode fills the same entry a batch item uses
    spy.computed.clear()
    outcome = begin_outcome()
    got = lds.geocode_batch([a.upper(), {"address": b, "limit": 5}, c, d, ""])
    assert spy.computed == [d, ""]  # the empty item is the core's to judge, and errors are never cached
    assert (outcome.hits, outcome.misses, outcome.label) == (3, 2, "miss")
    assert got == expected
    lds.geocode_batch([d, a], country="MC")
    spy.computed.clear()
    outcome = begin_outcome()
    assert lds.geocode_batch([d, a], country="mc") == lds_core.geocode_batch([d, a], country="MC")
    assert spy.computed == [] and outcome.label == "hit"  # country codes are case-insensitive


def test_item_fields_the_core_refuses_are_not_looked_up(lds_core, two_addresses):
    lds = cached(Spy(lds_core))
    lds.geocode(two_addresses[0])
    got = lds.geocode_batch([{"address": two_addresses[0], "bogus": 1}])
    assert got[0]["error"] and lds.core.computed == [{"address": two_addresses[0], "bogus": 1}]


def test_a_cached_no_match_is_still_the_cores_error_entry_in_a_batch(lds_core):
    lds = cached(lds_core)
    nonsense = "qqqzzz xxyyzz wwvvuu"
    assert lds.geocode(nonsense) == []  # cached as an empty answer
    assert lds.geocode_batch([nonsense]) == lds_core.geocode_batch([nonsense])


def test_cache_off_does_not_encode_the_answers(lds_core, monkeypatch):
    """With cache_enabled=false nothing is kept, so the answer is encoded once, by the response, not here too."""
    from lds.cache import cached as cached_module

    lds = with_cache(lds_core, settings=lds_core.settings.replace(cache_enabled=False))
    monkeypatch.setattr(cached_module, "_dumps", lambda value: pytest.fail("answer encoded with the cache off"))
    outcome = begin_outcome()
    assert lds.isolines(ORIGIN, [300], "time", "walk")[0]["geom"]["coordinates"]
    assert outcome.label == "miss"
