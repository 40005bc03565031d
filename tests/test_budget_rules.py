"""Budget rules on exact money: each percentage on a round and an odd amount, the fen rounding,
the 0.5/0.75/0.75 split, the Art. 16 boundary. Every expected figure is worked out by hand in
the comment beside it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from spatial.budget.exemption import art16_decision
from spatial.budget.money import allocate, format_yuan, parse_yuan, percent_of, to_fen
from spatial.budget.plan import compute_budget
from spatial.budget.rates import BUSINESS_FEE_SHARES, Track

HOUSING, LAND = Track.housing_compensation, Track.land_readiness
SPLIT = [s.rate for s in BUSINESS_FEE_SHARES]


def lines(b) -> dict[str, D]:  # noqa: ANN001
    return {ln.code: ln.amount for ln in b.lines}


def test_housing_percentages_on_a_round_amount():
    # 1,000,000.00 direct: 10% = 100,000.00 (Art. 33), 5% = 50,000.00 (Art. 34),
    # 1% = 10,000.00 (Art. 35, payments = direct before anything is paid).
    b = compute_budget(HOUSING, D("1000000.00"))
    assert lines(b) == {
        "direct_compensation": D("1000000.00"),
        "technical_fees": D("0.00"),
        "contingency": D("100000.00"),
        "rewards": D("50000.00"),
        "working_funds": D("10000.00"),
    }
    assert b.total == D("1160000.00")
    assert [ln.article for ln in b.lines][2:] == ["第三十三条", "第三十四条", "第三十五条"]


def test_housing_percentages_on_an_odd_amount():
    # 1,234,567.89 direct, 8,765.43 technical:
    # 10% = 123,456.789 → 123,456.79; 5% = 61,728.3945 → 61,728.39; 1% = 12,345.6789 → 12,345.68
    # total = 1,234,567.89 + 8,765.43 + 123,456.79 + 61,728.39 + 12,345.68 = 1,440,864.18
    b = compute_budget(HOUSING, D("1234567.89"), D("8765.43"))
    got = lines(b)
    assert (got["contingency"], got["rewards"], got["working_funds"]) == (
        D("123456.79"),
        D("61728.39"),
        D("12345.68"),
    )
    assert b.total == D("1440864.18")
    assert b.total == sum(got.values())


def test_working_funds_and_business_fee_use_actual_payments_once_recorded():
    # 1% of 987,654.32 paid = 9,876.5432 → 9,876.54 (direct 1,000,000.00 still gives the 10%/5%)
    b = compute_budget(HOUSING, D("1000000.00"), actual_payments=D("987654.32"))
    assert lines(b)["working_funds"] == D("9876.54")
    assert lines(b)["contingency"] == D("100000.00")
    assert b.payments_basis.startswith("实际支付")
    # 2% of 987,654.32 = 19,753.0864 → 19,753.09
    b = compute_budget(LAND, D("1000000.00"), actual_payments=D("987654.32"))
    assert lines(b)["business_fee"] == D("19753.09")


def test_land_readiness_percentages_on_a_round_amount():
    # 10,000,000.00: 20% = 2,000,000.00; 2% = 200,000.00 = 50,000 + 75,000 + 75,000
    b = compute_budget(LAND, D("10000000.00"))
    assert lines(b)["contingency"] == D("2000000.00")
    assert lines(b)["business_fee"] == D("200000.00")
    assert [s.amount for s in b.business_fee_shares] == [
        D("50000.00"),
        D("75000.00"),
        D("75000.00"),
    ]
    assert b.total == D("12200000.00")
    assert [s.label_zh for s in b.business_fee_shares] == [
        "市土地储备中心",
        "办公室统筹使用",
        "街道办事处",
    ]


def test_land_readiness_split_adds_up_where_separate_rounding_does_not():
    # 3,456,789.10: 20% = 691,357.82; 2% = 69,135.782 → 69,135.78 = 6,913,578 fen.
    # Rounded separately: 0.5% = 17,283.9455 → 17,283.95, 0.75% = 25,925.91825 → 25,925.92
    # (twice): 69,135.79, one fen too many. Largest remainder on 6,913,578 fen split 2:3:3:
    # exact 1,728,394.5 / 2,592,591.75 / 2,592,591.75, floors sum to 6,913,576, the 2 fen left
    # go to the .75 remainders: 17,283.94 + 25,925.92 + 25,925.92 = 69,135.78.
    b = compute_budget(LAND, D("3456789.10"))
    fee = lines(b)["business_fee"]
    assert fee == D("69135.78")
    separately = [percent_of(D("3456789.10"), r) for r in SPLIT]
    assert separately == [D("17283.95"), D("25925.92"), D("25925.92")]
    assert sum(separately) == D("69135.79") != fee
    shares = [s.amount for s in b.business_fee_shares]
    assert shares == [D("17283.94"), D("25925.92"), D("25925.92")]
    assert sum(shares) == fee
    assert b.total == D("4217282.70")  # 3,456,789.10 + 691,357.82 + 69,135.78


def test_split_where_office_and_street_differ_by_a_fen():
    # 1,000,000.70 paid: 2% = 20,000.014 → 20,000.01 = 2,000,001 fen. Separately: 5,000.0035 →
    # 5,000.00 and 7,500.00525 → 7,500.01 twice = 20,000.02. Largest remainder: exact 500,000.25
    # / 750,000.375 / 750,000.375, floors 2,000,000, the 1 fen left goes to the first of the
    # equal .375 remainders (the office, in the article's order): 5,000.00 / 7,500.01 / 7,500.00.
    b = compute_budget(LAND, D("1000000.70"))
    assert lines(b)["business_fee"] == D("20000.01")
    assert sum(percent_of(D("1000000.70"), r) for r in SPLIT) == D("20000.02")
    assert [s.amount for s in b.business_fee_shares] == [D("5000.00"), D("7500.01"), D("7500.00")]


def test_split_on_tiny_amounts():
    # 2.00 paid: 2% = 0.04 = 4 fen; exact 1 / 1.5 / 1.5 → 1, 2, 1 (tie to the office)
    assert allocate(D("0.04"), SPLIT) == [D("0.01"), D("0.02"), D("0.01")]
    # separately: 0.01 + 0.015→0.02 + 0.02 = 0.05
    assert sum(percent_of(D("2.00"), r) for r in SPLIT) == D("0.05")
    # 1 fen: exact 0.25 / 0.375 / 0.375 → the office
    assert allocate(D("0.01"), SPLIT) == [D("0.00"), D("0.01"), D("0.00")]
    assert allocate(D("0.00"), SPLIT) == [D("0.00")] * 3


def test_split_adds_up_for_every_amount_up_to_100_yuan():
    for fen in range(0, 10001):
        fee = D(fen) / 100
        shares = allocate(fee, SPLIT)
        assert sum(shares) == fee
        for share, w in zip(shares, SPLIT, strict=True):
            assert abs(share - fee * w / D("0.02")) < D("0.01")


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        # half up, never half-even: 1% of 1,234.50 = 12.345 → 12.35 (half-even would be 12.34)
        (D("1234.50"), D("0.01"), D("12.35")),
        # 5% of 0.10 = 0.005 → 0.01; 10% of 0.05 = 0.005 → 0.01 (half-even: 0.00)
        (D("0.10"), D("0.05"), D("0.01")),
        (D("0.05"), D("0.10"), D("0.01")),
        # just under half: 1% of 0.49 = 0.0049 → 0.00
        (D("0.49"), D("0.01"), D("0.00")),
        # 20% of 0.03 = 0.006 → 0.01; 2% of 0.25 = 0.005 → 0.01
        (D("0.03"), D("0.20"), D("0.01")),
        (D("0.25"), D("0.02"), D("0.01")),
    ],
)
def test_fen_rounding_is_half_up(amount, rate, expected):
    assert percent_of(amount, rate) == expected


def test_to_fen_and_format():
    assert to_fen(D("2.675")) == D("2.68")  # a float 2.675 would round to 2.67
    assert to_fen(D("-0.005")) == D("-0.01")
    assert format_yuan(D("2000000")) == "2,000,000.00"


@pytest.mark.parametrize(
    ("total", "exempt"),
    [(D("1999999.99"), True), (D("2000000.00"), True), (D("2000000.01"), False)],
)
def test_art16_boundary(total, exempt):
    # 200 万元以下 includes 2,000,000.00 (以下 includes the number itself)
    d = art16_decision(total, True, HOUSING)
    assert d.exempt is exempt
    assert d.limit == D("2000000.00")
    if exempt:
        assert (
            d.reason_zh
            == f"总补偿费用 {format_yuan(total)} 元，在 200 万元以下（含本数），可以不编制预算方案"
        )
    else:
        assert d.reason_zh == "总补偿费用 2,000,000.01 元，超过 200 万元，须编制预算方案"


@pytest.mark.parametrize(
    ("technical", "exempt"),
    [("839999.99", True), ("840000.00", True), ("840000.01", False)],
)
def test_art16_on_the_total_compensation_cost(technical, exempt):
    # direct 1,000,000.00 → 1,160,000.00 with 10% + 5% + 1%; plus technical 840,000.00 is
    # exactly 2,000,000.00
    b = compute_budget(HOUSING, D("1000000.00"), D(technical), public_infrastructure=True)
    assert b.total == D("1160000.00") + D(technical)
    assert b.art16.exempt is exempt


def test_art16_needs_public_infrastructure_and_housing_compensation():
    assert not art16_decision(D("1000.00"), False, HOUSING).exempt
    land = art16_decision(D("1000.00"), True, LAND)
    assert not land.exempt and "第十七条" in land.reason_zh


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.56", D("1234.56")),
        ("12元", D("12.00")),
        (" 2000000 ", D("2000000.00")),
        (2000000, D("2000000.00")),
        (0.1, D("0.10")),
        (1999999.99, D("1999999.99")),
        (D("5.5"), D("5.50")),
    ],
)
def test_parse_yuan(text, expected):
    got = parse_yuan(text)
    assert got == expected and got.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("1.234", "at most two decimals"),
        (1.005, "at most two decimals"),
        (True, "not an amount"),
        ("abc", "not an amount"),
        ("NaN", "not an amount"),
        (float("inf"), "finite"),
        ("1e3", "not an amount"),
        (D("1E+20"), "too large"),
    ],
)
def test_parse_yuan_refuses(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_yuan(bad)
