"""Running one chunk of a job: the unit of work, progress and retry for both runners."""

from __future__ import annotations

from typing import Any

from lds.data_follow import at_version
from lds.jobs.kinds import get_kind


def run_chunk(store: Any, lds: Any, job_id: str, n: int) -> bool:
    """Compute chunk ``n`` of ``job_id`` and store it; False when there was nothing to do.

    Safe to call twice for the same chunk (a retry after a lost worker): the store keeps the first
    results and ignores the second, and an ended (cancelled, failed) job is left alone.
    """
    rec = store.load(job_id)
    if rec is None or rec.finished or store.chunk_done(job_id, n):
        return False
    items = store.chunk_input(job_id, n)
    if items is None:  # the job ended between the two reads
        return False
    store.mark_running(job_id)
    lds = at_version(lds, rec.data_version)  # a job finishes on the data it started with (lds.data_follow)
    results = get_kind(rec.kind).run(lds, rec.params, items)
    if len(results) != len(items):
        raise RuntimeError(f"job {job_id} chunk {n}: {len(results)} results for {len(items)} items")
    return store.save_chunk(job_id, n, results)
