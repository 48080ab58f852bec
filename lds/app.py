"""The Flask app factory: settings + loaded core + blueprints."""

from __future__ import annotations

import logging

from flask import Flask

from lds.api.envelope import register_error_handlers
from lds.core import LDS
from lds.settings import Settings


def create_app(settings: Settings | None = None, lds: LDS | None = None) -> Flask:
    """Build the WSGI app. Pass ``lds`` to share one loaded core (tests, embedding, gunicorn preload)."""
    settings = settings or (lds.settings if lds is not None else Settings.from_env())
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask("lds")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False
    app.extensions["lds_settings"] = settings
    app.extensions["lds"] = lds if lds is not None else LDS(settings)
    register_error_handlers(app)

    from lds.api import isolines, routing, service

    for module in (service, routing, isolines):
        app.register_blueprint(module.bp)
    return app
