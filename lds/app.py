"""The Flask app factory: settings + loaded core + blueprints."""

from __future__ import annotations

from flask import Flask

from lds.api.envelope import register_error_handlers
from lds.api.jsonprovider import FastJSONProvider
from lds.cache import with_cache
from lds.core import LDS
from lds.logs import configure_logging
from lds.proxy.fallback import outside_extract
from lds.settings import Settings


def create_app(settings: Settings | None = None, lds: LDS | None = None) -> Flask:
    """Build the WSGI app. Pass ``lds`` to share one loaded core (tests, embedding, gunicorn preload)."""
    settings = settings or (lds.settings if lds is not None else Settings.from_env())
    configure_logging(settings.log_level, settings.log_format)
    app = Flask("lds")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json = FastJSONProvider(app)  # orjson: the same JSON, encoded several times faster
    app.json.sort_keys = False
    app.extensions["lds_settings"] = settings
    app.extensions["lds"] = with_cache(lds if lds is not None else LDS(settings), settings=settings)  # answer cache
    app.extensions["lds"] = outside_extract(app.extensions["lds"], settings)  # what the extract lacks: from upstream
    register_error_handlers(app)
    from lds.api import jobs as jobs_api
    from lds.api import metrics as metrics_api

    metrics_api.init_app(app)  # request timing, JSON request logs, X-LDS-Cache, /metrics (before auth: it is timed too)
    jobs_api.init_app(app, settings)  # batch jobs: /v3/lds/jobs/<jobId>, the job service (Redis/RQ or local)
    from lds.api.access import install_access
    from lds.api.cors import install_cors
    from lds.api.params import check_query_string

    app.before_request(check_query_string)  # a query string that is not UTF-8: 400 before auth and quota
    install_cors(app, settings)  # browser apps on LDS_CORS_ORIGINS: preflights answered before auth, headers on all
    install_access(app, settings)  # every /v3 route needs a token unless LDS_AUTH=disabled (then: a warning)
    from lds.api.admission import install_admission

    install_admission(app, settings)  # per-token concurrency after auth; heavy slots shared by forked workers
    from lds.api.hotpath import install_hotpath

    install_hotpath(app, settings)  # answer GETs served below Flask, same steps and bytes (+ the response memo)

    from lds.api import answers, connections, maps, models, service, sql, sql_jobs, stats, tokens

    for module in (service, answers, tokens, stats, connections, sql, sql_jobs, models, maps):  # answers: one route per service of lds.services
        app.register_blueprint(module.bp)
    from lds.api import imports

    app.register_blueprint(imports.bp)  # /v3/imports: file at a URL -> table (lds.imports)
    from lds.api import docs

    app.register_blueprint(docs.bp)  # /openapi.json (lds.openapi) and /docs (Swagger UI, offline)
    from lds.api import demo

    app.register_blueprint(demo.bp)  # / : the demo map (lds/static/, assets bundled)
    from lds.api.dialects import install_dialects

    install_dialects(app, settings)  # OSRM, Nominatim and Valhalla requests answered from the same core
    from lds.api.proxy import install_proxy

    install_proxy(app, settings)  # last: every other /v3 route (and upstream_apis) goes to upstream_api_url
    return app
