"""Structured logs: one JSON object per line (``log_format=json``) for log shippers, or plain text.

A record's ``fields`` extra (a dict) is merged into the JSON object, which is how request logs carry
method, path, status, duration and cache outcome as separate keys.
"""

from __future__ import annotations

import logging
import sys
import time

from lds import fastjson

_HANDLER_NAME = "lds"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        doc = {"ts": ts, "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        fields = getattr(record, "fields", None)
        if fields:
            doc.update(fields)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return fastjson.dumps(doc, default=str).decode()


def make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Point the root logger at stderr with the chosen format; calling it again replaces our handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(make_formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Neither format prints source file, thread or process, so skip collecting them for every record
    # (the knobs the logging HOWTO lists under "Optimization"; one request log line per request adds up).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
