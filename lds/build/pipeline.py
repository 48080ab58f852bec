"""`lds build`: one step from an OSM extract (path or URL) to a complete data directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from lds import __version__, versions
from lds.build.derived import FOOT_PARTS, GRAPH_PARTS, derive_foot, derive_graph, derived_outputs
from lds.build.progress import Progress
from lds.build.stages import Stage, Stages, prune_stale, stop_fork_server
from lds.errors import BadRequest
from lds.formats import DATA_FORMAT, MODEL_VERSION, TABLES_DB, TABLES_DIR, TABLES_FORMAT
from lds.settings import Settings
from lds.versions import current_path, holds_build

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
    if meta.get("model_version", 1) != MODEL_VERSION:
        return None  # built by an lds that computed speeds, access or derived arrays differently
    if (meta.get("tables") or {}).get("format") != TABLES_FORMAT or not (Path(out) / TABLES_DIR / TABLES_DB).is_file():
        return None  # built before the LDS tables (or with another layout of them): rebuilt to add them
    return meta


ROADS_STAGE_DIR = ".roads"  # the osm stage's output in the staging dir (removed before publishing)


SCHEDULING_ENV = {"LDS_BUILD_JOBS", "LDS_BUILD_MEMORY_MB"}  # how stages are scheduled, not what they make


def build_key(source: Path, digest: str, modes: Iterable[str], skip_geocoder: bool) -> str:
    """What a build's result depends on: the extract (size, mtime, sha256), its options, the lds version and
    formats, and the LDS_* environment (settings that tune the build). A resumed build reuses stages only
    when this is unchanged."""
    st = source.stat()
    ident = {
        "lds": __version__, "data_format": DATA_FORMAT, "model_version": MODEL_VERSION, "tables_format": TABLES_FORMAT,
        "source": {"sha256": digest, "bytes": st.st_size, "mtime_ns": st.st_mtime_ns},
        "modes": list(modes), "geocoder": not skip_geocoder,
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("LDS_") and k not in SCHEDULING_ENV},
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def resumable_staging_dir(out: Path, key: str) -> Path:
    """The staging dir of a build of ``out`` with this key: the same on a rerun (unlike versions.staging_dir,
    named by process), so the rerun finds the stages already done."""
    if holds_build(out):
        return out / versions.VERSIONS / f".resume-{key[:16]}"
    return out.with_name(out.name + ".building")


# --- the stages: each runs in a child process (lds.build.stages), reading and writing only the staging dir ---
def osm_stage(source: Path, roads_dir: Path, progress: Progress) -> dict:
    from lds.build.osm import read_roads, save_roads

    roads = read_roads(source, progress)
    save_roads(roads, roads_dir)
    return {"way_node_refs": int(roads.stats["way_node_refs"])}


def graph_stage(work: Path, mode: str, progress: Progress) -> dict:
    from lds.build.osm import load_roads
    from lds.build.road_table import way_access
    from lds.build.roads import build_mode_graph, write_graph

    roads = load_roads(work / ROADS_STAGE_DIR)
    graph = build_mode_graph(roads, mode, progress)
    counts = write_graph(graph, work / "graph" / mode)
    np.savez(work / ROADS_STAGE_DIR / f"access.{mode}.npz", **way_access(len(roads.way_ids), graph.usages))
    progress(mode, f"{counts['nodes']} nodes, {counts['edges']} edges, largest SCC {counts['largest_scc_nodes']}")
    return {"counts": counts}


def ch_stage(graph_dir: Path, mode: str, progress: Progress) -> dict:
    from lds.graph.prepare import prepare_routing

    return {"ch": prepare_routing(graph_dir, mode, progress)}


def geocoder_stage(source: Path, index_dir: Path, progress: Progress) -> dict:
    from lds.geocoding.build import build_index

    return {"counts": build_index(source, index_dir, progress)}


def tables_stage(work: Path, modes: list[str], geocoder: bool, progress: Progress) -> dict:
    from lds.build.tables import write_tables

    def road_rows() -> tuple:  # read when the roads table is made (after the address tables), dropped after it
        from lds.build.osm import load_roads
        from lds.build.road_table import road_batches

        roads = load_roads(work / ROADS_STAGE_DIR)
        access = {mode: dict(np.load(work / ROADS_STAGE_DIR / f"access.{mode}.npz")) for mode in modes}
        cut_refs = [np.concatenate(list(roads.blocked.values()) or [np.zeros(0, np.int64)])]
        for mode in modes:  # the roads table is cut at every node that is a graph node in any mode
            node_osm = np.load(work / "graph" / mode / "node_osm.npy", mmap_mode="r")
            cut_refs.append(node_osm[node_osm >= 0])
        return road_batches(roads, access, np.unique(np.concatenate(cut_refs)))

    return {"tables": write_tables(work, road_rows, work / "geocoder" if geocoder else None, progress,
                                   Settings.from_env().build_duckdb_memory_mb)}


# Peak memory of the stages (MiB per unit of their input, beside STAGE_BASE_MB), measured on synthetic countries
# (scripts/bench_scale.py, 5M and 20M nodes), ~10 % over: the estimates that decide which stages may run side by side
# within build_memory_mb. Real extracts hold fewer roads and addresses per byte of .osm.pbf than the synthetic
# country, so the per-byte estimates are generous there; an estimate a stage exceeds is scaled up for the stages of
# its kind still to run.
STAGE_BASE_MB = 150.0
OSM_MB_PER_PBF_MB = 20.0
GEOCODER_MB_PER_PBF_MB = 50.0  # measured 36 (5M, addresses on nodes) to 47 (60 % of them on building outlines)
GRAPH_MB_PER_WAY_REF = 0.00028  # measured 0.00026 (car 1.2 / 4.3 GB at 4.0M / 16.1M way refs; was 1.9 GB at 5M)
TABLES_MB_PER_WAY_REF = 0.00015  # beside DuckDB's own memory (build_duckdb_memory_mb): 1.3 / 3.1 GB at 5M / 20M nodes
# per edge of the mode's road graph, by mode (the car's graph is turn-aware): measured 0.00039 / 0.00016 / 0.00018
# (car 1.8 GB for 4.2M edges at 5M nodes; walk 0.95 / 3.3 GB for 4.9M / 19.7M edges at 5M / 20M nodes, 1.9 GB
# at 5M before the snapping grid was built in chunks)
CH_MB_PER_EDGE = {"car": 0.00045, "walk": 0.00018, "bike": 0.0002}
DERIVED_MB_PER_EDGE = 0.0003  # per edge of the mode's road graph: arrays derived for serving (car: 1.35 GB, 4.2M)
FOOT_MB_PER_EDGE = 0.00025  # per edge of the walking graph: park and walk's network (1.1 GB at 4.9M edges)


def _way_refs(done: dict[str, dict]) -> float:
    return float(done.get("osm", {}).get("way_node_refs", float("inf")))  # unknown (an older record): runs alone


def _edges(done: dict[str, dict], mode: str) -> float:
    return float(done.get(mode, {}).get("counts", {}).get("edges", float("inf")))


def stage_plan(source: Path, work: Path, modes: list[str], geocoder: bool) -> list[Stage]:
    """The stages of a build, with what each waits for and its memory estimate, in the order preferred when
    several could start (the longest chains first)."""
    pbf_mb = source.stat().st_size / 2**20
    duckdb_mb = Settings.from_env().build_duckdb_memory_mb  # the tables' DuckDB budget: read once, not per estimate
    roads_dir = work / ROADS_STAGE_DIR
    plan = [Stage("osm", osm_stage, (source, roads_dir), [roads_dir],
                  memory_mb=lambda done: STAGE_BASE_MB + OSM_MB_PER_PBF_MB * pbf_mb)]
    if geocoder:
        plan.append(Stage("geocoder", geocoder_stage, (source, work / "geocoder"), [work / "geocoder"],
                          memory_mb=lambda done: STAGE_BASE_MB + GEOCODER_MB_PER_PBF_MB * pbf_mb))
    for mode in modes:
        graph_dir = work / "graph" / mode
        plan.append(Stage(mode, graph_stage, (work, mode), [graph_dir, roads_dir / f"access.{mode}.npz"], ("osm",),
                          lambda done: STAGE_BASE_MB + GRAPH_MB_PER_WAY_REF * _way_refs(done)))
        plan.append(Stage(f"{mode} ch", ch_stage, (graph_dir, mode), [], (mode,),
                          lambda done, mode=mode: STAGE_BASE_MB + CH_MB_PER_EDGE[mode] * _edges(done, mode)))
        plan.append(Stage(f"{mode} derived", derive_graph, (graph_dir, mode), derived_outputs(graph_dir, GRAPH_PARTS),
                          (f"{mode} ch",),
                          lambda done, mode=mode: STAGE_BASE_MB + DERIVED_MB_PER_EDGE * _edges(done, mode)))
    if "car" in modes and "walk" in modes:  # park and walk (car isolines): after the car hierarchy, which reads its dir
        car_dir = work / "graph" / "car"
        plan.append(Stage("foot", derive_foot, (car_dir, work / "graph" / "walk"), derived_outputs(car_dir, FOOT_PARTS),
                          ("car ch", "walk"), lambda done: STAGE_BASE_MB + FOOT_MB_PER_EDGE * _edges(done, "walk")))
    # the tables read the roads, the addresses and each mode's graph nodes, not the hierarchies: they fill a core
    # while the car hierarchy, the longest chain, still runs
    plan.append(Stage("tables", tables_stage, (work, modes, geocoder), [work / TABLES_DIR],
                      ("osm", *(["geocoder"] if geocoder else []), *modes),
                      lambda done: STAGE_BASE_MB + duckdb_mb + TABLES_MB_PER_WAY_REF * _way_refs(done)))
    return plan


def build_jobs(settings: Settings) -> tuple[int, float]:
    """How many stages may run at once and their memory budget (MiB), from the settings (0 = from the machine)."""
    jobs = settings.build_jobs or len(os.sched_getaffinity(0))
    budget = settings.build_memory_mb or 0.75 * available_memory_mb()
    return max(1, jobs), float(budget)


def available_memory_mb() -> float:
    """Memory the system can give without swapping (Linux's MemAvailable), in MiB."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20


def build(
    extract: str,
    out: str | Path,
    modes: Iterable[str] = ("car", "walk", "bike"),
    skip_geocoder: bool = False,
    quiet: bool = False,
    if_changed: bool = False,
    keep_versions: int = 3,
    progress: Progress | None = None,
    restart: bool = False,
) -> dict:
    """Build every part into ``out`` (written beside, then swapped in) and return its metadata.

    When ``out`` already holds a build, the new one becomes a version beside it and ``out/current`` is flipped to
    it, keeping ``keep_versions`` versions (lds.versions): servers following ``out`` switch without downtime.
    Stages are resumable: a build killed part-way and run again reuses the stages it finished (:class:`Stages`);
    ``restart`` starts from scratch."""
    progress = progress or Progress(quiet=quiet)  # lds build on a terminal: a bar (lds.build.progress_bar)
    out = Path(out)
    modes = list(modes)
    source = fetch(extract, out.parent / "downloads", progress)
    digest = sha256_file(source)
    progress("source", f"{source} sha256={digest[:12]}")
    old = current_meta(out, digest) if if_changed else None
    if old is not None:
        progress("done", f"{out} is up to date (built {old.get('built_at')})")
        return old
    versioned = holds_build(out)
    key = build_key(source, digest, modes, skip_geocoder)
    work = resumable_staging_dir(out, key)
    stages = Stages(work, key, restart=restart)
    progress.stage_begin()
    jobs, budget_mb = build_jobs(Settings.from_env())
    try:
        records = stages.run_all(stage_plan(source, work, modes, not skip_geocoder), progress, jobs, budget_mb)
    finally:
        stop_fork_server()
    counts = {mode: records[mode]["counts"] for mode in modes}
    geocoder_counts = None if skip_geocoder else records["geocoder"]["counts"]
    tables_info = records["tables"]["tables"]
    roads_dir = work / ROADS_STAGE_DIR
    roads = json.loads((roads_dir / "roads.json").read_text())

    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {
        "lds_version": __version__,
        "data_format": DATA_FORMAT,
        "model_version": MODEL_VERSION,
        "data_version": versions.fresh_version(out, f"{digest[:12]}-{int(time.time())}"),
        "source": {"name": source.name, "path": str(source.resolve()), "sha256": digest, "bytes": source.stat().st_size},
        "built_at": built_at,
        "build_seconds": round(progress.elapsed(), 2),
        "peak_memory_mb": round(progress.peak_mb(), 1),
        "stages": progress.stage_figures,
        "bbox": roads["bbox"],
        "osm": roads["stats"],
        "graphs": counts,
        "geocoder": geocoder_counts,
        "tables": tables_info,
    }
    shutil.rmtree(roads_dir)
    stages.close()
    (work / "meta.json").write_text(json.dumps(meta, indent=2))
    if versioned:
        progress("publish", f"version {versions.publish(out, work, meta['data_version'], keep_versions).name}")
        prune_stale(out / versions.VERSIONS, ".resume-*")
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
