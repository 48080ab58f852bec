"""Keep token strings out of logs: ``?access_token=...`` values, ``/v3/tokens/<token>`` paths and
anything shaped like an lds token are replaced before a record reaches any handler."""

from __future__ import annotations

import logging
import re

_PARAM = re.compile(r"(access_token=)[^&\s\"]*", re.IGNORECASE)
_TOKENS_PATH = re.compile(r"(/v3/tokens/)[^/?\s\"<][^/?\s\"]*")  # a route rule's <path:token> stays
_TOKEN = re.compile(r"lds_[A-Za-z0-9_-]{20,}")
_REDACTED = "[redacted]"
# request logs of the app (lds.api.metrics), of gunicorn if an access log is configured, of `flask run`
REQUEST_LOGGERS = ("lds.request", "gunicorn.access", "werkzeug")


def redact(text: str) -> str:
    """``text`` with token values replaced by ``[redacted]``."""
    # Fast path: most log lines carry no token at all, and the regexes cost ~50 us a line.
    if "lds_" not in text and "/v3/tokens/" not in text and "access_token" not in text.lower():
        return text
    text = _PARAM.sub(r"\1" + _REDACTED, text)
    text = _TOKENS_PATH.sub(r"\1" + _REDACTED, text)
    return _TOKEN.sub(_REDACTED, text)


def _clean(value):
    return redact(value) if isinstance(value, str) else value


class RedactFilter(logging.Filter):
    """Redacts a record's message, arguments and structured ``fields`` in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: _clean(v) for k, v in fields.items()}
        return True


def install_log_redaction(names: tuple[str, ...] = REQUEST_LOGGERS) -> None:
    """Attach :class:`RedactFilter` to the request loggers (once each)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())
