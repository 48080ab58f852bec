"""Forward geocoding on the real extracts: word order, case, accents, abbreviations, typos, extra words,
house-number fallbacks, places and POIs, country restriction, limits, confidence."""

from __future__ import annotations

import pytest

from lds.geo import distance_m
from lds.geocoding.search import geocode

LAZARE = (43.7330881, 7.418131)  # 14 Allée Lazare Sauvaigo, Monaco (node)
METROPOLE = (43.7409119, 7.427968)  # 4 Avenue de la Madone (hotel Metropole)


def top(index, text, **kw):
    found = geocode(index, text, limit=kw.pop("limit", 1), **kw)
    assert found, text
    return found[0]


def near(c, point, metres=25.0) -> bool:
    return distance_m(c["longitude"], c["latitude"], point[1], point[0]) <= metres


@pytest.mark.parametrize("text", [
    "14 Allée Lazare Sauvaigo",
    "Allée Lazare Sauvaigo 14, 98000 Monaco",
    "allee lazare sauvaigo 14",
    "14 ALLÉE LAZARE SAUVAIGO, MONACO",
    "14 All. Lazare Sauvaigo",
    "14 Allée Lazare Sauvaigo, bâtiment B, 2nd floor",
])
def test_one_address_in_many_spellings(monaco_index, text):
    c = top(monaco_index, text)
    assert near(c, LAZARE) and c["streetNumber"] == "14" and c["matchType"] == "address"
    assert c["streetName"] == "Allée Lazare Sauvaigo" and c["countryCode"] == "MC" and c["provider"] == "lds"


def test_candidate_fields(monaco_index):
    c = top(monaco_index, "4 avenue de la madone")
    assert set(c) >= {"latitude", "longitude", "formattedAddress", "streetName", "streetNumber", "postalCode", "city",
                      "country", "countryCode", "matchType", "matchConfidence", "provider"}
    assert near(c, METROPOLE)
    assert c["formattedAddress"] == "4 Avenue de la Madone, 98000 Monaco, Monaco"  # number first in MC
    assert c["matchConfidence"] == 1.0


@pytest.mark.parametrize("text", ["Allée Lazare Sauvaigo 14", "14 Allée Lazzare Sauvaigo", "14 Allée Lazare Sauvagio",
                                  "14 Alée Lazare Sauvaigo", "14 Allée Lazare Sauvaig", "14 Allée Lazxare Sauvaigo"])
def test_typos_in_the_street_name(monaco_index, text):
    assert near(top(monaco_index, text), LAZARE)


def test_two_typos_in_a_long_word(copenhagen_index):
    c = top(copenhagen_index, "Vesterbrgoadde 12, København V")  # transposition + insertion
    assert c["streetName"] == "Vesterbrogade" and c["streetNumber"] == "12"


def test_typo_in_a_short_word_is_matched_against_the_candidate(monaco_index):
    c = top(monaco_index, "11 Rue idu Gabian")
    assert c["streetName"] == "Rue du Gabian" and c["streetNumber"] == "11"


def test_danish_letters_and_glued_street_types(copenhagen_index):
    a = top(copenhagen_index, "H.C. Ørsteds Vej 25, 1879 Frederiksberg")
    for text in ("hc orstedsvej 25", "H C Oersteds Vej 25", "H.C. Ørstedsv. 25, Frederiksberg C"):
        b = top(copenhagen_index, text)
        assert distance_m(a["longitude"], a["latitude"], b["longitude"], b["latitude"]) < 1.0, text
    assert a["formattedAddress"].startswith("H.C. Ørsteds Vej 25")  # street first in DK


def test_compound_written_apart(copenhagen_index):
    a = top(copenhagen_index, "Enghavevej 76, 1674 København V")
    b = top(copenhagen_index, "Enghave Vej 76, 1674 København V")
    assert a["streetNumber"] == b["streetNumber"] == "76" and (a["latitude"], a["longitude"]) == (b["latitude"], b["longitude"])


def test_house_number_fallbacks(copenhagen_index):
    c = top(copenhagen_index, "Colbjørnsensgade 5-11")
    assert c["streetNumber"] == "5-11" and c["matchType"] == "address"
    lettered = top(copenhagen_index, "Vesterbrogade 12b")  # there is no 12b: 12 answers
    assert lettered["streetNumber"] == "12" and lettered["matchType"] == "address"
    assert lettered["matchConfidence"] < 1.0
    missing = top(copenhagen_index, "Vesterbrogade 9999")  # no such number: the street
    assert missing["matchType"] == "street" and missing["streetName"] == "Vesterbrogade"
    assert missing["streetNumber"] is None and missing["matchConfidence"] <= 0.6


def test_missing_number_between_neighbours_is_interpolated(monaco_index):
    c = top(monaco_index, "boulevard des moulins 12")
    assert c["matchType"] == "interpolated" and c["streetNumber"] == "12"
    assert c["streetName"] == "Boulevard des Moulins"


def test_street_without_number(copenhagen_index):
    c = top(copenhagen_index, "Istedgade, København V")
    assert c["matchType"] == "street" and c["streetName"] == "Istedgade" and c["streetNumber"] is None


def test_places_in_every_language_and_pois(copenhagen_index, monaco_index):
    for text in ("København", "Copenhagen", "Kopenhagen", "Copenhague"):
        c = top(copenhagen_index, text)
        assert c["matchType"] == "place" and c["name"] == "København", text
    assert top(copenhagen_index, "Vesterbro")["matchType"] == "place"
    tivoli = top(copenhagen_index, "Tivoli")
    assert tivoli["matchType"] == "poi" and tivoli["name"] == "Tivoli"
    hotel = top(monaco_index, "Metropole, Monaco")
    assert hotel["matchType"] == "poi" and hotel["city"] == "Monaco"
    assert top(monaco_index, "Monte-Carlo")["matchType"] == "place"
    assert top(copenhagen_index, "2300")["matchType"] == "place"  # a postcode


def test_number_next_to_the_street_wins(copenhagen_index):
    c = top(copenhagen_index, "apt 5, Istedgade 12, 1650 København V")
    assert c["streetNumber"] == "12"


def test_a_contradicting_postcode_lowers_confidence(copenhagen_index):
    right = top(copenhagen_index, "Istedgade 12, 1650 København V")
    wrong = top(copenhagen_index, "Istedgade 12, 2300 København S")
    assert right["streetNumber"] == wrong["streetNumber"] == "12"
    assert right["matchConfidence"] == 1.0 and wrong["matchConfidence"] < 0.8


def test_country_restricts_and_limit_caps(copenhagen_index):
    assert geocode(copenhagen_index, "Istedgade 12", country="DK", limit=1)
    assert geocode(copenhagen_index, "Istedgade 12", country="FR", limit=1) == []
    many = geocode(copenhagen_index, "Vesterbrogade", limit=4)
    assert 1 < len(many) <= 4
    confidences = [c["matchConfidence"] for c in many]
    assert confidences == sorted(confidences, reverse=True)
    assert len({c["formattedAddress"] for c in many}) == len(many)


def test_nothing_found(monaco_index):
    assert geocode(monaco_index, "zzqx wvvq") == []
    assert geocode(monaco_index, ",,, ;") == []
