"""What a query word may stand for in the index vocabulary: exactly, as a surface form, or with typos.

Exact tokens come first. Surface forms cover words the index split or abbreviated ("enghavevej" ->
enghave + vej) and glued pairs ("montecarlo" -> monte + carlo). Typos use the optimal-string-alignment
distance (a transposition is one edit) through rapidfuzz over same-length buckets of the vocabulary:
one edit for words of 4-7 letters, two from 8 letters on.
"""

from __future__ import annotations

from rapidfuzz import process
from rapidfuzz.distance import OSA

from lds.geocoding.streettypes import CANONICAL

EXACT, SURFACE, JOINED = 1.0, 0.97, 0.95
FUZZY_QUALITY = {1: 0.85, 2: 0.7}
FUZZY_MIN_LEN = 4
FUZZY_LIMIT = 6
SHORT_LIMIT = 20
SHORT_QUALITY = 0.7

Match = tuple[tuple[int, ...], float]


def max_edits(word: str) -> int:
    if len(word) < FUZZY_MIN_LEN:
        return 0
    return 1 if len(word) <= 7 else 2


class Lexicon:
    """Vocabulary lookups for query words (token ids are the index's)."""

    def __init__(self, vocab: list[str], surface: dict[str, tuple[int, ...]], idf: list[float], flags: list[int],
                 df: list[int]):
        self.ids = {w: i for i, w in enumerate(vocab)}
        self.vocab = vocab
        self.surface = surface
        for full, canon in CANONICAL.items():  # "boulevard" is typed, "bd" is indexed: typos need the full form
            if canon in self.ids and full not in self.ids and len(full) >= FUZZY_MIN_LEN:
                self.surface.setdefault(full, (self.ids[canon],))
        self.idf = idf
        self.numeric = [w[:1].isdigit() for w in vocab]
        self.flags = flags
        self.df = df
        self._buckets: dict[int, tuple[list[str], list[tuple[int, ...]]]] | None = None

    def exact(self, word: str) -> Match | None:
        i = self.ids.get(word)
        if i is not None:
            return (i,), EXACT
        s = self.surface.get(word)
        if s is not None:
            return s, SURFACE
        return None

    def _bucket_index(self) -> dict[int, tuple[list[str], list[tuple[int, ...]]]]:
        if self._buckets is None:
            buckets: dict[int, tuple[list[str], list[tuple[int, ...]]]] = {}
            for w, i in self.ids.items():
                if len(w) >= FUZZY_MIN_LEN - 1 and not w[0].isdigit():
                    b = buckets.setdefault(len(w), ([], []))
                    b[0].append(w)
                    b[1].append((i,))
            for w, seq in self.surface.items():
                if len(w) >= FUZZY_MIN_LEN - 1:
                    b = buckets.setdefault(len(w), ([], []))
                    b[0].append(w)
                    b[1].append(seq)
            self._buckets = buckets
        return self._buckets

    def fuzzy(self, word: str) -> list[Match]:
        """Vocabulary entries within the allowed edits of ``word``, best first. Three-letter words get
        one edit too ("pil" -> pile), but only towards name words and with a lower quality."""
        short = len(word) == FUZZY_MIN_LEN - 1
        k = 1 if short else max_edits(word)
        if k == 0 or word[0].isdigit():
            return []
        buckets = self._bucket_index()
        found: list[tuple[int, Match]] = []
        limit = SHORT_LIMIT if short else FUZZY_LIMIT
        for length in range(len(word) - k, len(word) + k + 1):
            b = buckets.get(length)
            if not b:
                continue
            for _, d, j in process.extract(word, b[0], scorer=OSA.distance, score_cutoff=k, limit=limit):
                if d > 0:
                    seq = b[1][j]
                    if short and not (len(seq) == 1 and self.flags[seq[0]] & 1):
                        continue
                    found.append((d, (seq, SHORT_QUALITY if short else FUZZY_QUALITY[int(d)])))
        found.sort(key=lambda x: x[0])
        return [m for _, m in found[:limit]]


def word_matches(lex: Lexicon, text: str, raw: str, fuzzy: bool) -> tuple[dict[int, float], frozenset[int], dict]:
    """Vocabulary tokens one query word may stand for, with qualities; those it matches on its own; and,
    for tokens it matches only as one part of a compound ("tingvej" -> ting + vej), the other parts,
    which a name must also have for the word to count. Cached per index: words repeat across queries."""
    m: dict[int, float] = {}
    d: set[int] = set()
    parts: dict[int, tuple[frozenset[int], ...]] = {}
    hit = lex.exact(text)
    if hit is None and raw != text:
        hit = lex.exact(raw)
    found = [hit] if hit is not None else []
    if fuzzy or hit is None:
        word = raw if len(raw) > len(text) and not raw[0].isdigit() else text
        found += lex.fuzzy(word)
    for seq, quality in found:
        for tid in seq:
            if m.get(tid, 0.0) < quality:
                m[tid] = quality
        if len(seq) == 1:
            d.add(seq[0])
        else:
            for tid in seq:  # each compound is an alternative: any one whose parts the name has will do
                parts[tid] = (*parts.get(tid, ()), frozenset(t for t in seq if t != tid))
    return m, frozenset(d), {t: p for t, p in parts.items() if t not in d}
