"""The in-process job runner used without Redis (embedded default; single node only).

Jobs live in a :class:`~lds.jobs.file_store.FileJobStore`; each process keeps a small thread pool
(``job_local_threads``). A job is run by whichever process holds the ``flock`` on its lease file,
chunk after chunk in order; if that process dies the kernel drops the lock, and the periodic scan
of any live process on the machine (or of the restarted service) takes the job over and carries
on from its first missing chunk (a task, :mod:`lds.jobs.tasks`, is failed or run again per its kind).
Threads and locks are created lazily per process, so the runner survives gunicorn's fork after preload.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lds.jobs.chunks import run_chunk
from lds.jobs.file_store import FileJobStore
from lds.jobs.model import FAILURE, JobRecord
from lds.jobs.tasks import find_task, run_task

log = logging.getLogger("lds.jobs")


class LocalRunner:
    """Thread pool + lease scan over a file job store."""

    def __init__(self, store: FileJobStore, lds: Any, threads: int, scan_s: float, retries: int,
                 settings: Any = None):
        self.store = store
        self.settings = settings
        self.lds = lds
        self.threads = max(1, threads)
        self.scan_s = scan_s
        self.retries = retries
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self.admission: Any = None  # lds.admission.Admission of the app: each chunk takes a heavy slot

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start this process's pool and scanner (again after a fork); cheap when already running."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            self._running = set()
            self._stop = threading.Event()
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="lds-job")
            threading.Thread(target=self._scan_loop, name="lds-job-scan", daemon=True).start()
            self._pid = os.getpid()

    def stop(self) -> None:
        self._stop.set()
        if self._executor is not None and self._pid == os.getpid():
            self._executor.shutdown(wait=True, cancel_futures=True)
        self._pid = None

    def enqueue(self, rec: JobRecord) -> None:
        self.start()
        self._submit(rec.id)

    def cancel(self, rec: JobRecord) -> None:
        """Nothing to remove: the running thread sees the final status before its next chunk."""

    def depth(self) -> int:
        """Chunks of unfinished jobs not yet stored (what is left to do on this node)."""
        left = 0
        for job_id in self.store.job_ids():
            rec = self.store.load(job_id)
            if rec is not None and not rec.finished:
                left += rec.chunks - len(self.store.done_chunks(job_id))
        return left

    # --- work --------------------------------------------------------------------------------
    def _submit(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._running or self._executor is None:
                return
            self._running.add(job_id)
        self._executor.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        try:
            with open(self.store.lease_path(job_id), "a+b") as lease:
                try:
                    fcntl.flock(lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return  # another process runs it
                self._run_leased(job_id)
        except FileNotFoundError:
            return  # the job expired
        except Exception:
            log.exception("job %s: runner error", job_id)
        finally:
            with self._lock:
                self._running.discard(job_id)

    def _run_leased(self, job_id: str) -> None:
        rec = self.store.load(job_id)
        if rec is None:
            return
        if find_task(rec.kind) is not None:  # one long task: no heavy slot (it would hold one for its whole run)
            run_task(self.store, self.settings, self.lds, job_id)
            return
        done = self.store.done_chunks(job_id)
        for n in range(rec.chunks):
            if n in done:
                continue
            if self._stop.is_set():
                return
            held = self.admission.background(self._stop) if self.admission is not None else None
            if self.admission is not None and held is None:
                return  # stopping while waiting for a heavy slot
            try:
                current = self.store.load(job_id)  # after the wait: it may have been cancelled meanwhile
                if current is None or current.finished:
                    return
                for attempt in range(self.retries + 1):
                    try:
                        run_chunk(self.store, self.lds, job_id, n)
                        break
                    except Exception as exc:  # noqa: BLE001 - any chunk error counts against the retry budget
                        log.warning("job %s chunk %s attempt %s failed: %s", job_id, n, attempt + 1, exc)
                        if attempt == self.retries:
                            self.store.finish(job_id, FAILURE, f"chunk {n} failed after {self.retries} retries: "
                                                               f"{type(exc).__name__}: {exc}")
                            return
            finally:
                if held is not None:
                    held.release()

    def _scan_loop(self) -> None:
        while not self._stop.wait(self.scan_s):
            self.scan()

    def scan(self) -> None:
        """Pick up unfinished jobs whose lease is free (their process died) and drop expired ones."""
        try:
            self.store.expire()
            for job_id in self.store.job_ids():
                rec = self.store.load(job_id)
                if rec is not None and not rec.finished:
                    self._submit(job_id)
        except Exception:
            log.exception("job scan failed")
