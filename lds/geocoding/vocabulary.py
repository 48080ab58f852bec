"""Names as canonical tokens: the vocabulary, idf weights, the inverted index and surface forms.

Every name of every entity (street, place, POI, postcode) becomes a token sequence (``normalize``); a
token's idf says how much a query word matching it weighs; postings list the names holding it; the
locality words of each entity (its context) are token ids too. Surface forms map words the tokenizer
split or abbreviated, and glued word pairs, to their tokens ("enghavevej" -> enghave + vej,
"montecarlo" -> monte + carlo), so those spellings are found exactly and typos in them fuzzily.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from lds.geocoding.normalize import tokens
from lds.geocoding.store import csr

FLAG_NAME, FLAG_CONTEXT = 1, 2  # tok_flags bits: the token occurs in a name / in a locality context


class Tokenizer:
    """Caches canonical tokens per string and records surface forms (raw words, glued word pairs)."""

    def __init__(self) -> None:
        self.cache: dict[str, tuple[str, ...]] = {}
        self.surface: dict[str, tuple[str, ...]] = {}

    def __call__(self, text: str) -> tuple[str, ...]:
        hit = self.cache.get(text)
        if hit is not None:
            return hit
        toks = tokens(text)
        by_pos: dict[int, list[str]] = defaultdict(list)
        raw: dict[int, str] = {}
        for t in toks:
            by_pos[t.pos].append(t.text)
            raw[t.pos] = t.raw
        positions = sorted(by_pos)
        for p in positions:
            if by_pos[p] != [raw[p]] and not raw[p][0].isdigit():
                self.surface.setdefault(raw[p], tuple(by_pos[p]))
        for p, q in pairwise(positions):
            if not raw[p][0].isdigit() and not raw[q][0].isdigit():
                self.surface.setdefault(raw[p] + raw[q], tuple(by_pos[p] + by_pos[q]))
        out = self.cache[text] = tuple(t.text for t in toks)
        return out


@dataclass
class Vocabulary:
    vocab: dict[str, int]
    name_entity: list[int]
    name_tokens: list[list[int]]
    idf: np.ndarray
    flags: np.ndarray
    postings: list[list[int]]
    context: list[list[int]]
    name_weight: np.ndarray
    surface: dict[str, tuple[str, ...]]

    def arrays(self) -> dict[str, np.ndarray]:
        name_off, name_vals = csr(self.name_tokens)
        post_off, post_vals = csr(self.postings)
        ctx_off, ctx_vals = csr(self.context)
        surf_off, surf_vals = csr([[self.vocab[w] for w in self.surface[k]] for k in self.surface_keys])
        return {
            "ent_ctx_off": ctx_off, "ent_ctx": ctx_vals,
            "name_entity": np.array(self.name_entity, dtype=np.int32), "name_tok_off": name_off, "name_tok": name_vals,
            "name_weight": self.name_weight, "tok_idf": self.idf, "tok_flags": self.flags,
            "tok_post_off": post_off, "tok_post": post_vals, "surf_off": surf_off, "surf_tok": surf_vals,
        }

    @property
    def surface_keys(self) -> list[str]:
        return sorted(self.surface)


def build_vocabulary(ent_names: list[list[str]], ent_ctx: list[frozenset[str]], tok: Tokenizer) -> Vocabulary:
    """Token ids, idf (ln(1 + names / names holding the token)), postings and contexts of all entities."""
    name_entity: list[int] = []
    name_toks: list[tuple[str, ...]] = []
    for e, names in enumerate(ent_names):
        seen: set[tuple[str, ...]] = set()
        for n in names:
            t = tok(n)
            if t and t not in seen:
                seen.add(t)
                name_entity.append(e)
                name_toks.append(t)
    vocab: dict[str, int] = {}
    df: Counter = Counter()
    for t in name_toks:
        for w in set(t):
            df[w] += 1
    for t in name_toks:
        for w in t:
            vocab.setdefault(w, len(vocab))
    for ctx in ent_ctx:
        for w in sorted(ctx):  # a set: its order follows the hash seed, the ids must not
            vocab.setdefault(w, len(vocab))
    for words in tok.surface.values():
        for w in words:
            vocab.setdefault(w, len(vocab))
    n_names = max(1, len(name_toks))
    idf = np.array([math.log1p(n_names / df[w]) if df[w] else math.log1p(n_names) for w in vocab], dtype=np.float32)
    flags = np.zeros(len(vocab), dtype=np.uint8)
    postings: list[list[int]] = [[] for _ in vocab]
    name_tok_ids = []
    for nid, t in enumerate(name_toks):
        ids = [vocab[w] for w in t]
        name_tok_ids.append(ids)
        for i in set(ids):
            postings[i].append(nid)
            flags[i] |= FLAG_NAME
    ctx_ids = []
    for ctx in ent_ctx:
        ids = sorted(vocab[w] for w in ctx)
        ctx_ids.append(ids)
        flags[ids] |= FLAG_CONTEXT
    name_weight = np.array([float(sum(idf[i] for i in ids)) for ids in name_tok_ids], dtype=np.float32)
    return Vocabulary(vocab, name_entity, name_tok_ids, idf, flags, postings, ctx_ids, name_weight, tok.surface)
