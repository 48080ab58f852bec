"""Reverse geocoding and routing columns on the cluster: the core's answers row by row, bad rows as errors."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from lds.cli import main
from lds.errors import BadRequest, LdsError

POINTS = [
    (43.7311, 7.4197),
    (43.7400, 7.4270),
    (43.7370, 7.4216),
    (43.7258, 7.4150),
    (0.0, 0.0),
    (200.0, 7.42),
    (np.nan, 7.42),
]  # the last three: outside the data, latitude out of range, missing


def core_answer(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs), None
    except LdsError as exc:
        return None, exc.message


def test_reverse_columns_are_the_cores_answers(monaco_dir, dask_client, lds_core):
    from lds.dask import reverse_dataframe

    frame = pd.DataFrame(
        {"name": [f"p{i}" for i in range(len(POINTS))], "lat": [p[0] for p in POINTS], "lon": [p[1] for p in POINTS]}
    )
    out = reverse_dataframe(dd.from_pandas(frame, npartitions=3), "lat", "lon", data_dir=monaco_dir).compute()
    assert out["name"].tolist() == frame["name"].tolist()
    for row, (lat, lon) in zip(out.to_dict("records"), POINTS, strict=True):
        found, error = core_answer(lds_core.reverse, lat, lon)
        if error is not None:
            assert row["error"] == error and row["geom"] is None and pd.isna(row["formatted_address"])
            continue
        best = found[0]
        assert pd.isna(row["error"]) and row["formatted_address"] == best["formattedAddress"]
        assert row["match_type"] == best["matchType"] and row["distance"] == best["distance"]
        assert shapely.from_wkb(row["geom"]).coords[0] == (best["longitude"], best["latitude"])
    assert out["error"].notna().sum() == 3


def test_route_columns_from_text_and_wkb_points(monaco_dir, dask_client, lds_core):
    from lds.dask import route_dataframe

    origins = ["7.4197,43.7311", "7.4270,43.7400", "7.4216,43.7370", "not a point", "0,0", "7.4150,43.7258"]
    dest = [
        shapely.to_wkb(shapely.Point(7.4270, 43.7400)),
        shapely.to_wkb(shapely.Point(7.4197, 43.7311)),
        shapely.to_wkb(shapely.Point(7.4150, 43.7258)),
        shapely.to_wkb(shapely.Point(7.42, 43.73)),
        b"\x00junk",
        shapely.to_wkb(shapely.LineString([(7.41, 43.73), (7.42, 43.74)])),
    ]
    frame = pd.DataFrame({"origin": origins, "destination": pd.Series(dest, dtype=pd.ArrowDtype(pa.binary()))})
    out = route_dataframe(
        dd.from_pandas(frame, npartitions=2), "origin", "destination", data_dir=monaco_dir, mode="walk"
    ).compute()
    assert out["origin"].tolist() == origins
    for row, o in zip(out.to_dict("records")[:3], origins[:3], strict=True):
        d = shapely.from_wkb(row["destination"]).coords[0]
        route = lds_core.route(tuple(map(float, o.split(","))), d, mode="walk")
        assert (row["distance"], row["duration"]) == (route["distance"], route["duration"]) and pd.isna(row["error"])
        assert shapely.from_wkb(row["geom"]).coords[:] == [tuple(c) for c in route["geom"]["coordinates"]]
    _, error = core_answer(lds_core.route, "not a point", (7.42, 43.73), mode="walk")
    assert out["error"].tolist()[3:] == [error, "not a WKB point", "not a WKB point"]
    assert out["geom"].isna().tolist()[3:] == [True] * 3 and out["distance"].isna().tolist()[3:] == [True] * 3


def test_bad_arguments_fail_before_any_task(monaco_dir):
    from lds.dask import geocode_dataframe, route_dataframe

    ddf = dd.from_pandas(pd.DataFrame({"a": ["x"], "latitude": [1.0]}), npartitions=1)
    with pytest.raises(BadRequest, match="no column 'addr'"):
        geocode_dataframe(ddf, "addr", data_dir=monaco_dir)
    with pytest.raises(BadRequest, match="latitude"):
        geocode_dataframe(ddf, "a", data_dir=monaco_dir)
    with pytest.raises(BadRequest, match="mode"):
        route_dataframe(ddf, "a", "a", data_dir=monaco_dir, mode="plane")


def test_route_table_command(monaco_dir, dask_client, tmp_path):
    src, dest = tmp_path / "trips.csv", tmp_path / "routes.parquet"
    src.write_text('trip,from,to\n1,"7.4197,43.7311","7.4270,43.7400"\n2,"7.4270,43.7400",nowhere\n')
    assert (
        main(
            [
                "route-table",
                str(src),
                str(dest),
                "--origin-column",
                "from",
                "--destination-column",
                "to",
                "--data",
                str(monaco_dir),
                "--scheduler",
                dask_client.scheduler.address,
            ]
        )
        == 0
    )
    out = pq.read_table(dest)
    assert out.column_names == ["trip", "from", "to", "distance", "duration", "geom", "error"]
    assert out["trip"].to_pylist() == [1, 2] and out["distance"][0].as_py() > 0 and out["error"][1].as_py()
    assert shapely.from_wkb(out["geom"][0].as_py()).geom_type == "LineString"


def test_reverse_table_on_its_own_local_cluster(monaco_dir, lds_core, tmp_path, capsys):
    """Without --scheduler the command starts (and stops) a LocalCluster of its own."""
    src, dest = tmp_path / "points.csv", tmp_path / "places.parquet"
    src.write_text("lat,lon\n43.7311,7.4197\n91,7.42\n")
    args = ["reverse-table", str(src), str(dest), "--lat-column", "lat", "--lon-column", "lon", "--workers", "1"]
    assert main([*args, "--data", str(monaco_dir)]) == 0
    out = pq.read_table(dest).to_pylist()
    assert out[0]["formatted_address"] == lds_core.reverse(43.7311, 7.4197)[0]["formattedAddress"]
    assert out[1]["error"] == core_answer(lds_core.reverse, 91, 7.42)[1] and out[1]["geom"] is None
    assert "wrote 2 rows" in capsys.readouterr().err
