"""spatial.budget.money without a database (``make mutation``): parsing a user's yuan exactly,
the one rounding rule, and largest-remainder allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from spatial.budget import money
from spatial.budget.money import allocate, exact_yuan, format_yuan, parse_yuan, percent_of, to_fen

Y = Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,999,999.99", "1999999.99"),
        (" 2,000,000 元", "2000000.00"),
        ("1，234.5", "1234.50"),
        ("+12", "12.00"),
        ("-0.01", "-0.01"),
        (2000000, "2000000.00"),
        (0.1, "0.10"),
        (1234.56, "1234.56"),
        (Y("3.5"), "3.50"),
        ("99999999999999.99", "99999999999999.99"),
    ],
)
def test_parse_yuan(value, expected):
    got = parse_yuan(value)
    assert isinstance(got, Decimal) and str(got) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "不是金额：True / not an amount: True"),
        ("1.5e3", "不是金额：'1.5e3' / not an amount: '1.5e3'"),
        ("abc", "不是金额：'abc' / not an amount: 'abc'"),
        ("", "不是金额：'' / not an amount: ''"),
        ("12元元", "不是金额：'12元元' / not an amount: '12元元'"),
        ([1], "不是金额：[1] / not an amount: [1]"),
        (float("nan"), "金额须为有限数 / an amount must be finite"),
        (float("inf"), "金额须为有限数 / an amount must be finite"),
        (float("-inf"), "金额须为有限数 / an amount must be finite"),
        (Y("NaN"), "金额须为有限数 / an amount must be finite"),
        (Y("Infinity"), "金额须为有限数 / an amount must be finite"),
        (
            "100000000000000.00",
            "金额过大：100000000000000.00 / amount too large: 100000000000000.00",
        ),  # noqa: E501
        ("-100000000000000", "金额过大：-100000000000000 / amount too large: -100000000000000"),
        ("1.005", "金额最多两位小数（到分）：1.005 / at most two decimals (fen): 1.005"),
        (0.125, "金额最多两位小数（到分）：0.125 / at most two decimals (fen): 0.125"),
    ],
)
def test_parse_yuan_refuses(value, message):
    with pytest.raises(ValueError) as info:
        parse_yuan(value)
    assert str(info.value) == message


def test_rounding_rule():
    assert (to_fen(Y("0.005")), to_fen(Y("0.0049")), to_fen(Y("-0.005"))) == (
        Y("0.01"), Y("0.00"), Y("-0.01"))  # fmt: skip
    assert str(to_fen(Y("2.675"))) == "2.68"  # exact decimal: half up, not half even
    assert str(to_fen(Y("7"))) == "7.00"
    assert percent_of(Y("3456789.10"), Y("0.02")) == Y("69135.78")
    assert percent_of(Y("100.05"), Y("0.10")) == Y("10.01")  # 10.005 → 10.01
    assert money.FEN == Y("0.01") and money.MAX_YUAN == Y("99999999999999.99")
    assert exact_yuan(Y("5")) == Y("5.00") and str(exact_yuan(Y("5.1"))) == "5.10"
    with pytest.raises(ValueError, match="is not a whole number of fen"):
        exact_yuan(Y("5.001"))
    assert format_yuan(Y("2000000")) == "2,000,000.00"
    assert format_yuan(Y("1234.5")) == "1,234.50"


@pytest.mark.parametrize(
    ("amount", "weights", "shares"),
    [
        ("69135.78", ["0.005", "0.0075", "0.0075"], ["17283.94", "25925.92", "25925.92"]),
        ("0.01", ["1", "1"], ["0.01", "0.00"]),  # equal remainders: the earlier gets the fen
        ("0.02", ["1", "1", "1"], ["0.01", "0.01", "0.00"]),
        ("0.05", ["1", "3"], ["0.01", "0.04"]),  # 1.25 / 3.75 fen: the larger remainder wins
        ("10.00", ["1", "0"], ["10.00", "0.00"]),
        ("100", ["2", "3", "3"], ["25.00", "37.50", "37.50"]),
        ("0.07", ["1", "2", "4"], ["0.01", "0.02", "0.04"]),
        ("1.00", ["1", "1", "1"], ["0.34", "0.33", "0.33"]),
        ("0.07", ["0.9", "0.1"], ["0.06", "0.01"]),  # 6.3 / 0.7 fen: the larger remainder
    ],
)
def test_allocate_adds_up(amount, weights, shares):
    got = allocate(Y(amount), [Y(w) for w in weights])
    assert [str(s) for s in got] == shares
    assert sum(got) == Y(amount)


@pytest.mark.parametrize("weights", [[], ["0", "0"], ["1", "-1"], ["-1"]])
def test_allocate_refuses_bad_weights(weights):
    with pytest.raises(ValueError, match="weights must be non-negative and not all zero"):
        allocate(Y("1.00"), [Y(w) for w in weights])


def test_allocate_needs_whole_fen():
    with pytest.raises(ValueError):
        allocate(Y("1.001"), [Y("1")])
