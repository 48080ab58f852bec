"""GET|POST /v3/lds/routing: origin/destination as lon,lat, waypoints as lat,lon pairs."""

from __future__ import annotations

from flask import Blueprint, jsonify

from lds.api import params as p
from lds.api.access import charge
from lds.api.context import current_lds
from lds.api.envelope import lds_ok

bp = Blueprint("routing", __name__)


@bp.route("/v3/lds/routing", methods=["GET", "POST"])
def routing():
    args = p.request_params()
    lds = current_lds()
    origin = p.lonlat("origin", args.get("origin"))
    destination = p.lonlat("destination", args.get("destination"))
    waypoints = p.latlon_list("waypoints", args.get("waypoints"), most=lds.settings.max_waypoints)
    mode = p.choice("mode", args.get("mode"), lds.graphs, default="car")
    charge("routing")
    return jsonify(lds_ok([lds.route(origin, destination, waypoints, mode)]))
