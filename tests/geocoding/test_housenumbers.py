"""House-number keys of addresses and queries, and interpolation steps."""

from lds.geocoding.housenumbers import index_keys, main_number, normalize, parity_step, query_keys


def test_normalize_spacing_and_case():
    assert normalize("12 B") == "12b"
    assert normalize("1 - 3") == "1-3"
    assert normalize("12 bis") == "12bis"


def test_a_range_answers_its_ends_and_the_numbers_between():
    keys = dict(index_keys("5-11"))
    assert keys["5-11"] == 1.0
    assert keys["5"] == keys["11"] == 0.97
    assert keys["7"] == keys["9"] == 0.95
    assert "6" not in keys  # same parity only


def test_a_lettered_number_answers_its_base_number_less_exactly():
    keys = dict(index_keys("12b"))
    assert keys["12b"] == 1.0 and keys["12"] < 1.0


def test_lists_answer_each_part():
    keys = dict(index_keys("1;3"))
    assert keys["1"] == keys["3"] == 1.0


def test_query_keys_try_exact_first_then_fallbacks():
    assert [k for k, _ in query_keys("12b")] == ["12b", "12"]
    keys = [k for k, _ in query_keys("1-3")]
    assert keys[0] == "1-3" and "1" in keys and "3" in keys
    qualities = [q for _, q in query_keys("1-3")]
    assert qualities == sorted(qualities, reverse=True)


def test_main_number_and_parity():
    assert main_number("168-170") == 168
    assert main_number("B") == -1
    assert parity_step("odd") == parity_step("even") == 2
    assert parity_step("all") == 1
    assert parity_step("4") == 4
    assert parity_step("alphabetic") is None
