"""Geocoding benchmark: accuracy on noisy address variants, latency, reverse correctness, batch throughput,
side by side with Nominatim when asked. Prints figures; asserts nothing.

    .venv/bin/python scripts/bench_geocoding.py --pbf ../shared/data/monaco-2020-07.osm.pbf
    .venv/bin/python scripts/bench_geocoding.py --pbf ../shared/data/copenhagen-2011.osm.pbf --sample 1000
    .venv-bench/bin/python scripts/bench_geocoding.py --pbf ../shared/data/monaco-2020-07.osm.pbf --nominatim

Ground truth comes from the extract itself, read here independently of lds: every object with
addr:housenumber + addr:street, at its node location or building centroid (point on surface when the
centroid falls outside the building). Each sampled address becomes these queries:

  full          "{number} {street}, {postcode} {city}" (parts the object lacks are left out)
  lowercase     full, lowercased
  no_accents    full without diacritics (ø -> o, æ -> ae, ß -> ss, é -> e)
  street_first  "{street} {number}, {postcode} {city}"
  no_city       "{number} {street}"
  abbreviated   full with the street type abbreviated (Boulevard -> Bd, Enghavevej -> Enghavev., Straße -> Str.);
                only addresses whose street has an abbreviable type
  typo          full with one random edit (substitution, deletion, insertion or transposition) at a random
                letter of the street name
  extra_tokens  full with an unknown part ("building A", "2nd floor", "apt 5", ...) inserted

A query is right when the top candidate lies within 25 m (and 100 m) of the true point, or of another
object of the extract carrying the same street and number (an entrance node and its building, a shop and
its building: the address is at either). Reverse geocoding
is asked at every sampled true point and is right when it returns that house number (and street); when
several addresses share one point exactly, any of them counts. Latencies are in-process through the
``lds.core.LDS`` facade (answer cache off), and over HTTP against `lds serve` (gunicorn, 1 worker, cache
off) on a free 127.0.0.1 port. Batch throughput is one call of 10,000 distinct queries (fewer when the
extract has fewer distinct variants). ``--nominatim`` runs the same queries through Nominatim
(``scripts/peers/nominatim.py``; run this script with ``.venv-bench/bin/python``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

VARIANTS = ("full", "lowercase", "no_accents", "street_first", "no_city", "abbreviated", "typo", "extra_tokens")
NOISE = ("building A", "2nd floor", "apt 5", "c/o Hansen", "bâtiment B", "3. sal", "entrance C", "door 2", "room 12")
# Whole-word abbreviations (case-insensitive) as people write them.
WORD_ABBREV = {
    "boulevard": "Bd", "avenue": "Av.", "allée": "All.", "place": "Pl.", "rue": "R.", "quai": "Qu.", "chemin": "Ch.",
    "impasse": "Imp.", "route": "Rte", "square": "Sq.", "saint": "St", "sainte": "Ste", "street": "St", "road": "Rd",
    "drive": "Dr", "lane": "Ln", "straße": "Str.", "strasse": "Str.", "platz": "Pl.", "avenida": "Av.", "calle": "C.",
    "plaza": "Pza.", "via": "V.", "piazza": "P.za", "corso": "C.so", "sankt": "Skt.", "plads": "Pl.", "stræde": "Str.",
    "vej": "V.", "gade": "G.", "straat": "Str.", "laan": "Ln.",
}
# Glued types (Enghavevej -> Enghavev., Hauptstraße -> Hauptstr.).
SUFFIX_ABBREV = (("straße", "str."), ("strasse", "str."), ("stræde", "str."), ("straat", "str."), ("vej", "v."),
                 ("gade", "g."), ("plads", "pl."), ("platz", "pl."), ("gatan", "g."), ("vägen", "v."))


# --- ground truth ------------------------------------------------------------------------------
def read_truth(pbf: str) -> list[dict]:
    import osmium
    import shapely

    out = []
    fp = osmium.FileProcessor(pbf, osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(
        osmium.filter.KeyFilter("addr:housenumber"))
    for o in fp:
        t = o.tags
        street = (t.get("addr:street") or "").strip()
        hn = (t.get("addr:housenumber") or "").strip()
        if not street or not hn:
            continue
        if o.is_node():
            lat, lon = o.location.lat, o.location.lon
        else:
            if not all(n.location.valid() for n in o.nodes) or len(o.nodes) < 2:
                continue
            pts = [(n.location.lon, n.location.lat) for n in o.nodes]
            if len(pts) >= 4 and o.nodes[0].ref == o.nodes[-1].ref:
                poly = shapely.Polygon(pts)
                if not poly.is_valid or poly.area == 0:
                    continue
                c = poly.centroid if poly.contains(poly.centroid) else poly.point_on_surface()
            else:
                c = shapely.LineString(pts).interpolate(0.5, normalized=True)
            lat, lon = c.y, c.x
        out.append({"osm": f"{o.type_str()}{o.id}", "lat": lat, "lon": lon, "hn": " ".join(hn.split()),
                    "street": " ".join(street.split()), "postcode": (t.get("addr:postcode") or "").strip(),
                    "city": (t.get("addr:city") or "").strip()})
    return out


# --- variants ----------------------------------------------------------------------------------
def strip_accents(text: str) -> str:
    table = {"æ": "ae", "Æ": "Ae", "ø": "o", "Ø": "O", "ß": "ss", "œ": "oe", "Œ": "Oe", "ł": "l", "Ł": "L"}
    text = "".join(table.get(c, c) for c in text)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def abbreviate(street: str) -> str | None:
    words = street.split(" ")
    for i, w in enumerate(words):
        a = WORD_ABBREV.get(w.lower())
        if a:
            return " ".join(words[:i] + [a] + words[i + 1:])
    for i, w in enumerate(words):
        for suffix, a in SUFFIX_ABBREV:
            if w.lower().endswith(suffix) and len(w) > len(suffix) + 2:
                return " ".join(words[:i] + [w[: -len(suffix)] + a] + words[i + 1:])
    return None


def typo(text: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    i = rng.choice(letters)
    op = rng.choice(("sub", "del", "ins", "swap"))
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    if op == "swap" and i + 1 < len(text) and text[i + 1].isalpha() and text[i + 1] != text[i]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if op == "del":
        return text[:i] + text[i + 1:]
    if op == "ins":
        return text[:i] + rng.choice(alphabet) + text[i:]
    c = rng.choice([x for x in alphabet if x != text[i].lower()])
    return text[:i] + (c.upper() if text[i].isupper() else c) + text[i + 1:]


def variants(a: dict, rng: random.Random) -> dict[str, str | None]:
    tail = " ".join(p for p in (a["postcode"], a["city"]) if p)
    join = lambda *parts: ", ".join(p for p in parts if p)
    full = join(f"{a['hn']} {a['street']}", tail)
    short = abbreviate(a["street"])
    where = rng.choice(("before", "middle", "after"))
    noise = rng.choice(NOISE)
    extra = {"before": join(noise, f"{a['hn']} {a['street']}", tail),
             "middle": join(f"{a['hn']} {a['street']}", noise, tail),
             "after": join(f"{a['hn']} {a['street']}", tail, noise)}[where]
    return {
        "full": full,
        "lowercase": full.lower(),
        "no_accents": strip_accents(full),
        "street_first": join(f"{a['street']} {a['hn']}", tail),
        "no_city": f"{a['hn']} {a['street']}",
        "abbreviated": join(f"{a['hn']} {short}", tail) if short else None,
        "typo": join(f"{a['hn']} {typo(a['street'], rng)}", tail),
        "extra_tokens": extra,
    }


# --- helpers ------------------------------------------------------------------------------------
def haversine(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def norm_hn(s: str | None) -> str:
    return re.sub(r"\s+", "", (s or "").lower())


def street_key(s: str | None) -> str:
    from lds.geocoding.normalize import name_key

    return name_key(s or "")


def ms(x: float) -> str:
    return f"{x * 1000:.2f}"


# --- runs ----------------------------------------------------------------------------------------
def data_dir_for(args, tmp: Path) -> Path:
    if args.data:
        return Path(args.data)
    from lds.geocoding.build import build_index

    out = tmp / "data"
    t0 = time.perf_counter()
    counts = build_index(Path(args.pbf), out / "geocoder", lambda step, msg: print(f"  [{time.perf_counter() - t0:6.2f}s] {msg}"))
    (out / "meta.json").write_text(json.dumps({"data_version": f"bench-{int(time.time())}", "geocoder": counts}))
    print(f"index build: {counts['seconds']} s ({counts['addresses']} addresses, {counts['streets']} streets, "
          f"{counts['pois']} POIs, {counts['places']} places)")
    return out


def forward(name: str, geocode, queries: dict[str, list[tuple[dict, str]]]) -> dict:
    out = {"latencies": [], "cpu": [], "variants": {}}
    for variant, items in queries.items():
        ok25 = ok100 = 0
        misses = []
        for a, q in items:
            t0, c0 = time.perf_counter(), time.process_time()
            hit = geocode(q)
            out["latencies"].append(time.perf_counter() - t0)
            out["cpu"].append(time.process_time() - c0)
            if hit is not None:
                d = min(haversine(lat, lon, hit[0], hit[1]) for lat, lon in a["points"])
                ok25 += d <= 25
                ok100 += d <= 100
                if d > 25:
                    misses.append((q, round(d)))
            else:
                misses.append((q, None))
        n = len(items)
        out["variants"][variant] = {"n": n, "at25": ok25 / n if n else float("nan"), "at100": ok100 / n if n else float("nan"),
                                    "misses": misses[:5]}
    total = sum(v["n"] for v in out["variants"].values())
    out["overall25"] = sum(v["at25"] * v["n"] for v in out["variants"].values()) / total
    out["overall100"] = sum(v["at100"] * v["n"] for v in out["variants"].values()) / total
    return out


def reverse_eval(reverse, sample: list[dict], truth_at: dict) -> dict:
    lat_s, cpu_s, hn_ok, street_ok, both_ok = [], [], 0, 0, 0
    wrong = []
    for a in sample:
        t0, c0 = time.perf_counter(), time.process_time()
        r = reverse(a["lat"], a["lon"])
        lat_s.append(time.perf_counter() - t0)
        cpu_s.append(time.process_time() - c0)
        options = truth_at[(round(a["lat"], 6), round(a["lon"], 6))]
        got_hn, got_street = (norm_hn(r[0]), street_key(r[1])) if r else (None, None)
        h = any(got_hn == norm_hn(o["hn"]) for o in options)
        s = any(got_street == street_key(o["street"]) for o in options)
        b = any(got_hn == norm_hn(o["hn"]) and got_street == street_key(o["street"]) for o in options)
        hn_ok += h
        street_ok += s
        both_ok += b
        if not b and len(wrong) < 5:
            wrong.append((a["hn"], a["street"], r))
    n = len(sample)
    return {"n": n, "hn": hn_ok / n, "street": street_ok / n, "both": both_ok / n, "latencies": lat_s, "cpu": cpu_s,
            "wrong": wrong}


def http_run(data_dir: Path, queries: list[str], points: list[dict], batch: list[str], log: Path) -> dict:
    import loadgen
    import requests
    from loadgen import Server

    main_lds = SCRIPTS.parent / ".venv" / "bin" / "lds"
    if main_lds.exists():  # serve from the service's own venv even when this script runs in .venv-bench
        loadgen.LDS_BIN = str(main_lds)

    server = Server(str(data_dir), {"LDS_CACHE_ENABLED": "false", "LDS_STATE_DIR": str(log.parent / "state"),
                                    "LDS_RATE_LIMIT_PER_S": "0"}, workers=1, log_path=str(log))
    server.start()
    try:
        s = requests.Session()
        fwd, rev = [], []
        for q in queries:
            t0 = time.perf_counter()
            r = s.get(f"{server.base}/v3/lds/geocoding/geocode", params={"address": q, "limit": 1})
            fwd.append(time.perf_counter() - t0)
            r.raise_for_status()
        for a in points:
            t0 = time.perf_counter()
            r = s.get(f"{server.base}/v3/lds/geocoding/reverse", params={"lat": a["lat"], "lon": a["lon"]})
            rev.append(time.perf_counter() - t0)
            r.raise_for_status()
        t0 = time.perf_counter()
        r = s.post(f"{server.base}/v3/lds/geocoding/batch", json={"addresses": batch, "limit": 1}, timeout=600)
        batch_s = time.perf_counter() - t0
        r.raise_for_status()
        return {"forward": fwd, "reverse": rev, "batch_seconds": batch_s, "batch_n": len(r.json())}
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pbf", required=True, help="the OSM extract (ground truth and, without --data, the index)")
    ap.add_argument("--data", help="an existing data dir built from --pbf (default: build the address index into a temp dir)")
    ap.add_argument("--sample", type=int, default=1000, help="addresses drawn (default 1000; all when fewer)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch-size", type=int, default=10000)
    ap.add_argument("--http-queries", type=int, default=300, help="geocode and reverse requests sent over HTTP")
    ap.add_argument("--no-http", action="store_true", help="skip the gunicorn part")
    ap.add_argument("--nominatim", action="store_true", help="compare with Nominatim (needs .venv-bench)")
    ap.add_argument("--nominatim-sample", type=int, default=0, help="addresses for Nominatim (default: same sample)")
    ap.add_argument("--show-misses", action="store_true")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()

    from lds.core import LDS
    from lds.errors import OutOfCoverage
    from lds.settings import Settings

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="lds-bench-geo-"))
    t0 = time.perf_counter()
    truth = read_truth(args.pbf)
    print(f"{args.pbf}: {len(truth)} addresses with street and number (read in {time.perf_counter() - t0:.1f} s)")
    data_dir = data_dir_for(args, tmp)
    settings = Settings.from_env(env={}, data_dir=str(data_dir), cache_enabled=False, auth=False, state_dir=str(tmp / "state"))
    t0 = time.perf_counter()
    core = LDS(settings)
    print(f"index load: {core.geocoder.load_seconds * 1000:.0f} ms (core {(time.perf_counter() - t0) * 1000:.0f} ms)")

    by_address: dict[tuple, list[tuple[float, float]]] = {}
    for a in truth:  # objects sharing one address (entrance node + building, shop + building) are all right
        by_address.setdefault((street_key(a["street"]), norm_hn(a["hn"])), []).append((a["lat"], a["lon"]))
    for a in truth:
        a["points"] = by_address[(street_key(a["street"]), norm_hn(a["hn"]))]
    sample = rng.sample(truth, min(args.sample, len(truth)))
    queries: dict[str, list[tuple[dict, str]]] = {v: [] for v in VARIANTS}
    for a in sample:
        for v, q in variants(a, rng).items():
            if q:
                queries[v].append((a, q))
    truth_at: dict[tuple, list[dict]] = {}
    for a in truth:
        truth_at.setdefault((round(a["lat"], 6), round(a["lon"], 6)), []).append(a)

    def lds_geocode(q: str):
        r = core.geocode(q, limit=1)
        return (r[0]["latitude"], r[0]["longitude"]) if r else None

    def lds_reverse(lat: float, lon: float):
        try:
            r = core.reverse(lat, lon)
        except OutOfCoverage:
            return None
        return (r[0].get("streetNumber"), r[0].get("streetName")) if r else None

    lds_fwd = forward("lds", lds_geocode, queries)
    lds_rev = reverse_eval(lds_reverse, sample, truth_at)

    # batch: distinct queries, all variants mixed, as a client table would send them
    pool = list(dict.fromkeys(q for v in VARIANTS for _, q in queries[v]))
    extra = [a for a in truth if a not in sample]
    while len(pool) < args.batch_size and extra:
        a = extra.pop(rng.randrange(len(extra)))
        pool.extend(q for q in variants(a, rng).values() if q)
        pool = list(dict.fromkeys(pool))
    batch = pool[: args.batch_size]
    t0, c0 = time.perf_counter(), time.process_time()
    results = core.geocode_batch(batch, limit=1)
    batch_s, batch_cpu = time.perf_counter() - t0, time.process_time() - c0
    batch_found = sum(1 for r in results if r["value"])

    nomi = None
    if args.nominatim:
        try:
            from peers import NominatimPeer

            t0 = time.perf_counter()
            peer = NominatimPeer(args.pbf)
            print(f"nominatim: ready in {time.perf_counter() - t0:.1f} s (reused={peer.reused}, import {peer.stamp.get('import_seconds')} s)")
            nsample = sample[: args.nominatim_sample] if args.nominatim_sample else sample
            keep = {id(a) for a in nsample}
            nq = {v: [(a, q) for a, q in items if id(a) in keep] for v, items in queries.items()}
            nfwd = forward("nominatim", peer.geocode, nq)

            def n_reverse(lat: float, lon: float):
                r = peer.reverse(lat, lon)
                return (r["housenumber"], r["street"]) if r else None

            nrev = reverse_eval(n_reverse, nsample, truth_at)
            nomi = {"forward": nfwd, "reverse": nrev}
            peer.close()
        except Exception as exc:  # noqa: BLE001 - a missing or broken peer is reported, not fatal
            print(f"nominatim: not available ({type(exc).__name__}: {exc})")

    http = None
    if not args.no_http:
        try:
            hq = [q for _, q in queries["full"]][: args.http_queries]
            http = http_run(data_dir, hq, sample[: args.http_queries], batch, tmp / "serve.log")
        except Exception as exc:  # noqa: BLE001 - the in-process figures still stand
            print(f"http: failed ({type(exc).__name__}: {exc}); see {tmp / 'serve.log'}")

    # --- report --------------------------------------------------------------------------------
    print()
    head = f"{'variant':14} {'n':>6} {'lds@25m':>8} {'lds@100m':>9}"
    if nomi:
        head += f" {'nomi n':>7} {'nomi@25m':>9} {'nomi@100m':>10}"
    print(head)
    for v in VARIANTS:
        r = lds_fwd["variants"][v]
        line = f"{v:14} {r['n']:6d} {r['at25'] * 100:7.1f}% {r['at100'] * 100:8.1f}%"
        if nomi:
            nr = nomi["forward"]["variants"][v]
            line += f" {nr['n']:7d} {nr['at25'] * 100:8.1f}% {nr['at100'] * 100:9.1f}%"
        print(line)
    line = f"{'ALL':14} {sum(r['n'] for r in lds_fwd['variants'].values()):6d} {lds_fwd['overall25'] * 100:7.1f}% {lds_fwd['overall100'] * 100:8.1f}%"
    if nomi:
        line += f" {sum(r['n'] for r in nomi['forward']['variants'].values()):7d} {nomi['forward']['overall25'] * 100:8.1f}% {nomi['forward']['overall100'] * 100:9.1f}%"
    print(line)
    print()
    print(f"reverse on {lds_rev['n']} address points: house number {lds_rev['hn'] * 100:.2f} %, street {lds_rev['street'] * 100:.2f} %, "
          f"both {lds_rev['both'] * 100:.2f} %")
    if nomi:
        nr = nomi["reverse"]
        print(f"  nominatim on {nr['n']}: house number {nr['hn'] * 100:.2f} %, street {nr['street'] * 100:.2f} %, both {nr['both'] * 100:.2f} %")
    print()
    print(f"{'latency (ms)':28} {'p50':>8} {'p95':>8}   (wall clock; the cpu rows count this process's CPU time only,")
    print(f"{'':47} which other work on the cores does not inflate)")
    rows = [("lds forward in-process", lds_fwd["latencies"]), ("lds reverse in-process", lds_rev["latencies"]),
            ("lds forward in-process cpu", lds_fwd["cpu"]), ("lds reverse in-process cpu", lds_rev["cpu"])]
    if http:
        rows += [("lds forward HTTP", http["forward"]), ("lds reverse HTTP", http["reverse"])]
    if nomi:
        rows += [("nominatim forward in-process", nomi["forward"]["latencies"]),
                 ("nominatim reverse in-process", nomi["reverse"]["latencies"])]
    for label, values in rows:
        print(f"{label:28} {ms(pct(values, 0.5)):>8} {ms(pct(values, 0.95)):>8}")
    lds_p50 = pct(lds_fwd["latencies"], 0.5)
    if nomi:
        print(f"  forward p50 ratio nominatim/lds: {pct(nomi['forward']['latencies'], 0.5) / lds_p50:.1f}x; reverse: "
              f"{pct(nomi['reverse']['latencies'], 0.5) / pct(lds_rev['latencies'], 0.5):.1f}x")
    print()
    print(f"batch in-process: {len(batch)} distinct queries in {batch_s:.2f} s = {len(batch) / batch_s:,.0f} addresses/s "
          f"({batch_found} with a result); {len(batch) / batch_cpu:,.0f} per CPU-second of this process "
          f"(the two differ when other work shares the cores); single-query loop p50 gives {1 / lds_p50:,.0f}/s")
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if http:
        print(f"batch over HTTP: {http['batch_n']} in {http['batch_seconds']:.2f} s = {http['batch_n'] / http['batch_seconds']:,.0f} addresses/s")
    if args.show_misses:
        for v in VARIANTS:
            for q, d in lds_fwd["variants"][v]["misses"]:
                print(f"  miss [{v}] {q!r}: {d} m")
        for w in lds_rev["wrong"]:
            print(f"  reverse wrong: truth {w[0]} {w[1]!r}, got {w[2]}")
    if args.json:
        figures = {
            "pbf": args.pbf, "sample": len(sample),
            "forward": {v: {k: r[k] for k in ("n", "at25", "at100")} for v, r in lds_fwd["variants"].items()},
            "overall25": lds_fwd["overall25"], "overall100": lds_fwd["overall100"],
            "reverse": {k: lds_rev[k] for k in ("n", "hn", "street", "both")},
            "latency_ms": {label: {"p50": pct(v, 0.5) * 1000, "p95": pct(v, 0.95) * 1000} for label, v in rows},
            "batch": {"n": len(batch), "seconds": batch_s, "per_s": len(batch) / batch_s, "per_cpu_s": len(batch) / batch_cpu},
        }
        if nomi:
            figures["nominatim"] = {
                "forward": {v: {k: r[k] for k in ("n", "at25", "at100")} for v, r in nomi["forward"]["variants"].items()},
                "overall25": nomi["forward"]["overall25"], "reverse": {k: nomi["reverse"][k] for k in ("n", "hn", "street", "both")},
            }
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
