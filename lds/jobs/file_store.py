"""Jobs on the local disk (``state_dir/jobs``) for the embedded mode without Redis.

Every fact is its own file, written atomically (temporary file + rename, or exclusive create), so
several gunicorn workers of one machine can read and advance the same jobs without a lock server::

    jobs/<id>/job.json      the fixed fields (kind, total, chunk size, params, owner, created_at)
    jobs/<id>/in/<n>        packed items of chunk n (removed when the job ends)
    jobs/<id>/out/<n>       packed results of chunk n
    jobs/<id>/started       time the first chunk started
    jobs/<id>/final.json    status, ended_at, error (and a task's result): created exactly once
    jobs/<id>/logs          a task's log lines, one JSON string per line (appended with O_APPEND)
    jobs/<id>/attempts      how many times a task was started (written by the lease holder only)
    jobs/<id>/lease         flock()ed by the process running the job; the kernel releases it if that
                            process dies, so another process (or the restarted service) resumes the job
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lds.jobs.model import (
    CANCELLED,
    FAILURE,
    MAX_LOG_LINES,
    PENDING,
    RUNNING,
    SUCCESS,
    JobRecord,
    chunk_len,
    log_line,
    pack,
    split,
    unpack,
)


class FileJobStore:
    """Job records, chunk inputs and results as files under one directory (single node only)."""

    backend = "local"

    def __init__(self, root: str | Path, result_ttl_s: int):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.result_ttl_s = result_ttl_s

    def _dir(self, job_id: str) -> Path:
        if not job_id.isalnum():  # ids are uuid hex; anything else must not become a path
            raise KeyError(job_id)
        return self.root / job_id

    def lease_path(self, job_id: str) -> Path:
        return self._dir(job_id) / "lease"

    # --- writing ---------------------------------------------------------------------------
    def create(self, rec: JobRecord, items: list) -> None:
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".new-"))
        (tmp / "in").mkdir()
        (tmp / "out").mkdir()
        for n, chunk in enumerate(split(items, rec.chunk_size)):
            (tmp / "in" / str(n)).write_bytes(pack(chunk))
        (tmp / "job.json").write_text(json.dumps(rec.static_fields()))
        (tmp / "lease").touch()
        os.rename(tmp, self._dir(rec.id))  # the job appears whole or not at all

    def mark_running(self, job_id: str) -> None:
        _create_once(self._dir(job_id) / "started", repr(time.time()).encode())

    def save_chunk(self, job_id: str, n: int, results: list) -> bool:
        d = self._dir(job_id)
        if (d / "final.json").exists():
            return False
        self.mark_running(job_id)
        stored = _create_once(d / "out" / str(n), pack(results))
        if stored:
            rec = self.load(job_id)
            if rec is not None and rec.done >= rec.total:
                self._finalise(job_id, SUCCESS, None)
        return stored

    def finish(self, job_id: str, status: str, error: str | None = None) -> str | None:
        assert status in (CANCELLED, FAILURE)
        rec = self.load(job_id)
        if rec is None:
            return None
        if rec.finished:
            return rec.status
        return rec.status if self._finalise(job_id, status, error) else self.load(job_id).status

    def complete(self, job_id: str, result: dict[str, Any]) -> bool:
        """End an unfinished task as a success with ``result``; False when it had already ended."""
        return self._finalise(job_id, SUCCESS, None, result)

    def append_log(self, job_id: str, message: str) -> None:
        line = (json.dumps(log_line(message)) + "\n").encode()
        fd = os.open(self._dir(job_id) / "logs", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)  # one write of a short line: whole lines even with several writers
        finally:
            os.close(fd)

    def begin_attempt(self, job_id: str) -> int:
        """Count one more start of the task (the caller holds its lease); returns the count."""
        path = self._dir(job_id) / "attempts"
        n = int(_read(path) or 0) + 1
        tmp = path.with_name(f".attempts-{os.getpid()}")
        tmp.write_text(str(n))
        os.replace(tmp, path)
        return n

    def status(self, job_id: str) -> str | None:
        """The job's status alone (cheap: what a running task polls to see a cancel)."""
        try:
            d = self._dir(job_id)
        except KeyError:
            return None
        final = _read(d / "final.json")
        if final:
            return json.loads(final)["status"]
        if not (d / "job.json").exists():
            return None
        return RUNNING if (d / "started").exists() else PENDING

    def _finalise(self, job_id: str, status: str, error: str | None, result: dict[str, Any] | None = None) -> bool:
        d = self._dir(job_id)
        final = {"status": status, "ended_at": time.time(), "error": error}
        if result is not None:
            final["result"] = result
        made = _create_once(d / "final.json", json.dumps(final).encode())
        if made:
            shutil.rmtree(d / "in", ignore_errors=True)
        return made

    # --- reading ---------------------------------------------------------------------------
    def load(self, job_id: str) -> JobRecord | None:
        try:
            d = self._dir(job_id)
            static = json.loads((d / "job.json").read_text())
        except (KeyError, FileNotFoundError):
            return None
        rec = JobRecord(**static)
        done = self.done_chunks(job_id)
        rec.done = sum(chunk_len(rec.total, rec.chunk_size, n) for n in done)
        started = _read(d / "started")
        rec.started_at = float(started) if started else None
        final = _read(d / "final.json")
        if final:
            f = json.loads(final)
            rec.status, rec.ended_at, rec.error = f["status"], f["ended_at"], f["error"]
            rec.result = f.get("result")
        else:
            rec.status = RUNNING if rec.started_at else PENDING
        logs = _read(d / "logs")
        if logs:
            rec.logs = [json.loads(line) for line in logs.splitlines()[-MAX_LOG_LINES:] if line]
        return rec

    def load_many(self, job_ids: list[str]) -> list[JobRecord | None]:
        return [self.load(job_id) for job_id in job_ids]

    def chunk_input(self, job_id: str, n: int) -> list | None:
        blob = _read_bytes(self._dir(job_id) / "in" / str(n))
        return None if blob is None else unpack(blob)

    def chunk_done(self, job_id: str, n: int) -> bool:
        return (self._dir(job_id) / "out" / str(n)).exists()

    def done_chunks(self, job_id: str) -> set[int]:
        try:
            return {int(name) for name in os.listdir(self._dir(job_id) / "out") if name.isdigit()}
        except FileNotFoundError:
            return set()

    def chunk_results(self, job_id: str, numbers: list[int]) -> list[list]:
        out = []
        for n in numbers:
            blob = _read_bytes(self._dir(job_id) / "out" / str(n))
            if blob is None:
                raise LookupError(f"job {job_id}: results of chunk {n} are missing")
            out.append(unpack(blob))
        return out

    def job_ids(self) -> list[str]:
        return [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]

    def active_ids(self) -> list[str]:
        """Ids of jobs that have not ended."""
        return [i for i in self.job_ids() if not (self.root / i / "final.json").exists()]

    def stats(self) -> dict[str, Any]:
        active, finished = 0, {}
        for job_id in self.job_ids():
            final = _read(self._dir(job_id) / "final.json")
            if final:
                status = json.loads(final)["status"]
                finished[status] = finished.get(status, 0) + 1
            else:
                active += 1
        return {"active": active, "finished": finished}

    def expire(self, now: float | None = None) -> int:
        """Delete jobs that ended more than ``result_ttl_s`` ago (and their leftovers); returns how many."""
        now = time.time() if now is None else now
        removed = 0
        for job_id in self.job_ids():
            final = _read(self._dir(job_id) / "final.json")
            if final and json.loads(final)["ended_at"] + self.result_ttl_s < now:
                shutil.rmtree(self._dir(job_id), ignore_errors=True)
                removed += 1
        return removed


def _create_once(path: Path, data: bytes) -> bool:
    """Write ``path`` atomically unless it exists; True when this call created it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.link(tmp, path)  # fails if the file exists: first writer wins
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
