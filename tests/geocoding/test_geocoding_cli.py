"""`lds geocode` and `lds reverse` print the API's JSON."""

from __future__ import annotations

import json

from lds.cli import main


def test_geocode_and_reverse_commands(monaco_dir, capsys, monkeypatch):
    monkeypatch.setenv("LDS_CACHE_ENABLED", "false")
    assert main(["geocode", "14 Allée Lazare Sauvaigo", "--limit", "1", "--data", str(monaco_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["error"] is None and out[0]["value"][0]["streetNumber"] == "14"

    assert main(["reverse", "43.7330881", "7.418131", "--data", str(monaco_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["value"][0]["streetName"] == "Allée Lazare Sauvaigo"

    assert main(["reverse", "48.85", "2.35", "--data", str(monaco_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["value"] == [] and "outside the loaded data" in out[0]["error"]

    assert main(["geocode", "Monaco", "--country", "Monaco", "--data", str(monaco_dir)]) == 2
    assert json.loads(capsys.readouterr().out)["status"] == 400
