"""``GET /``: a demo map to try every LDS service in a browser, with no internet needed.

The page (``lds/static/demo/``) uses MapLibre GL JS and h3-js, vendored from npm into ``lds/static/vendor/``
(``scripts/vendor_assets.sh``, versions pinned by ``scripts/vendor/package-lock.json``); Flask's own static route
serves those files at ``/static/...``. The page calls the public API with the token typed into it, so it proves
nothing the API does not. Its basemap is ``demo_basemap_style`` when that style answers, else the extract's
own roads through the Maps API (``lds.roads`` on ``carto_dw``).
"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response

from lds.api.context import current_lds
from lds.errors import NotFound

bp = Blueprint("demo", __name__)

PAGE = Path(__file__).resolve().parent.parent / "static" / "demo" / "index.html"
CONFIG_MARK = "{{LDS_CONFIG}}"


def page_config(lds) -> dict:
    """What the page needs to know before it calls the API: where the data is and the limits it may ask."""
    s = lds.settings
    return {
        "auth": s.auth,  # whether the page must wait for a token before it calls anything
        "bbox": lds.data.meta.get("bbox"),
        "modes": list(lds.graphs),
        "basemap_style": s.demo_basemap_style,
        "roads": {"connection": "carto_dw", "table": "lds.roads"},
        "max_ranges": s.max_ranges,
        "max_time_s": s.max_isoline_time_s,
        "max_distance_m": s.max_isoline_distance_m,
        "h3_resolution": min(s.h3_isoline_resolution, s.h3_isoline_max_resolution),
        "h3_max_resolution": s.h3_isoline_max_resolution,
    }


@bp.get("/")
def page():
    lds = current_lds()
    if not lds.settings.demo_page:
        raise NotFound("Not found: no such endpoint (the demo page is off: demo_page)")
    # JSON in a non-executed <script type="application/json">: "<" escaped so no value can close the tag
    config = json.dumps(page_config(lds)).replace("<", "\\u003c")
    html = PAGE.read_text(encoding="utf-8").replace(CONFIG_MARK, config)
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-cache"})
