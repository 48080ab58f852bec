"""GET|POST /v3/lds/isolines: one MultiPolygon per requested range."""

from __future__ import annotations

from flask import Blueprint, jsonify

from lds.api import params as p
from lds.api.access import charge
from lds.api.context import current_lds
from lds.api.envelope import lds_ok

bp = Blueprint("isolines", __name__)


@bp.route("/v3/lds/isolines", methods=["GET", "POST"])
def isolines():
    args = p.request_params()
    lds = current_lds()
    s = lds.settings
    origin = p.lonlat("origin", args.get("origin"))
    mode = p.choice("mode", args.get("mode"), lds.graphs, default="car")
    range_type = p.choice("range_type", args.get("range_type"), ("time", "distance"), default="time")
    high = s.max_isoline_time_s if range_type == "time" else s.max_isoline_distance_m
    ranges = p.number_list("range", args.get("range"), low=1, high=high, most=s.max_ranges)
    charge("isolines")
    return jsonify(lds_ok(lds.isolines(origin, ranges, range_type, mode)))
