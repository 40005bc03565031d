"""Money: yuan as ``Decimal`` to the fen, one rounding rule, allocations that add up.

**The rounding rule** (the only one): a computed amount is rounded once, to the fen (0.01
yuan), half up (``ROUND_HALF_UP``: 0.005 → 0.01), as is usual in Chinese public finance
(四舍五入到分). Amounts entered by users are never rounded: more than two decimals is refused
(:func:`parse_yuan`).
Totals are sums of the rounded lines, so the lines shown always add up to the total shown.

**Allocation** (:func:`allocate`): a rounded amount split in fixed proportions by the largest
remainder method, in whole fen, so the shares add up to the amount exactly; of equal
remainders the earlier share (in the order given) gets the fen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ROUNDING = ROUND_HALF_UP
ROUNDING_RULE_ZH = "计算金额四舍五入到分（ROUND_HALF_UP，0.01 元），每项只取整一次；合计为各项之和"
ROUNDING_RULE_EN = (
    "computed amounts are rounded once, half up, to the fen (0.01 yuan); totals are the sums "
    "of the rounded lines"
)
MAX_YUAN = Decimal("99999999999999.99")
"""The largest amount stored (``numeric(16, 2)``)."""

_PLAIN = re.compile(r"^[+-]?\d+(\.\d+)?$")


def to_fen(amount: Decimal) -> Decimal:
    """``amount`` rounded to the fen, half up: the one rounding rule.

    Examples
    --------
    >>> to_fen(Decimal("0.005")), to_fen(Decimal("0.0049")), to_fen(Decimal("-0.005"))
    (Decimal('0.01'), Decimal('0.00'), Decimal('-0.01'))
    """
    return amount.quantize(FEN, rounding=ROUNDING)


def percent_of(base: Decimal, rate: Decimal) -> Decimal:
    """``base × rate`` rounded to the fen (yuan); ``rate`` as a fraction, e.g. ``0.10``."""
    return to_fen(base * rate)


def exact_yuan(value: Decimal) -> Decimal:
    """``value`` with exactly two decimals (no rounding: it must already be whole fen)."""
    q = value.quantize(FEN)
    if q != value:
        raise ValueError(f"{value} is not a whole number of fen")
    return q


def parse_yuan(value: object) -> Decimal:
    """A user's amount in yuan, exactly: ``Decimal``, int, text or a JSON/Excel number.

    Text may carry thousands separators and a trailing 元 (``"1,234.56元"``). A float (a JSON
    number, an Excel cell) is read back as the shortest decimal that round-trips (``repr``),
    which is the digits the user typed; no arithmetic is ever done in floats. Raises
    ``ValueError`` (message ``"中文 / English"``) for booleans, non-numbers, non-finite values,
    more than two decimals (never rounded away) or amounts over :data:`MAX_YUAN`.

    Examples
    --------
    >>> parse_yuan("1,999,999.99"), parse_yuan(2000000), parse_yuan(0.1)
    (Decimal('1999999.99'), Decimal('2000000.00'), Decimal('0.10'))
    """
    if isinstance(value, bool):
        raise ValueError(f"不是金额：{value!r} / not an amount: {value!r}")
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("金额须为有限数 / an amount must be finite")
        value = Decimal(repr(value))
    if isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "").replace(" ", "")
        if text.endswith("元"):
            text = text[:-1]
        if not _PLAIN.match(text):
            raise ValueError(f"不是金额：{value!r} / not an amount: {value!r}")
        d = Decimal(text)
    else:
        raise ValueError(f"不是金额：{value!r} / not an amount: {value!r}")
    if not d.is_finite():
        raise ValueError("金额须为有限数 / an amount must be finite")
    if abs(d) > MAX_YUAN:
        raise ValueError(f"金额过大：{value} / amount too large: {value}")
    q = d.quantize(FEN)
    if q != d:
        raise ValueError(f"金额最多两位小数（到分）：{value} / at most two decimals (fen): {value}")
    return q


def allocate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split ``amount`` (whole fen) in proportion to ``weights`` by the largest remainder.

    Each share gets the floor of its exact share in fen; the fen left over go one each to the
    shares with the largest remainders (earlier shares first among equal remainders). The
    shares add up to ``amount`` exactly.

    Examples
    --------
    The business fee of Art. 38 on 3,456,789.10 yuan of payments is 69,135.78 (2%). Rounding
    0.5%, 0.75%, 0.75% separately gives 17,283.95 + 25,925.92 + 25,925.92 = 69,135.79, one fen
    too many; here the fee is split 2 : 3 : 3:

    >>> allocate(Decimal("69135.78"), [Decimal("0.005"), Decimal("0.0075"), Decimal("0.0075")])
    [Decimal('17283.94'), Decimal('25925.92'), Decimal('25925.92')]
    """
    fen_total = exact_yuan(amount) / FEN
    total_weight = sum(weights, Decimal(0))
    if not weights or total_weight <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative and not all zero")
    exact = [fen_total * w / total_weight for w in weights]
    floors = [e.to_integral_value(rounding=ROUND_FLOOR) for e in exact]
    left = int(fen_total - sum(floors, Decimal(0)))
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [(f * FEN).quantize(FEN) for f in floors]


def format_yuan(amount: Decimal) -> str:
    """``amount`` with thousands separators and two decimals, e.g. ``"2,000,000.00"``."""
    return f"{amount:,.2f}"
