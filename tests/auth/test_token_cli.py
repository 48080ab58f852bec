"""`lds token create|list|show|revoke|rotate-admin` against a real state store (SQLite and PostgreSQL)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from authfixtures import *

from lds.auth.tokens import TokenStore
from lds.cli import main
from lds.errors import Unauthorized
from lds.settings import Settings
from lds.state import StateStore


@pytest.fixture(params=["sqlite", "postgresql"])
def cli_env(request, monkeypatch, tmp_path):
    """LDS_* environment of one backend (nothing inherited from the developer's shell)."""
    for key in list(os.environ):
        if key.startswith("LDS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LDS_STATE_DIR", str(tmp_path))
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("LDS_DATABASE_URL", url)
        store = StateStore(url)
        store.migrate()
        with store.write() as conn:
            conn.exec_driver_sql("DELETE FROM quota_usage")
            conn.exec_driver_sql("DELETE FROM tokens")
        store.dispose()
    return request.param


def run(capsys, *argv):
    code = main(["token", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def store_of_env() -> TokenStore:
    return TokenStore(StateStore.from_settings(Settings.from_env()))


def test_create_list_show_revoke(cli_env, capsys):
    code, out, _ = run(capsys, "create", "--name", "site", "--apis", "lds,maps", "--grant", "carto_dw:proj.ds.*",
                       "--referer", "*.example.com", "--quota", "geocoding=50", "--expires", "2099-01-01T00:00:00Z",
                       "--rate-limit", "7")
    assert code == 0
    created = json.loads(out)
    token = created["token"]
    assert created["allowed_apis"] == ["lds", "maps"] and created["quotas"] == {"geocoding": 50}
    assert created["rate_limit_per_s"] == 7
    assert created["grants"] == [{"connection_name": "carto_dw", "source": "proj.ds.*"}]
    assert created["expiration_date"] == "2099-01-01T00:00:00Z"
    assert store_of_env().authenticate(token).name == "site"

    code, out, _ = run(capsys, "list")
    listed = json.loads(out)
    assert code == 0 and [t["id"] for t in listed] == [created["id"]] and token not in out

    code, out, _ = run(capsys, "show", created["id"])
    shown = json.loads(out)
    assert shown["name"] == "site"
    assert {s["service"]: s["monthly_quota"] for s in shown["stats"]}["geocoding"] == 50

    code, out, _ = run(capsys, "revoke", token)
    assert code == 0 and json.loads(out)["revoked"] == created["id"]
    with pytest.raises(Unauthorized, match="revoked"):
        store_of_env().authenticate(token)
    code, out, _ = run(capsys, "revoke", token)
    assert code == 2 and json.loads(out) == {"error": "Token not found", "status": 404}


def test_bad_arguments_are_json_errors(cli_env, capsys):
    code, out, _ = run(capsys, "create", "--apis", "nope")
    assert code == 2 and json.loads(out)["status"] == 400 and "nope" in json.loads(out)["error"]
    code, out, _ = run(capsys, "create", "--grant", "no-colon")
    assert code == 2 and "CONNECTION:SOURCE" in json.loads(out)["error"]


def test_rotate_admin(cli_env, capsys, monkeypatch):
    code, out, err = run(capsys, "rotate-admin")
    first = out.strip()
    assert code == 0 and first and "shown once" in err
    assert store_of_env().authenticate(first).is_admin
    code, out, _ = run(capsys, "rotate-admin")
    second = out.strip()
    assert second != first and store_of_env().authenticate(second).is_admin
    with pytest.raises(Unauthorized):
        store_of_env().authenticate(first)
    monkeypatch.setenv("LDS_ADMIN_TOKEN", "x" * 40)
    code, out, _ = run(capsys, "rotate-admin")
    assert code == 2 and json.loads(out)["status"] == 409 and "LDS_ADMIN_TOKEN" in json.loads(out)["error"]


def test_console_script(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDS_")}
    env["LDS_STATE_DIR"] = str(tmp_path)
    lds = str(Path(sys.executable).with_name("lds"))
    created = subprocess.run([lds, "token", "create", "--apis", "lds"], env=env, capture_output=True, text=True, check=True)
    token = json.loads(created.stdout)["token"]
    listed = subprocess.run([lds, "token", "list"], env=env, capture_output=True, text=True, check=True)
    assert json.loads(listed.stdout)[0]["id"] == json.loads(created.stdout)["id"]
    assert token not in (tmp_path / "lds.db").read_bytes().decode("latin-1")
