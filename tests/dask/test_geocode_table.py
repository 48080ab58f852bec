"""`lds geocode-table` on a real two-process LocalCluster: the batch endpoint's answers row by row, order and
columns kept, bad rows answered with an error, every worker loading the index once, a killed worker losing no row."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from lds.cli import main
from lds.dask.sample import noisy_addresses

ADDED = ["latitude", "longitude", "geom", "formatted_address", "match_type", "match_confidence", "error"]
BAD = ["", "zzzq xqwv 99999", "x" * 5000, "6 Quai Antoine 1er", None]  # the 4th with a bad country


@pytest.fixture(scope="module")
def addresses(monaco_dir) -> pa.Table:
    """600 noisy real Monaco addresses and the unanswerable rows above, some with a per-row country."""
    table = noisy_addresses(monaco_dir, 600, seed=7, pool=400)
    bad = pa.table(
        {
            "id": pa.array(range(600, 600 + len(BAD)), pa.int64()),
            "address": pa.array(BAD, pa.string()),
            "country": pa.array(["MC", None, "MC", "France!", None], pa.string()),
        }
    )
    return pa.concat_tables([table, bad])


def endpoint_answers(client, table: pa.Table) -> list[dict]:
    """What POST /v3/lds/geocoding/batch answers for the table's rows, limit 1, row by row."""
    items = [
        {"address": a or "", "country": c} if c else (a or "")
        for a, c in zip(table["address"].to_pylist(), table["country"].to_pylist(), strict=True)
    ]
    r = client.post("/v3/lds/geocoding/batch", json={"addresses": items, "limit": 1})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def assert_rows_match(out: pd.DataFrame, answers: list[dict]) -> None:
    assert len(out) == len(answers)
    for row, entry in zip(out.to_dict("records"), answers, strict=True):
        if entry["error"] is not None:
            assert row["error"] == entry["error"] and np.isnan(row["latitude"]) and row["geom"] is None, row
            continue
        best = entry["value"][0]
        assert pd.isna(row["error"]), row
        assert (row["latitude"], row["longitude"]) == (best["latitude"], best["longitude"])
        assert row["formatted_address"] == best["formattedAddress"] and row["match_type"] == best["matchType"]
        assert row["match_confidence"] == best["matchConfidence"]
        assert len(row["geom"]) == 21  # a little-endian WKB point
        assert np.frombuffer(row["geom"][5:], "<f8").tolist() == [best["longitude"], best["latitude"]]


def test_geocode_table_answers_as_the_batch_endpoint(monaco_dir, dask_client, client, addresses, tmp_path, capsys):
    src, dest = tmp_path / "in.csv", tmp_path / "out.parquet"
    pacsv.write_csv(addresses, src)
    code = main(
        [
            "geocode-table",
            str(src),
            str(dest),
            "--address-column",
            "address",
            "--country-column",
            "country",
            "--data",
            str(monaco_dir),
            "--scheduler",
            dask_client.scheduler.address,
            "--partition-rows",
            "100",
        ]
    )
    assert code == 0
    out = pq.read_table(dest)
    assert out.column_names == ["id", "address", "country", *ADDED]
    frame = out.to_pandas()
    assert frame["id"].tolist() == list(range(len(addresses)))  # order kept
    assert_rows_match(frame, endpoint_answers(client, addresses))
    assert frame["error"].notna().sum() >= len(BAD) and frame["error"].isna().sum() > 500
    geo = json.loads(out.schema.metadata[b"geo"])
    assert geo["primary_column"] == "geom" and geo["columns"]["geom"]["geometry_types"] == ["Point"]
    assert geo["columns"]["geom"]["crs"]["id"]["code"] == 4326
    err = capsys.readouterr().err
    assert "(100%)" in err and f"wrote {len(addresses):,} rows" in err
    # the index is loaded once per worker process (by the plugin), never with the tasks
    loads = dask_client.run(lambda: __import__("lds.dask.worker", fromlist=["LOADS"]).LOADS)
    assert [dict(v) for v in loads.values()] == [{str(monaco_dir.resolve()): 1}] * 2


def test_geoparquet_input_keeps_its_columns_and_geometry(monaco_dir, dask_client, client, tmp_path):
    """The extract's own GeoParquet addresses table: every column kept (its geometry too), ours prefixed."""
    table = pq.read_table(monaco_dir / "tables" / "addresses.parquet").slice(0, 150)
    full = pa.compute.binary_join_element_wise(table["housenumber"].fill_null(""), table["street"].fill_null(""), " ")
    table = table.append_column("full", full)
    src, dest = tmp_path / "addresses.parquet", tmp_path / "geocoded.parquet"
    pq.write_table(table, src)
    args = [
        "geocode-table",
        str(src),
        str(dest),
        "--address-column",
        "full",
        "--data",
        str(monaco_dir),
        "--scheduler",
        dask_client.scheduler.address,
        "--partition-rows",
        "40",
    ]
    assert main(args) == 2  # the table has a geom column already: an error that says to choose a prefix
    assert main([*args, "--prefix", "lds_"]) == 0
    out = pq.read_table(dest)
    assert out.column_names == table.column_names + ["lds_" + c for c in ADDED]
    assert out.select(table.column_names).equals(table.cast(out.select(table.column_names).schema))
    geo = json.loads(out.schema.metadata[b"geo"])
    assert geo["primary_column"] == "lds_geom" and set(geo["columns"]) == {"geom", "lds_geom"}
    items = [{"address": a, "country": None} for a in table["full"].to_pylist()]
    answers = client.post("/v3/lds/geocoding/batch", json={"addresses": items, "limit": 1}).get_json()
    frame = out.select(["lds_" + c for c in ADDED]).rename_columns(ADDED).to_pandas()
    assert_rows_match(frame, answers)


def test_a_killed_worker_loses_no_row(monaco_dir, dask_client, lds_core, addresses, tmp_path):
    """SIGKILL one worker process after the first partition is written: the scheduler runs its tasks again."""
    import dask.dataframe as dd

    from lds.dask import geocode_dataframe
    from lds.dask.table import write_geoparquet

    ddf = geocode_dataframe(
        dd.from_pandas(addresses.to_pandas(), npartitions=30), "address", data_dir=monaco_dir, country_column="country"
    )
    pids = dask_client.run(os.getpid)
    killed: list[int] = []

    def kill_once(progress) -> None:
        if not killed:
            assert progress.partitions_done < progress.partitions  # mid-run
            killed.append(next(iter(pids.values())))
            os.kill(killed[0], signal.SIGKILL)

    rows = write_geoparquet(dask_client, ddf, str(tmp_path / "out.parquet"), "geom", ["Point"], on_progress=kill_once)
    assert killed and rows == len(addresses)
    dask_client.wait_for_workers(2, timeout=60)  # the nanny restarts it (and the plugin loads the core again)
    assert killed[0] not in dask_client.run(os.getpid).values()
    out = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert out["id"].tolist() == list(range(len(addresses)))
    items = [
        {"address": a or "", "country": c} if c else (a or "")
        for a, c in zip(addresses["address"].to_pylist(), addresses["country"].to_pylist(), strict=True)
    ]
    assert_rows_match(out, lds_core.geocode_batch(items, limit=1))


def test_unreadable_input_is_an_error_not_a_traceback(monaco_dir, dask_client, tmp_path, capsys):
    (tmp_path / "notes.txt.json").write_text("{}")
    for name in ("missing.csv", "notes.txt.json"):
        code = main(
            [
                "geocode-table",
                str(tmp_path / name),
                str(tmp_path / "out.parquet"),
                "--address-column",
                "a",
                "--data",
                str(monaco_dir),
                "--scheduler",
                dask_client.scheduler.address,
            ]
        )
        assert code == 2
        assert json.loads(capsys.readouterr().out)["status"] == 400
    assert not (tmp_path / "out.parquet").exists()
