"""The replica deployment files, checked without a cluster or a Docker engine: deploy/haproxy.cfg (by HAProxy
itself), docker-compose.yml's balancer and replicas, and the Kubernetes manifests of deploy/k8s (parsed with
PyYAML and checked for the wiring a cluster would only reveal at run time: selectors, ports, probes, secrets,
volumes, settings that exist)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SECRET_SETTINGS = {"LDS_REDIS_URL", "LDS_DATABASE_URL", "LDS_ADMIN_TOKEN", "LDS_SECRET_KEY"}


def manifests() -> dict[tuple[str, str], dict]:
    """(kind, name) -> object, over every document of every manifest kustomization.yaml lists."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    out = {}
    for name in listed:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), name
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in out, key
            out[key] = doc
    return out


def known_settings() -> set[str]:
    from lds.settings import SETTINGS

    return {f"LDS_{s.name.upper()}" for s in SETTINGS} | {"LDS_EXTRACT"}  # LDS_EXTRACT: docker/entrypoint.sh


def pod_env(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def test_haproxy_accepts_the_checked_in_configuration():
    exe = shutil.which("haproxy")
    if exe is None:
        pytest.fail("haproxy is not installed (scripts/services.sh installs it)")
    r = subprocess.run(
        [exe, "-c", "-f", str(REPO / "deploy" / "haproxy.cfg")], capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stdout + r.stderr
    text = (REPO / "deploy" / "haproxy.cfg").read_text()
    for needle in (
        "http-check send meth GET uri /health",
        "option redispatch",
        "retry-on conn-failure",
        "disable-l7-retry unless METH_GET",
        "server-template lds 1-16 lds:8000 check resolvers docker",
    ):
        assert needle in text, needle


def test_compose_puts_the_replicas_behind_the_balancer():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    lds, balancer, postgres = services["lds"], services["balancer"], services["postgres"]
    default = re.fullmatch(r"\$\{LDS_REPLICAS:-(\d+)\}", str(lds["deploy"]["replicas"]))
    assert default and int(default.group(1)) >= 2  # the `replicas` setting, 2 unless LDS_REPLICAS says otherwise
    assert "ports" not in lds and lds["expose"] == ["8000"]
    assert "./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in balancer["volumes"]
    assert balancer["image"].startswith("haproxy:")
    assert all(p.startswith("127.0.0.1:") for p in balancer["ports"])
    assert balancer["depends_on"]["lds"]["condition"] == "service_healthy"
    for svc in (lds, services["worker"], services["prepare"]):  # shared state: PostgreSQL and Redis
        env = svc["environment"]
        assert "@postgres:5432/" in env["LDS_DATABASE_URL"] and env["LDS_REDIS_URL"].startswith("redis://redis:")
        assert set(env) <= known_settings()
    assert lds["environment"]["LDS_EXTRACT"] == "" and services["prepare"]["command"] == ["prepare"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert "prepare)" in (REPO / "docker" / "entrypoint.sh").read_text()


def test_kubernetes_api_deployment_service_and_probes_fit_together():
    objs = manifests()
    api, service = objs[("Deployment", "lds")], objs[("Service", "lds")]
    spec = api["spec"]
    assert spec["replicas"] >= 2
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    worker_labels = objs[("Deployment", "lds-worker")]["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= worker_labels.items()  # workers get no traffic
    pdb = objs[("PodDisruptionBudget", "lds")]
    assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]
    (container,) = spec["template"]["spec"]["containers"]
    assert container["args"] == ["serve"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    target = service["spec"]["ports"][0]["targetPort"]
    assert target in ports and ports[target] == int(objs[("ConfigMap", "lds-config")]["data"]["LDS_PORT"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": target}, probe
    grace = spec["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > 30 + int(container["lifecycle"]["preStop"]["exec"]["command"][-1])  # gunicorn's 30 s drain


def test_kubernetes_pods_take_credentials_from_the_secret_and_only_known_settings():
    objs = manifests()
    config = objs[("ConfigMap", "lds-config")]["data"]
    assert set(config) <= known_settings() and not set(config) & SECRET_SETTINGS
    uid = re.search(r"useradd .*--uid (\d+)", (REPO / "Dockerfile").read_text()).group(1)
    workloads = [objs[("Deployment", "lds")], objs[("Deployment", "lds-worker")], objs[("Job", "lds-prepare")]]
    for obj in workloads:
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and str(pod["securityContext"]["runAsUser"]) == uid
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["data"]["persistentVolumeClaim"]["claimName"] in {
            n for k, n in objs if k == "PersistentVolumeClaim"
        }
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["image"] == "lds"  # one image, renamed by kustomization.yaml
            assert {m["name"] for m in container["volumeMounts"]} <= set(volumes)
            env = pod_env(container)
            assert set(env) <= known_settings()
            if container["name"] in ("lds", "worker"):
                assert [r["configMapRef"]["name"] for r in container["envFrom"]] == ["lds-config"]
                assert env["LDS_EXTRACT"]["value"] == ""  # only the Job builds
                for name in SECRET_SETTINGS:  # credentials never written in a manifest
                    assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "lds-secrets", "key": name}
                data_mount = next(m for m in container["volumeMounts"] if m["name"] == "data")
                assert data_mount["readOnly"] is True
    assert objs[("Deployment", "lds-worker")]["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    assert objs[("Job", "lds-prepare")]["spec"]["template"]["spec"]["containers"][0]["args"] == ["prepare"]
    for name in ("lds-redis", "lds-postgres"):  # managed services outside the cluster
        assert objs[("Service", name)]["spec"]["type"] == "ExternalName"


def test_the_prepare_step_builds_nothing_when_the_data_is_current_and_says_what_is_missing(
    tmp_path, monaco_dir, monaco_pbf
):
    """`lds-entrypoint prepare` (compose's `prepare`, the Kubernetes Job) exits once the data is there, serving nothing."""
    entrypoint = REPO / "docker" / "entrypoint.sh"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    meta = (monaco_dir / "meta.json").read_bytes()
    ready = subprocess.run(
        ["sh", str(entrypoint), "prepare"],
        env={**env, "LDS_DATA_DIR": str(monaco_dir), "LDS_EXTRACT": str(monaco_pbf)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert ready.returncode == 0, ready.stderr[-2000:]
    assert (monaco_dir / "meta.json").read_bytes() == meta  # unchanged extract: not rebuilt
    missing = subprocess.run(
        ["sh", str(entrypoint), "prepare"],
        env={**env, "LDS_DATA_DIR": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert missing.returncode == 78 and "LDS_EXTRACT" in missing.stderr
