"""Access to the core objects the app factory attached to the Flask app."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app

from lds.core import LDS
from lds.settings import Settings

T = TypeVar("T")
_lock = threading.RLock()  # re-entrant: one service's make may need another's (imports -> connections)


def current_lds() -> LDS:
    return current_app.extensions["lds"]


def current_settings() -> Settings:
    return current_app.extensions["lds_settings"]


def lazy_extension(app: Flask, key: str, make: Callable[[], T]) -> T:
    """``app.extensions[key]``, made by ``make`` on first use, once (after gunicorn forks: nothing opened in the
    parent)."""
    found: Any = app.extensions.get(key)
    if found is None:
        with _lock:
            found = app.extensions.get(key)
            if found is None:
                found = app.extensions[key] = make()
    return found
