"""GET / through the app: the page with its configuration, the bundled assets at the lockfile's versions, the
setting that turns it off."""

from __future__ import annotations

import json
from pathlib import Path

from isolated_settings import test_settings

from lds.app import create_app

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "lds" / "static" / "vendor"


def _config(html: str) -> dict:
    return json.loads(html.split('id="lds-config">')[1].split("</script>")[0])


def test_page_config_comes_from_data_and_settings(lds_core, tmp_path):
    settings = test_settings(
        lds_core.data.path,
        tmp_path,
        h3_isoline_resolution=10,
        demo_basemap_style="http://x/</script><script>alert(1)</script>",
    )
    r = create_app(settings, lds=lds_core).test_client().get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "<script>alert(1)" not in html  # a setting cannot close the config's tag
    config = _config(html)
    assert config["bbox"] == lds_core.data.meta["bbox"] and config["modes"] == list(lds_core.graphs)
    assert config["h3_resolution"] == 10 and config["h3_max_resolution"] == settings.h3_isoline_max_resolution
    assert config["basemap_style"] == settings.demo_basemap_style
    assert config["roads"] == {"connection": "carto_dw", "table": "lds.roads"}
    assert config["auth"] is False  # the page calls at once, with no token to wait for


def test_demo_page_setting_turns_it_off(lds_core, tmp_path):
    r = create_app(test_settings(lds_core.data.path, tmp_path, demo_page=False), lds=lds_core).test_client().get("/")
    assert r.status_code == 404 and r.get_json()["status"] == 404


def test_vendored_assets_are_the_lockfile_versions_with_licences():
    lock = json.loads((ROOT / "scripts" / "vendor" / "package-lock.json").read_text())["packages"]
    for name, files in {
        "maplibre-gl": ("maplibre-gl.js", "maplibre-gl.css", "LICENSE.txt"),
        "h3-js": ("h3-js.umd.js", "LICENSE"),
    }.items():
        version = lock[f"node_modules/{name}"]["version"]
        assert (VENDOR / name / "VERSION").read_text().split() == [name, version]
        for f in files:
            assert (VENDOR / name / f).stat().st_size > 1000
