"""Every limit and default of the service, as data.

Each :class:`Setting` has a name, a type, a default and a help text. Values are read once from
``LDS_<NAME>`` environment variables into one :class:`Settings` object; the CLI, the status endpoint
and the docs test all walk the same table (Datasette's settings are the model).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str
    secret: bool = False
    path: bool = False  # a filesystem path: /v3/lds/status shows it to the admin token only

    @property
    def env(self) -> str:
        return "LDS_" + self.name.upper()


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on", "enabled"):
        return True
    if value in ("0", "false", "no", "off", "disabled", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _opt_str(text: str) -> str | None:
    return text or None


SETTINGS: tuple[Setting, ...] = (
    # --- service -------------------------------------------------------------------------
    Setting("data_dir", None, "Data directory written by `lds build` (graphs + address index).", _opt_str, path=True),
    Setting("data_keep_versions", 3, "Versions of the data kept in a data dir that `lds build` writes into again (the new one beside the old, then the dir's `current` pointer flipped); older ones are deleted. At least 2, so the version being replaced outlives the requests still on it.", int),
    Setting("build_jobs", 0, "Stages `lds build` runs side by side (the address index beside the road graphs, one mode's hierarchy beside another's); 0 = one per core. Each stage is single-threaded.", int),
    Setting("build_memory_mb", 0, "Memory budget (MiB) of `lds build`'s stages run side by side: a stage starts beside others only while the sum of their estimated peaks stays within it (one alone always runs); 0 = three quarters of the memory available when the build starts.", int),
    Setting("build_duckdb_memory_mb", 1024, "Memory (MiB) `lds build` lets DuckDB use while it copies the LDS tables into their DuckDB file; past it DuckDB spills to disk, so a country builds in bounded memory.", int),
    Setting("data_check_s", 5.0, "How often `lds serve` (its master process) and `lds worker` look at the data dir's `current` pointer and switch to a new version by themselves (SIGHUP to the master switches at once); 0 = only on SIGHUP.", float),
    Setting("host", "127.0.0.1", "Address `lds serve` binds to."),
    Setting("port", 8000, "Port `lds serve` listens on.", int),
    Setting("workers", 0, "gunicorn worker processes for `lds serve`; 0 = min(2 x cores + 1, 8).", int),
    Setting("threads", 4, "Threads per gunicorn worker (gthread worker class).", int),
    Setting("log_level", "info", "Log level (debug, info, warning, error)."),
    Setting("max_body_bytes", 16 * 1024 * 1024, "Largest accepted request body in bytes (413 above).", int),
    Setting("max_request_line", 8190, "Longest HTTP request line (method, URL, version) `lds serve` accepts, in bytes (414 above); CARTO clients send GETs of 7,000+ characters before switching to POST. gunicorn's maximum is 8190.", int),
    Setting("max_header_bytes", 8190, "Longest HTTP request header field `lds serve` accepts, in bytes (431 above).", int),
    Setting("max_json_depth", 64, "Deepest nesting of lists/objects accepted in a JSON request body (400 above).", int),
    Setting("demo_page", True, "Serve the demo map at / (geocode, reverse, route and isolines in a browser, assets bundled: no internet needed).", _bool),
    Setting("demo_basemap_style", None, "MapLibre style URL the demo page tries as its basemap; unset or unreachable = the extract's own roads through the Maps API (lds.roads).", _opt_str),
    Setting("public_url", None, "Public base URL (e.g. https://lds.example.com) of links the API returns (job Location, next, Maps TileJSON and tile URLs); unset = job links relative, and Maps URLs (which CARTO's clients need absolute) built from the request's Host, each answer only for itself: cached Maps answers hold no URL. Set it behind a proxy.", _opt_str),
    Setting("cors_origins", None, "Comma-separated origins (https://app.example.com) browser apps may call the API from (CORS); `*` = any; unset = none.", _opt_str),
    # --- snapping / routing ----------------------------------------------------------------
    Setting("snap_radius_m", 500.0, "Points farther than this from every routable edge of the mode are refused (422).", float),
    Setting("max_waypoints", 25, "Most intermediate waypoints a route may have.", int),
    Setting("search_scratch_mb", 256, "Memory (MiB) one search workspace of a worker (a mode's routing labels, the isolines' per-node costs) keeps between requests; above it its pages go back to the system, to be faulted in again by later searches: a bound on what searches spread over a country leave each worker holding (at 20M OSM nodes a car graph's labels map 540 MB), paid in speed once it binds (5M nodes, 2,000 routes spread over the country: 64 MB, 7 releases, route p50 +17 %).", int),
    Setting("max_nearest", 100, "Most roads one OSRM /nearest request may ask for (number=N; TooBig above, as osrm-routed).", int),
    Setting("max_alternatives", 3, "Most alternative routes one route request may ask for (OSRM alternatives=N; TooBig above, as osrm-routed).", int),
    Setting("matrix_max_origins", 1000, "Most origins of one synchronous distance matrix (POST /v3/lds/routing/matrix; more, or ?async=true, become a job of rows, up to job_max_items; OSRM /table: 400 above).", int),
    Setting("matrix_max_destinations", 1000, "Most destinations of one distance matrix, job or not (400 above).", int),
    Setting("dialects", "osrm,nominatim,valhalla", "Other APIs served from the same core (docs/dialects.md): comma-separated among osrm (/route/v1, /table/v1, /nearest/v1), nominatim (/nominatim/...), valhalla (/isochrone); empty = none.", str),
    Setting("nominatim_at_root", False, "Also serve the Nominatim dialect at the root (/search, /reverse, /lookup, /status), as a Nominatim server does.", _bool),
    # --- isolines --------------------------------------------------------------------------
    Setting("max_ranges", 5, "Most ranges in one isoline request.", int),
    Setting("max_isoline_time_s", 3600, "Largest time range (seconds) for isolines.", int),
    Setting("max_isoline_distance_m", 60000, "Largest distance range (metres) for isolines.", int),
    Setting("isoline_offroad_m", 80.0, "How far from its road a place can lie and still be served by it (metres): an isoline covers the places whose nearest road within this distance is reached.", float),
    Setting("isoline_park_walk_m", 120.0, "Car isolines: how far (metres) a place may be walked to along footways, paths and steps from a reached road and still be inside (park and walk: houses on stepped lanes, squares served by footways); the walk is not costed. 0 = off.", float),
    Setting("isoline_cutoff_m", 200.0, "Roads cut off from the network (driveways or an estate's lanes the data leaves unjoined to it): the places within isoline_offroad_m of one, and of no network road, are served from the network road its points snap to when that is at most this far (metres), as a route to them would be. 0 = off.", float),
    Setting("isoline_resolution_m", 200.0, "Holes smaller than this squared (m^2) are filled; the polygon's level of detail.", float),
    Setting("isoline_simplify_m", 10.0, "Douglas-Peucker tolerance for isoline rings (metres).", float),
    Setting("isoline_cell_m", 10.0, "Finest raster cell (metres) isolines are drawn on; doubled for a range whose reach would exceed isoline_max_cells.", float),
    Setting("h3_isoline_resolution", 9, "H3 resolution of /v3/lds/isolines/h3 when the request names none (9: cells of about 0.1 km^2, 174 m edges).", int),
    Setting("h3_isoline_max_resolution", 11, "Finest H3 resolution /v3/lds/isolines/h3 accepts (11: about 0.002 km^2, 25 m edges).", int),
    Setting("h3_isoline_max_cells", 200_000, "Most H3 cells an H3 isoline request may span (the reach's box at the asked resolution); more is a 400 asking a coarser resolution. Bounds time, memory and answer size.", int),
    Setting("isoline_max_cells", 60_000, "Most raster cells per isoline range: a range reaching farther is drawn on coarser cells (doubled until it fits); bounds time, memory and answer size.", int),
    # --- geocoding -------------------------------------------------------------------------
    Setting("geocode_default_limit", 5, "Candidates returned by geocode when `limit` is not given.", int),
    Setting("geocode_max_limit", 50, "Largest `limit` a geocode request may ask for.", int),
    Setting("reverse_address_radius_m", 100.0, "Reverse geocoding returns an address point within this radius.", float),
    Setting("reverse_street_radius_m", 500.0, "Failing an address, the nearest named street within this radius.", float),
    Setting("batch_max_sync", 10000, "Most addresses in one synchronous batch request (larger ones become jobs).", int),
    Setting("batch_max_sync_chars", 1_000_000, "Most address characters (summed) in one synchronous batch request: longer ones become jobs (202), as over batch_max_sync; 0 = no cap.", int),
    Setting("geocode_max_query_chars", 500, "Longest address text accepted by geocode and batch items (400 above).", int),
    # --- cache -----------------------------------------------------------------------------
    Setting("redis_url", None, "Redis URL for the shared cache, job queue, quotas and rate limits; unset = in-process.", _opt_str, True),
    Setting("redis_timeout_s", 0.1, "Socket timeout for Redis calls; a slower Redis is treated as down.", float),
    Setting("redis_prefix", "lds:", "Prefix of every Redis key the service writes, so deployments can share one Redis.", str),
    Setting("cache_enabled", True, "Cache LDS answers (Redis when configured, else in-process LRU).", _bool),
    Setting("cache_ttl_s", 7 * 24 * 3600, "Lifetime of a cached answer in seconds.", int),
    Setting("cache_max_entry_bytes", 512 * 1024, "Answers larger than this are not cached.", int),
    Setting("cache_local_entries", 20000, "Size of the in-process LRU cache (embedded default).", int),
    Setting("cache_coord_decimals", 6, "Coordinates in cache keys are rounded to this many decimals (~0.1 m).", int),
    # --- jobs ------------------------------------------------------------------------------
    Setting("job_max_items", 1_000_000, "Most addresses in one batch job.", int),
    Setting("job_chunk_size", 1000, "Items per job chunk (the unit of progress and retry).", int),
    Setting("job_page_size", 1000, "Results per page of a finished job.", int),
    Setting("job_result_ttl_s", 7 * 24 * 3600, "How long finished jobs and their results are kept.", int),
    Setting("job_local_threads", 2, "Threads of the in-process job runner used without Redis.", int),
    # --- cache/jobs/deployment extras (issue 4) ------------------------------------------------
    Setting("cache_retry_s", 5.0, "After a Redis error the cache is bypassed for this long, then tried again (circuit breaker).", float),
    Setting("cache_local_front_entries", 2048, "Per-process LRU in front of Redis for hot answers; 0 = every lookup goes to Redis.", int),
    Setting("cache_local_front_ttl_s", 30.0, "Seconds an answer stays in the per-process front LRU.", float),
    Setting("response_memo_bytes", 16 * 1024 * 1024, "Per-process memo of whole responses to repeated GETs of the answer endpoints, served below Flask (lds.api.hotpath); 0 = off.", int),
    Setting("response_memo_ttl_s", 30.0, "Seconds a response stays in the per-process response memo.", float),
    Setting("fast_path", True, "Answer GETs of the answer endpoints below Flask (lds.api.hotpath): the same checks, quota, metrics and bytes at a fraction of the cost; off = every request through Flask (the response memo too).", _bool),
    Setting("job_redis_timeout_s", 10.0, "Socket timeout of job-queue Redis calls (they move whole chunks, so longer than the cache's).", float),
    Setting("job_lease_s", 15, "A chunk whose worker stopped heartbeating this long ago is abandoned and retried elsewhere.", int),
    Setting("job_chunk_retries", 3, "Times a failed or abandoned chunk is retried before its job fails.", int),
    Setting("job_chunk_timeout_s", 900, "Longest a single chunk may run before its worker stops it (counts as a failure).", int),
    Setting("job_task_timeout_s", 6 * 3600, "Longest a single-task job (SQL job, import) may run on an RQ worker before the worker stops it (the job fails); keep it above sql_job_timeout_s.", int),
    Setting("job_max_body_bytes", 256 * 1024 * 1024, "Largest request body of a batch endpoint (jobs of up to job_max_items addresses).", int),
    Setting("metrics_dir", None, "Prometheus multiprocess directory for `lds serve`; unset = a fresh temporary directory.", _opt_str, path=True),
    Setting("log_format", "json", "Log line format: json (one object per line, for log shippers) or text.", str),
    # --- auth, quotas, rate limits -----------------------------------------------------------
    Setting("auth", True, "Require tokens on /v3 routes. `disabled` is for local development only.", _bool),
    Setting("admin_token", None, "Admin (OAuth-role) token; unset = generated on first start, stored hashed.", _opt_str, True),
    Setting("state_dir", "var", "Directory of the embedded state store (SQLite) and in-process job files.", str, path=True),
    Setting("database_url", None, "SQLAlchemy URL of the metadata store (PostgreSQL); unset = SQLite in state_dir.", _opt_str, True),
    Setting("quota_geocoding", 1_000_000, "Default monthly geocoding quota per token (reverse and batch items count).", int),
    Setting("quota_isolines", 100_000, "Default monthly isolines quota per token.", int),
    Setting("quota_routing", 100_000, "Default monthly routing quota per token.", int),
    Setting("auth_cache_ttl_s", 60.0, "Longest a process trusts a token it has looked up without asking the state store again (expiry is still checked each time); any token change, made anywhere, ends the trust at once (a shared change counter: a file beside SQLite, PostgreSQL NOTIFY). 0 = look up every request.", float),
    # --- admission: heavy work cannot starve light requests (lds.admission) ------------------------------
    Setting("heavy_slots", 0, "Heavy requests (large sync batches and isolines, local job chunks) running at once across all workers of one server, at most one per worker; 0 = half the cores, at least 1.", int),
    Setting("heavy_queue", -1, "Heavy requests that may wait for a slot at once (more get 503 at once); -1 = 2 x heavy_slots.", int),
    Setting("heavy_wait_s", 10.0, "Longest a heavy request waits for a slot before a 503 with Retry-After.", float),
    Setting("heavy_batch_items", 100, "A synchronous batch with more items than this is heavy.", int),
    Setting("heavy_batch_chars", 10_000, "A synchronous batch with more address characters (summed) than this is heavy.", int),
    Setting("heavy_matrix_cells", 10_000, "A distance matrix with more cells (origins x destinations) than this is heavy.", int),
    Setting("heavy_isoline_reach_m", 15_000.0, "An isoline request is heavy when its largest range reaches farther (metres; a time range at a nominal speed: car 15, bike 5, walk 1.4 m/s).", float),
    Setting("token_concurrency", 16, "Requests one token may have in flight at once on one server (429 with Retry-After above; the admin token is exempt); 0 = unlimited.", int),
    Setting("rate_limit_per_s", 100, "Requests per second per token (a token's own `rate_limit_per_s` overrides it); 0 = unlimited.", int),
    Setting("rate_limit_admin", False, "Rate-limit the admin token too (it is not limited by default).", _bool),
    Setting("rate_limit_retry_s", 5.0, "After a Redis error the rate limit is kept per process for this long, then Redis is tried again.", float),
    Setting("rate_limit_block_s", 0.1, "With Redis, each process reserves rate-limit allowance in blocks (sized to its use, at most a twentieth of the limit) and may use a block for this long; 0 = one Redis call per request.", float),
    Setting("quota_lease_units", 100, "Most quota units a process reserves at once from the state store and then counts in memory (no write per request); 0 = every charge is written at once.", int),
    Setting("quota_flush_s", 1.0, "How often each process writes the units it counted to the state store and renews (or, when idle, returns) its reservations.", float),
    Setting("quota_exact_below", 1000, "When fewer units than this are left of a token's monthly quota, nothing is reserved: each charge is an atomic write, so the 429 boundary is exact.", int),
    Setting("quota_lease_ttl_s", 30.0, "A reservation not renewed for this long (its process died) is reclaimed; units that process counted but had not written yet are lost (at most quota_lease_units).", float),
    # --- warehouses: carto_dw and PostgreSQL connections (lds.warehouse) ----------------------------------
    Setting("sql_timeout_s", 60.0, "Longest a synchronous SQL query may run (execution and fetching); then it is cancelled in the warehouse and answered with a 4xx. CARTO's limit is 1 minute.", float),
    Setting("sql_jobs_per_token", 4, "Most SQL jobs one API access token may have pending or running at once (429 above); the admin token is exempt; 0 = unlimited.", int),
    Setting("sql_job_timeout_s", 3600.0, "Longest the statement of a SQL job (POST /v3/sql/{connection}/job) may run; then it is cancelled in the warehouse and the job fails.", float),
    Setting("sql_max_rows", 200_000, "Most rows a synchronous SQL query may return (4xx above, pointing to LIMIT or jobs), as CARTO's SQL API.", int),
    Setting("sql_batch_rows", 5000, "Rows fetched from the warehouse per streamed batch; bounds the memory one query holds.", int),
    Setting("sql_token_max_chars", 200_000, "Longest SQL text an API access token may send; its grant check parses it (about 1.5 s of CPU at this size), longer texts are refused with 403. The admin token is not checked.", int),
    Setting("carto_dw_memory_limit", "1GB", "DuckDB memory limit of each embedded-warehouse instance (each process has one for reads, one for writes); beyond it DuckDB spills to state_dir/carto_dw/tmp.", str),
    Setting("carto_dw_threads", 2, "DuckDB threads of each embedded-warehouse instance.", int),
    Setting("carto_dw_catalog_url", None, "PostgreSQL URL (postgresql://user:password@host:5432/db) of a database that holds carto_dw's DuckLake catalog, shared by every replica and machine that sets the same one (with carto_dw_data_path); unset = a SQLite catalog in state_dir/carto_dw, this machine's own. Writes are serialised by an advisory lock in that database; give it a role that owns only that database.", _opt_str, True),
    Setting("carto_dw_data_path", None, "Folder of carto_dw's Parquet files when carto_dw_catalog_url is set: one every replica mounts at the same path (NFS, a shared volume); required with it.", _opt_str, path=True),
    Setting("warehouse_pool_size", 4, "Most open connections per PostgreSQL connection and process.", int),
    Setting("warehouse_connect_timeout_s", 10.0, "Longest wait to connect to a PostgreSQL warehouse or for a free pooled connection.", float),
    Setting("filter_max_values", 10_000, "Most values one Maps or SQL Model API request may bind through its filters (filter values, spatial-filter vertices, cell ids) and, per model, histogram ticks or time-series categories (400 above).", int),
    # --- Maps API: vector tiles (lds.maps) ---------------------------------------------------------------
    Setting("maps_tile_max_features", 50_000, "Most features one vector tile holds; above it every k-th feature is kept (an even thinning) and the dropped fraction is sent in X-LDS-Dropped-Fraction.", int),
    Setting("maps_max_zoom", 20, "maxzoom announced in the Maps API's TileJSON (clients over-zoom beyond it); tiles are served up to zoom 24.", int),
    Setting("maps_timeout_s", 30.0, "Longest a Maps API statement (a tile, the TileJSON's statistics, the instantiation's counts) may run; then it is cancelled in the warehouse.", float),
    Setting("maps_cache_max_tile_bytes", 2 * 1024 * 1024, "Largest vector tile kept in the answer cache; the costliest tiles are the large low-zoom ones, hence above cache_max_entry_bytes (mind the in-process LRUs: entries x this size at worst).", int),
    Setting("maps_postgres_version_s", 60.0, "How long a process reuses a PostgreSQL connection's data version in Maps answers (cache keys, the TileJSON's cache value): that version moves with any write anywhere on the server, so Maps answers on PostgreSQL may lag a write by this long; 0 = ask every request. carto_dw's version is exact and asked every request.", float),
    Setting("maps_cache_max_age_s", 300, "Cache-Control max-age of Maps API answers (tiles, TileJSON); their URLs carry a cache value that changes with the data, and ETags revalidate.", int),
    Setting("secret_key", None, "Key that encrypts stored connection credentials (any string; set the same one on every node sharing a database_url); unset = generated once into state_dir/secret.key (mode 0600).", _opt_str, True),
    # --- proxy routes to an upstream CARTO platform (lds.proxy) ---------------------------------------------------
    Setting("upstream_api_url", None, "Base URL of an upstream CARTO (or CARTO-compatible) API, e.g. https://gcp-us-east1.api.carto.com: every /v3 route this installation does not serve is forwarded there; unset = no proxying.", _opt_str),
    Setting("upstream_apis", "", "Comma-separated APIs this installation serves itself but forwards upstream instead: sql, maps, imports, connections, tokens, lds.", str),
    Setting("upstream_token", None, "Token sent upstream (Authorization: Bearer) for every API without its own upstream_token_<api>; callers then need a token of this installation. No upstream token for an API = the caller's own Authorization goes upstream, unless it is a token of this installation (403).", _opt_str, True),
    Setting("upstream_token_lds", None, "Upstream token for the LDS API and the outside-extract fallback (overrides upstream_token).", _opt_str, True),
    Setting("upstream_token_sql", None, "Upstream token for the SQL API (overrides upstream_token).", _opt_str, True),
    Setting("upstream_token_maps", None, "Upstream token for the Maps API (overrides upstream_token).", _opt_str, True),
    Setting("upstream_token_imports", None, "Upstream token for the Imports API (overrides upstream_token).", _opt_str, True),
    Setting("upstream_token_connections", None, "Upstream token for the Connections API (overrides upstream_token).", _opt_str, True),
    Setting("upstream_token_tokens", None, "Upstream token for the Tokens API (overrides upstream_token).", _opt_str, True),
    Setting("upstream_outside_extract", False, "Geocode, reverse, route and isoline requests the loaded data cannot answer (a point outside it, no local match) are answered by the upstream's LDS API instead of a 422 or no result; batches are split, order kept. Needs upstream_api_url and an upstream token for lds.", _bool),
    Setting("upstream_connect_timeout_s", 5.0, "Longest wait to connect to the upstream (504 above).", float),
    Setting("upstream_timeout_s", 90.0, "Longest wait for the upstream's answer to start (504 above) and between two reads of a streamed answer (then it is cut).", float),
    Setting("upstream_max_body_bytes", 16 * 1024 * 1024, "Largest request body forwarded upstream (413 above).", int),
    Setting("upstream_max_answer_bytes", 1024**3, "Largest upstream answer passed back: a larger announced Content-Length is a 502, a stream growing past it is cut.", int),
    Setting("upstream_pool_size", 10, "Kept-alive connections to the upstream per process.", int),
    # --- imports: a file at a URL -> a table (lds.imports) ------------------------------------------------------
    Setting("import_max_bytes", 1024**3, "Largest file an import downloads, in bytes: a declared larger size is refused at once, and reading stops at the limit (the import fails).", int),
    Setting("import_max_active", 5, "Imports pending or running at once in the installation; the next POST /v3/imports gets 429 (CARTO's limit is 5).", int),
    Setting("import_timeout_s", 3600.0, "Longest an import may take (download, reading, loading); then it stops and fails with nothing written.", float),
    Setting("import_allowed_hosts", None, "Comma-separated hosts or host:port pairs imports may download from even when they resolve to loopback, private or link-local addresses; unset = public addresses only.", _opt_str),
    Setting("import_file_root", None, "Folder whose files imports may read with file:// URLs (symlinks resolved first); unset = file:// refused.", _opt_str, path=True),
    Setting("import_max_redirects", 5, "Most HTTP redirects an import download follows (each target is checked again).", int),
    Setting("import_connect_timeout_s", 10.0, "Longest an import download waits to connect.", float),
    Setting("import_read_timeout_s", 60.0, "Longest an import download waits for the next bytes.", float),
    Setting("import_archive_max_members", 1000, "Most files a zip (zipped Shapefile, KMZ) may hold.", int),
    Setting("import_archive_max_ratio", 100, "Largest uncompressed-to-compressed size ratio of a zip member (zip bombs are refused).", int),
    Setting("import_archive_max_bytes", 4 * 1024**3, "Most bytes an import extracts from a zip in total.", int),
    Setting("import_batch_rows", 65536, "Rows per record batch while reading, geocoding and loading an import; bounds its memory.", int),
    Setting("import_preview_bytes", 64 * 1024**2, "Most bytes POST /v3/imports/preview downloads: a text file is previewed from its start, a larger binary file is refused (413).", int),
    Setting("import_preview_rows", 20, "Sample rows POST /v3/imports/preview returns.", int),
)

_BY_NAME = {s.name: s for s in SETTINGS}


class Settings:
    """Resolved values of every :data:`SETTINGS` entry, as attributes."""

    def __init__(self, values: Mapping[str, Any]):
        unknown = set(values) - set(_BY_NAME)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        self._values = {s.name: values.get(s.name, s.default) for s in SETTINGS}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for s in SETTINGS:
            if s.env in env:
                try:
                    values[s.name] = s.type(env[s.env])
                except ValueError as exc:
                    raise ValueError(f"{s.env}: {exc}") from None
        values.update(overrides)
        return cls(values)

    def replace(self, **overrides: Any) -> Settings:
        return Settings({**self._values, **overrides})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def as_table(self) -> list[dict[str, Any]]:
        """Rows for the status endpoint; secrets are shown only as set/unset."""
        rows = []
        for s in SETTINGS:
            value = self._values[s.name]
            if s.secret and value is not None:
                value = "(set)"
            rows.append({"name": s.name, "env": s.env, "value": value, "default": None if s.secret else s.default, "help": s.help})
        return rows
