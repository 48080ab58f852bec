"""Access to the core objects the app factory attached to the Flask app."""

from __future__ import annotations

from flask import current_app

from lds.core import LDS
from lds.settings import Settings


def current_lds() -> LDS:
    return current_app.extensions["lds"]


def current_settings() -> Settings:
    return current_app.extensions["lds_settings"]
