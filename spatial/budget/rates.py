"""The fixed percentages of the Implementation Measures, each with its article.

Housing compensation (房屋补偿):
- Art. 33: contingency (不可预见费) 10% of direct compensation (直接补偿费);
- Art. 34: rewards (奖励费用) 5% of direct compensation;
- Art. 35: working funds (工作经费) 1% of what is actually paid to those compensated
  (实际支付给补偿对象费用).

Land readiness (土地整备), Art. 38:
- contingency 20% of direct compensation;
- business fee (业务费) 2% of what is actually paid to those compensated, of which 0.5% goes to
  the city land reserve centre (市土地储备中心), 0.75% to the office (办公室统筹使用) and 0.75%
  to the street office (街道办事处).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class Track(enum.StrEnum):
    """Which procedure and budget rules a project follows."""

    housing_compensation = "housing_compensation"
    land_readiness = "land_readiness"


TRACK_LABELS_ZH = {Track.housing_compensation: "房屋补偿", Track.land_readiness: "土地整备"}
TRACK_LABELS_EN = {
    Track.housing_compensation: "housing compensation",
    Track.land_readiness: "land readiness",
}


class Base(enum.StrEnum):
    """What a percentage is taken of."""

    direct = "direct"
    """直接补偿费: direct compensation."""
    payments = "payments"
    """实际支付给补偿对象费用: paid to those compensated (planned: the direct compensation)."""


BASE_LABELS_ZH = {Base.direct: "直接补偿费", Base.payments: "实际支付给补偿对象费用"}


@dataclass(frozen=True)
class Rate:
    """A budget line computed as a percentage: code, labels, article, base and rate."""

    code: str
    label_zh: str
    label_en: str
    article: str
    base: Base
    rate: Decimal


RATES: dict[Track, tuple[Rate, ...]] = {
    Track.housing_compensation: (
        Rate(
            "contingency", "不可预见费", "contingency", "第三十三条", Base.direct, Decimal("0.10")
        ),
        Rate("rewards", "奖励费用", "rewards", "第三十四条", Base.direct, Decimal("0.05")),
        Rate(
            "working_funds",
            "工作经费",
            "working funds",
            "第三十五条",
            Base.payments,
            Decimal("0.01"),
        ),
    ),
    Track.land_readiness: (
        Rate(
            "contingency", "不可预见费", "contingency", "第三十八条", Base.direct, Decimal("0.20")
        ),
        Rate(
            "business_fee", "业务费", "business fee", "第三十八条", Base.payments, Decimal("0.02")
        ),
    ),
}


@dataclass(frozen=True)
class Share:
    """One recipient's share of the Art. 38 business fee."""

    code: str
    label_zh: str
    label_en: str
    rate: Decimal


BUSINESS_FEE_SHARES: tuple[Share, ...] = (
    Share("city_reserve_centre", "市土地储备中心", "city land reserve centre", Decimal("0.005")),
    Share("office", "办公室统筹使用", "the office", Decimal("0.0075")),
    Share("street_office", "街道办事处", "street office", Decimal("0.0075")),
)
"""The Art. 38 split, in the article's order (which also breaks ties of the allocation)."""

if sum(s.rate for s in BUSINESS_FEE_SHARES) != Decimal("0.02"):  # pragma: no cover
    raise RuntimeError("the Art. 38 shares must add up to 2%")
