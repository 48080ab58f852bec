"""`lds build`: one step from an OSM extract (path or URL) to a complete data directory."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lds import __version__, versions
from lds.build.progress import Progress, peak_rss_mb
from lds.errors import BadRequest
from lds.formats import DATA_FORMAT, TABLES_DB, TABLES_DIR, TABLES_FORMAT
from lds.versions import current_path, holds_build, staging_dir

EXTRACT_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")


def extract_name(extract: str | Path) -> str:
    """``/x/monaco-2020-07.osm.pbf`` or a URL to it -> ``monaco-2020-07``."""
    name = Path(urllib.parse.urlparse(str(extract)).path).name
    for suffix in EXTRACT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def default_out_dir(extract: str) -> Path:
    return Path("graph_data") / extract_name(extract)


def fetch(extract: str, cache_dir: Path, progress: Progress) -> Path:
    """A local path for ``extract``; URLs are downloaded once into ``cache_dir``."""
    if urllib.parse.urlparse(extract).scheme in ("http", "https", "ftp"):
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / Path(urllib.parse.urlparse(extract).path).name
        if not target.exists():
            progress("download", extract)
            tmp = target.with_suffix(target.suffix + ".part")
            with urllib.request.urlopen(extract, timeout=60) as response, open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
            tmp.rename(target)
        return target
    path = Path(extract)
    if not path.is_file():
        raise BadRequest(f"extract not found: {extract}")
    if not path.name.endswith(EXTRACT_SUFFIXES):
        raise BadRequest(f"unsupported extract type {path.name!r} (expected .osm.pbf, .osm or .osm.bz2)")
    return path


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_meta(out: str | Path, digest: str) -> dict | None:
    """The metadata of the data dir ``out`` when it was built from the source with this sha256 in this
    lds's data format with the LDS tables, else None (missing, another source, or an older layout to rebuild)."""
    out = current_path(out)  # a versioned dir: the version it serves
    meta_file = out / "meta.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text())
    if meta.get("source", {}).get("sha256") != digest or meta.get("data_format") != DATA_FORMAT:
        return None
    if (meta.get("tables") or {}).get("format") != TABLES_FORMAT or not (Path(out) / TABLES_DIR / TABLES_DB).is_file():
        return None  # built before the LDS tables (or with another layout of them): rebuilt to add them
    return meta


def build(
    extract: str,
    out: str | Path,
    modes: Iterable[str] = ("car", "walk", "bike"),
    skip_geocoder: bool = False,
    quiet: bool = False,
    if_changed: bool = False,
    keep_versions: int = 3,
    progress: Progress | None = None,
) -> dict:
    """Build every part into ``out`` (written beside, then swapped in) and return its metadata.

    When ``out`` already holds a build, the new one becomes a version beside it and ``out/current`` is flipped to
    it, keeping ``keep_versions`` versions (lds.versions): servers following ``out`` switch without downtime."""
    from lds.build.osm import read_roads
    from lds.build.road_table import way_access
    from lds.build.roads import build_mode_graph, write_graph
    from lds.build.tables import write_tables
    from lds.graph.prepare import prepare_routing

    progress = progress or Progress(quiet=quiet)  # lds build on a terminal: a bar (lds.build.progress_bar)
    out = Path(out)
    source = fetch(extract, out.parent / "downloads", progress)
    digest = sha256_file(source)
    progress("source", f"{source} sha256={digest[:12]}")
    old = current_meta(out, digest) if if_changed else None
    if old is not None:
        progress("done", f"{out} is up to date (built {old.get('built_at')})")
        return old
    versioned = holds_build(out)
    work = staging_dir(out)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    roads = read_roads(source, progress)
    counts: dict[str, dict] = {}
    access: dict[str, dict] = {}  # per mode, per way: directions and speeds (for lds.roads)
    cut_refs = [np.concatenate(list(roads.blocked.values()) or [np.zeros(0, np.int64)])]
    for mode in modes:
        graph = build_mode_graph(roads, mode, progress)
        counts[mode] = write_graph(graph, work / "graph" / mode)
        access[mode] = way_access(len(roads.way_ids), graph.usages)
        cut_refs.append(graph.arrays["node_osm"][graph.arrays["node_osm"] >= 0])
        del graph
        progress(mode, f"{counts[mode]['nodes']} nodes, {counts[mode]['edges']} edges, largest SCC {counts[mode]['largest_scc_nodes']}")
        prepare_routing(work / "graph" / mode, mode, progress)
    geocoder_counts = None
    if not skip_geocoder:
        from lds.geocoding.build import build_index

        geocoder_counts = build_index(source, work / "geocoder", progress)
    tables = write_tables(work, roads, access, np.unique(np.concatenate(cut_refs)),
                          None if skip_geocoder else work / "geocoder", progress)

    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "lds_version": __version__,
        "data_format": DATA_FORMAT,
        "data_version": versions.fresh_version(out, f"{digest[:12]}-{int(time.time())}"),
        "source": {"name": source.name, "path": str(source.resolve()), "sha256": digest, "bytes": source.stat().st_size},
        "built_at": built_at,
        "build_seconds": round(progress.elapsed(), 2),
        "peak_memory_mb": round(peak_rss_mb(), 1),
        "bbox": roads.bbox,
        "osm": roads.stats,
        "graphs": counts,
        "geocoder": geocoder_counts,
        "tables": tables,
    }
    (work / "meta.json").write_text(json.dumps(meta, indent=2))
    if versioned:
        progress("publish", f"version {versions.publish(out, work, meta['data_version'], keep_versions).name}")
    elif out.exists():
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        work.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        work.rename(out)
    progress("done", f"{out} in {meta['build_seconds']} s, peak memory {meta['peak_memory_mb']} MiB")
    return meta
