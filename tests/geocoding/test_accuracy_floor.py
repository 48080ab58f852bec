"""Regression guard: top-1 accuracy within 25 m on fixed samples of the real extracts, over noisy query
variants built from each address's own tags (scripts/bench_geocoding.py measures the full picture)."""

from __future__ import annotations

import random

import osmium
import pytest
import shapely

from lds.geo import distance_m
from lds.geocoding.normalize import name_key, strip_accents
from lds.geocoding.reverse import reverse
from lds.geocoding.search import geocode

FLOOR = 0.95
REVERSE_FLOOR = 0.99


def truth(pbf) -> list[dict]:
    out = []
    fp = osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(
        osmium.filter.KeyFilter("addr:housenumber"))
    for o in fp:
        street, hn = o.tags.get("addr:street"), o.tags.get("addr:housenumber")
        if not street or not hn:
            continue
        if o.is_node():
            lat, lon = o.location.lat, o.location.lon
        else:
            if len(o.nodes) < 4 or not all(n.location.valid() for n in o.nodes) or o.nodes[0].ref != o.nodes[-1].ref:
                continue
            poly = shapely.Polygon([(n.location.lon, n.location.lat) for n in o.nodes])
            c = poly.centroid if poly.contains(poly.centroid) else poly.point_on_surface()
            lat, lon = c.y, c.x
        out.append({"lat": lat, "lon": lon, "hn": hn.strip(), "street": " ".join(street.split()),
                    "tail": " ".join(x for x in (o.tags.get("addr:postcode"), o.tags.get("addr:city")) if x)})
    same: dict[tuple, list] = {}
    for a in out:  # objects sharing one address are all right answers
        same.setdefault((name_key(a["street"]), a["hn"].lower()), []).append((a["lat"], a["lon"]))
    for a in out:
        a["points"] = same[(name_key(a["street"]), a["hn"].lower())]
    return out


def typo(word: str, rng: random.Random) -> str:
    i = rng.choice([k for k, c in enumerate(word) if c.isalpha()])
    return word[:i] + word[i + 1:] if rng.random() < 0.5 else word[:i] + "x" + word[i + 1:]


def variants(a: dict, rng: random.Random) -> list[str]:
    tail = f", {a['tail']}" if a["tail"] else ""
    full = f"{a['hn']} {a['street']}{tail}"
    return [full, full.lower(), strip_accents(full), f"{a['street']} {a['hn']}{tail}", f"{a['hn']} {a['street']}",
            f"{a['hn']} {typo(a['street'], rng)}{tail}", f"{a['hn']} {a['street']}, 3rd floor{tail}"]


@pytest.mark.parametrize("which,size", [("monaco", 400), ("copenhagen", 250)])
def test_accuracy_floor(which, size, request, shared_data):
    index = request.getfixturevalue(f"{which}_index")
    pbf = shared_data / ("monaco-2020-07.osm.pbf" if which == "monaco" else "copenhagen-2011.osm.pbf")
    rng = random.Random(11)
    addresses = truth(pbf)
    sample = rng.sample(addresses, min(size, len(addresses)))
    right = total = 0
    misses = []
    for a in sample:
        for text in variants(a, rng):
            found = geocode(index, text, limit=1)
            ok = bool(found) and min(distance_m(found[0]["longitude"], found[0]["latitude"], lo, la)
                                     for la, lo in a["points"]) <= 25
            right += ok
            total += 1
            if not ok:
                misses.append(text)
    assert right / total >= FLOOR, (right / total, misses[:10])

    at_point: dict[tuple, set] = {}
    for a in addresses:  # several numbers on one point (a building with two entrances tagged alike): any counts
        at_point.setdefault((a["lat"], a["lon"]), set()).add(a["hn"].lower())
    rev_ok = 0
    for a in sample:
        r = reverse(index, a["lat"], a["lon"])[0]
        rev_ok += (r["streetNumber"] or "").lower() in at_point[(a["lat"], a["lon"])]
    assert rev_ok / len(sample) >= REVERSE_FLOOR
