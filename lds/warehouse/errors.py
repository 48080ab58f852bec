"""Errors of the warehouse layer, each with the HTTP status the SQL and Connections APIs answer with."""

from __future__ import annotations

import re

from lds.errors import BadRequest, LdsError, Unavailable


class WarehouseError(BadRequest):
    """The warehouse refused the statement (syntax, missing table, type error...): its own message, 400."""


class ConnectionFailed(BadRequest):
    """The warehouse cannot be reached or refused the credentials: the driver's reason, password scrubbed."""


class StatementTimeout(LdsError):
    """The statement ran past its time limit and was cancelled in the warehouse."""

    status = 400


class RowLimitExceeded(LdsError):
    """The result has more rows than a synchronous query may return."""

    status = 400


class QueryCancelled(LdsError):
    """The statement was cancelled on request (a job's DELETE)."""

    status = 400


class WarehouseBusy(Unavailable):
    """No pooled connection became free in time."""


_PASSWORD_IN_TEXT = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def scrub(message: str, *secrets: str | None) -> str:
    """``message`` with every given secret and any ``password=...`` replaced by ``***``."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return _PASSWORD_IN_TEXT.sub(r"\1***", message)
