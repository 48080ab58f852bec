"""A synthetic country as an .osm.pbf: a deterministic, plausible national road network of any size, for scale.

No country-sized extract can be downloaded here, so this makes one: towns and cities on a jittered lattice,
grid-patterned (one-way streets alternating, US style) or organic (jittered, curved, with gaps and dead ends),
joined by tertiary/secondary/primary roads and trunk corridors, motorways (dual carriageways with junctions and
links) along every MOTORWAY_EVERY-th lattice row, roundabouts at town entries, bridges, tunnels, a few ferries,
barriers, turn restrictions, maxspeeds, footways and service roads; addresses along the streets (house numbers,
interpolation ways, postcodes, cities), admin areas (country, regions, towns), places and POIs. Everything is
drawn from ``--seed``, so the same arguments make the same file. ``--buildings F`` puts a share F of the addresses
on building outlines (closed ways tagged building=house with the address), as much of Europe maps them, instead of
on nodes; the default 0 makes the same file as before the option.

    .venv/bin/python scripts/synth_country.py --nodes 1000000 --seed 1 --out country.osm.pbf
    .venv/bin/python scripts/synth_country.py --nodes 1000000 --seed 1 --buildings 0.5 --out country-bld.osm.pbf

The generator runs three times with the same seed (nodes, then ways, then relations) so the file comes out in
the order PBF readers expect while memory stays bounded by one town.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EARTH_M_PER_DEG = 111_320.0
ORIGIN = (9.0, 50.0)  # south-west corner of the country (lon, lat)
TOWN_SPACING_M = 8000.0  # lattice distance between town centres
BLOCK_M = 90.0  # street spacing in towns
MOTORWAY_EVERY = 6  # every n-th lattice row carries a motorway
TRUNK_EVERY = 3  # every n-th lattice column carries a trunk road
REGION_TOWNS = 8  # regions are REGION_TOWNS x REGION_TOWNS towns
FERRY_SHARE = 0.01  # of the links between neighbouring towns
AVG_TOWN_NODES = 2200.0  # rough nodes per town with its roads, to size the lattice
# a house outline (--buildings) around its address point, metres along and across the street: 10 x 8 m
HOUSE_X = np.array([-5.0, 5.0, 5.0, -5.0])
HOUSE_Y = np.array([-4.0, -4.0, 4.0, 4.0])

SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ren",
    "sta",
    "bur",
    "vel",
    "dor",
    "an",
    "te",
    "sil",
    "mar",
    "ho",
    "ve",
    "ner",
    "gal",
    "tor",
    "ri",
    "bel",
    "sen",
    "wal",
    "ku",
    "fen",
    "ol",
    "pra",
    "lin",
    "dun",
    "es",
    "tha",
    "mo",
)
SUFFIXES = ("burg", "ton", "ville", "dorf", "stad", "ham", "field", "heim", "ford", "wick")
STREET_WORDS = (
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Birch",
    "Willow",
    "Ash",
    "Linden",
    "Chestnut",
    "Poplar",
    "Hazel",
    "Rowan",
    "Alder",
    "Juniper",
    "Laurel",
    "Holly",
    "Spruce",
    "Cherry",
    "Walnut",
    "River",
    "Lake",
    "Hill",
    "Mill",
    "Church",
    "School",
    "Market",
    "Station",
    "Garden",
    "Park",
    "Meadow",
    "Forest",
    "Bridge",
    "Castle",
    "Harbor",
    "Spring",
    "Sunset",
    "Union",
    "Liberty",
    "Victoria",
    "King",
    "Queen",
    "Prince",
    "Baker",
    "Miller",
    "Smith",
    "Weaver",
    "Potter",
    "Fisher",
    "Hunter",
    "North",
    "South",
    "East",
    "West",
)
ROW_KINDS = ("Street", "Road", "Lane", "Way", "Drive")
COL_KINDS = ("Avenue", "Boulevard", "Place", "Terrace", "Court")
POI_TAGS = (
    ("amenity", "restaurant"),
    ("amenity", "cafe"),
    ("amenity", "pharmacy"),
    ("amenity", "school"),
    ("amenity", "fuel"),
    ("shop", "supermarket"),
    ("shop", "bakery"),
    ("amenity", "bank"),
    ("tourism", "hotel"),
    ("amenity", "post_office"),
)


def town_name(k: int) -> str:
    a, b = len(SYLLABLES), len(SUFFIXES)
    parts = [SYLLABLES[k % a], SYLLABLES[(k // a) % a]]
    if k >= a * a * b:
        parts.insert(0, SYLLABLES[(k // (a * a * b)) % a])
    return ("".join(parts) + SUFFIXES[(k // (a * a)) % b]).capitalize()


def street_name(i: int, kinds: tuple[str, ...]) -> str:
    w = len(STREET_WORDS)
    word = STREET_WORDS[i % w]
    if i >= w:
        word = f"{STREET_WORDS[(i // w) % w]} {word}"
    return f"{word} {kinds[(i // (w * w)) % len(kinds)] if i >= w * w else kinds[i % len(kinds)]}"


@dataclass
class Town:
    index: int
    gx: int  # lattice column
    gy: int  # lattice row
    x: float  # centre, metres east of ORIGIN
    y: float  # centre, metres north of ORIGIN
    size: int  # streets per side
    grid: bool  # grid pattern (else organic)
    name: str
    postcode: int


class Sink:
    """What the generator writes to: one kind of object per pass (nodes, ways or relations)."""

    def __init__(self, writer, kind: str):
        import osmium

        self.writer = writer
        self.kind = kind
        self.node_cls = osmium.osm.mutable.Node
        self.way_cls = osmium.osm.mutable.Way
        self.rel_cls = osmium.osm.mutable.Relation
        self.counts = {"nodes": 0, "ways": 0, "relations": 0}

    def nodes(self, ids: np.ndarray, lon: np.ndarray, lat: np.ndarray, tags: dict[int, dict] | None = None) -> None:
        self.counts["nodes"] += len(ids)
        if self.kind != "n":
            return
        tags = tags or {}
        add, cls = self.writer.add_node, self.node_cls
        for i, x, y in zip(ids.tolist(), lon.tolist(), lat.tolist()):
            add(cls(id=i, location=(x, y), tags=tags.get(i, {})))

    def way(self, wid: int, refs, tags: dict) -> None:
        self.counts["ways"] += 1
        if self.kind == "w":
            self.writer.add_way(self.way_cls(id=wid, nodes=[int(r) for r in refs], tags=tags))

    def relation(self, rid: int, members: list[tuple[str, int, str]], tags: dict) -> None:
        self.counts["relations"] += 1
        if self.kind == "r":
            self.writer.add_relation(self.rel_cls(id=rid, members=members, tags=tags))


class Country:
    """The generator: every draw comes from one seeded stream in a fixed order (which addresses are houses from a
    second one), so each pass sees the same country (only the sink differs)."""

    def __init__(self, target_nodes: int, seed: int, buildings: float = 0.0):
        self.target = target_nodes
        self.seed = seed
        self.buildings = buildings
        n_towns = max(4, math.ceil(target_nodes / AVG_TOWN_NODES))
        self.width = max(2, math.ceil(math.sqrt(n_towns)))

    # -- helpers --------------------------------------------------------------------------------------------
    def _lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lat = ORIGIN[1] + np.asarray(y) / EARTH_M_PER_DEG
        lon = ORIGIN[0] + np.asarray(x) / (EARTH_M_PER_DEG * math.cos(math.radians(ORIGIN[1])))
        return np.round(lon, 7), np.round(lat, 7)

    def _new_nodes(self, x, y, tags: dict[int, dict] | None = None) -> np.ndarray:
        x, y = np.atleast_1d(np.asarray(x, dtype=np.float64)), np.atleast_1d(np.asarray(y, dtype=np.float64))
        ids = np.arange(self.next_node, self.next_node + len(x), dtype=np.int64)
        self.next_node += len(x)
        lon, lat = self._lonlat(x, y)
        self.sink.nodes(ids, lon, lat, {int(ids[k]): t for k, t in (tags or {}).items()})
        return ids

    def _way(self, refs, tags: dict) -> int:
        wid = self.next_way
        self.next_way += 1
        self.sink.way(wid, refs, tags)
        return wid

    def _relation(self, members, tags: dict) -> None:
        self.sink.relation(self.next_rel, members, tags)
        self.next_rel += 1

    def _road(
        self,
        x0: float,
        y0: float,
        a: int,
        x1: float,
        y1: float,
        b: int,
        tags: dict,
        spacing: float = 250.0,
        wiggle: float = 40.0,
        structures: bool = True,
    ) -> None:
        """A country road from node ``a`` to node ``b`` with shape nodes; its middle is sometimes a bridge or
        a tunnel (a separate way, as in OSM)."""
        length = math.hypot(x1 - x0, y1 - y0)
        k = max(1, int(length // spacing))
        t = np.linspace(0, 1, k + 1)[1:-1]
        nx, ny = -(y1 - y0) / max(length, 1), (x1 - x0) / max(length, 1)
        off = np.sin(t * math.pi) * self.rng.uniform(-wiggle, wiggle) * min(4.0, k / 4)
        mids = self._new_nodes(x0 + (x1 - x0) * t + nx * off, y0 + (y1 - y0) * t + ny * off)
        refs = np.concatenate([[a], mids, [b]])
        kind = self.rng.random()
        if structures and len(refs) >= 6 and kind < 0.12:
            i, j = len(refs) // 2 - 1, len(refs) // 2 + 1
            extra = {"bridge": "yes", "layer": "1"} if kind < 0.08 else {"tunnel": "yes", "layer": "-1"}
            self._way(refs[: i + 1], tags)
            self._way(refs[i : j + 1], {**tags, **extra})
            self._way(refs[j:], tags)
        else:
            self._way(refs, tags)

    # -- towns ----------------------------------------------------------------------------------------------
    def _towns(self) -> Iterator[Town]:
        rng = self.rng
        k = 0
        while True:
            gy, gx = divmod(k, self.width)
            size = int(np.clip(rng.pareto(1.6) * 7 + 5, 5, 70))
            town = Town(
                k,
                gx,
                gy,
                (gx + 0.5) * TOWN_SPACING_M + rng.uniform(-500, 500),
                (gy + 0.5) * TOWN_SPACING_M + rng.uniform(-500, 500),
                size,
                rng.random() < 0.35,
                town_name(k),
                10000 + k * 10,
            )
            yield town
            k += 1

    def _town(self, t: Town) -> dict[str, int]:
        """Streets, addresses, POIs and the place of one town; returns its entry nodes (W, E, S, N)."""
        rng = self.rng
        s = t.size
        half = (s - 1) * BLOCK_M / 2
        jj, ii = np.meshgrid(np.arange(s), np.arange(s))
        x = t.x - half + jj * BLOCK_M
        y = t.y - half + ii * BLOCK_M
        if not t.grid:  # organic: jittered crossings, the whole town slightly rotated
            x = x + rng.normal(0, BLOCK_M * 0.18, x.shape)
            y = y + rng.normal(0, BLOCK_M * 0.18, y.shape)
            ang = rng.uniform(-0.4, 0.4)
            dx, dy = x - t.x, y - t.y
            x, y = t.x + dx * math.cos(ang) - dy * math.sin(ang), t.y + dx * math.sin(ang) + dy * math.cos(ang)
        ids = self._new_nodes(x.ravel(), y.ravel()).reshape(s, s)
        mid = s // 2
        city = s >= 30
        name_base = int(rng.integers(0, 5000))
        postcodes = [t.postcode, t.postcode + 1] if city else [t.postcode]
        restrictions = []
        n_addr = 0
        for axis in (0, 1):  # rows (along x) then columns (along y)
            for line in range(s):
                refs = ids[line, :] if axis == 0 else ids[:, line]
                lx = x[line, :] if axis == 0 else x[:, line]
                ly = y[line, :] if axis == 0 else y[:, line]
                if line == mid:
                    hw = "primary" if city else "secondary"
                elif line % 5 == 0:
                    hw = "tertiary"
                else:
                    hw = "residential"
                name = street_name(name_base + 2 * line + axis, ROW_KINDS if axis == 0 else COL_KINDS)
                tags = {"highway": hw, "name": name, "maxspeed": "50" if hw != "residential" else "30"}
                if t.grid and hw == "residential":
                    tags["oneway"] = "yes"
                    if line % 2:
                        refs, lx, ly = refs[::-1], lx[::-1], ly[::-1]
                # pieces: organic towns lose some residential segments (gaps, dead ends); arterial crossings
                # with a turn restriction split the way there (OSM restrictions need ways ending at the via)
                cut = np.zeros(s - 1, dtype=bool)
                if not t.grid and hw == "residential":
                    cut = rng.random(s - 1) < 0.08
                splits = set()
                if hw != "residential" and s >= 10 and rng.random() < 0.3:
                    splits.add(int(rng.integers(1, s - 1) // 5 * 5) or 5)
                start = 0
                pieces = []
                for k in range(s - 1):
                    if cut[k]:
                        if k > start:
                            pieces.append((start, k))
                        start = k + 1
                    elif k + 1 in splits and k + 1 < s - 1:
                        pieces.append((start, k + 1))
                        start = k + 1
                if start < s - 1:
                    pieces.append((start, s - 1))
                ways = []
                for a, b in pieces:
                    pr, px, py = refs[a : b + 1], lx[a : b + 1], ly[a : b + 1]
                    if not t.grid and hw == "residential" and b - a >= 1:
                        # curved streets: shape nodes between the crossings, some of them barriers
                        bend = rng.normal(0, 9.0, b - a)
                        sx = (px[:-1] + px[1:]) / 2 + bend
                        sy = (py[:-1] + py[1:]) / 2 - bend
                        barrier = rng.random(b - a) < 0.03
                        btags = {
                            k: {"barrier": "bollard" if rng.random() < 0.5 else "gate"}
                            for k in np.flatnonzero(barrier).tolist()
                        }
                        shape = self._new_nodes(sx, sy, btags)
                        pr = np.column_stack([pr[:-1], shape]).ravel()
                        pr = np.append(pr, refs[b])
                    wid = self._way(pr, tags)
                    ways.append((a, b, wid))
                for via in splits:
                    before = [w for a, b, w in ways if b == via]
                    after = [w for a, b, w in ways if a == via]
                    if before and after:
                        restrictions.append((axis, before[0], int(refs[via]), after[0]))
                # addresses along both sides of residential and tertiary streets
                if hw in ("residential", "tertiary") and rng.random() < 0.85:
                    seg = np.flatnonzero(~cut)
                    if rng.random() < 0.12 and len(seg) >= 2:
                        n_addr += self._interpolation(lx, ly, seg, name, t, postcodes)
                    else:
                        n_addr += self._addresses(lx, ly, seg, name, t, postcodes)
        self.restrictions.extend(restrictions)
        # service roads and footways: a driveway off the first street, a path across a block diagonal
        for k in range(max(1, s // 6)):
            r, c = int(rng.integers(0, s - 1)), int(rng.integers(0, s - 1))
            self._way([ids[r, c], ids[r + 1, c + 1]], {"highway": "footway"})
            end = self._new_nodes(x[r, c] + BLOCK_M * 0.3, y[r, c] + BLOCK_M * 0.4)
            self._way([ids[r, c], end[0]], {"highway": "service", "service": "driveway"})
        # POIs near random crossings
        n_poi = max(1, s * s // 25)
        pr, pc = rng.integers(0, s, n_poi), rng.integers(0, s, n_poi)
        kinds = rng.integers(0, len(POI_TAGS), n_poi)
        ptags = {}
        for k in range(n_poi):
            key, value = POI_TAGS[int(kinds[k])]
            ptags[k] = {key: value, "name": f"{t.name} {value.replace('_', ' ').title()} {k + 1}"}
        self._new_nodes(x[pr, pc] + 15.0, y[pr, pc] + 15.0, ptags)
        place = "city" if city else "town" if s >= 12 else "village"
        self._new_nodes(t.x, t.y, {0: {"place": place, "name": t.name, "population": str(s * s * 12)}})
        # the town's admin area (a closed way) with its postcode
        m = half + BLOCK_M * 2
        corners = self._new_nodes(
            np.array([t.x - m, t.x + m, t.x + m, t.x - m]), np.array([t.y - m, t.y - m, t.y + m, t.y + m])
        )
        self._way(
            np.append(corners, corners[0]),
            {"boundary": "administrative", "admin_level": "8", "name": t.name, "postal_code": str(t.postcode)},
        )
        entries = {"W": int(ids[mid, 0]), "E": int(ids[mid, s - 1]), "S": int(ids[0, mid]), "N": int(ids[s - 1, mid])}
        coords = {
            "W": (x[mid, 0], y[mid, 0]),
            "E": (x[mid, s - 1], y[mid, s - 1]),
            "S": (x[0, mid], y[0, mid]),
            "N": (x[s - 1, mid], y[s - 1, mid]),
        }
        if s >= 10:  # a roundabout in front of the east entry
            cx, cy = coords["E"][0] + 70.0, coords["E"][1]
            ang = np.linspace(0, 2 * math.pi, 9)[:-1]
            ring = self._new_nodes(cx + 25 * np.cos(ang + math.pi), cy + 25 * np.sin(ang + math.pi))
            self._way([entries["E"], ring[0]], {"highway": "secondary", "name": f"{t.name} Gate"})
            self._way(np.append(ring, ring[0]), {"highway": "secondary", "junction": "roundabout", "maxspeed": "30"})
            entries["E"], coords["E"] = int(ring[4]), (cx + 25.0, cy)
        self.entries[t.index] = (entries, coords)
        return {"addresses": n_addr}

    def _addresses(self, lx, ly, seg, street: str, t: Town, postcodes: list[int]) -> int:
        rng = self.rng
        keep = seg[rng.random(len(seg)) < 0.7]
        if len(keep) == 0:
            return 0
        mx, my = (lx[keep] + lx[keep + 1]) / 2, (ly[keep] + ly[keep + 1]) / 2
        dx, dy = lx[keep + 1] - lx[keep], ly[keep + 1] - ly[keep]
        norm = np.maximum(np.hypot(dx, dy), 1e-6)
        px, py = -dy / norm * 14, dx / norm * 14
        ax = np.concatenate([mx + px, mx - px])
        ay = np.concatenate([my + py, my - py])
        numbers = np.concatenate([2 * keep + 1, 2 * keep + 2])
        pc = postcodes[0] if len(postcodes) == 1 or rng.random() < 0.5 else postcodes[1]
        tags = [
            {
                "addr:housenumber": str(int(numbers[k])),
                "addr:street": street,
                "addr:postcode": str(pc),
                "addr:city": t.name,
            }
            for k in range(len(ax))
        ]
        # the buildings' own stream: the rest of the country is drawn the same whatever their share
        on_building = self.building_rng.random(len(ax)) < self.buildings if self.buildings else np.zeros(len(ax), bool)
        nodes = np.flatnonzero(~on_building)
        self._new_nodes(ax[nodes], ay[nodes], {k: tags[i] for k, i in enumerate(nodes.tolist())})
        for i in np.flatnonzero(on_building).tolist():  # a house facing the street (both sides: i % len(keep))
            k = i % len(keep)
            ux, uy = dx[k] / norm[k], dy[k] / norm[k]
            ring = self._new_nodes(ax[i] + HOUSE_X * ux - HOUSE_Y * uy, ay[i] + HOUSE_X * uy + HOUSE_Y * ux)
            self._way(np.append(ring, ring[0]), {"building": "house", **tags[i]})
        return len(ax)

    def _interpolation(self, lx, ly, seg, street: str, t: Town, postcodes: list[int]) -> int:
        a, b = int(seg[0]), int(seg[-1]) + 1
        dx, dy = lx[b] - lx[a], ly[b] - ly[a]
        norm = max(math.hypot(dx, dy), 1e-6)
        px, py = -dy / norm * 14, dx / norm * 14
        first, last = 2, 2 + 2 * (b - a) * 2
        base = {"addr:street": street, "addr:postcode": str(postcodes[0]), "addr:city": t.name}
        ends = self._new_nodes(
            np.array([lx[a] + px, lx[b] + px]),
            np.array([ly[a] + py, ly[b] + py]),
            {0: {**base, "addr:housenumber": str(first)}, 1: {**base, "addr:housenumber": str(last)}},
        )
        self._way(ends, {"addr:interpolation": "even"})
        return 2

    # -- the network between towns --------------------------------------------------------------------------
    def _links(self, towns: list[Town]) -> None:
        rng = self.rng
        by_cell = {(t.gx, t.gy): t for t in towns}
        for t in towns:
            for dx, dy, here, there in ((1, 0, "E", "W"), (0, 1, "N", "S")):
                o = by_cell.get((t.gx + dx, t.gy + dy))
                if o is None:
                    continue
                (e1, c1), (e2, c2) = self.entries[t.index], self.entries[o.index]
                big = min(t.size, o.size)
                if (dx == 0 and t.gx % TRUNK_EVERY == 0) or (dy == 0 and t.gy % TRUNK_EVERY == 1):
                    hw, speed = "trunk", "110"
                elif big >= 25:
                    hw, speed = "primary", "100"
                elif big >= 12:
                    hw, speed = "secondary", "100"
                else:
                    hw, speed = "tertiary", "80"
                ref = f"{hw[0].upper()}{t.index % 997 + 1}"
                if rng.random() < FERRY_SHARE:
                    self._way(
                        [e1[here], e2[there]],
                        {
                            "route": "ferry",
                            "motor_vehicle": "yes",
                            "foot": "yes",
                            "duration": "00:20",
                            "name": f"{t.name} Ferry",
                        },
                    )
                    continue
                self._road(*c1[here], e1[here], *c2[there], e2[there], {"highway": hw, "ref": ref, "maxspeed": speed})

    def _motorways(self, towns: list[Town]) -> None:
        """Dual carriageways between every MOTORWAY_EVERY-th lattice row and the next, with a
        junction per town: exit and entry links on both carriageways, a bridge over the motorway, and a
        feeder road to the town's north entry."""
        rows: dict[int, list[Town]] = {}
        for t in towns:
            if t.gy % MOTORWAY_EVERY == 0:
                rows.setdefault(t.gy, []).append(t)
        for gy, row in rows.items():
            row.sort(key=lambda t: t.gx)
            if len(row) < 2:
                continue
            ref = f"A{gy // MOTORWAY_EVERY + 1}"
            ym = (gy + 1.0) * TOWN_SPACING_M
            mw = {"highway": "motorway", "oneway": "yes", "maxspeed": "130", "ref": ref}
            link = {"highway": "motorway_link", "oneway": "yes"}
            xs = np.array([t.x for t in row])
            # carriageway nodes: every 500 m plus the four ramp ends at each junction
            eb_x = np.unique(np.concatenate([np.arange(xs[0] - 600, xs[-1] + 600, 500.0), xs - 300, xs + 300]))
            pos = {float(v): k for k, v in enumerate(eb_x)}
            eb_tags, wb_tags = {}, {}
            for t in row:
                junction = {"highway": "motorway_junction", "name": t.name, "ref": str(t.index % 200 + 1)}
                eb_tags[pos[float(t.x - 300)]] = junction
                wb_tags[pos[float(t.x + 300)]] = junction
            eb = self._new_nodes(eb_x, np.full(len(eb_x), ym - 12.0), eb_tags)
            wb = self._new_nodes(eb_x, np.full(len(eb_x), ym + 12.0), wb_tags)
            cuts = sorted({pos[float(x - 300)] for x in xs} | {0, len(eb_x) - 1})
            for a, b in itertools.pairwise(cuts):
                self._way(eb[a : b + 1], mw)
                self._way(wb[a : b + 1][::-1], mw)
            for t in row:
                i_out, i_in = pos[float(t.x - 300)], pos[float(t.x + 300)]
                south = self._new_nodes(t.x, ym - 220.0)[0]
                north = self._new_nodes(t.x, ym + 220.0)[0]
                over = self._new_nodes(np.array([t.x + 40, t.x + 40]), np.array([ym - 40, ym + 40]))
                self._way([eb[i_out], south], {**link, "destination": t.name})
                self._way([south, eb[i_in]], link)
                self._way([wb[i_in], north], {**link, "destination": t.name})
                self._way([north, wb[i_out]], link)
                self._way([south, over[0]], {"highway": "secondary", "name": f"{t.name} Junction Road"})
                self._way(
                    [over[0], over[1]],
                    {"highway": "secondary", "name": f"{t.name} Junction Road", "bridge": "yes", "layer": "1"},
                )
                self._way([over[1], north], {"highway": "secondary", "name": f"{t.name} Junction Road"})
                e, c = self.entries[t.index]
                self._road(
                    *c["N"],
                    e["N"],
                    t.x,
                    ym - 220.0,
                    south,
                    {"highway": "secondary", "maxspeed": "80", "name": f"{t.name} Motorway Road"},
                    structures=False,
                )

    # -- the whole country ----------------------------------------------------------------------------------
    def run(self, sink: Sink) -> dict:
        self.sink = sink
        self.rng = np.random.default_rng(self.seed)
        self.building_rng = np.random.default_rng([self.seed, 1])
        self.next_node, self.next_way, self.next_rel = 1, 1, 1
        self.entries: dict[int, tuple[dict, dict]] = {}
        self.restrictions: list[tuple[int, int, int, int]] = []
        towns: list[Town] = []
        n_addr = 0
        for t in self._towns():
            # whole lattice rows only, so the country stays a rectangle
            if self.next_node >= self.target:
                break
            towns.append(t)
            n_addr += self._town(t)["addresses"]
        self._links(towns)
        self._motorways(towns)
        # areas: regions of REGION_TOWNS x REGION_TOWNS towns and the country
        height = towns[-1].gy + 1
        for ry in range(0, height, REGION_TOWNS):
            for rx in range(0, self.width, REGION_TOWNS):
                x0, y0 = rx * TOWN_SPACING_M, ry * TOWN_SPACING_M
                x1 = min(rx + REGION_TOWNS, self.width) * TOWN_SPACING_M
                y1 = min(ry + REGION_TOWNS, height) * TOWN_SPACING_M
                c = self._new_nodes(np.array([x0, x1, x1, x0]), np.array([y0, y0, y1, y1]))
                self._way(
                    np.append(c, c[0]),
                    {
                        "boundary": "administrative",
                        "admin_level": "4",
                        "name": f"Region {town_name(9000 + ry * self.width + rx)}",
                    },
                )
        x1, y1 = self.width * TOWN_SPACING_M + 100, height * TOWN_SPACING_M + 100
        c = self._new_nodes(np.array([-100.0, x1, x1, -100.0]), np.array([-100.0, -100.0, y1, y1]))
        country = self._way(np.append(c, c[0]), {})
        self._relation(
            [("w", country, "outer")],
            {
                "type": "boundary",
                "boundary": "administrative",
                "admin_level": "2",
                "name": "Synthland",
                "ISO3166-1:alpha2": "XS",
            },
        )
        # turn restrictions where an arterial way is split: no straight on along rows, no U-turn on columns
        for axis, before, via, after in self.restrictions:
            to, kind = (after, "no_straight_on") if axis == 0 else (before, "no_u_turn")
            self._relation(
                [("w", before, "from"), ("n", via, "via"), ("w", to, "to")],
                {"type": "restriction", "restriction": kind},
            )
        return {
            "towns": len(towns),
            "lattice": f"{self.width}x{height}",
            "addresses": n_addr,
            **sink.counts,
            "turn_restrictions": len(self.restrictions),
        }


def write(path: Path, nodes: int, seed: int, progress: bool = True, buildings: float = 0.0) -> dict:
    """Write the country of ``nodes`` (approximately, whole lattice rows) nodes drawn from ``seed``, a share
    ``buildings`` of its addresses on building outlines."""
    import osmium

    path = Path(path)
    path.unlink(missing_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(osmium.io.File(str(tmp), "pbf"))
    country = Country(nodes, seed, buildings)
    t0 = time.perf_counter()
    stats = {}
    try:
        for kind in ("n", "w", "r"):
            stats = country.run(Sink(writer, kind))
            if progress:
                print(f"synth: pass {kind} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        writer.close()
    tmp.rename(path)
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    stats["bytes"] = path.stat().st_size
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1_000_000, help="approximate number of OSM nodes")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--buildings", type=float, default=0.0,
                    help="share of the addresses on building outlines instead of nodes (0-1)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if not 0.0 <= args.buildings <= 1.0:
        ap.error("--buildings is a share between 0 and 1")
    stats = write(args.out, args.nodes, args.seed, buildings=args.buildings)
    print(stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
