"""A project's budget: total compensation cost (总补偿费用, Art. 15(三)) line by line.

Lines, in yuan to the fen:
- 直接补偿费 direct compensation and 技术支持费 technical-support fees: sums of the entered items;
- the percentages of :mod:`spatial.budget.rates`, each ``base × rate`` rounded once
  (:func:`spatial.budget.money.percent_of`);
- the Art. 38 business fee split 0.5 / 0.75 / 0.75 by :func:`spatial.budget.money.allocate`
  (largest remainder, in whole fen), so the three shares add up to the 2% exactly.

The percentages of Art. 35 and 38 are taken of what is actually paid to those compensated.
Before anything is paid (a budget plan), that is the direct compensation; once payments are
recorded, their total. The budget says which (``payments_basis``).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel

from spatial.budget.exemption import Art16Decision, art16_decision
from spatial.budget.money import (
    ROUNDING_RULE_EN,
    ROUNDING_RULE_ZH,
    allocate,
    exact_yuan,
    percent_of,
)
from spatial.budget.rates import (
    BASE_LABELS_ZH,
    BUSINESS_FEE_SHARES,
    RATES,
    TRACK_LABELS_ZH,
    Base,
    Track,
)

ZERO = Decimal("0.00")


class BudgetLine(BaseModel):
    """One line of the budget: amount in yuan; base and rate when it is a percentage."""

    code: str
    label_zh: str
    label_en: str
    article: str | None
    base_zh: str | None = None
    base: Decimal | None = None
    rate: Decimal | None = None
    amount: Decimal


class FeeShare(BaseModel):
    """A recipient's share of the Art. 38 business fee."""

    code: str
    label_zh: str
    label_en: str
    rate: Decimal
    amount: Decimal


class Budget(BaseModel):
    """A budget computed from direct compensation, technical fees and payments (yuan)."""

    track: Track
    track_zh: str
    direct_compensation: Decimal
    technical_fees: Decimal
    payments: Decimal
    payments_basis: str
    lines: list[BudgetLine]
    total: Decimal
    business_fee_shares: list[FeeShare]
    art16: Art16Decision
    rounding_zh: str = ROUNDING_RULE_ZH
    rounding_en: str = ROUNDING_RULE_EN


def compute_budget(
    track: Track,
    direct_compensation: Decimal,
    technical_fees: Decimal = ZERO,
    actual_payments: Decimal | None = None,
    public_infrastructure: bool = False,
) -> Budget:
    """The budget of a project on ``track`` (all amounts in yuan, whole fen).

    Parameters
    ----------
    track : Track
        Housing compensation (Art. 33–35) or land readiness (Art. 38).
    direct_compensation, technical_fees : Decimal
        Sums of the compensation items and technical-support fees (whole fen, else
        ``ValueError``).
    actual_payments : Decimal, optional
        Paid so far to those compensated; None before any payment (then the direct
        compensation is the base of Art. 35 / 38).
    public_infrastructure : bool
        Whether the project is a public-infrastructure project (Art. 16).

    Examples
    --------
    >>> b = compute_budget(Track.land_readiness, Decimal("3456789.10"))
    >>> [ln.amount for ln in b.lines][2:], b.total
    ([Decimal('691357.82'), Decimal('69135.78')], Decimal('4217282.70'))
    >>> [s.amount for s in b.business_fee_shares]
    [Decimal('17283.94'), Decimal('25925.92'), Decimal('25925.92')]
    """
    direct_compensation, technical_fees = (
        exact_yuan(direct_compensation),
        exact_yuan(technical_fees),
    )
    if actual_payments is not None:
        actual_payments = exact_yuan(actual_payments)
    payments = direct_compensation if actual_payments is None else actual_payments
    basis = (
        "预算：按直接补偿费计 planned: the direct compensation"
        if actual_payments is None
        else "实际支付 actual payments recorded"
    )
    lines = [
        BudgetLine(
            code="direct_compensation",
            label_zh="直接补偿费",
            label_en="direct compensation",
            article="第十五条",
            amount=direct_compensation,
        ),
        BudgetLine(
            code="technical_fees",
            label_zh="技术支持费",
            label_en="technical-support fees",
            article="第十五条、第三十二条",
            amount=technical_fees,
        ),
    ]
    shares: list[FeeShare] = []
    for rate in RATES[track]:
        base = direct_compensation if rate.base is Base.direct else payments
        amount = percent_of(base, rate.rate)
        lines.append(
            BudgetLine(
                code=rate.code,
                label_zh=rate.label_zh,
                label_en=rate.label_en,
                article=rate.article,
                base_zh=BASE_LABELS_ZH[rate.base],
                base=base,
                rate=rate.rate,
                amount=amount,
            )
        )
        if rate.code == "business_fee":
            amounts = allocate(amount, [s.rate for s in BUSINESS_FEE_SHARES])
            shares = [
                FeeShare(
                    code=s.code, label_zh=s.label_zh, label_en=s.label_en, rate=s.rate, amount=a
                )
                for s, a in zip(BUSINESS_FEE_SHARES, amounts, strict=True)
            ]
    total = sum((ln.amount for ln in lines), ZERO)
    return Budget(
        track=track,
        track_zh=TRACK_LABELS_ZH[track],
        direct_compensation=direct_compensation,
        technical_fees=technical_fees,
        payments=payments,
        payments_basis=basis,
        lines=lines,
        total=total,
        business_fee_shares=shares,
        art16=art16_decision(total, public_infrastructure, track),
    )
