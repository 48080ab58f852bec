"""Compare two address indexes built from one extract (say by two versions of lds): their files byte for byte,
then the answers of both to a geocode of every address's text and a reverse of every address point.

A change to the index build that should not change what it writes (the columnar build of issue 16) is checked
by building before and after into two dirs and running this; it prints the files that differ and the first
answers that differ, and exits 1 if any answer differs.

    .venv/bin/python scripts/compare_geocoder_indexes.py /tmp/before/geocoder /tmp/after/geocoder [--sample N]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lds.geocoding.index import AddressIndex
from lds.geocoding.reverse import reverse
from lds.geocoding.search import geocode


def differing_files(a: Path, b: Path) -> list[str]:
    """Names of the files present in only one dir or with other bytes."""
    names = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
    return [
        n for n in names if not ((a / n).is_file() and (b / n).is_file() and filecmp.cmp(a / n, b / n, shallow=False))
    ]


def address_text(index: AddressIndex, row: int) -> str:
    street = index.ent_field(int(index.addr_entity[row]), "street") if index.addr_entity[row] >= 0 else None
    parts = [" ".join(p for p in (index.string(index.addr_hn[row]), street) if p), index.string(index.addr_city[row])]
    return ", ".join(p for p in parts if p)


def _answer(fn, *args) -> str:
    try:
        return json.dumps(fn(*args), sort_keys=True, default=str)
    except Exception as exc:  # noqa: BLE001 - an error is an answer too (OutOfCoverage)
        return f"{type(exc).__name__}: {exc}"


def differing_answers(a: AddressIndex, b: AddressIndex, rows: np.ndarray, show: int = 5) -> int:
    """How many of the addresses ``rows`` (of ``a``) get another geocode or reverse answer from ``b``."""
    bad = 0
    for row in rows.tolist():
        text = address_text(a, row)
        lat, lon = float(a.addr_lat[row]), float(a.addr_lon[row])
        for what, x, y in (
            ("geocode " + text, _answer(geocode, a, text), _answer(geocode, b, text)),
            (f"reverse {lat},{lon}", _answer(reverse, a, lat, lon), _answer(reverse, b, lat, lon)),
        ):
            if x != y:
                bad += 1
                if bad <= show:
                    print(f"differs: {what}\n  a: {x[:300]}\n  b: {y[:300]}")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--sample", type=int, default=0, help="check this many addresses (evenly spread); 0: all")
    args = ap.parse_args()
    files = differing_files(args.a, args.b)
    print(f"files: {'identical' if not files else 'differ: ' + ', '.join(files)}")
    a, b = AddressIndex.load(args.a), AddressIndex.load(args.b)
    n = len(a.addr_lat)
    rows = np.arange(n) if not args.sample or args.sample >= n else np.linspace(0, n - 1, args.sample).astype(int)
    bad = differing_answers(a, b, rows)
    print(f"answers: {2 * len(rows)} queries for {len(rows)} addresses, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
