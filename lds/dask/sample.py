"""Address tables with noise, made from a data dir's own ``addresses`` table: the input of bulk tests and benchmarks.

Each row is a real address of the extract written the way people type them: number before or after the street,
lower or upper case, a typo in a long word, postcode and city or not, and a share of rows that cannot be
answered (empty, gibberish). Rows are drawn from a pool of ``pool`` distinct strings, so a large table repeats
addresses about as a customer table does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lds.versions import current_path

BAD_ROWS = ("", "   ", "zzzq xqwv 99999", "!!!", "12")  # answered with an error, never a match
BAD_SHARE = 0.02


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 6:
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]  # two letters swapped


def _variant(row: dict, rng: np.random.Generator) -> str:
    street, number = row["street"], row["housenumber"] or ""
    words = street.split()
    if rng.random() < 0.3:
        j = int(rng.integers(len(words)))
        words[j] = _typo(words[j], rng)
    street = " ".join(words)
    text = f"{number} {street}" if rng.random() < 0.5 else f"{street} {number}"
    if rng.random() < 0.4 and row["postcode"]:
        text += f", {row['postcode']}"
    if rng.random() < 0.4 and row["city"]:
        text += f" {row['city']}"
    case = rng.random()
    return (text.lower() if case < 0.3 else text.upper() if case < 0.4 else text).strip()


def noisy_addresses(data_dir: str | Path, rows: int, seed: int = 0, pool: int = 200_000) -> pa.Table:
    """``rows`` rows of ``id`` (0..rows-1), ``address`` and ``country`` (the extract's code, null on bad rows)."""
    rng = np.random.default_rng(seed)
    source = pq.read_table(
        current_path(data_dir) / "tables" / "addresses.parquet",  # a versioned dir: its current build
        columns=["housenumber", "street", "postcode", "city", "country"],
    )
    real = [r for r in source.to_pylist() if r["street"]]
    picks = rng.integers(len(real), size=min(pool, max(rows, 1)))
    variants = [_variant(real[i], rng) for i in picks.tolist()]
    countries = [real[i]["country"] for i in picks.tolist()]
    bad = len(variants)
    texts = pa.array(variants + list(BAD_ROWS), pa.string())
    codes = pa.array(countries + [None] * len(BAD_ROWS), pa.string())
    index = rng.integers(len(variants), size=rows)
    is_bad = rng.random(rows) < BAD_SHARE
    index[is_bad] = bad + rng.integers(len(BAD_ROWS), size=int(is_bad.sum()))
    take = pa.array(index)
    return pa.table(
        {"id": pa.array(np.arange(rows, dtype=np.int64)), "address": texts.take(take), "country": codes.take(take)}
    )
