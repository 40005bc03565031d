"""The Art. 16 rule: a small public-infrastructure project may skip the budget plan.

第十六条 对于总补偿费用 200 万元以下的公共基础设施建设项目，街道办事处可以不编制预算方案，
根据相关补偿政策直接开展具体补偿工作，待补偿工作完成后编制结算方案报区土地整备部门审查。

"以下" includes the number itself (Civil Code Art. 1259: 民法所称的"以上"、"以下"、"以内"、
"届满"，包括本数), so 2,000,000.00 yuan qualifies and 2,000,000.01 does not. The budget plan of
Art. 15–16 is the housing-compensation budget (预算方案); a land readiness project has an
implementation plan (Art. 17) instead, so the rule applies to housing compensation only.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from spatial.budget.money import format_yuan
from spatial.budget.rates import Track

ART16_LIMIT = Decimal("2000000.00")
"""200 万元, included (以下)."""


class Art16Decision(BaseModel):
    """Whether the project may skip the budget plan under Art. 16, and why."""

    exempt: bool
    total: Decimal
    limit: Decimal = ART16_LIMIT
    reason_zh: str
    reason_en: str
    article: str = "第十六条"


def art16_decision(total: Decimal, public_infrastructure: bool, track: Track) -> Art16Decision:
    """Decide Art. 16 for a total compensation cost ``total`` (yuan, whole fen).

    Examples
    --------
    >>> art16_decision(Decimal("2000000.00"), True, Track.housing_compensation).exempt
    True
    >>> art16_decision(Decimal("2000000.01"), True, Track.housing_compensation).exempt
    False
    """
    t = format_yuan(total)
    if track is not Track.housing_compensation:
        return Art16Decision(
            exempt=False,
            total=total,
            reason_zh="第十六条只适用于房屋补偿预算方案；土地整备项目编制实施方案（第十七条）",
            reason_en="Art. 16 applies to housing-compensation budget plans only; a land "
            "readiness project has an implementation plan (Art. 17)",
        )
    if not public_infrastructure:
        return Art16Decision(
            exempt=False,
            total=total,
            reason_zh="不是公共基础设施建设项目，须编制预算方案",
            reason_en="not a public-infrastructure project: a budget plan is required",
        )
    if total <= ART16_LIMIT:
        return Art16Decision(
            exempt=True,
            total=total,
            reason_zh=f"总补偿费用 {t} 元，在 200 万元以下（含本数），可以不编制预算方案",
            reason_en=f"total compensation {t} yuan is 2,000,000.00 or less (included): "
            "the budget plan may be skipped",
        )
    return Art16Decision(
        exempt=False,
        total=total,
        reason_zh=f"总补偿费用 {t} 元，超过 200 万元，须编制预算方案",
        reason_en=f"total compensation {t} yuan is over 2,000,000.00: a budget plan is required",
    )
