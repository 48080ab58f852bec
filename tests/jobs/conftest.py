import random

import pytest
from redisfixtures import *

from lds.errors import LdsError


@pytest.fixture(scope="session")
def monaco_addresses(lds_core) -> list[str]:
    """Distinct real addresses of Monaco as the index formats them (reverse geocoding of road nodes)."""
    graph = lds_core.graphs["car"]
    rng = random.Random(5)
    found: dict[str, None] = {}
    for _ in range(3000):
        i = rng.randrange(graph.n_nodes)
        try:
            answer = lds_core.reverse(float(graph.node_lat[i]), float(graph.node_lon[i]))
        except LdsError:
            continue
        if answer and answer[0].get("formattedAddress"):
            found.setdefault(answer[0]["formattedAddress"], None)
        if len(found) >= 60:
            break
    return list(found)
