"""Forward geocoding: free text -> ranked candidates (a Pelias-style pipeline, declared step by step).

1. analyse: canonical tokens; for each, the vocabulary tokens it may stand for (``Lexicon``) and its
   weight (the idf of what it matches: a rare street word or a postcode weighs more than "rue");
2. retrieve: names sharing the query's rarer tokens, through the inverted index;
3. score each candidate entity: how much of its name the query covers (*recall*, idf-weighted, typos
   discounted) and how much of the query it explains (*precision*: its name, its locality words, the
   house number); words nothing explains ("building A", "2nd floor") weigh little, a postcode or a
   city that contradicts the candidate weighs a lot;
4. resolve the house number on a street: exact -> interpolated -> street (``resolve_number``);
5. when the best answer is weak, retry once with typo expansions of every word;
6. rank, drop duplicates, format.

``matchConfidence`` = recall x precision x house-number factor, so it means the same for every query:
1.0 is every word explained exactly and the number found; a typo, an unknown word or a missing number
each cost a known fraction.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

from lds.formats import KIND_PLACE, KIND_POI, KIND_POSTCODE, KIND_STREET
from lds.geo import distance_m
from lds.geocoding import format as fmt
from lds.geocoding.housenumbers import main_number, query_keys
from lds.geocoding.index import AddressIndex
from lds.geocoding.lexicon import FUZZY_QUALITY, JOINED, max_edits
from lds.geocoding.normalize import is_house_number, tokens

RETRIEVE_DF_CAP_FRACTION = 0.02  # tokens in more names than this share (and RETRIEVE_DF_CAP_MIN) skip retrieval
RETRIEVE_DF_CAP_MIN = 200
CANDIDATES = 8  # names scored in detail per query
FUZZY_RETRY_BELOW = 0.5  # below this best confidence, search again with typo expansions of known words too
MIN_CONFIDENCE = 0.2  # weaker candidates are not answers
WORD_SHARE_WEIGHT = 0.3  # how much the share of unexplained query words (by count) lowers the confidence
EXACT_ENOUGH = 0.9  # a candidate explaining under half the words needs one word matched at least this well
DUPLICATE_M = 2000.0  # candidates with the same text closer than this are one answer
UNKNOWN_WEIGHT = 1.0  # weight of a query word the index has never seen
NUMBER_WEIGHT = 4.0  # weight of a number that is no known token (a house number, usually)
SHORT_TYPO_QUALITY = 0.7  # "idu" for "du", "is" for "ii": a one-edit match on a word of 2-3 letters
INITIAL_QUALITY = 0.6  # a lone initial for the initials of a name ("n" for "nj")
UNMATCHED_NUMBER_FACTOR = 0.85  # a place/POI/postcode answer to a query whose house number nothing explains
STREET_ONLY_FACTOR = 0.6  # a house number was asked for and the street does not have it
NO_NUMBER_STREET_FACTOR = 0.95  # a street asked without a number: the street is the answer
NEIGHBOUR_INTERPOLATION = 0.8  # a number placed between its existing neighbours on the street
NEIGHBOUR_MAX_GAP = 20
NEIGHBOUR_MAX_M = 400.0
SAME_PART_BONUS = 0.1  # a number in the street's comma-separated part beats one elsewhere ("apt 5, 12 rue X")
ADJACENT_BONUS = 0.05  # and one right before or after the street name beats one farther away
POSTCODE_AS_NUMBER = 0.05  # a number that is also the candidate's postcode is less likely its house number

MATCH_TYPE = {KIND_STREET: "street", KIND_PLACE: "place", KIND_POI: "poi", KIND_POSTCODE: "place"}


@dataclass
class Query:
    text: str
    words: list[str]
    pos: list[int]
    seg: list[int]
    is_num: list[bool]
    matches: list[dict[int, float]]
    direct: list[frozenset[int]]  # tokens a word matches on its own (not as one part of a split compound)
    parts: list[dict[int, tuple[frozenset[int], ...]]]  # compound-part token -> other parts a name needs too
    weight: list[float] = field(default_factory=list)
    total_weight: float = 1.0
    by_tid: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    fuzzy: bool = False
    partial: frozenset[int] = frozenset()  # tokens some word matches only as a compound part


@dataclass
class Resolution:
    """Where a house number lands on a street, and how sure that is."""

    quality: float
    match_type: str
    lat: float
    lon: float
    address: int = -1
    number: str | None = None


@dataclass
class Candidate:
    entity: int
    confidence: float
    rank_key: tuple
    match_type: str
    lat: float
    lon: float
    address: int = -1
    number: str | None = None


def analyse(index: AddressIndex, text: str, fuzzy: bool = False) -> Query:
    toks = tokens(text)
    lex = index.lexicon
    words = [t.text for t in toks]
    matches: list[dict[int, float]] = []
    direct: list[frozenset[int]] = []
    parts: list[dict[int, tuple[frozenset[int], ...]]] = []
    for t in toks:
        m, d, p = index.word_matches(t.text, t.raw, fuzzy)
        matches.append(m)
        direct.append(d)
        parts.append(p)
    # a word split in two ("ny torv" for Nytorv, "monte carlo" for Montecarlo)
    for i in range(len(toks) - 1):
        a, b = toks[i], toks[i + 1]
        if a.pos == b.pos or a.seg != b.seg or a.text[0].isdigit() or b.text[0].isdigit():
            continue
        hit = lex.exact(a.raw + b.raw) or lex.exact(a.text + b.text)
        if hit is not None and not set(hit[0]) <= (matches[i].keys() | matches[i + 1].keys()):
            for k in (i, i + 1):
                matches[k] = dict(matches[k])  # the cached dicts are shared: copy before changing
                for tid in hit[0]:
                    if matches[k].get(tid, 0.0) < JOINED:
                        matches[k][tid] = JOINED
    is_num = [is_house_number(w) for w in words]
    idf = lex.idf
    weight = []
    for w, m, num in zip(words, matches, is_num):
        if m:
            weight.append(max(idf[t] * v for t, v in m.items()))
        else:
            weight.append(NUMBER_WEIGHT if num else UNKNOWN_WEIGHT)
    q = Query(text, words, [t.pos for t in toks], [t.seg for t in toks], is_num, matches, direct, parts, weight, sum(weight) or 1.0, fuzzy=fuzzy)
    for i, m in enumerate(matches):
        for tid, quality in m.items():
            q.by_tid.setdefault(tid, []).append((i, quality))
    q.partial = frozenset(t for p in parts for t in p)
    return q


def retrieve(index: AddressIndex, q: Query) -> list[int]:
    """Name ids worth scoring: those sharing the query's rarer tokens, most matched idf mass first."""
    lex = index.lexicon
    cap = max(RETRIEVE_DF_CAP_MIN, int(RETRIEVE_DF_CAP_FRACTION * index.n_names))
    best: dict[int, float] = {}
    for tid, lst in q.by_tid.items():
        if lex.flags[tid] & 1:
            best[tid] = max(x[1] for x in lst)
    rare = {t: v for t, v in best.items() if lex.df[t] <= cap}
    acc: dict[int, float] = {}
    for tid, quality in (rare or best).items():
        w = lex.idf[tid] * quality
        for nid in index.postings(tid, cap * 20):
            acc[nid] = acc.get(nid, 0.0) + w
    weight = index.name_weight_l
    frequent = [(tid, lex.idf[tid] * quality) for tid, quality in best.items() if tid not in rare] if rare else []
    if frequent:  # frequent tokens ("rue", "vej") count for the best names found through rare ones
        shortlist = heapq.nlargest(3 * CANDIDATES, acc, key=lambda n: acc[n] * acc[n] / (weight[n] or 1e-9))
        acc = {n: acc[n] for n in shortlist}
        toks = index.name_tokens
        for nid in shortlist:
            name = toks(nid)
            for tid, w in frequent:
                if tid in name:
                    acc[nid] += w
    return heapq.nlargest(CANDIDATES, acc, key=lambda n: acc[n] * acc[n] / (weight[n] or 1e-9))


def resolve_number(index: AddressIndex, e: int, token: str) -> Resolution | None:
    """House number ``token`` on street entity ``e``: an address key (exact, letter or range variants,
    interpolation points), else a point between its nearest existing neighbours of the same parity."""
    table, numbers = index.hn_table(e)
    for key, kq in query_keys(token):
        hits = table.get(key)
        if hits:
            quality, j = hits[0]
            interp = index.is_interpolated(j)
            return Resolution(quality * kq, "interpolated" if interp else "address",
                              float(index.addr_lat[j]), float(index.addr_lon[j]), j, index.string(index.addr_hn[j]))
    n = main_number(token)
    if n < 0 or len(numbers) < 2:
        return None
    k = bisect.bisect_left(numbers, (n, -1))
    lo = next((x for x in reversed(numbers[max(0, k - NEIGHBOUR_MAX_GAP):k]) if (x[0] - n) % 2 == 0 and x[0] < n), None)
    hi = next((x for x in numbers[k : k + NEIGHBOUR_MAX_GAP] if (x[0] - n) % 2 == 0 and x[0] > n), None)
    if lo is None or hi is None or hi[0] - lo[0] > NEIGHBOUR_MAX_GAP:
        return None
    la0, lo0 = float(index.addr_lat[lo[1]]), float(index.addr_lon[lo[1]])
    la1, lo1 = float(index.addr_lat[hi[1]]), float(index.addr_lon[hi[1]])
    if distance_m(lo0, la0, lo1, la1) > NEIGHBOUR_MAX_M:
        return None
    f = (n - lo[0]) / (hi[0] - lo[0])
    return Resolution(NEIGHBOUR_INTERPOLATION, "interpolated", la0 + (la1 - la0) * f, lo0 + (lo1 - lo0) * f, lo[1], str(n))


def _local_typos(index: AddressIndex, q: Query, missing: list[tuple[int, float]], expl: list[float]) -> float:
    """Match name tokens no query word matched against the still unexplained query words, allowing
    one edit even on short words ("idu" for "du"); returns the idf mass gained."""
    gained = 0.0
    vocab = index.lexicon.vocab
    free = [i for i in range(len(q.words)) if expl[i] <= 0 and not q.is_num[i]]
    if not free:
        return 0.0
    for tid, w in missing:
        word = vocab[tid]
        if word[0].isdigit() or len(word) < 2:
            continue
        k = max_edits(word) or 1
        for i in free:
            if expl[i] > 0:
                continue
            qw = q.words[i]
            if len(qw) == 1 and len(word) <= 3 and word[0] == qw:  # "N. Fjords Alle" for N.J. Fjords Alle
                expl[i] = INITIAL_QUALITY
                gained += w * INITIAL_QUALITY
                break
            if abs(len(qw) - len(word)) > k or len(qw) < 2:
                continue
            d = OSA.distance(word, qw, score_cutoff=k)
            if d <= k:
                quality = FUZZY_QUALITY[d] if len(word) >= 4 else SHORT_TYPO_QUALITY
                expl[i] = quality
                gained += w * quality
                break
    return gained


@dataclass
class Partial:
    """A candidate after the cheap steps (name and locality matching), with an upper bound on its score."""

    nid: int
    entity: int
    kind: int
    expl: list[float]
    in_ctx: list[bool]
    matched: float
    total: float
    missing: list[tuple[int, float]]
    numbers: list[int]
    ctx_hits: int
    bound: float


def bound(index: AddressIndex, q: Query, nid: int) -> Partial | None:
    """Match one name of one entity and the entity's locality against the query; bound the final score."""
    lex = index.lexicon
    idf = lex.idf
    numeric = lex.numeric
    e = index.name_entity_l[nid]
    kind = index.kind_l[e]
    n = len(q.words)
    expl = [0.0] * n  # how well each query word is explained (0 = not)
    used_num: set[int] = set()
    matched = total = 0.0
    missing: list[tuple[int, float]] = []
    by_tid = q.by_tid
    name = index.name_tokens(nid)
    qparts = q.parts
    partial = q.partial
    for tid in name:
        w = idf[tid]
        total += w
        lst = by_tid.get(tid)
        if lst and tid in partial:  # compound parts count only with their siblings
            names = set(name)
            lst = [(i, v) for i, v in lst if tid not in qparts[i] or any(sib <= names for sib in qparts[i][tid])]
        if not lst:
            missing.append((tid, w))
            continue
        if numeric[tid]:  # a number in the name ("Rue du 8 Mai") takes one query word
            free = [(i, v) for i, v in lst if i not in used_num]
            if not free:
                missing.append((tid, w))
                continue
            i, v = free[0]
            used_num.add(i)
            expl[i] = max(expl[i], v)
            matched += w * v
            continue
        best = 0.0
        for i, v in lst:  # plain comparisons: this loop runs for every candidate name
            if expl[i] < v:  # noqa: PLR1730
                expl[i] = v
            if best < v:  # noqa: PLR1730
                best = v
        matched += w * best
    if matched <= 0 or total <= 0:
        return None
    ctx = index.context(e)
    in_ctx = [False] * n
    numbers: list[int] = []
    ctx_hits = 0
    is_num = q.is_num
    street = kind == KIND_STREET
    free_weight = 0.0
    free_count = 0
    explained = 0.0
    weights = q.weight
    for i in range(n):
        x = expl[i]
        if x > 0:
            explained += weights[i] * x
            continue
        best = 0.0
        m = q.matches[i]
        for t in q.direct[i]:
            if t in ctx and m[t] > best:
                best = m[t]
        if best > 0:
            expl[i] = best
            in_ctx[i] = True
            ctx_hits += 1
            explained += weights[i] * best
        if is_num[i]:
            if street:
                numbers.append(i)
                if best <= 0:
                    explained += weights[i]  # it may turn out to be the house number
        elif best <= 0 and missing:
            free_weight += weights[i]
            free_count += 1
    gain = 0.0
    if free_count and missing:
        ws = [w for _, w in missing]
        if free_count < len(ws):
            ws = heapq.nlargest(free_count, ws)
        gain = FUZZY_QUALITY[1] * sum(ws)
    recall = min(1.0, (matched + gain) / total)
    precision = min(1.0, (explained + FUZZY_QUALITY[1] * free_weight) / q.total_weight)
    if street:
        factor = 1.0 if numbers else NO_NUMBER_STREET_FACTOR
    else:
        factor = UNMATCHED_NUMBER_FACTOR if any(is_num[i] and expl[i] <= 0 for i in range(n)) else 1.0
    return Partial(nid, e, kind, expl, in_ctx, matched, total, missing, numbers, ctx_hits, recall * precision * factor)


def finish(index: AddressIndex, q: Query, p: Partial, floor: float) -> Candidate | None:
    """The exact score: typos local to this name, then the house number on a street."""
    expl = p.expl
    matched = p.matched
    if p.missing:
        matched += _local_typos(index, q, p.missing, expl)
    recall = matched / p.total
    n = len(q.words)
    name_words = [i for i in range(n) if expl[i] > 0 and not p.in_ctx[i]] or [0]
    first, last = q.pos[name_words[0]], q.pos[name_words[-1]]
    name_segs = {q.seg[i] for i in name_words}
    kind, e = p.kind, p.entity
    match_type = MATCH_TYPE[kind]
    lat, lon = index.lat_l[e], index.lon_l[e]
    address, number = -1, None
    factor = 1.0
    if kind == KIND_STREET:
        best_res, best_key, best_i = None, None, -1
        for i in p.numbers:
            res = resolve_number(index, e, q.words[i])
            if res is None:
                continue
            key = (res.quality + (SAME_PART_BONUS if q.seg[i] in name_segs else 0.0)
                   + (ADJACENT_BONUS if q.pos[i] in (first - 1, last + 1) else 0.0)
                   - (POSTCODE_AS_NUMBER if p.in_ctx[i] else 0.0))
            if best_key is None or key > best_key:
                best_res, best_key, best_i = res, key, i
        if best_res is not None:
            factor = best_res.quality
            match_type, lat, lon = best_res.match_type, best_res.lat, best_res.lon
            address, number = best_res.address, best_res.number
            expl[best_i] = 1.0
        elif any(not p.in_ctx[i] for i in p.numbers):
            # The number is understood as a house number the street lacks: STREET_ONLY_FACTOR says so,
            # and the word counts as explained (else a POI sharing the street's first word would win).
            factor = STREET_ONLY_FACTOR
            for i in p.numbers:
                if not p.in_ctx[i]:
                    expl[i] = 1.0
                    break
        else:
            factor = NO_NUMBER_STREET_FACTOR
    elif any(q.is_num[i] and expl[i] <= 0 for i in range(n)):
        factor = UNMATCHED_NUMBER_FACTOR
    precision = sum(w * x for w, x in zip(q.weight, expl)) / q.total_weight
    # Unknown words weigh little in precision (extra words must not kill a match), but a query that is
    # mostly unexplained words is a guess: the share of words explained tempers the confidence.
    words_share = sum(1 for x in expl if x > 0) / n
    if words_share < 0.5 and max(expl) < EXACT_ENOUGH:
        return None  # only typo-matched words in a mostly unexplained query ("nothing like this" -> Nike)
    conf = recall * precision * factor * (1.0 - WORD_SHARE_WEIGHT * (1.0 - words_share))
    if conf < floor:
        return None
    return Candidate(e, conf, (round(conf, 6), p.ctx_hits, index.importance_l[e]), match_type, lat, lon, address, number)


def _search(index: AddressIndex, q: Query, country: str | None, keep: int) -> list[Candidate]:
    """Scored candidates, best first: cheap bounds for all, exact scores in bound order until the
    bound falls below the ``keep``-th best exact score (branch and bound)."""
    partials = [p for nid in retrieve(index, q) if (p := bound(index, q, nid)) is not None and p.bound >= MIN_CONFIDENCE]
    partials.sort(key=lambda p: -p.bound)
    best: dict[tuple[int, int], Candidate] = {}
    top: list[float] = []  # min-heap of the best `keep` confidences so far
    for p in partials:
        floor = top[0] if len(top) >= keep else MIN_CONFIDENCE
        if p.bound < floor:
            break
        if country and index.ent_field(p.entity, "country") not in (country, None):
            continue
        c = finish(index, q, p, floor * 0.999)
        if c is None:
            continue
        key = (c.entity, c.address)
        if key not in best or c.rank_key > best[key].rank_key:
            best[key] = c
        heapq.heappush(top, c.confidence)
        if len(top) > keep:
            heapq.heappop(top)
    return sorted(best.values(), key=lambda c: c.rank_key, reverse=True)


def geocode(index: AddressIndex, text: str, country: str | None = None, limit: int = 5) -> list[dict]:
    """Candidates for free-form ``text``, best first; [] when nothing matches."""
    q = analyse(index, text)
    if not q.words:
        return []
    keep = 1 if limit == 1 else limit + 2  # a few spare for duplicates dropped below
    found = _search(index, q, country, keep)
    if not found or found[0].confidence < FUZZY_RETRY_BELOW:
        q2 = analyse(index, text, fuzzy=True)
        merged = {(c.entity, c.address): c for c in found}
        for c in _search(index, q2, country, keep):
            key = (c.entity, c.address)
            if key not in merged or c.rank_key > merged[key].rank_key:
                merged[key] = c
        found = sorted(merged.values(), key=lambda c: c.rank_key, reverse=True)
    out: list[dict] = []
    seen: dict[str, list[tuple[float, float]]] = {}
    for c in found:
        cand = fmt.candidate(index, c.entity, c.address, c.match_type, c.lat, c.lon, c.confidence, number=c.number)
        # one answer per text within DUPLICATE_M (a place node and its boundary, a shop and its building)
        same = seen.setdefault(cand["formattedAddress"], [])
        if any(distance_m(c.lon, c.lat, lo, la) < DUPLICATE_M for la, lo in same):
            continue
        same.append((c.lat, c.lon))
        out.append(cand)
        if len(out) >= limit:
            break
    return out
