"""Settings are data: every one named, typed, documented and shown by the status endpoint."""

from pathlib import Path

import pytest

from lds.settings import SETTINGS, Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_has_help_and_unique_env():
    envs = [s.env for s in SETTINGS]
    assert len(envs) == len(set(envs))
    for s in SETTINGS:
        assert s.env.startswith("LDS_") and s.help.strip().endswith((".", ")")), s.name


def test_every_setting_is_documented_in_readme():
    text = README.read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in text]
    assert not missing, f"settings missing from README: {missing}"


def test_from_env_parses_types_and_overrides_win():
    s = Settings.from_env(env={"LDS_MAX_RANGES": "7", "LDS_AUTH": "disabled", "LDS_SNAP_RADIUS_M": "12.5"}, max_waypoints=3)
    assert s.max_ranges == 7 and s.auth is False and s.snap_radius_m == 12.5 and s.max_waypoints == 3
    assert s.redis_url is None


def test_bad_env_value_names_the_variable():
    with pytest.raises(ValueError, match="LDS_MAX_RANGES"):
        Settings.from_env(env={"LDS_MAX_RANGES": "many"})


def test_unknown_override_is_refused():
    with pytest.raises(ValueError, match="unknown settings"):
        Settings.from_env(env={}, no_such_setting=1)


def test_secrets_are_not_shown():
    rows = {r["name"]: r for r in Settings.from_env(env={"LDS_ADMIN_TOKEN": "s3cret"}).as_table()}
    assert rows["admin_token"]["value"] == "(set)"
    assert "s3cret" not in repr(rows)
