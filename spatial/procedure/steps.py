"""The procedure of the Implementation Measures (Art. 13–29): steps and the deadlines between.

Each project follows one track (:class:`~spatial.budget.rates.Track`): housing compensation
(房屋补偿) or land readiness (土地整备). A step is an event recorded with its date; a deadline
rule says which event starts a period, how long it is (in the article's own unit) and which
event fulfils it. The street office's receipt of the entrustment (Art. 14, 15) is the date of
the ``entrusted`` event.

=========================  ==============================================  =================
rule                       from → to                                        period
=========================  ==============================================  =================
Art. 13 commissioning      documents_received → entrusted (housing)         5 working days
Art. 14 verification       entrusted → verification_letters_sent            5 working days
Art. 15 budget plan        entrusted → budget_plan_submitted (housing;      2 months
                           not when budget_exempted, Art. 16)
Art. 18 review             plan submitted → review_submitted                7 working days
Art. 18 preliminary exam   review_submitted → preliminary_exam_done         7 working days
Art. 19 publicity          publicity_started → (ends; land readiness)       30 natural days
Art. 22 allocation         fund_requested → funds_allocated (land)          5 working days
Art. 22 review opinion     fund_requested → fund_opinion_issued (housing)   5 working days
Art. 22 quota              fund_opinion_issued → quota_issued (housing)     5 working days
Art. 29 settlement plan    work_completed → settlement_submitted            3 months
=========================  ==============================================  =================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from spatial.budget.rates import Track
from spatial.procedure.periods import Period, Unit

H, L = Track.housing_compensation, Track.land_readiness
BOTH = frozenset({H, L})


@dataclass(frozen=True)
class Step:
    """A procedure event: code, labels, article, the tracks it belongs to."""

    code: str
    label_zh: str
    label_en: str
    article: str
    tracks: frozenset[Track] = BOTH
    repeatable: bool = False


STEPS: tuple[Step, ...] = (
    Step(
        "documents_received",
        "项目文件送达",
        "project documents received",
        "第十三条",
        frozenset({H}),
    ),
    Step("entrusted", "委托街道办事处", "street office entrusted", "第十三条"),
    Step("verification_letters_sent", "去函核查", "verification letters sent", "第十四条"),
    Step(
        "budget_plan_submitted", "预算方案报审", "budget plan submitted", "第十五条", frozenset({H})
    ),
    Step(
        "budget_exempted",
        "不编制预算方案（第十六条）",
        "budget plan skipped (Art. 16)",
        "第十六条",
        frozenset({H}),
    ),
    Step(
        "implementation_plan_submitted",
        "实施方案报审",
        "implementation plan submitted",
        "第十七条",
        frozenset({L}),
    ),
    Step("review_submitted", "复核审查意见报办公室", "review opinion to the office", "第十八条"),
    Step("preliminary_exam_done", "办公室完成初审", "preliminary examination done", "第十八条"),
    Step("leading_group_approved", "领导小组审批", "leading group approval", "第十九条"),
    Step("publicity_started", "实施方案公告", "publicity started", "第十九条", frozenset({L})),
    Step(
        "supply_plan_submitted",
        "申请供地方案报批",
        "supply plan submitted",
        "第二十条",
        frozenset({L}),
    ),
    Step(
        "fund_requested",
        "申请补偿资金",
        "compensation funds requested",
        "第二十二条",
        repeatable=True,
    ),
    Step(
        "fund_opinion_issued",
        "出具用款审查意见",
        "fund review opinion issued",
        "第二十二条",
        frozenset({H}),
        True,
    ),
    Step(
        "quota_issued",
        "区财政下达指标",
        "quota issued by district finance",
        "第二十二条",
        frozenset({H}),
        True,
    ),
    Step(
        "funds_allocated",
        "拨付补偿费用",
        "compensation funds allocated",
        "第二十二条",
        frozenset({L}),
        True,
    ),
    Step("agreements_signed", "签订补偿协议", "compensation agreements signed", "第二十三条"),
    Step("handover", "腾空交房、土地移交", "vacated and handed over", "第二十三条"),
    Step("work_completed", "补偿工作完成", "compensation work completed", "第二十九条"),
    Step("reserve_entry", "入库", "entered into the land reserve", "", frozenset({L})),
    Step("settlement_submitted", "结算方案报审", "settlement plan submitted", "第二十九条"),
)
STEP_BY_CODE = {s.code: s for s in STEPS}
STEP_ORDER = {s.code: i for i, s in enumerate(STEPS)}


class RuleKind(enum.StrEnum):
    """A deadline (overdue when missed) or a period that must run (publicity)."""

    deadline = "deadline"
    period = "period"


@dataclass(frozen=True)
class DeadlineRule:
    """A period from one event to another, in the article's unit."""

    code: str
    label_zh: str
    label_en: str
    article: str
    start: tuple[str, ...]
    """Steps whose event starts the period (the first one recorded is used)."""
    done: str | None
    """The step that fulfils it (None for a period that only runs, e.g. publicity)."""
    period: Period
    tracks: frozenset[Track] = BOTH
    unless: tuple[str, ...] = ()
    """Steps that make the rule not apply (e.g. the Art. 16 exemption)."""
    kind: RuleKind = RuleKind.deadline
    repeatable: bool = False
    """Paired occurrence by occurrence (each fund request with its allocation)."""


def _wd(n: int) -> Period:
    return Period(n, Unit.working_days)


RULES: tuple[DeadlineRule, ...] = (
    DeadlineRule(
        "art13_entrust",
        "委托街道办事处开展房屋补偿工作",
        "entrust the street office",
        "第十三条",
        ("documents_received",),
        "entrusted",
        _wd(5),
        frozenset({H}),
    ),
    DeadlineRule(
        "art14_letters",
        "去函核查",
        "send the verification letters",
        "第十四条",
        ("entrusted",),
        "verification_letters_sent",
        _wd(5),
    ),
    DeadlineRule(
        "art15_budget",
        "编制预算方案报审",
        "submit the budget plan",
        "第十五条",
        ("entrusted",),
        "budget_plan_submitted",
        Period(2, Unit.months),
        frozenset({H}),
        unless=("budget_exempted",),
    ),
    DeadlineRule(
        "art18_review",
        "组织复核并提出审查意见",
        "review and submit the opinion",
        "第十八条",
        ("budget_plan_submitted", "implementation_plan_submitted"),
        "review_submitted",
        _wd(7),
    ),
    DeadlineRule(
        "art18_exam",
        "办公室完成初审",
        "office's preliminary examination",
        "第十八条",
        ("review_submitted",),
        "preliminary_exam_done",
        _wd(7),
    ),
    DeadlineRule(
        "art19_publicity",
        "公告期（30个自然日）",
        "publicity period",
        "第十九条",
        ("publicity_started",),
        None,
        Period(30, Unit.natural_days),
        frozenset({L}),
        kind=RuleKind.period,
    ),
    DeadlineRule(
        "art22_allocate",
        "拨付补偿费用",
        "allocate the compensation funds",
        "第二十二条",
        ("fund_requested",),
        "funds_allocated",
        _wd(5),
        frozenset({L}),
        repeatable=True,
    ),
    DeadlineRule(
        "art22_opinion",
        "出具用款审查意见",
        "issue the fund review opinion",
        "第二十二条",
        ("fund_requested",),
        "fund_opinion_issued",
        _wd(5),
        frozenset({H}),
        repeatable=True,
    ),
    DeadlineRule(
        "art22_quota",
        "区财政下达指标",
        "district finance issues the quota",
        "第二十二条",
        ("fund_opinion_issued",),
        "quota_issued",
        _wd(5),
        frozenset({H}),
        repeatable=True,
    ),
    DeadlineRule(
        "art29_settlement",
        "编制结算方案报审",
        "submit the settlement plan",
        "第二十九条",
        ("work_completed",),
        "settlement_submitted",
        Period(3, Unit.months),
    ),
)
RULE_BY_CODE = {r.code: r for r in RULES}


def steps_for(track: Track) -> list[Step]:
    """The steps of ``track`` in procedure order."""
    return [s for s in STEPS if track in s.tracks]


def rules_for(track: Track) -> list[DeadlineRule]:
    """The deadline rules of ``track``."""
    return [r for r in RULES if track in r.tracks]


@dataclass(frozen=True)
class Phase:
    """A group of consecutive steps, coloured as one on the map."""

    code: str
    label_zh: str
    label_en: str
    colour: str
    steps: tuple[str, ...]


PHASES: tuple[Phase, ...] = (
    Phase("not_started", "未开始", "not started", "#bdbdbd", ("not_started",)),
    Phase(
        "preparation",
        "前期调查",
        "preparation",
        "#81d4fa",
        ("documents_received", "entrusted", "verification_letters_sent"),
    ),
    Phase(
        "planning",
        "方案编制与审查",
        "plans and review",
        "#1e88e5",
        (
            "budget_plan_submitted",
            "budget_exempted",
            "implementation_plan_submitted",
            "review_submitted",
            "preliminary_exam_done",
        ),
    ),
    Phase(
        "approval",
        "审批与公告",
        "approval and publicity",
        "#8e24aa",
        ("leading_group_approved", "publicity_started", "supply_plan_submitted"),
    ),
    Phase(
        "compensation",
        "补偿实施",
        "compensation",
        "#fb8c00",
        (
            "fund_requested",
            "fund_opinion_issued",
            "quota_issued",
            "funds_allocated",
            "agreements_signed",
            "handover",
        ),
    ),
    Phase(
        "completion",
        "完成与结算",
        "completion and settlement",
        "#43a047",
        ("work_completed", "reserve_entry", "settlement_submitted"),
    ),
)
OVERDUE_COLOUR = "#e53935"
"""Projects with an overdue deadline, whatever their stage."""
