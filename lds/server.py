"""`lds serve`: the app under gunicorn, data loaded once in the master and shared by forked workers."""

from __future__ import annotations

import multiprocessing
from typing import Any

from gunicorn.app.base import BaseApplication

from lds.settings import Settings


def default_workers() -> int:
    return min(2 * multiprocessing.cpu_count() + 1, 8)


class GunicornServer(BaseApplication):
    """Runs ``create_app`` with ``preload_app`` so the memory-mapped arrays are loaded once before fork."""

    def __init__(self, settings: Settings, options: dict[str, Any] | None = None):
        self.settings = settings
        self.options = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.workers or default_workers(),
            "worker_class": "gthread",
            "threads": settings.threads,
            "preload_app": True,
            "timeout": 120,
            "graceful_timeout": 30,
            "accesslog": "-",
            "loglevel": settings.log_level,
            **(options or {}),
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from lds.app import create_app

        return create_app(self.settings)


def serve(settings: Settings, **options: Any) -> None:
    GunicornServer(settings, options).run()
