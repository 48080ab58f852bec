"""Batch jobs: chunked, resumable work on a Redis queue (RQ) or an in-process thread pool."""

from lds.jobs.kinds import KINDS, JobKind, register
from lds.jobs.model import STATUSES, JobRecord
from lds.jobs.service import JobService

__all__ = ["KINDS", "STATUSES", "JobKind", "JobRecord", "JobService", "register"]
