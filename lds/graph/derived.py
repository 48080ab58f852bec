"""The arrays `lds build` derives from a graph for serving (:data:`lds.formats.DERIVED_ARRAYS`), read back.

Each serving structure (the isolines' search index, the claiming roads, the park and walk network) is mapped from
these files when the build wrote them, and computed at load as before when it did not (a data dir built by an older
lds). Imports nothing of lds but the formats, so any module may use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lds.formats import DERIVED_ARRAYS, DERIVED_PREFIX


def derived(graph: Any, part: str) -> dict[str, np.ndarray] | None:
    """The arrays of ``part`` the build derived from ``graph``, as plain ndarray views of the mapped files (element
    access on a np.memmap goes through Python code); None when the build has not written them all."""
    arrays = getattr(graph, "arrays", None) or {}
    found = {}
    for name in DERIVED_ARRAYS[part]:
        array = arrays.get(f"{DERIVED_PREFIX}{part}_{name}")
        if array is None:
            return None
        found[name] = np.asarray(array)
    return found
