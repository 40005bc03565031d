"""The Art. 16 decision and a computed budget in full, every field and label (``make
mutation``): what a planner reads must not change without a test saying so."""

from __future__ import annotations

from decimal import Decimal

from spatial.budget.exemption import art16_decision
from spatial.budget.plan import compute_budget
from spatial.budget.rates import Track

Y = Decimal


def test_art16_decisions_in_full():
    H, L = Track.housing_compensation, Track.land_readiness
    assert art16_decision(Y("2000000.00"), True, H).model_dump() == {
        "exempt": True,
        "total": Y("2000000.00"),
        "limit": Y("2000000.00"),
        "reason_zh": "总补偿费用 2,000,000.00 元，在 200 万元以下（含本数），可以不编制预算方案",
        "reason_en": "total compensation 2,000,000.00 yuan is 2,000,000.00 or less (included): "
        "the budget plan may be skipped",
        "article": "第十六条",
    }
    over = art16_decision(Y("2000000.01"), True, H)
    assert (over.exempt, over.reason_zh, over.reason_en) == (
        False,
        "总补偿费用 2,000,000.01 元，超过 200 万元，须编制预算方案",
        "total compensation 2,000,000.01 yuan is over 2,000,000.00: a budget plan is required",
    )
    private = art16_decision(Y("10.00"), False, H)
    assert (private.exempt, private.reason_zh, private.reason_en) == (
        False,
        "不是公共基础设施建设项目，须编制预算方案",
        "not a public-infrastructure project: a budget plan is required",
    )
    land = art16_decision(Y("10.00"), True, L)
    assert (land.exempt, land.reason_zh, land.reason_en, land.article) == (
        False,
        "第十六条只适用于房屋补偿预算方案；土地整备项目编制实施方案（第十七条）",
        "Art. 16 applies to housing-compensation budget plans only; a land readiness project "
        "has an implementation plan (Art. 17)",
        "第十六条",
    )


def _line(code, amount, article, label_zh, label_en, rate=None, base=None, base_zh=None):  # noqa: ANN001, ANN202
    return {"code": code, "amount": amount, "article": article, "label_zh": label_zh,
            "label_en": label_en, "rate": rate, "base": base, "base_zh": base_zh}  # fmt: skip


ROUNDING_ZH = "计算金额四舍五入到分（ROUND_HALF_UP，0.01 元），每项只取整一次；合计为各项之和"
ROUNDING_EN = (
    "computed amounts are rounded once, half up, to the fen (0.01 yuan); totals are the sums "
    "of the rounded lines"
)


def test_a_housing_budget_in_full():
    # direct 1,000,000 + technical 50,000 + 10 % contingency 100,000 (Art. 33) + 5 % rewards
    # 50,000 (Art. 34) + 1 % working funds on the planned payments 10,000 (Art. 35) = 1,210,000
    b = compute_budget(Track.housing_compensation, Y("1000000.00"), Y("50000.00"),
                       public_infrastructure=True).model_dump(mode="json")  # fmt: skip
    assert b["lines"] == [
        _line("direct_compensation", "1000000.00", "第十五条", "直接补偿费", "direct compensation"),
        _line("technical_fees", "50000.00", "第十五条、第三十二条", "技术支持费",
              "technical-support fees"),
        _line("contingency", "100000.00", "第三十三条", "不可预见费", "contingency", "0.10",
              "1000000.00", "直接补偿费"),
        _line("rewards", "50000.00", "第三十四条", "奖励费用", "rewards", "0.05", "1000000.00",
              "直接补偿费"),
        _line("working_funds", "10000.00", "第三十五条", "工作经费", "working funds", "0.01",
              "1000000.00", "实际支付给补偿对象费用"),
    ]  # fmt: skip
    assert {k: b[k] for k in ("track", "track_zh", "direct_compensation", "technical_fees",
                              "payments", "payments_basis", "total", "business_fee_shares",
                              "rounding_zh", "rounding_en")} == {
        "track": "housing_compensation",
        "track_zh": "房屋补偿",
        "direct_compensation": "1000000.00",
        "technical_fees": "50000.00",
        "payments": "1000000.00",
        "payments_basis": "预算：按直接补偿费计 planned: the direct compensation",
        "total": "1210000.00",
        "business_fee_shares": [],
        "rounding_zh": ROUNDING_ZH,
        "rounding_en": ROUNDING_EN,
    }  # fmt: skip
    assert b["art16"]["exempt"] is True and b["art16"]["total"] == "1210000.00"
    private = compute_budget(Track.housing_compensation, Y("1000000.00"), Y("50000.00"))
    assert private.art16.exempt is False  # not public infrastructure unless said so


def test_a_land_readiness_budget_in_full():
    # direct 3,456,789.10, 20 % contingency 691,357.82 and 2 % business fee on the payments
    # 69,135.78 (Art. 38), split 0.5 : 0.75 : 0.75 by largest remainder; total 4,217,282.70
    b = compute_budget(Track.land_readiness, Y("3456789.10"), Y("0"),
                       Y("3456789.10")).model_dump(mode="json")  # fmt: skip
    assert b["lines"] == [
        _line("direct_compensation", "3456789.10", "第十五条", "直接补偿费", "direct compensation"),
        _line("technical_fees", "0.00", "第十五条、第三十二条", "技术支持费",
              "technical-support fees"),
        _line("contingency", "691357.82", "第三十八条", "不可预见费", "contingency", "0.20",
              "3456789.10", "直接补偿费"),
        _line("business_fee", "69135.78", "第三十八条", "业务费", "business fee", "0.02",
              "3456789.10", "实际支付给补偿对象费用"),
    ]  # fmt: skip
    assert b["business_fee_shares"] == [
        {"code": "city_reserve_centre", "amount": "17283.94", "rate": "0.005",
         "label_zh": "市土地储备中心", "label_en": "city land reserve centre"},
        {"code": "office", "amount": "25925.92", "rate": "0.0075", "label_zh": "办公室统筹使用",
         "label_en": "the office"},
        {"code": "street_office", "amount": "25925.92", "rate": "0.0075",
         "label_zh": "街道办事处", "label_en": "street office"},
    ]  # fmt: skip
    assert (b["payments"], b["payments_basis"], b["total"], b["track_zh"]) == (
        "3456789.10", "实际支付 actual payments recorded", "4217282.70", "土地整备")  # fmt: skip
