"""Helpers of the import tests: a real HTTP server on 127.0.0.1 serving files made in the test, and the files.

``FileServer`` serves ``/f/<name>`` with the content type it was given (lying ones included), ``/redirect``
(302 to ``?to=``), ``/slow/<name>`` (a few bytes at a time, for cancel and kill tests; the connection ends
when the server stops) and ``/chunked/<name>`` (no Content-Length). Every format is written by the same
libraries an import reads them with (GDAL through pyogrio/geopandas, pyarrow).
"""

from __future__ import annotations

import io
import threading
import time
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

__all__ = ["server"]  # the fixture, for `from importfixtures import *`

# Three places in Monaco (lon, lat), and the same in UTM 32N (EPSG:32632) for the reprojection tests.
LONS = [7.4197, 7.4270, 7.4128]
LATS = [43.7311, 43.7400, 43.7347]
NAMES = ["Casino", "Port Hercule", "Palais"]


class FileServer:
    """A threaded HTTP server on 127.0.0.1 serving registered byte strings."""

    def __init__(self):
        self.files: dict[str, tuple[bytes, str]] = {}
        self.stopping = threading.Event()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                parts = urllib.parse.urlsplit(self.path)
                route, _, name = parts.path.lstrip("/").partition("/")
                if route == "redirect":
                    self.send_response(302)
                    self.send_header("Location", urllib.parse.parse_qs(parts.query)["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if name not in server.files:
                    self.send_error(404)
                    return
                body, ctype = server.files[name]
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                if route == "chunked":
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if route == "slow":
                    try:
                        for i in range(0, len(body), 64):
                            if server.stopping.is_set():
                                return
                            self.wfile.write(body[i : i + 64])
                            self.wfile.flush()
                            time.sleep(0.05)
                    except (BrokenPipeError, ConnectionResetError):  # the import stopped reading (cancelled)
                        self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add(self, name: str, body: bytes, ctype: str = "application/octet-stream", route: str = "f") -> str:
        self.files[name] = (body, ctype)
        return f"http://{self.host}/{route}/{name}"

    def close(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    """A FileServer for the test module."""
    s = FileServer()
    yield s
    s.close()


def frame(crs: int = 4326) -> gpd.GeoDataFrame:
    df = gpd.GeoDataFrame({"name": NAMES, "visitors": [120, 45, 300]}, geometry=shapely.points(LONS, LATS), crs=4326)
    return df.to_crs(crs) if crs != 4326 else df


def gdal_bytes(tmp: Path, driver: str, suffix: str, crs: int = 4326) -> bytes:
    path = tmp / f"layer{suffix}"
    frame(crs).to_file(path, driver=driver)
    return path.read_bytes()


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def shapefile_zip(tmp: Path, crs: int = 32632) -> bytes:
    folder = tmp / "shp"
    folder.mkdir(exist_ok=True)
    frame(crs).to_file(folder / "places.shp")
    return zip_bytes({f"data/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())})


def geoparquet_bytes(tmp: Path, crs: int = 3857) -> bytes:
    path = tmp / "places.parquet"
    frame(crs).to_parquet(path)
    return path.read_bytes()


def csv_bytes(kind: str) -> bytes:
    """CSV files of each geometry encoding: latlon (semicolon, Latin-1), wkt (tab), geojson, hexwkb."""
    points = shapely.points(LONS, LATS)
    if kind == "latlon":
        rows = ["nom;latitude;longitude"] + [f"{n} é;{la};{lo}" for n, la, lo in zip(NAMES, LATS, LONS, strict=True)]
        return ("\n".join(rows) + "\n").encode("latin-1")
    if kind == "wkt":
        rows = ["name\tvisitors\tthe_geom"] + [
            f"{n}\t{i}\t{shapely.to_wkt(p)}" for i, (n, p) in enumerate(zip(NAMES, points, strict=True))
        ]
        return ("\n".join(rows) + "\n").encode()
    values = shapely.to_geojson(points) if kind == "geojson" else shapely.to_wkb(points, hex=True)
    rows = ["name,shape"] + [
        f'{n},"{str(v).replace(chr(34), chr(34) * 2)}"' for n, v in zip(NAMES, values, strict=True)
    ]
    return ("\n".join(rows) + "\n").encode()


def big_csv(rows: int) -> bytes:
    rng = np.random.default_rng(1)
    lon = rng.uniform(7.40, 7.44, rows)
    lat = rng.uniform(43.72, 43.75, rows)
    out = io.StringIO()
    out.write("id,label,lat,lon\n")
    for i in range(rows):
        out.write(f"{i},row {i},{lat[i]:.6f},{lon[i]:.6f}\n")
    return out.getvalue().encode()
