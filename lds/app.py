"""The Flask app factory: settings + loaded core + blueprints."""

from __future__ import annotations

from flask import Flask

from lds.api.envelope import register_error_handlers
from lds.api.jsonprovider import FastJSONProvider
from lds.cache import with_cache
from lds.core import LDS
from lds.logs import configure_logging
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
    register_error_handlers(app)
    from lds.api import jobs as jobs_api
    from lds.api import metrics as metrics_api

    metrics_api.init_app(app)  # request timing, JSON request logs, X-LDS-Cache, /metrics (before auth: it is timed too)
    jobs_api.init_app(app, settings)  # batch jobs: /v3/lds/jobs/<jobId>, the job service (Redis/RQ or local)
    from lds.api.access import install_access

    install_access(app, settings)  # every /v3 route needs a token unless LDS_AUTH=disabled (then: a warning)
    from lds.api.hotpath import install_hotpath

    install_hotpath(app, settings)  # repeated answer GETs replayed below Flask (same auth, quota, metrics, logs)

    from lds.api import geocoding, isolines, routing, service, stats, tokens

    for module in (service, routing, isolines, geocoding, tokens, stats):
        app.register_blueprint(module.bp)
    return app
