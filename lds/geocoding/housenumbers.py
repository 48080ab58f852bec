"""House numbers: the lookup keys of an address and of a query token, and interpolation arithmetic.

An address "5-11" answers queries for 5-11, 5, 11 and the numbers between of the same parity; "12b"
answers 12b exactly and 12 as a near miss; lists ("1;3", "1,3") answer each part. The quality attached
to each key says how exact the match is, so "12" prefers house 12 over house 12b.
"""

from __future__ import annotations

import re

from lds.geocoding.normalize import fold

_PART_SPLIT = re.compile(r"\s*[;,]\s*")
_RANGE = re.compile(r"^(\d+)([a-z]*)[-/](\d+)([a-z]*)$")
_NUMBER = re.compile(r"^(\d+)\s*([a-z]*)$")
_LEADING = re.compile(r"\d+")
MAX_RANGE_SPAN = 40  # a "2-40" range still names one building; longer spans are street-number blocks


def normalize(raw: str) -> str:
    """Canonical spelling: "12 B" -> "12b", "1 - 3" -> "1-3", "12 bis" -> "12bis"."""
    text = fold(raw).strip()
    text = re.sub(r"\s*([-/])\s*", r"\1", text)
    return re.sub(r"(?<=\d)\s+(?=[a-z])", "", text)


def main_number(raw: str) -> int:
    """The leading integer (for ordering and interpolation), or -1."""
    m = _LEADING.search(raw)
    return int(m.group(0)) if m else -1


def index_keys(raw: str) -> list[tuple[str, float]]:
    """Keys an address with house number ``raw`` is found under, with the quality of each."""
    if raw.isdigit():  # the common case, kept cheap: tables of long streets are built on first use
        return [(raw, 1.0)]
    keys: dict[str, float] = {}

    def add(key: str, quality: float) -> None:
        if key and keys.get(key, 0.0) < quality:
            keys[key] = quality

    text = normalize(raw)
    add(text, 1.0)
    for part in _PART_SPLIT.split(text):
        add(part, 1.0)
        m = _RANGE.match(part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(3))
            add(m.group(1) + m.group(2), 0.97)
            add(m.group(3) + m.group(4), 0.97)
            if lo < hi <= lo + MAX_RANGE_SPAN:
                for n in range(lo + 2, hi, 2 if (hi - lo) % 2 == 0 else 1):
                    add(str(n), 0.95)
            continue
        m = _NUMBER.match(part)
        if m and m.group(2):
            add(m.group(1), 0.9)
    return list(keys.items())


def query_keys(token: str) -> list[tuple[str, float]]:
    """Keys to try for a query house number, best first: "12b" -> 12b, then 12; "1-3" -> 1-3, 1, 3."""
    out = [(token, 1.0)]
    if token.isdigit():
        return out
    m = _RANGE.match(token)
    if m:
        out += [(m.group(1) + m.group(2), 0.95), (m.group(1), 0.93), (m.group(3) + m.group(4), 0.9)]
    else:
        m = _NUMBER.match(token)
        if m and m.group(2):
            out.append((m.group(1), 0.93))
    seen: set[str] = set()
    return [(k, q) for k, q in out if not (k in seen or seen.add(k))]


def parity_step(kind: str) -> int | None:
    """Step of an ``addr:interpolation`` value: odd/even -> 2, all -> 1, a number -> itself."""
    kind = (kind or "").strip().lower()
    if kind in ("odd", "even"):
        return 2
    if kind == "all":
        return 1
    if kind.isdigit() and int(kind) > 0:
        return int(kind)
    return None
