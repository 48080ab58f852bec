"""The build's passes over the address columns (:class:`~lds.geocoding.columns.Addresses`), vectorised: locality
fill-in, the fields and context words of each street from its addresses, postcode groups and the written order.

Each computes what the per-address loops of earlier versions did (same values, same tie-breaks: the first value
seen wins among equally common ones), so the index written is byte-identical to theirs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from lds.geocoding.columns import CITY_FROM_AREA, CITY_FROM_NODE, CITY_FROM_TAG, Addresses, Strings, first_mode
from lds.geocoding.fill import rows_by_value
from lds.geocoding.housenumbers import main_number
from lds.geocoding.localities import Locality, display_name
from lds.geocoding.store import StringPool

STREET_FIELDS = ("city", "suburb", "state", "postcode", "country")  # a street entity's fields, from its addresses


def _per_locality(strings: Strings, unique: list[Locality], which: np.ndarray, fn: Any) -> np.ndarray:
    """``fn(locality)`` (a string, as its id) of each row's locality."""
    return np.array([strings.id(fn(loc)) for loc in unique] or [], dtype=np.int32)[which]


def _country_code(text: str | None) -> str | None:
    code = (text or "").strip().upper()
    return code if len(code) == 2 and code.isalpha() else None


def _names(attr: str) -> Any:
    return lambda loc: display_name(getattr(loc, attr)) if getattr(loc, attr) else None


def fill_localities(addresses: Addresses, unique: list[Locality], which: np.ndarray) -> Counter:
    """City, suburb, state, postcode and country of each address from its locality (``unique[which[row]]``)
    where its tags leave them out; tags win. The counts of fields filled, in the order a row loop meets them.
    One field at a time: a country's columns of millions of rows are made one or two at once."""
    strings = addresses.strings
    city, suburb, state = addresses["city"], addresses["suburb"], addresses["state"]
    postcode, country = addresses["postcode"], addresses["country"]

    tagged = city >= 0
    addresses.city_from[tagged] = CITY_FROM_TAG
    values = _per_locality(strings, unique, which, _names("city"))
    fill_city = ~tagged & (values >= 0)
    city[fill_city] = values[fill_city]
    from_node = np.array([loc.city_from_node for loc in unique] or [], dtype=bool)[which]
    addresses.city_from[fill_city] = np.where(from_node[fill_city], CITY_FROM_NODE, CITY_FROM_AREA)
    del tagged, from_node
    values = _per_locality(strings, unique, which, _names("suburb"))
    take = (suburb < 0) & (values >= 0)
    suburb[take] = values[take]
    values = _per_locality(strings, unique, which, _names("state"))
    take = values >= 0
    state[take] = values[take]
    values = _per_locality(strings, unique, which, lambda loc: loc.postcode)
    fill_postcode = (postcode < 0) & (values >= 0)
    postcode[fill_postcode] = values[fill_postcode]
    values = _per_locality(strings, unique, which, lambda loc: loc.country_code)
    code = strings.map(lambda t: strings.id(_country_code(t)), country)
    fill_country = (code < 0) & (values >= 0)
    country[:] = np.where(code >= 0, code, np.where(fill_country, values, -1))
    del values, code, take

    counts = [
        (name, mask)
        for name, mask in (("city", fill_city), ("postcode_area", fill_postcode), ("country", fill_country))
        if mask.any()
    ]
    filled: Counter = Counter()
    for name, mask in sorted(counts, key=lambda c: int(np.argmax(c[1]))):  # stable: row order, then field order
        filled[name] = int(mask.sum())
    return filled


class StreetAddresses:
    """The addresses of each street group (its ``addrs`` list, in list order) as flat arrays, for the street
    entities: most common field values, distinct localities and values."""

    def __init__(self, rows: np.ndarray, bounds: np.ndarray, addresses: Addresses, which: np.ndarray):
        """``rows[bounds[g]:bounds[g + 1]]``: the addresses of group ``g`` (``streets.set_members``)."""
        n_groups = len(bounds) - 1
        owner = np.repeat(np.arange(n_groups, dtype=np.int32), np.diff(bounds))
        self.addresses = addresses
        self.strings = addresses.strings
        self.mode = {f: first_mode(owner, addresses[f][rows], n_groups) for f in STREET_FIELDS}
        self.rows, self.bounds, self.which = rows, bounds, which

    def fields(self, g: int) -> dict[str, str | None]:
        return {f: self.strings.text(int(self.mode[f][g])) for f in STREET_FIELDS}

    def localities(self, g: int) -> list[int]:
        return np.unique(self.which[self.rows[self.bounds[g] : self.bounds[g + 1]]]).tolist()

    def values(self, g: int, fields: Iterable[str], keep_none: bool = False) -> set[str | None]:
        """The distinct values of ``fields`` on the street's addresses (None among them if ``keep_none``)."""
        rows = self.rows[self.bounds[g] : self.bounds[g + 1]]
        out = set()
        for f in fields:
            for i in np.unique(self.addresses[f][rows]).tolist():
                if i >= 0 or keep_none:
                    out.add(self.strings.text(i))
        return out


def mode_of(ids: np.ndarray) -> int:
    """The most common id (-1 ignored, ties to the first seen), or -1."""
    return int(first_mode(np.zeros(len(ids), dtype=np.int64), ids, 1)[0])


def postcode_rows(addresses: Addresses) -> list[tuple[tuple[str, str | None], np.ndarray]]:
    """((postcode, country), rows) of every postcode and country pair, in the order of their first row."""
    postcode, country = addresses["postcode"], addresses["country"]
    key = postcode.astype(np.int64) * (len(addresses.strings.items) + 1) + (country.astype(np.int64) + 1)
    text = addresses.strings.text
    return [
        ((text(int(postcode[r[0]])), text(int(country[r[0]]))), r)
        for _, r in rows_by_value(key, np.flatnonzero(postcode >= 0))
    ]


def address_order(addresses: Addresses, addr_group: np.ndarray) -> np.ndarray:
    """Rows sorted by (street group, streetless last; leading number; house number text), ties in row order."""
    hn = addresses["hn"]
    uniq, inv = np.unique(hn, return_inverse=True)
    texts = [addresses.strings.text(int(i)) or "" for i in uniq.tolist()]
    numbers = [main_number(t) for t in texts]  # Python ints: a number may not fit 64 bits
    by_number = {v: k for k, v in enumerate(sorted(set(numbers)))}
    number = np.array([by_number[v] for v in numbers] or [], dtype=np.int64)
    rank = np.empty(len(texts), dtype=np.int64)
    rank[sorted(range(len(texts)), key=texts.__getitem__)] = np.arange(len(texts))
    inv = inv.reshape(-1)
    group = np.where(addr_group >= 0, addr_group, np.iinfo(np.int64).max)
    return np.lexsort((rank[inv], number[inv], group)) if len(hn) else np.zeros(0, dtype=np.int64)


def pooled(ids: np.ndarray, strings: Strings, pool: StringPool) -> np.ndarray:
    """``ids`` (of ``strings``) as ids of ``pool``, new strings added in the order they first occur."""
    uniq, first = np.unique(ids, return_index=True)
    table = np.full(len(strings.items) + 1, -1, dtype=np.int32)  # by id + 1: -1 (no string) stays -1
    for u in np.argsort(first, kind="stable").tolist():
        table[int(uniq[u]) + 1] = pool.add(strings.text(int(uniq[u])))
    return table[ids + 1] if len(ids) else np.zeros(0, dtype=np.int32)
