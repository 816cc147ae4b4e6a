from hypothesis import given
from hypothesis import strategies as st

from interplay.interactions.signs import SIGNS, add, path_sign, product, total

sign = st.sampled_from(SIGNS)


@given(sign, sign)
def test_commutative(a, b):
    assert product(a, b) == product(b, a)
    assert add(a, b) == add(b, a)


@given(sign, sign, sign)
def test_associative(a, b, c):
    assert product(product(a, b), c) == product(a, product(b, c))
    assert add(add(a, b), c) == add(a, add(b, c))


@given(sign)
def test_identities(a):
    assert product(a, "+") == a
    assert add(a, "0") == a


@given(sign)
def test_zero_annihilates_product_and_unknown_absorbs(a):
    assert product(a, "0") == "0"
    assert add(a, "?") == "?"
    if a != "0":
        assert product(a, "?") == "?"


def test_conflict_and_paths():
    assert add("+", "-") == "?"
    assert path_sign(["-", "-"]) == "+"
    assert path_sign(["+", "-", "+"]) == "-"
    assert total([]) == "0"
    assert total(["+", "+"]) == "+"
