"""The SQL Model API's models (``/v3/sql/{connection}/model/{model}``): the figures CARTO's widgets show.

Each model is one (or two) SQL statements over a checked source (:mod:`lds.maps.source`) with the client's
filters (:mod:`lds.maps.filters`), computed in the warehouse; nothing here imports Flask. The answer is the
JSON the widget sources of ``@carto/api-client`` read: ``{"rows": [...], "metadata": {...}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lds.errors import BadRequest
from lds.models.context import ModelContext
from lds.models.stats import aggregations, category, formula, histogram, range_, scatterplot
from lds.models.table import table
from lds.models.timeseries import timeseries

__all__ = ["MODELS", "ModelContext", "run_model"]

MODELS: dict[str, Callable[[ModelContext, dict[str, Any]], dict[str, Any]]] = {
    "formula": formula,
    "category": category,
    "histogram": histogram,
    "range": range_,
    "scatterplot": scatterplot,
    "table": table,
    "timeseries": timeseries,
    "aggregations": aggregations,
}


def run_model(name: str, ctx: ModelContext, params: Any) -> dict[str, Any]:
    """The answer of model ``name`` with the model's ``params`` (an object) over ``ctx``'s filtered source."""
    model = MODELS.get(name)
    if model is None:
        raise BadRequest(f"unknown model {str(name)[:40]!r}: one of {', '.join(MODELS)}")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise BadRequest("'params' must be a JSON object with the model's parameters")
    if params.get("featureIds"):
        raise BadRequest("featureIds (a selection of picked features) is not supported; use filters")
    return model(ctx, params)
