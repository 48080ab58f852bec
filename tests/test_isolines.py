"""Isolines on real Monaco data, judged by an independent networkx Dijkstra on the same graph arrays."""

from __future__ import annotations

import json
import re
from functools import lru_cache

import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import shape

from lds import fastjson
from lds.errors import OutOfCoverage
from lds.geo import haversine_m, local_xy
from lds.graph.search import AT_NODE_M, bounded_search
from lds.isoline_shape import COORD_DECIMALS, along_edges
from lds.isolines import isolines

SEA = (7.50, 43.70)  # Mediterranean, kilometres from any Monaco road


@lru_cache(maxsize=8)
def _nx_graph(graph, weight: str) -> nx.DiGraph:
    w = np.asarray(graph.edge_time if weight == "time" else graph.edge_length, dtype=float)
    g = nx.DiGraph()
    for u, v, c in zip(np.asarray(graph.edge_src).tolist(), np.asarray(graph.edge_dst).tolist(), w.tolist(),
                       strict=True):
        if not g.has_edge(u, v) or g[u][v]["w"] > c:
            g.add_edge(u, v, w=c)
    return g


def node_costs(graph, snap, weight: str, cutoff: float) -> np.ndarray:
    """Cost of every node from the snapped point (inf beyond ``cutoff``), by networkx."""
    w = np.asarray(graph.edge_time if weight == "time" else graph.edge_length, dtype=float)
    dst = np.asarray(graph.edge_dst)
    g = _nx_graph(graph, weight).copy()
    g.add_edge(-1, int(dst[snap.edge]), w=(1 - snap.fraction) * w[snap.edge])
    twin = int(graph.edge_rev[snap.edge])
    if twin >= 0:
        g.add_edge(-1, int(dst[twin]), w=snap.fraction * w[twin])
    length = float(graph.edge_length[snap.edge])
    for node, off in ((graph.edge_src[snap.edge], snap.fraction), (dst[snap.edge], 1.0 - snap.fraction)):
        if off * length <= AT_NODE_M:  # a point on a road node leaves by any edge out of it, as a route does
            g.add_edge(-1, int(node), w=0.0)
    out = np.full(graph.n_nodes, np.inf)
    for node, cost in nx.single_source_dijkstra_path_length(g, -1, cutoff=cutoff, weight="w").items():
        if node >= 0:
            out[node] = cost
    return out


def road_points(graph, snap, costs: np.ndarray, weight: str, spacing_m: float = 5.0, with_edges: bool = False):
    """Points every few metres along every road with their cost from the snapped point (either direction), and
    with ``with_edges`` each point's edge."""
    w = np.asarray(graph.edge_time if weight == "time" else graph.edge_length, dtype=float)
    off = np.asarray(graph.edge_geom_off)
    lon, lat = np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)
    n_vert = np.diff(off)
    seg_edge = np.repeat(np.arange(graph.n_edges), n_vert - 1)
    starts_segment = np.ones(len(lon) - 1, dtype=bool)
    starts_segment[off[1:-1] - 1] = False  # an edge's last vertex starts no segment
    a = np.flatnonzero(starts_segment)
    seg_len = haversine_m(lon[a], lat[a], lon[a + 1], lat[a + 1])
    edge_len = np.bincount(seg_edge, weights=seg_len, minlength=graph.n_edges)
    before = np.cumsum(seg_len) - seg_len
    before -= np.repeat(before[off[:-1] - np.arange(graph.n_edges)], n_vert - 1)  # length before, within its edge
    n = np.maximum(1, np.ceil(seg_len / spacing_m)).astype(int)
    rep = np.repeat(np.arange(len(a)), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / n[rep]
    e = seg_edge[rep]
    px = lon[a[rep]] + t * (lon[a[rep] + 1] - lon[a[rep]])
    py = lat[a[rep]] + t * (lat[a[rep] + 1] - lat[a[rep]])
    frac = np.where(edge_len[e] > 0, (before[rep] + t * seg_len[rep]) / np.maximum(edge_len[e], 1e-9), 0.0)
    cost = costs[np.asarray(graph.edge_src)[e]] + frac * w[e]
    for edge, start in ((snap.edge, snap.fraction), (int(graph.edge_rev[snap.edge]), 1 - snap.fraction)):
        if edge >= 0:
            on = (e == edge) & (frac >= start)
            cost[on] = np.minimum(cost[on], (frac[on] - start) * w[edge])
    return (px, py, cost, e) if with_edges else (px, py, cost)


def snaps(graph) -> np.ndarray:
    """Per edge, whether a router snaps to it (its road is in the largest strongly connected component)."""
    rev = np.asarray(graph.edge_rev)
    return graph.snapper.in_largest | ((rev >= 0) & graph.snapper.in_largest[np.maximum(rev, 0)])


def pick_origins(graph, n: int, seed: int) -> list[tuple[float, float]]:
    ids = np.flatnonzero(np.asarray(graph.node_scc) == graph.largest_scc)
    rng = np.random.default_rng(seed)
    return [(float(graph.node_lon[i]), float(graph.node_lat[i])) for i in rng.choice(ids, n, replace=False)]


@pytest.mark.parametrize("mode, weight, rng", [("car", "time", 240), ("walk", "time", 480), ("walk", "distance", 500),
                                               ("car", "distance", 2500)])
def test_reachable_road_is_inside_and_unreachable_road_outside(lds_core, mode, weight, rng):
    graph = lds_core.graph(mode)
    # Every hole kept (no exception for filled blocks); 10 m cells throughout (the margins below are in them).
    s = lds_core.settings.replace(isoline_resolution_m=0.0, isoline_max_cells=1_000_000)
    margin = 1.5 * s.isoline_cell_m + s.isoline_simplify_m + 5.0  # a road claims its own cells
    for origin in pick_origins(lds_core.graph("car"), 4, seed=5):
        snap = graph.snapper.snap(*origin, s.snap_radius_m)
        (iso,) = isolines(graph, origin, [rng], weight, s)
        polygon = shape(iso.geom)
        assert polygon.is_valid and not polygon.is_empty
        lon, lat, cost, edge = road_points(graph, snap, node_costs(graph, snap, weight, 3 * rng), weight,
                                           with_edges=True)
        inside = shapely.contains_xy(polygon, lon, lat)
        reached = (cost <= 0.9 * rng) & snaps(graph)[edge]  # a spur cut off from the network serves nothing
        assert reached.sum() > 10
        # Inside, or on the edge to the coordinates' precision (a road clipping a cell corner next to another
        # road's cell leaves the corner to that road).
        near = shapely.dwithin(polygon, shapely.points(lon[reached], lat[reached]), 10.0**-COORD_DECIMALS)
        assert near.all(), f"{(~near).sum()} reachable road points outside"
        assert inside[reached].mean() > 0.999
        # Clearly unreachable, and farther from every reached road than the corridor can reach.
        x, y = local_xy(lon, lat, snap.lon, snap.lat)
        tree = cKDTree(np.column_stack([x[cost <= rng], y[cost <= rng]]))
        far = tree.query(np.column_stack([x, y]), distance_upper_bound=margin)[0] > margin
        # Roads of the network (those a router snaps to: a place by a spur cut off from it is routed to from a
        # joined road nearby) reached only beyond the range.
        unreachable = (cost > 1.1 * rng) & snaps(graph)[edge] & far
        assert unreachable.sum() > 10
        assert not inside[unreachable].any(), f"{inside[unreachable].sum()} unreachable road points inside"


def test_a_point_on_a_road_node_leaves_by_every_edge_out_of_it(lds_core):
    """The snapper picks one of the edges meeting at a crossing; the search must not leave only by that one (a
    one-way street picked there would send every trip round its block first)."""
    graph = lds_core.graph("car")
    src, dst, time = np.asarray(graph.edge_src), np.asarray(graph.edge_dst), np.asarray(graph.edge_time)
    out_degree = np.bincount(src, minlength=graph.n_nodes)
    checked = 0
    for node in pick_origins(graph, 200, seed=17):
        snap = graph.snapper.snap(*node, 5.0)
        at = int(src[snap.edge]) if snap.fraction < 0.5 else int(dst[snap.edge])
        if out_degree[at] < 2 or snap.distance_m > 0.1:
            continue
        reach = bounded_search(graph, snap, 300.0)
        cost = dict(zip(np.asarray(reach.nodes).tolist(), np.asarray(reach.cost).tolist(), strict=True))
        for e in np.flatnonzero(src == at):
            assert cost.get(int(dst[e]), np.inf) <= time[e] + 1e-3
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("mode", ["car", "walk"])
def test_shorter_ranges_lie_inside_longer_ones(lds_core, mode):
    ranges = [600, 120, 300, 420]
    for origin in pick_origins(lds_core.graph("car"), 5, seed=9):
        values = lds_core.isolines(origin, ranges, "time", mode)
        assert [v["range"] for v in values] == ranges
        geoms = {v["range"]: shape(v["geom"]) for v in values}
        rng = np.random.default_rng(0)
        for small, large in ((120, 300), (300, 420), (420, 600)):
            assert geoms[small].is_valid and geoms[large].is_valid
            assert geoms[large].area >= geoms[small].area * (1 - 1e-6)
            # Coordinates are rounded to COORD_DECIMALS: containment holds to that.
            assert geoms[large].buffer(10.0 ** -COORD_DECIMALS).covers(geoms[small])
            minx, miny, maxx, maxy = geoms[small].bounds
            px, py = rng.uniform(minx, maxx, 4000), rng.uniform(miny, maxy, 4000)
            in_small = shapely.contains_xy(geoms[small], px, py)
            # Each range is rounded alone: a shorter range's edge running along a longer one's may round to a
            # hair (< 1e-5 degrees) outside it.
            edge = shapely.dwithin(geoms[small].boundary, shapely.points(px, py), 10.0**-COORD_DECIMALS)
            assert in_small.sum() > 100
            assert shapely.contains_xy(geoms[large], px[in_small & ~edge], py[in_small & ~edge]).all()


@pytest.mark.parametrize("mode, ranges", [("car", [600, 300]), ("walk", [300, 900]), ("car", [450])])
def test_answer_is_lean_rounded_numpy_rings_that_nest(lds_core, mode, ranges):
    """Rings are (n, 2) float64 arrays at COORD_DECIMALS, written by orjson with no longer numbers; one or two
    ranges (drawn without any shapely object) are valid and nest like more ranges do."""
    for origin in pick_origins(lds_core.graph("car"), 4, seed=11):
        values = lds_core.isolines(origin, ranges, "time", mode)
        for v in values:
            for polygon in v["geom"]["coordinates"]:
                for ring in polygon:
                    assert isinstance(ring, np.ndarray) and ring.dtype == np.float64 and ring.flags.c_contiguous
                    assert ring.shape[1] == 2 and len(ring) >= 4 and (ring[0] == ring[-1]).all()
                    assert np.array_equal(ring, np.round(ring, COORD_DECIMALS))
        text = fastjson.dumps([{"error": None, "value": values}]).decode()
        for v in values:
            numbers = re.findall(r"-?\d+\.(\d+)", fastjson.dumps(v["geom"]["coordinates"]).decode())
            assert numbers and max(len(d) for d in numbers) <= COORD_DECIMALS
        assert json.loads(text)[0]["value"][0]["geom"]["coordinates"][0][0][0] == values[0]["geom"]["coordinates"][
            0][0][0].tolist()
        geoms = {v["range"]: shape(v["geom"]) for v in values}
        assert all(g.is_valid and not g.is_empty for g in geoms.values())
        if len(ranges) == 2:
            small, large = geoms[min(ranges)], geoms[max(ranges)]
            assert large.buffer(10.0 ** -COORD_DECIMALS).covers(small) and large.area > small.area


@pytest.mark.parametrize("mode, rng", [("car", 300), ("walk", 600)])
def test_catchment_holds_the_places_whose_road_is_reached(lds_core, mode, rng):
    """A place whose nearest road (of the network, within the off-road distance) is reached is inside, as are the
    blocks between reached streets; a place whose nearest road is not reached, or farther from every road than
    the off-road distance (the sea, a park without paths), is outside, unless a road cut off from the network (a
    driveway the data leaves unjoined, a one-way street out of the extract) lies within that distance: then it is
    served at the cost of the network road a router snaps that road's points to (its nearest, within
    ``isoline_cutoff_m``), else at that road's own where reached. Places near a tie are not judged."""
    graph = lds_core.graph(mode)
    s = lds_core.settings.replace(isoline_resolution_m=0.0, isoline_max_cells=1_000_000)  # every hole, 10 m cells
    offroad = s.isoline_offroad_m
    margin = 1.5 * s.isoline_cell_m + s.isoline_simplify_m + 0.06 * offroad + 5.0  # cells, simplification, chamfer
    joined = snaps(graph)
    sample = np.random.default_rng(3)
    judged_in = judged_out = by_cut_off = 0
    for origin in pick_origins(lds_core.graph("car"), 3, seed=21):
        snap = graph.snapper.snap(*origin, s.snap_radius_m)
        (iso,) = isolines(graph, origin, [rng], "time", s)
        polygon = shape(iso.geom)
        assert polygon.is_valid
        lon, lat, cost, edge = road_points(graph, snap, node_costs(graph, snap, "time", 3 * rng), "time", with_edges=True)
        keep = joined[edge]  # the roads of the network; a reached one cut off from it serves what they leave
        cut_x, cut_y = local_xy(lon[~keep], lat[~keep], snap.lon, snap.lat)
        x, y = local_xy(lon[keep], lat[keep], snap.lon, snap.lat)
        tree = cKDTree(np.column_stack([x, y]))
        # A cut-off road's points snap to the network (the nearest point of a two-way road: either direction's).
        to_net, nearest = tree.query(np.column_stack([cut_x, cut_y]), k=2)
        net_cost = np.where(to_net[:, 1] <= to_net[:, 0] + 0.01, cost[keep][nearest].min(axis=1),
                            cost[keep][nearest[:, 0]])
        cut_cost = np.where(to_net[:, 0] <= s.isoline_cutoff_m, net_cost, cost[~keep])  # else its own
        cost = cost[keep]
        minx, miny, maxx, maxy = polygon.bounds
        px, py = sample.uniform(minx - 0.003, maxx + 0.003, 6000), sample.uniform(miny - 0.003, maxy + 0.003, 6000)
        qx, qy = local_xy(px, py, snap.lon, snap.lat)
        d, _ = tree.query(np.column_stack([qx, qy]))
        near = tree.query_ball_point(np.column_stack([qx, qy]), d + margin)
        lo = np.array([cost[i].min() for i in near])
        hi = np.array([cost[i].max() for i in near])
        inside = shapely.contains_xy(polygon, px, py)
        cut_d = {}
        for share in (0.9, 1.1):  # distance to the cut-off roads' places reached well within / just beyond range
            pts = np.column_stack([cut_x, cut_y])[cut_cost <= share * rng]
            cut_d[share] = cKDTree(pts).query(np.column_stack([qx, qy]))[0] if len(pts) else np.full(len(qx), np.inf)
        served = (hi <= 0.9 * rng) & (d <= offroad - margin)  # every road about as near is reached
        by_cut = (d > offroad + margin) & (cut_d[0.9] <= offroad - margin)  # none near but a served cut-off one
        served |= by_cut
        by_cut_off += by_cut.sum()
        # No road about as near is reached, or none near (nor a reached cut-off one).
        unserved = ((lo > 1.1 * rng) | (d > offroad + margin)) & ((d <= offroad - margin)
                                                                    | (cut_d[1.1] > offroad + margin))
        assert inside[served].all(), f"{(~inside[served]).sum()} served places outside"
        assert not inside[unserved].any(), f"{inside[unserved].sum()} unserved places inside"
        judged_in += served.sum()
        judged_out += unserved.sum()
        off_road = served & (d > 30)  # set back from their street: the blocks between streets
        assert off_road.sum() > 0
    assert judged_in > 500 and judged_out > 500 and by_cut_off > 20  # Monaco has driveways the data leaves unjoined


def test_a_range_is_drawn_alike_whatever_other_ranges_the_request_asks_for(lds_core):
    """Each range is drawn on its own cell size, anchored at the origin: asked alone or beside a longer range, a
    range's polygon is the same; beside a shorter one it only gains the slivers where the shorter one's outward
    simplification sticks out (the price of nesting), and unsimplified it is the same to the coordinates'
    precision (a shorter range's vertex on its edge may round to just outside it: they are then united)."""
    for mode, r in (("car", 300), ("walk", 600)):
        for origin in pick_origins(lds_core.graph("car"), 3, seed=13):
            alone = lds_core.isolines(origin, [r], "time", mode)[0]["geom"]
            with_longer = lds_core.isolines(origin, [r, 2 * r], "time", mode)[0]["geom"]
            assert fastjson.dumps(alone) == fastjson.dumps(with_longer)
            with_shorter = shape(lds_core.isolines(origin, [r // 2, r], "time", mode)[1]["geom"])
            a = shape(alone)
            assert with_shorter.buffer(10.0 ** -COORD_DECIMALS).covers(a)
            assert with_shorter.difference(a).area <= 0.01 * a.area
            graph = lds_core.graph(mode)
            plain = lds_core.settings.replace(isoline_simplify_m=0.0, isoline_max_cells=1_000_000)  # one cell size
            one = shape(isolines(graph, origin, [r], "time", plain)[0].geom)
            two = shape(isolines(graph, origin, [r // 3, r, 3 * r // 2], "time", plain)[1].geom)
            assert shapely.hausdorff_distance(one, two) <= 3 * 10.0**-COORD_DECIMALS  # a grid step and rounding
            assert one.symmetric_difference(two).area <= 1e-3 * one.area


def test_partial_edge_ends_where_the_budget_does(lds_core):
    """A long road entered at one end and reached only part-way: its far part stays out."""
    graph = lds_core.graph("walk")
    s = lds_core.settings.replace(isoline_max_cells=1_000_000)  # 10 m cells (the margin below is in them)
    length = np.asarray(graph.edge_length)
    margin = 1.5 * s.isoline_cell_m + s.isoline_simplify_m + 5.0  # a road claims its own cells
    checked = 0
    for e in np.argsort(-length)[:40]:
        if checked >= 3:
            break
        lon, lat = graph.edge_coords(int(e))
        snap = graph.snapper.snap(float(lon[0]), float(lat[0]), 5)
        if snap.edge not in (e, graph.edge_rev[e]):
            continue
        budget = 0.5 * float(graph.edge_time[e])
        (iso,) = isolines(graph, (float(lon[0]), float(lat[0])), [budget], "time", s.replace(isoline_resolution_m=0))
        polygon = shape(iso.geom)
        px, py, cost = road_points(graph, snap, node_costs(graph, snap, "time", 3 * budget), "time")
        x, y = local_xy(px, py, snap.lon, snap.lat)
        near = cKDTree(np.column_stack([x[cost <= budget], y[cost <= budget]]))
        far = near.query(np.column_stack([x, y]), distance_upper_bound=margin)[0] > margin
        unreached = (cost > 1.1 * budget) & far
        if unreached.sum() == 0:
            continue
        # The first quarter of the edge is reached, the points beyond the budget (and off other roads) are not.
        a, b = graph.edge_geom_off[e], graph.edge_geom_off[e + 1]
        quarter = shapely.LineString(np.column_stack([graph.geom_lon[a:b], graph.geom_lat[a:b]])).interpolate(
            0.25, normalized=True)
        assert polygon.contains(quarter)
        assert not shapely.contains_xy(polygon, px[unreached], py[unreached]).any()
        checked += 1
    assert checked >= 3


def test_distance_and_time_ranges_measure_different_things(lds_core):
    origin = pick_origins(lds_core.graph("car"), 1, seed=2)[0]
    by_time = shape(lds_core.isolines(origin, [60], "time", "car")[0]["geom"])
    by_distance = shape(lds_core.isolines(origin, [300], "distance", "car")[0]["geom"])
    longer = shape(lds_core.isolines(origin, [1500], "distance", "car")[0]["geom"])
    assert by_time.area > 0 and by_distance.area > 0
    assert longer.area > by_distance.area
    assert by_time.symmetric_difference(by_distance).area > 0.1 * min(by_time.area, by_distance.area)


def test_car_respects_one_way_streets_walk_does_not(lds_core):
    """From the exit of a long one-way street, walking back along it is quick; driving back is not."""
    car, walk = lds_core.graph("car"), lds_core.graph("walk")
    s = lds_core.settings.replace(isoline_resolution_m=0.0, isoline_max_cells=1_000_000)
    margin = 1.5 * s.isoline_cell_m + s.isoline_simplify_m + 5.0  # a road claims its own cells
    # One-way streets of the network (a place by a spur cut off from it is routed to from a joined road).
    one_way = np.flatnonzero((np.asarray(car.edge_rev) < 0) & (np.asarray(car.edge_length) > 150)
                             & car.snapper.in_largest)
    found = 0
    for e in one_way:
        lon, lat = car.edge_coords(int(e))
        exit_ = (float(lon[-1]), float(lat[-1]))
        upstream = shapely.LineString(np.column_stack([lon, lat])).interpolate(0.3, normalized=True)
        snap = car.snapper.snap(*exit_, 5)
        px, py, cost = road_points(car, snap, node_costs(car, snap, "time", 600), "time")
        x, y = local_xy(px, py, snap.lon, snap.lat)
        reached = cost <= 60
        ux, uy = local_xy(upstream.x, upstream.y, snap.lon, snap.lat)
        if reached.sum() == 0 or cKDTree(np.column_stack([x[reached], y[reached]])).query([ux, uy])[0] <= margin:
            continue  # another reached road passes near the upstream point
        if not (np.asarray(walk.edge_way) == car.edge_way[e]).any():
            continue  # not a walkable street (foot=no, say)
        by_car = shape(isolines(car, exit_, [60], "time", s)[0].geom)
        by_foot = shape(isolines(walk, exit_, [300], "time", s)[0].geom)
        assert not by_car.contains(upstream)
        assert by_foot.contains(upstream)
        found += 1
    assert found >= 2


def test_origin_far_from_roads_is_out_of_coverage(lds_core):
    with pytest.raises(OutOfCoverage):
        lds_core.isolines(SEA, [300], "time", "car")


def test_isolines_api_contract(client, lds_core):
    lon, lat = pick_origins(lds_core.graph("car"), 1, seed=4)[0]
    r = client.get(f"/v3/lds/isolines?origin={lon},{lat}&mode=walk&range_type=time&range=300,600&client=deck")
    assert r.status_code == 200
    body = r.get_json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["error"] is None
    values = body[0]["value"]
    assert [v["range"] for v in values] == [300, 600]
    for v in values:
        assert v["range_type"] == "time" and v["mode"] == "walk"
        geom = v["geom"]
        assert geom["type"] == "MultiPolygon" and geom["coordinates"]
        ring = geom["coordinates"][0][0]
        assert ring[0] == ring[-1] and len(ring) >= 4
        assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
        assert shape(geom).is_valid
        assert shape(geom).distance(shapely.Point(lon, lat)) == 0
        assert v["snap_distance"] >= 0 and len(v["location"]) == 2
    post = client.post("/v3/lds/isolines", json={"origin": f"{lon},{lat}", "mode": "car", "range_type": "distance",
                                                 "range": "1000"})
    assert post.status_code == 200
    assert post.get_json()[0]["value"][0]["range_type"] == "distance"


@pytest.mark.parametrize("query, status", [
    ("origin=7.50,43.70&mode=car&range_type=time&range=300", 422),  # in the sea
    ("origin=7.42,43.73&mode=plane&range_type=time&range=300", 400),
    ("origin=7.42,43.73&mode=car&range_type=speed&range=300", 400),
    ("origin=7.42,43.73&mode=car&range_type=time&range=-5", 400),
    ("origin=7.42,43.73&mode=car&range_type=time&range=60,120,180,240,300,360", 400),
    ("origin=7.42,43.73&mode=car&range_type=time&range=99999", 400),
    ("origin=7.42&mode=car&range_type=time&range=300", 400),
    ("mode=car&range_type=time&range=300", 400),
])
def test_isolines_api_errors(client, query, status):
    r = client.get(f"/v3/lds/isolines?{query}")
    assert r.status_code == status
    body = r.get_json()
    assert set(body) == {"error", "status"} and body["status"] == status and body["error"]


@pytest.mark.parametrize("mode, radius", [("car", 200.0), ("car", 30.0), ("walk", 80.0)])
def test_many_points_snap_to_the_network_as_the_router_snaps_each(lds_core, mode, radius):
    """The cut-off roads' points are snapped in one call (Snapper.snap_many_to_network): the same edge and fraction as
    Snapper.snap gives each point (kept when on the largest component), ties and misses included."""
    graph = lds_core.graph(mode)
    snapper = graph.snapper
    rng = np.random.default_rng(4)
    edges = rng.choice(len(graph.edge_rev), size=400, replace=False).astype(np.int64)
    lon, lat, _, _ = along_edges(graph, np.sort(edges), 15.0)
    lon = np.concatenate([lon, lon + rng.normal(0, 3e-4, len(lon))])  # on the roads (ties at nodes) and off them
    lat = np.concatenate([lat, lat + rng.normal(0, 3e-4, len(lat))])
    edge, frac = snapper.snap_many_to_network(lon, lat, radius)
    missed = 0
    for k, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
        try:
            at = snapper.snap(x, y, radius)
        except OutOfCoverage:
            at = None
        if at is None or not snapper.in_largest[at.edge]:
            assert edge[k] == -1
            missed += 1
        else:
            assert (edge[k], frac[k]) == (at.edge, at.fraction)
    assert missed < len(lon)
