"""The deployment files, checked without a Docker engine: compose services, image settings, commands."""

import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_compose_has_service_worker_and_redis_wired_together():
    services = compose()["services"]
    assert set(services) >= {"lds", "worker", "redis"}
    lds, worker, redis = services["lds"], services["worker"], services["redis"]
    assert lds["command"] == ["serve"] and worker["command"] == ["worker"]
    assert lds.get("build") == "." and worker["image"] == lds["image"]  # one image, two roles
    for svc in (lds, worker):
        env = svc["environment"]
        assert env["LDS_REDIS_URL"].startswith("redis://redis:6379")  # the compose service name
        assert env["LDS_DATA_DIR"] == "/data/lds"
        assert any(v.split(":")[1] == "/data" for v in svc["volumes"])  # the shared data volume
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert svc["depends_on"]["prepare"]["condition"] == "service_completed_successfully"  # data built once first
    assert worker["deploy"]["replicas"] >= 2
    assert "redis-cli" in redis["healthcheck"]["test"] and "--appendonly" in redis["command"]
    assert "ports" not in lds  # replicas are reached through the balancer (tests/deploy/test_replicas_manifests.py)
    for name in ("lds-data", "redis-data"):
        assert name in compose()["volumes"]


def test_dockerfile_is_slim_non_root_with_healthcheck():
    steps = dockerfile()
    froms = [arg for op, arg in steps if op == "FROM"]
    assert froms and all("-slim" in f for f in froms)
    runtime = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    users = [arg for op, arg in runtime if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = [arg for op, arg in runtime if op == "HEALTHCHECK"]
    assert health and "/health" in health[0]
    entry = [arg for op, arg in runtime if op == "ENTRYPOINT"]
    assert entry == ['["lds-entrypoint"]']
    copies = [arg for op, arg in runtime if op == "COPY" and "lds-entrypoint" in arg]
    assert copies and (REPO / shlex.split(copies[0])[0]).is_file()
    installs = " ".join(arg for op, arg in steps if op == "RUN")
    assert "pip wheel" in installs and "pip install" in installs
    env = " ".join(arg for op, arg in runtime if op == "ENV")
    assert "LDS_HOST=0.0.0.0" in env and "LDS_DATA_DIR=/data/lds" in env


def test_gunicorn_conf_applies_the_serve_options(monkeypatch, tmp_path):
    """gunicorn.conf.py yields the same options `lds serve` uses, with the metrics dir prepared."""
    import runpy

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    monkeypatch.setenv("LDS_WORKERS", "3")
    conf = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    assert conf["preload_app"] is True and conf["worker_class"] == "lds.server.EnvelopeWorker" and conf["workers"] == 3
    assert "accesslog" not in conf  # gunicorn default: no access log (the app logs JSON lines itself)
    assert callable(conf["child_exit"]) and callable(conf["post_worker_init"])
    assert (tmp_path / "prom").is_dir()
