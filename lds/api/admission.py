"""The Flask side of :mod:`lds.admission`: a token's concurrency slot per request, heavy slots for views.

``install_admission`` makes the server's :class:`~lds.admission.Admission` (in ``create_app``, so under
``lds serve`` before gunicorn forks) and holds the caller's per-token slot from after authentication to the
end of the request. Views of heavy services hold a heavy slot while they answer (:func:`heavy_slot`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flask import Flask, current_app, g

from lds.admission import Admission
from lds.api.access import current_principal
from lds.settings import Settings


def install_admission(app: Flask, settings: Settings) -> Admission:
    """Attach the admission control; call after ``install_access`` (its hook knows the token)."""
    admission = Admission.from_settings(settings)
    app.extensions["lds_admission"] = admission
    app.before_request(_enter)
    app.teardown_request(_leave)
    runner = getattr(app.extensions.get("lds_jobs"), "runner", None)
    if hasattr(runner, "admission"):  # the in-process job runner: its chunks run in these workers, so they queue too
        runner.admission = admission
    return admission


def current_admission() -> Admission:
    return current_app.extensions["lds_admission"]


def _enter() -> None:
    principal = current_principal()
    if principal is not None and not principal.is_admin:
        g.lds_admitted = current_admission().token(principal.id)


def _leave(exc: BaseException | None = None) -> None:
    held = g.pop("lds_admitted", None)
    if held is not None:
        held.release()


def heavy_slot(heavy: bool, hint: str = "") -> AbstractContextManager[Any]:
    """A heavy slot for the rest of a view when ``heavy`` (503 with Retry-After when none frees in time)."""
    return current_admission().heavy(hint) if heavy else nullcontext()
