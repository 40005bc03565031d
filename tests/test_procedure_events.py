"""Procedure events through the API and CLI: deadlines by each article's unit, stage, next
deadline, days left, overdue, corrections that keep the old value, the bureau list, the ledger.

Expected dates are worked out by hand from the State Council notices (2026: National Day
1–7 Oct off, Sat 10 Oct worked; no other break in October–December) and, for 2027, from the
test fixture notice in ``tests/procedure_helpers.py`` (1–3 Jan and 8–13 Feb off, Sun 7 Feb
worked).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from spatial.budget.items import BudgetItem, Section
from spatial.budget.store import save_items
from spatial.models import Layer
from spatial.procedure.events import bureau_list, project_procedure
from spatial.procedure.status import china_today
from spatial.users import add_user
from tests.analysis_data import load, project
from tests.procedure_helpers import NOTICE_2027, bearer, run_cli

TODAY = date(2026, 12, 1)


@pytest.fixture
def staff(db, client):
    load(
        db.engine,
        Layer.projects,
        [
            project("GM-ZB-101", 0, "房屋补偿项目"),
            project("GM-ZB-102", 1, "整备项目"),
            project("GM-ZB-103", 2),
        ],
    )
    tokens = {
        "admin": add_user("admin", "admin", db.engine),
        "planner": add_user("li.planner", "planner", db.engine),
        "analyst": add_user("zhao.analyst", "analyst", db.engine),
    }
    for code, track, pi in [
        ("GM-ZB-101", "housing_compensation", True),
        ("GM-ZB-102", "land_readiness", False),
        ("GM-ZB-103", "land_readiness", False),
    ]:
        r = client.put(
            f"/procedure/projects/{code}/registration",
            json={"track": track, "public_infrastructure": pi},
            headers=bearer(tokens["planner"]),
        )
        assert r.status_code == 200
    return tokens


def post(client, token, code, step, on, status=201):  # noqa: ANN001, ANN201
    r = client.post(
        f"/procedure/projects/{code}/events",
        json={"step": step, "occurred_on": on},
        headers=bearer(token),
    )
    assert r.status_code == status, r.text
    return r.json()


def by_rule(body, rule, occurrence=1):  # noqa: ANN001, ANN201
    return next(d for d in body["deadlines"] if d["rule"] == rule and d["occurrence"] == occurrence)


def status(client, token, code, today=TODAY):  # noqa: ANN001, ANN201
    r = client.get(
        f"/procedure/projects/{code}", params={"today": today.isoformat()}, headers=bearer(token)
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_housing_deadlines_stage_and_overdue(db, client, staff):
    p = staff["planner"]
    assert (
        client.post(
            "/procedure/projects/GM-ZB-101/events",
            json={"step": "documents_received", "occurred_on": "2026-09-30"},
            headers=bearer(staff["analyst"]),
        ).status_code
        == 403
    )
    post(client, p, "GM-ZB-101", "documents_received", "2026-09-30")
    # Art. 13, 5 working days from Wed 30 Sep 2026: 1–7 Oct off; Thu 8 (1), Fri 9 (2),
    # Sat 10 (3, 调休), Mon 12 (4), Tue 13 (5) → 13 Oct 2026. Entrusted on 14 Oct: late.
    post(client, p, "GM-ZB-101", "entrusted", "2026-10-14")
    # Art. 14 from Wed 14 Oct: 15 (1), 16 (2), 19 (3), 20 (4), 21 (5) → 21 Oct; sent 20 Oct.
    body = post(client, p, "GM-ZB-101", "verification_letters_sent", "2026-10-20")
    s = status(client, p, "GM-ZB-101")
    assert (by_rule(s, "art13_entrust")["due"], by_rule(s, "art13_entrust")["status"]) == (
        "2026-10-13",
        "late",
    )
    assert (by_rule(s, "art14_letters")["due"], by_rule(s, "art14_letters")["status"]) == (
        "2026-10-21",
        "met",
    )
    # Art. 15, 2 months from 14 Oct → Mon 14 Dec 2026, open on 1 Dec: 13 days left, and
    # 9 working days (2, 3, 4, 7, 8, 9, 10, 11, 14 Dec).
    b = by_rule(s, "art15_budget")
    assert (b["due"], b["status"], b["days_left"], b["working_days_left"]) == (
        "2026-12-14",
        "open",
        13,
        9,
    )
    assert s["next_deadline"]["rule"] == "art15_budget"
    assert s["stage"] == "verification_letters_sent" and s["stage_zh"] == "去函核查"
    assert s["overdue"] == [] and s["known_years"] == list(range(2004, 2027))
    assert body["stage_zh"] == "去函核查"
    # a day after the deadline it is overdue
    late = status(client, p, "GM-ZB-101", date(2026, 12, 15))
    assert [(d["rule"], d["days_left"]) for d in late["overdue"]] == [("art15_budget", -1)]

    # recording the same step again is refused: correct it instead
    r = client.post(
        "/procedure/projects/GM-ZB-101/events",
        json={"step": "entrusted", "occurred_on": "2026-10-13"},
        headers=bearer(p),
    )
    assert r.status_code == 409 and "correct it instead" in r.json()["message_en"]
    entrusted_id = r.json()["event_id"]

    # correction: entrusted on Tue 13 Oct, not 14 Oct. Art. 13 now met; Art. 14 from 13 Oct:
    # 14, 15, 16, 19, 20 → 20 Oct (met); Art. 15: 13 Oct + 2 months = Sun 13 Dec → Mon 14 Dec.
    r = client.post(
        f"/procedure/events/{entrusted_id}/correction",
        json={"occurred_on": "2026-10-13", "reason": "委托书日期录错"},
        headers=bearer(p),
    )
    assert r.status_code == 201, r.text
    s = status(client, p, "GM-ZB-101")
    assert by_rule(s, "art13_entrust")["status"] == "met"
    assert by_rule(s, "art14_letters")["due"] == "2026-10-20"
    assert by_rule(s, "art15_budget")["due"] == "2026-12-14"
    rows = [h for h in s["history"] if h["step"] == "entrusted"]
    assert [(h["occurred_on"], h["current"], h["supersedes"]) for h in rows] == [
        ("2026-10-14", False, None),
        ("2026-10-13", True, entrusted_id),
    ]
    assert rows[0]["superseded_by"] == rows[1]["id"]
    # the superseded row cannot be corrected again (the chain never forks)
    r = client.post(
        f"/procedure/events/{entrusted_id}/correction",
        json={"occurred_on": "2026-10-12", "reason": "x"},
        headers=bearer(p),
    )
    assert r.status_code == 409 and r.json()["superseded_by"] == rows[1]["id"]

    # withdrawing the letters reopens Art. 14, which is overdue on 1 Dec (due 20 Oct)
    letters = next(h["id"] for h in s["history"] if h["step"] == "verification_letters_sent")
    r = client.post(
        f"/procedure/events/{letters}/correction",
        json={"occurred_on": None, "reason": "误登记"},
        headers=bearer(p),
    )
    assert r.status_code == 201, r.text
    # (the response counts days from today in China; the checks count from TODAY)
    assert by_rule(r.json(), "art14_letters")["status"] == "overdue"
    s = status(client, p, "GM-ZB-101")
    assert by_rule(s, "art14_letters")["status"] == "overdue"
    assert by_rule(s, "art14_letters")["days_left"] == -42
    assert s["stage"] == "entrusted"
    assert s["next_deadline"]["rule"] == "art14_letters"

    with db.engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT user_name, action, detail FROM audit_log "
                "WHERE action LIKE 'procedure.%' ORDER BY id"
            )
        ).all()
    actions = [a.action for a in audit]
    assert actions == ["procedure.register"] * 3 + ["procedure.event"] * 3 + [
        "procedure.correct",
        "procedure.withdraw",
    ]
    assert audit[6].detail["old_occurred_on"] == "2026-10-14"
    assert audit[6].detail["occurred_on"] == "2026-10-13"
    assert audit[6].detail["reason"] == "委托书日期录错"
    assert all(a.user_name == "li.planner" for a in audit)

    # the table itself refuses to change or lose a row
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE procedure_events SET occurred_on = '2026-01-01'"))
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM procedure_events"))


def test_bad_events_are_refused(client, staff):
    p = staff["planner"]
    r = client.post(
        "/procedure/projects/GM-ZB-101/events",
        json={"step": "publicity_started", "occurred_on": "2026-11-02"},
        headers=bearer(p),
    )
    assert (
        r.status_code == 422
        and "not part of the housing_compensation procedure" in r.json()["message_en"]
    )
    r = client.post(
        "/procedure/projects/GM-ZB-101/events",
        json={"step": "no_such_step", "occurred_on": "2026-11-02"},
        headers=bearer(p),
    )
    assert r.status_code == 422 and r.json()["field"] == "step"
    r = client.post(
        "/procedure/projects/GM-ZB-101/events",
        json={"step": "entrusted", "occurred_on": "2099-01-01"},
        headers=bearer(p),
    )
    assert r.status_code == 422 and "only what has happened" in r.json()["message_en"]
    post(client, p, "GM-ZB-101", "documents_received", "2026-11-10")
    r = client.post(
        "/procedure/projects/GM-ZB-101/events",
        json={"step": "entrusted", "occurred_on": "2026-11-09"},
        headers=bearer(p),
    )
    assert r.status_code == 422 and r.json()["message_zh"].startswith(
        "委托街道办事处（2026-11-09）不能早于"
    )
    assert (
        client.post(
            "/procedure/projects/NOPE/events",
            json={"step": "entrusted", "occurred_on": "2026-11-09"},
            headers=bearer(p),
        ).status_code
        == 404
    )


def test_art16_exemption_only_when_the_budget_qualifies(db, client, staff):
    p = staff["planner"]
    post(client, p, "GM-ZB-101", "entrusted", "2026-11-02")
    # no items yet: total 0.00 qualifies; make it 2,000,000.01 first: direct 1,000,000.00 →
    # 1,160,000.00 with the percentages, technical 840,000.01 → 2,000,000.01
    items = [
        BudgetItem(
            section=Section.direct, category="building", description="民房", amount=D("1000000.00")
        ),
        BudgetItem(
            section=Section.technical, category="survey", description="测绘", amount=D("840000.01")
        ),
    ]
    save_items(db.engine, "GM-ZB-101", items, "test", "li.planner", "planner")
    r = client.post(
        "/procedure/projects/GM-ZB-101/events",
        json={"step": "budget_exempted", "occurred_on": "2026-11-20"},
        headers=bearer(p),
    )
    assert r.status_code == 409
    assert (
        r.json()["message_zh"]
        == "不能适用第十六条：总补偿费用 2,000,000.01 元，超过 200 万元，须编制预算方案"
    )
    items[1] = items[1].model_copy(update={"amount": D("840000.00")})
    save_items(db.engine, "GM-ZB-101", items, "test", "li.planner", "planner")
    s = post(client, p, "GM-ZB-101", "budget_exempted", "2026-11-20")
    art15 = by_rule(s, "art15_budget")
    assert art15["status"] == "waived" and art15["due"] is None


def test_land_readiness_publicity_funds_and_2027(db, client, staff):
    p = staff["planner"]
    post(client, p, "GM-ZB-102", "entrusted", "2026-06-01")
    post(client, p, "GM-ZB-102", "verification_letters_sent", "2026-06-05")
    post(client, p, "GM-ZB-102", "implementation_plan_submitted", "2026-09-30")
    # Art. 18 review, 7 working days from Wed 30 Sep 2026: Thu 8 (1), Fri 9 (2), Sat 10 (3,
    # 调休), Mon 12 (4), 13 (5), 14 (6), Thu 15 Oct (7) → 15 Oct 2026.
    s = post(client, p, "GM-ZB-102", "review_submitted", "2026-10-15")
    assert (by_rule(s, "art18_review")["due"], by_rule(s, "art18_review")["status"]) == (
        "2026-10-15",
        "met",
    )
    # the office's 7 days from Thu 15 Oct: 16, 19, 20, 21, 22, 23, 26 → 26 Oct 2026
    assert by_rule(s, "art18_exam")["due"] == "2026-10-26"
    post(client, p, "GM-ZB-102", "preliminary_exam_done", "2026-10-26")
    post(client, p, "GM-ZB-102", "leading_group_approved", "2026-11-05")
    # Art. 19: 30 natural days from Fri 20 Nov 2026: 10 days to 30 Nov, 20 more → Sun 20 Dec
    # → Mon 21 Dec 2026. On 1 Dec the publicity is running, 20 days left.
    post(client, p, "GM-ZB-102", "publicity_started", "2026-11-20")
    pub = by_rule(status(client, p, "GM-ZB-102"), "art19_publicity")
    assert (pub["due"], pub["status"], pub["days_left"]) == ("2026-12-21", "running", 20)
    # Art. 22, two requests: Fri 27 Nov → Mon 30 (1), Tue 1 Dec (2), 2 (3), 3 (4), Fri 4 Dec
    # (5); Mon 30 Nov → 1, 2, 3, 4, Mon 7 Dec. One allocation, on 1 Dec, answers the first.
    post(client, p, "GM-ZB-102", "fund_requested", "2026-11-27")
    post(client, p, "GM-ZB-102", "fund_requested", "2026-11-30")
    post(client, p, "GM-ZB-102", "funds_allocated", "2026-12-01")
    s = status(client, p, "GM-ZB-102")
    first, second = by_rule(s, "art22_allocate", 1), by_rule(s, "art22_allocate", 2)
    assert (first["due"], first["status"]) == ("2026-12-04", "met")
    assert (second["due"], second["status"], second["days_left"]) == ("2026-12-07", "open", 6)
    assert (
        s["next_deadline"]["rule"] == "art22_allocate" and s["next_deadline"]["due"] == "2026-12-07"
    )

    # Art. 29: 3 months from the completion on Mon 30 Nov 2026 → 28 Feb 2027, a year nobody
    # has entered: refused with the calendar's message, never guessed.
    post(client, p, "GM-ZB-102", "work_completed", "2026-11-30")
    s = status(client, p, "GM-ZB-102")
    art29 = by_rule(s, "art29_settlement")
    assert art29["status"] == "calendar_unknown" and art29["due"] is None
    assert art29["message_zh"].startswith("2027 年的节假日安排尚未录入")
    assert s["known_years_zh"] == "2004–2026"
    with db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT stage_zh, calendar_unknown FROM procedure_projects_map "
                "WHERE project_code = 'GM-ZB-102'"
            )
        ).one()
    assert tuple(row) == ("补偿工作完成", True)

    # once an administrator enters 2027: Sun 28 Feb 2027 is a day off (not a make-up day in
    # the fixture) → Mon 1 Mar 2027; the map's status is refreshed with the notice.
    assert client.put(
        "/calendar/years/2027", json=NOTICE_2027, headers=bearer(staff["admin"])
    ).is_success
    s = status(client, p, "GM-ZB-102")
    art29 = by_rule(s, "art29_settlement")
    assert (art29["due"], art29["status"], art29["days_left"]) == ("2027-03-01", "open", 90)
    assert s["known_years_zh"] == "2004–2027"
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT calendar_unknown FROM procedure_projects_map "
                    "WHERE project_code = 'GM-ZB-102'"
                )
            ).scalar()
            is False
        )


def test_bureau_list_nearest_deadline_first_and_the_map_view(db, client, staff):
    p = staff["planner"]
    # 101: Art. 14 from Mon 2 Nov 2026: 3, 4, 5, 6, Mon 9 Nov → overdue on 1 Dec
    post(client, p, "GM-ZB-101", "entrusted", "2026-11-02")
    post(client, p, "GM-ZB-101", "verification_letters_sent", "2026-11-04")
    # (101's next: Art. 15, 2 Nov + 2 months = Sat 2 Jan 2027 → unknown year)
    # 102: Art. 14 from Fri 27 Nov: 30, 1, 2, 3, Fri 4 Dec
    post(client, p, "GM-ZB-102", "entrusted", "2026-11-27")
    # 103: Art. 14 from Mon 2 Nov: due Mon 9 Nov, overdue on 1 Dec
    post(client, p, "GM-ZB-103", "entrusted", "2026-11-02")
    api = client.get(
        "/procedure/projects", params={"today": "2026-12-01"}, headers=bearer(staff["analyst"])
    ).json()
    assert [(i["project_code"], i["next_due"], i["overdue_count"]) for i in api] == [
        ("GM-ZB-103", "2026-11-09", 1),
        ("GM-ZB-102", "2026-12-04", 0),
        ("GM-ZB-101", None, 0),
    ]
    assert api[2]["calendar_unknown"] is True
    py = [s.model_dump(mode="json") for s in bureau_list(db.engine, TODAY)]
    cli = json.loads(run_cli(db.url, "procedure", "list", "--today", "2026-12-01", "--json").stdout)
    assert api == py == cli
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT project_code, stage, overdue_count FROM procedure_projects_map "
                "ORDER BY project_code"
            )
        ).all()
    # the view counts overdue against the real date in China (1 Dec 2026 when written)
    today = china_today()
    assert [tuple(r) for r in rows] == [
        ("GM-ZB-101", "verification_letters_sent", 0),
        ("GM-ZB-102", "entrusted", int(today > date(2026, 12, 4))),
        ("GM-ZB-103", "entrusted", 1),
    ]


def test_api_cli_and_python_give_the_same_status_and_the_ledger(db, client, staff, tmp_path):
    out = run_cli(
        db.url,
        "procedure",
        "record",
        "GM-ZB-101",
        "documents_received",
        "2026-09-30",
        "--by",
        "li.planner",
    )
    assert "当前阶段 stage: 项目文件送达" in out.stdout
    out = run_cli(
        db.url,
        "procedure",
        "record",
        "GM-ZB-101",
        "entrusted",
        "2026-10-14",
        "--by",
        "zhao.analyst",
        check=False,
    )
    assert out.returncode == 1 and "may not do this" in out.stderr
    run_cli(
        db.url, "procedure", "record", "GM-ZB-101", "entrusted", "2026-10-14", "--by", "li.planner"
    )
    eid = project_procedure(db.engine, "GM-ZB-101", TODAY).events[-1].id
    run_cli(
        db.url,
        "procedure",
        "correct",
        str(eid),
        "--on",
        "2026-10-13",
        "--reason",
        "录错",
        "--by",
        "li.planner",
    )
    cli = json.loads(
        run_cli(
            db.url, "procedure", "status", "GM-ZB-101", "--today", "2026-12-01", "--json"
        ).stdout
    )
    api = status(client, staff["analyst"], "GM-ZB-101")
    py = project_procedure(db.engine, "GM-ZB-101", TODAY).model_dump(mode="json")
    assert cli == api == py
    assert by_rule(api, "art15_budget")["due"] == "2026-12-14"

    save_items(
        db.engine,
        "GM-ZB-101",
        [
            BudgetItem(
                section=Section.direct, category="land", description="土地", amount=D("1234567.89")
            )
        ],
        "test",
        "li.planner",
        "planner",
    )
    r = client.get(
        "/procedure/projects/GM-ZB-101/ledger.xlsx",
        params={"today": "2026-12-01"},
        headers=bearer(staff["analyst"]),
    )
    assert r.status_code == 200
    wb = load_workbook(BytesIO(r.content))
    assert wb.sheetnames == ["项目概况", "程序事项", "期限", "预算", "补偿明细", "调剂资金池"]
    budget = [list(row) for row in wb["预算"].iter_rows(values_only=True)]
    assert budget[0] == [
        "项目编号",
        "费用项目",
        "条款",
        "计提基数",
        "基数金额(元)",
        "比例",
        "金额(元)",
    ]
    assert budget[1][0] == "project code"
    lines = {row[1]: row[6] for row in budget[2:]}
    # 10% of 1,234,567.89 = 123,456.79; 5% = 61,728.39; 1% = 12,345.68; total 1,432,098.75
    assert lines["不可预见费"] == pytest.approx(123456.79, abs=0.001)
    assert lines["总补偿费用"] == pytest.approx(1432098.75, abs=0.001)
    events = [list(row) for row in wb["程序事项"].iter_rows(min_row=3, values_only=True)]
    assert [(e[2], e[5]) for e in events] == [
        ("项目文件送达", "现行"),
        ("委托街道办事处", f"已被 #{eid + 1} 更正"),
        ("委托街道办事处", "现行"),
    ]
    out = tmp_path / "台账.xlsx"
    run_cli(db.url, "procedure", "ledger", str(out), "--today", "2026-12-01")
    whole = load_workbook(out)
    assert [r[0] for r in whole["项目概况"].iter_rows(min_row=3, values_only=True)] == [
        "GM-ZB-101",
        "GM-ZB-102",
        "GM-ZB-103",
    ]


def test_procedure_report_tables_for_the_pdf_report(db, client, staff):
    from spatial.procedure.report import procedure_report

    post(client, staff["planner"], "GM-ZB-102", "entrusted", "2026-11-27")
    rep = procedure_report(db.engine, "GM-ZB-102", TODAY)
    assert [t.key for t in rep.tables] == [
        "summary",
        "events",
        "deadlines",
        "budget",
        "items",
        "pool",
    ]
    assert [t.title_zh for t in rep.tables] == [
        "项目概况",
        "程序事项",
        "期限",
        "预算",
        "补偿明细",
        "调剂资金池",
    ]
    summary = rep.tables[0]
    assert summary.columns[3] == ("当前阶段", "stage")
    # Art. 14 from Fri 27 Nov 2026: Mon 30 (1), 1 (2), 2 (3), 3 (4), Fri 4 Dec (5)
    assert summary.rows == [
        [
            "GM-ZB-102",
            "整备项目",
            "土地整备",
            "委托街道办事处",
            "去函核查",
            date(2026, 12, 4),
            3,
            0,
            D("0.00"),
            "须编制预算方案",
            "2004–2026",
        ]
    ]
    deadlines = rep.tables[2]
    assert deadlines.rows[0][1:9] == [
        "去函核查",
        "第十四条",
        "5个工作日",
        "entrusted",
        date(2026, 11, 27),
        date(2026, 12, 4),
        None,
        "进行中",
    ]
    assert rep.tables[3].rows[-2][1] == "总补偿费用"
