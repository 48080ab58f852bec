"""Admission control without Flask: heavy slots and per-token slots hold across real processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading

import pytest

from lds.admission import Admission, address_chars, batch_heavy, isolines_heavy, over_sync_chars
from lds.errors import TooManyRequests, Unavailable
from lds.settings import Settings

FORK = multiprocessing.get_context("fork")  # what gunicorn does: the admission is made before the fork
WAIT = 30  # seconds a test waits for a child to report (a bound on a broken test, not a timing check)


def admission(**kw) -> Admission:
    values = {"heavy_slots": 1, "heavy_queue": 4, "heavy_wait_s": 0.2, "threads": 4, "token_limit": 0, **kw}
    return Admission(**values)


def _hold_heavy(adm: Admission, held, release, barrier=None) -> None:
    with adm.heavy():
        held.set()
        if barrier is not None:
            barrier.wait(WAIT)  # passes only while every party holds a slot at once
        release.wait(WAIT)


def test_one_heavy_slot_is_shared_by_two_processes():
    adm = admission(heavy_slots=1)
    held, release = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_hold_heavy, args=(adm, held, release))
    child.start()
    try:
        assert held.wait(WAIT)
        with pytest.raises(Unavailable) as refused:  # this process is the second one
            adm.heavy()
        assert refused.value.status == 503 and int(refused.value.headers["Retry-After"]) >= 1
        assert "no heavy slot freed in time" in refused.value.message
        release.set()
        child.join(WAIT)
        assert child.exitcode == 0
        with adm.heavy():  # freed by the other process
            assert adm.status()["heavy_running_here"] == 1
    finally:
        release.set()
        child.join(WAIT)


def test_k_slots_let_k_processes_run_at_once():
    adm = admission(heavy_slots=2)
    barrier = FORK.Barrier(2)
    release = FORK.Event()
    helds = [FORK.Event(), FORK.Event()]
    children = [FORK.Process(target=_hold_heavy, args=(adm, h, release, barrier)) for h in helds]
    for c in children:
        c.start()
    try:
        assert all(h.wait(WAIT) for h in helds)
        with pytest.raises(Unavailable):  # a third process finds both taken
            adm.heavy()
    finally:
        release.set()
        for c in children:
            c.join(WAIT)
    assert [c.exitcode for c in children] == [0, 0]  # both passed the barrier: two held a slot together


def _die_holding(adm: Admission, token: str) -> None:
    adm.token(token)
    adm.heavy()
    os.kill(os.getpid(), signal.SIGKILL)  # no release: the kernel drops the locks with the process


def test_a_killed_process_leaks_no_slot():
    adm = admission(heavy_slots=1, token_limit=1)
    child = FORK.Process(target=_die_holding, args=(adm, "tok"))
    child.start()
    child.join(WAIT)
    assert child.exitcode == -signal.SIGKILL
    with adm.heavy(), adm.token("tok"):
        pass


def _hold_token(adm: Admission, token: str, held, release) -> None:
    with adm.token(token):
        held.set()
        release.wait(WAIT)


def test_token_concurrency_counts_requests_of_every_process():
    adm = admission(token_limit=1)
    held, release = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_hold_token, args=(adm, "alice", held, release))
    child.start()
    try:
        assert held.wait(WAIT)
        with pytest.raises(TooManyRequests) as refused:
            adm.token("alice")
        assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "1"
        assert "token_concurrency is 1" in refused.value.message
        with adm.token("bob"):  # another token has its own slots
            pass
        with adm.token(None):  # no token (auth disabled): no limit
            pass
        release.set()
        child.join(WAIT)
        with adm.token("alice"):
            pass
    finally:
        release.set()
        child.join(WAIT)


def test_token_limit_within_one_process_and_release():
    adm = admission(token_limit=2)
    first, second = adm.token("t"), adm.token("t")
    with pytest.raises(TooManyRequests):
        adm.token("t")
    first.release()
    first.release()  # idempotent
    third = adm.token("t")
    second.release()
    third.release()


def test_one_heavy_request_runs_per_process_even_with_free_slots():
    adm = admission(heavy_slots=2, heavy_wait_s=0.1)
    held, release = threading.Event(), threading.Event()
    t = threading.Thread(target=_hold_heavy, args=(adm, held, release))
    t.start()
    try:
        assert held.wait(WAIT)
        with pytest.raises(Unavailable):  # a second thread of this process waits for the first, then gives up
            adm.heavy()
    finally:
        release.set()
        t.join(WAIT)


def test_a_process_keeps_a_thread_free_of_heavy_requests_and_the_queue_is_bounded():
    adm = admission(threads=2, heavy_wait_s=5)  # at most threads - 1 = 1 heavy request in flight here
    with adm.heavy():
        assert "threads are taken by heavy requests" in _try_heavy_in_thread(adm).message
    adm = admission(heavy_queue=0, heavy_wait_s=5)  # one slot, no waiting room
    with adm.heavy():
        assert "1 heavy requests are running or waiting" in _try_heavy_in_thread(adm).message


def _try_heavy_in_thread(adm: Admission):
    result: list = []
    t = threading.Thread(target=lambda: result.append(_try_heavy(adm)))
    t.start()
    t.join(WAIT)
    assert isinstance(result[0], Unavailable)  # refused at once: the wait of 5 s is not used
    return result[0]


def _try_heavy(adm: Admission):
    try:
        adm.heavy().release()
        return None
    except Unavailable as exc:
        return exc


def test_nested_heavy_in_one_thread_does_not_wait_on_itself():
    adm = admission(heavy_wait_s=0)
    with adm.heavy(), adm.heavy():
        assert adm.status()["heavy_running_here"] == 1
    assert adm.status()["heavy_running_here"] == 0


def test_background_work_waits_for_a_slot_and_stops_on_request():
    adm = admission(heavy_slots=1)
    stop = threading.Event()
    got: list = []
    with adm.heavy():
        t = threading.Thread(target=lambda: got.append(adm.background(stop)))
        t.start()
        t.join(0.3)
        assert t.is_alive()  # still waiting behind the request
    t.join(WAIT)
    assert got[0] is not None
    got[0].release()
    with adm.heavy():
        stopped = threading.Event()
        stopped.set()
        assert adm.background(stopped) is None


def test_holds_out_light_only_while_other_workers_run_no_heavy_work():
    adm = admission(heavy_slots=1)
    assert not adm.holds_out_light(workers=5)
    with adm.heavy():
        assert adm.holds_out_light(workers=5)
        assert not adm.holds_out_light(workers=1)  # the only worker must keep accepting


def test_declared_costs():
    s = Settings.from_env(env={}, heavy_batch_items=3, heavy_batch_chars=20, batch_max_sync_chars=25,
                          heavy_isoline_reach_m=10_000)
    assert address_chars(["abc", {"address": "de"}, {"address": 5}, 7, None]) == 5
    assert not batch_heavy({"items": ["a", "b", "c"]}, s)
    assert batch_heavy({"items": ["a"] * 4}, s)
    assert batch_heavy({"items": ["x" * 21]}, s)
    assert not over_sync_chars(["x" * 25], s) and over_sync_chars(["x" * 20, {"address": "y" * 6}], s)
    assert not over_sync_chars(["x" * 10**6], s.replace(batch_max_sync_chars=0))  # 0 = no cap
    assert not isolines_heavy({"ranges": [600], "range_type": "time", "mode": "car"}, s)  # 9 km
    assert isolines_heavy({"ranges": [300, 900], "range_type": "time", "mode": "car"}, s)  # 13.5 km
    assert not isolines_heavy({"ranges": [3600], "range_type": "time", "mode": "walk"}, s)
    assert isolines_heavy({"ranges": [12_000], "range_type": "distance", "mode": "walk"}, s)


def test_settings_make_the_admission():
    s = Settings.from_env(env={}, heavy_slots=3, heavy_queue=-1, token_concurrency=7, threads=4)
    adm = Admission.from_settings(s)
    assert adm.status()["heavy_slots"] == 3 and adm.status()["heavy_queue"] == 6
    assert adm.status()["token_concurrency"] == 7
    assert Admission.from_settings(Settings.from_env(env={})).heavy_slots == max(1, (os.cpu_count() or 1) // 2)
