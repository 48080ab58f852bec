"""The answer endpoints over Flask, one route per declared service (:mod:`lds.services`).

Each view reads the parameters (query merged with a JSON body, body winning), then either queues a job
(a batch too big, or asked, to answer inline) or charges the quota and answers with CARTO's LDS envelope
``[{"error": ..., "value": ...}]``. No geocoding match, and a reverse point outside the data, are error
*entries* with HTTP 200; malformed requests are 4xx errors. Plain GETs rarely get here: the fast path
below Flask (:mod:`lds.api.hotpath`) answers them with the same steps.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from lds.api import params as p
from lds.api.access import charge
from lds.api.admission import heavy_slot
from lds.api.context import current_lds
from lds.errors import BadRequest
from lds.services import SERVICES, Service, parse, run, wants_job
from lds.services.registry import is_heavy

bp = Blueprint("answers", __name__)


def _body_args(field: str) -> dict[str, Any]:
    """Query parameters under a required JSON body, where a bare array stands for ``field``."""
    body = p.request_json()
    example = f'{{"{field}": [...]}}'
    if body is None:
        raise BadRequest(f"request body must be JSON: {example}")
    if isinstance(body, list):
        body = {field: body}
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object: {example}")
    return {**request.args.to_dict(), **body}


def _view(service: Service):
    def view():
        lds = current_lds()
        args = _body_args(service.body_list) if service.body_list else p.request_params()
        values = parse(service, args, lds)
        if wants_job(service, values, lds.settings):
            from lds.api.jobs import accept_job

            job = service.job
            params = {k: values[k] for k in service.core_keys if k != job.items}
            return accept_job(job.kind, values[job.items], params)
        hint = "or send it as a job (?async=true)" if service.job is not None else ""
        with heavy_slot(is_heavy(service, values, lds.settings), hint):  # before the charge: a 503 costs nothing
            return jsonify(run(service, lds, values, charge))

    view.__name__ = service.name
    view.__doc__ = f"{'|'.join(service.methods)} {service.path}"
    return view


for _service in SERVICES.values():
    bp.add_url_rule(_service.path, _service.name, _view(_service), methods=list(_service.methods))
