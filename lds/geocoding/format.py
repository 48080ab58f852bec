"""Candidate JSON: the CARTO LDS geocoding fields, and a formatted one-line address.

The line follows the country's convention: number before the street in FR/MC/US/GB/... ("14 Allée
Lazare Sauvaigo"), after it elsewhere in Europe ("Enghavevej 76"); postcode before the city except where
it follows it (GB, US, CA, AU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lds.formats import KIND_PLACE, KIND_POI, KIND_POSTCODE

if TYPE_CHECKING:  # only for annotations: importing the index here would close an import cycle
    from lds.geocoding.index import AddressIndex

NUMBER_FIRST = {"US", "CA", "GB", "IE", "AU", "NZ", "FR", "MC", "LU", "IN", "ZA", "SG", "MY", "PH", "IL", "TH", "JP"}
POSTCODE_AFTER_CITY = {"US", "CA", "GB", "AU", "IE"}


def street_line(street: str | None, number: str | None, country: str | None) -> str | None:
    if not street:
        return number
    if not number:
        return street
    return f"{number} {street}" if country in NUMBER_FIRST else f"{street} {number}"


def postal_line(postcode: str | None, city: str | None, country: str | None) -> str | None:
    parts = [city, postcode] if country in POSTCODE_AFTER_CITY else [postcode, city]
    return " ".join(p for p in parts if p) or None


def formatted(name: str | None, street: str | None, number: str | None, postcode: str | None, city: str | None,
              country_code: str | None, country: str | None) -> str:
    parts = [name, street_line(street, number, country_code), postal_line(postcode, city, country_code), country]
    out: list[str] = []
    for p in parts:
        if p and p not in out:
            out.append(p)
    return ", ".join(out)


def candidate(index: AddressIndex, e: int, address: int, match_type: str, lat: float, lon: float, confidence: float,
              number: str | None = None, language: str | None = None, distance: float | None = None) -> dict[str, Any]:
    """One candidate dict for entity ``e`` (and address row ``address`` when >= 0)."""
    kind = int(index.ent_kind[e])
    s = index.string
    if address >= 0:
        street = index.ent_field(e, "street")
        number = number or s(index.addr_hn[address])
        postcode, city = s(index.addr_postcode[address]), s(index.addr_city[address])
        state, code = s(index.addr_state[address]), s(index.addr_country[address])
        name = None
    else:
        street = index.ent_field(e, "street")
        postcode, city = index.ent_field(e, "postcode"), index.ent_field(e, "city")
        state, code = index.ent_field(e, "state"), index.ent_field(e, "country")
        name = index.ent_field(e, "name") if kind in (KIND_POI, KIND_PLACE) else None
        if kind == KIND_POI:
            number = number or index.ent_field(e, "hn")
        if kind == KIND_PLACE and not city:
            city = name if index.ent_field(e, "category") in ("city", "town", "village", "municipality", "hamlet") else None
        if kind == KIND_POSTCODE:
            name = None
    tr = index.translate
    street_out, city_out = tr(street, language), tr(city, language)
    name_out = tr(name, language)
    country = index.country_name(code, language)
    cand: dict[str, Any] = {
        "latitude": round(lat, 7),
        "longitude": round(lon, 7),
        "formattedAddress": formatted(name_out, street_out, number, postcode, city_out, code, country),
        "streetName": street_out,
        "streetNumber": number,
        "postalCode": postcode,
        "city": city_out,
        "state": tr(state, language),
        "country": country,
        "countryCode": code,
        "matchType": match_type,
        "matchConfidence": round(min(1.0, max(0.0, confidence)), 3),
        "provider": "lds",
    }
    if kind in (KIND_POI, KIND_PLACE):
        cand["name"] = name_out
        cand["category"] = index.ent_field(e, "category")
    if distance is not None:
        cand["distance"] = round(distance, 1)
    return cand
