"""Redis fixtures for the cache and job tests, on the real Redis of the machine.

Tests use database 13 of 127.0.0.1:6379 and a key prefix unique to each test; everything written
under it (and the RQ keys of its jobs and workers) is deleted afterwards. Outage tests run their
own throwaway ``redis-server`` on a free loopback port, so the shared one is never stopped.

Star-imported by the conftest of tests/cache, tests/jobs and tests/deploy, and by tests/api/test_jobs.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest
import redis

__all__ = [
    "REDIS_TEST_URL", "PrivateRedis", "free_port", "isolated_settings", "private_redis", "redis_client", "redis_ns",
    "redis_url",
]

REDIS_TEST_URL = "redis://127.0.0.1:6379/13"


def isolated_settings(data_dir, **overrides):
    """Settings free of the developer's environment: auth off, cache off unless asked (like conftest's)."""
    from lds.settings import Settings

    values = {"data_dir": str(data_dir), "auth": False, "cache_enabled": False, **overrides}
    return Settings.from_env(env={}, **values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"these tests need the real Redis at {REDIS_TEST_URL} (`.ci/run` starts it): {exc}") from exc
    return REDIS_TEST_URL


@pytest.fixture()
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, socket_timeout=5)


def delete_namespace(client: redis.Redis, prefix: str) -> None:
    """Delete every key of ``prefix``, the RQ keys of its jobs, queue and workers."""
    token = prefix.rstrip(":")
    job_ids = {k.decode().split("job:", 1)[1].split(":")[0] for k in client.scan_iter(f"{prefix}job:*", count=1000)}
    keys = set(client.scan_iter(f"*{token}*", count=1000))
    for job_id in job_ids:
        keys |= set(client.scan_iter(f"rq:*{job_id}*", count=1000))
    keys = list(keys)
    for i in range(0, len(keys), 1000):
        client.delete(*keys[i : i + 1000])
    for registry in ("rq:queues", "rq:workers"):
        members = [m for m in client.smembers(registry) if token.encode() in m]
        if members:
            client.srem(registry, *members)


@pytest.fixture()
def redis_ns(redis_client: redis.Redis):
    """A fresh ``redis_prefix`` (``ldst<hex>:``) whose keys are removed after the test."""
    prefix = f"ldst{uuid.uuid4().hex[:10]}:"
    yield prefix
    delete_namespace(redis_client, prefix)


class PrivateRedis:
    """A throwaway redis-server on a free loopback port that a test may stop and start at will."""

    def __init__(self, port: int | None = None):
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.exe = exe
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                redis.Redis(port=self.port, socket_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"private redis-server on port {self.port} did not start")

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers, like a stuck Redis."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture()
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()
