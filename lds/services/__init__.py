"""The answer services, each declared once; the HTTP layer, fast path, cache, CLI and job kinds derive from it."""

from lds.services.declarations import BATCH, GEOCODE, ISOLINES, ISOLINES_H3, MATRIX, REVERSE, ROUTING, SERVICES
from lds.services.registry import NO_RESULT, Job, Param, Service, answer, core_kwargs, lds_ok, parse, run, wants_job

__all__ = ["BATCH", "GEOCODE", "ISOLINES", "ISOLINES_H3", "MATRIX", "NO_RESULT", "REVERSE", "ROUTING", "SERVICES", "Job",
           "Param", "Service", "answer", "core_kwargs", "lds_ok", "parse", "run", "wants_job"]
