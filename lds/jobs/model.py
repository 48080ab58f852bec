"""The job record, its statuses (CARTO's vocabulary) and the chunk codec shared by both stores."""

from __future__ import annotations

import time
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from lds import fastjson

PENDING, RUNNING, SUCCESS, FAILURE, CANCELLED = "pending", "running", "success", "failure", "cancelled"
STATUSES = (PENDING, RUNNING, SUCCESS, FAILURE, CANCELLED)
FINAL = frozenset((SUCCESS, FAILURE, CANCELLED))
MAX_LOG_LINES = 1000  # a job keeps its last this many log lines
MAX_LOG_CHARS = 2000  # longer log lines are cut


def log_line(message: str) -> str:
    """A log message as stored: a UTC timestamp, then the text (cut to MAX_LOG_CHARS)."""
    text = str(message)
    if len(text) > MAX_LOG_CHARS:
        text = text[: MAX_LOG_CHARS - 3] + "..."
    return time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + text


@dataclass
class JobRecord:
    """What is known about one job; ``done`` counts items whose chunk has been stored."""

    id: str
    kind: str
    total: int
    chunk_size: int
    params: dict[str, Any] = field(default_factory=dict)
    status: str = PENDING
    done: int = 0
    created_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    owner: str | None = None
    data_version: str | None = None
    result: dict[str, Any] | None = None  # what a task (lds.jobs.tasks) returned, once it succeeded
    logs: list[str] = field(default_factory=list)  # a task's log lines, oldest first (the last MAX_LOG_LINES)

    @property
    def chunks(self) -> int:
        return chunk_count(self.total, self.chunk_size)

    @property
    def finished(self) -> bool:
        return self.status in FINAL

    def static_fields(self) -> dict[str, Any]:
        """The fields fixed at submission (the mutable ones live beside them in each store)."""
        d = asdict(self)
        for name in ("status", "done", "started_at", "ended_at", "error", "result", "logs"):
            d.pop(name)
        return d


def new_job(kind: str, total: int, chunk_size: int, params: dict[str, Any], owner: str | None,
            data_version: str | None) -> JobRecord:
    return JobRecord(id=uuid.uuid4().hex, kind=kind, total=total, chunk_size=chunk_size, params=params,
                     created_at=time.time(), owner=owner, data_version=data_version)


def chunk_count(total: int, chunk_size: int) -> int:
    return (total + chunk_size - 1) // chunk_size


def chunk_len(total: int, chunk_size: int, n: int) -> int:
    return min(chunk_size, total - n * chunk_size)


def split(items: list, chunk_size: int) -> list[list]:
    return [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]


def pack(value: Any) -> bytes:
    """A chunk (inputs or results) as compressed JSON: result chunks of 1,000 addresses shrink ~6x."""
    return zlib.compress(fastjson.dumps(value), 1)


def unpack(blob: bytes) -> Any:
    return fastjson.loads(zlib.decompress(blob))
