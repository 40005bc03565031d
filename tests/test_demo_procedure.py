"""The demo's projects under procedure (data/demo_procedure.py): what the bureau list and a
project's page show after the demo loads, idempotent loading, and unloading.

Expected dates worked out by hand from the State Council notices (2025: National Day 1–8 Oct
off, Sun 28 Sep and Sat 11 Oct worked; 2026: Dragon Boat 19 Jun off, National Day 1–7 Oct off,
Sat 10 Oct worked). Every figure is read on the fixed day ``TODAY`` (``today=`` on the GET).
"""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO
from pathlib import Path

import pytest
from conftest import make_client
from openpyxl import load_workbook
from sqlalchemy import text

from data.demo import generate, load_demo_if_empty, load_into_db
from data.demo_procedure import DEMO_PROCEDURES
from spatial.demo import DEMO_WITHDRAWAL_REASON, unload_demo
from spatial.procedure.events import record_event
from spatial.procedure.status import china_today
from spatial.users import add_user
from tests.layers_data import running_server
from tests.procedure_helpers import PW, bearer, login, signed_in_browser

TODAY = "2026-12-01"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"

BUREAU = [
    # code, name, track, stage, next deadline, due, days left, status, overdue
    (
        "GM-ZB-002",
        "轨道6号线光明段土地整备项目",
        "房屋补偿",
        "补偿工作完成",
        "编制结算方案报审",  # 3 months from 31 Jul 2026: Sat 31 Oct → Mon 2 Nov (Art. 203)
        "2026-11-02",
        -29,
        "overdue",
        1,
    ),
    (
        "GM-ZB-102",
        "塘尾片区土地整备利益统筹项目",
        "土地整备",
        "委托街道办事处",
        "去函核查",  # 5 working days from Fri 20 Nov: 23, 24, 25, 26, 27 Nov
        "2026-11-27",
        -4,
        "overdue",
        1,
    ),
    (
        "GM-ZB-003",
        "外环高速公路光明段土地整备项目",
        "房屋补偿",
        "签订补偿协议",
        "出具用款审查意见",  # 2nd fund request Thu 26 Nov: 27, 30 Nov, 1, 2, 3 Dec
        "2026-12-03",
        2,
        "open",
        0,
    ),
    (
        "GM-ZB-101",
        "楼村片区土地整备利益统筹项目",
        "土地整备",
        "实施方案公告",
        "公告期（30个自然日）",  # from Mon 23 Nov: Wed 23 Dec
        "2026-12-23",
        22,
        "running",
        0,
    ),
    ("GM-ZB-001", "光明科学城启动区土地整备项目", "土地整备", "结算方案报审") + (None,) * 4 + (0,),
]
CODES = [row[0] for row in BUREAU]


@pytest.fixture
def demo(db):
    load_into_db(generate(), db.engine)
    token = add_user("zhao.analyst", "analyst", db.engine, password=PW)
    return db, bearer(token)


def _bureau(client, headers) -> list[tuple]:  # noqa: ANN001
    r = client.get("/procedure/projects", params={"today": TODAY}, headers=headers)
    assert r.status_code == 200, r.text
    return [
        (
            s["project_code"],
            s["project_name"],
            s["track_zh"],
            s["stage_zh"],
            s["next_label_zh"],
            s["next_due"],
            s["days_left"],
            s["next_status"],
            s["overdue_count"],
        )
        for s in r.json()
    ]


def _ledger(client, headers) -> list[tuple]:  # noqa: ANN001
    """(code, track, stage) of each project on the ledger's 项目概况 sheet."""
    r = client.get("/procedure/ledger.xlsx", params={"today": TODAY}, headers=headers)
    assert r.status_code == 200
    sheet = load_workbook(BytesIO(r.content))["项目概况"]
    rows = sheet.iter_rows(min_row=3, values_only=True)
    return [(row[0], row[2], row[3]) for row in rows]


def _deadlines(client, headers, code: str) -> list[tuple]:  # noqa: ANN001
    r = client.get(f"/procedure/projects/{code}", params={"today": TODAY}, headers=headers)
    assert r.status_code == 200, r.text
    return [
        (d["rule"], d["occurrence"], d["start_on"], d["due"], d["done_on"], d["status_zh"])
        for d in r.json()["deadlines"]
    ]


def test_the_bureau_list_shows_the_demo_projects_at_their_stages(demo):
    db, headers = demo
    with make_client(db) as client:
        assert _bureau(client, headers) == BUREAU
        assert _ledger(client, headers) == sorted((b[0], b[2], b[3]) for b in BUREAU)
        # both tracks, registered by the demo; the other 19 projects are not under procedure
        reg = client.get("/procedure/projects/GM-ZB-003/registration", headers=headers).json()
        assert (reg["track"], reg["track_zh"], reg["public_infrastructure"]) == (
            "housing_compensation",
            "房屋补偿",
            True,
        )
        assert reg["registered_by"] == "demo"
        r = client.get("/procedure/projects/GM-ZB-004", params={"today": TODAY}, headers=headers)
        assert r.status_code == 404
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_projects")).scalar_one() == 24
        rows = conn.execute(
            text("SELECT recorded_by, count(*) FROM procedure_events GROUP BY 1")
        ).all()
        assert [tuple(r) for r in rows] == [("demo", 48)]
        # the map layer reads the status refreshed by record_event
        stages = conn.execute(
            text("SELECT project_code, stage_zh FROM procedure_projects_map ORDER BY 1")
        ).all()
    assert [tuple(s) for s in stages] == sorted((b[0], b[3]) for b in BUREAU)


def test_a_projects_procedure_shows_met_late_open_and_overdue_deadlines(demo):
    db, headers = demo
    with make_client(db) as client:
        assert _deadlines(client, headers, "GM-ZB-003") == [
            ("art13_entrust", 1, "2026-03-02", "2026-03-09", "2026-03-06", "按期完成"),
            ("art14_letters", 1, "2026-03-06", "2026-03-13", "2026-03-20", "逾期完成"),
            ("art15_budget", 1, "2026-03-06", "2026-05-06", "2026-05-06", "按期完成"),
            ("art18_review", 1, "2026-05-06", "2026-05-14", "2026-05-14", "按期完成"),
            ("art18_exam", 1, "2026-05-14", "2026-05-25", "2026-05-22", "按期完成"),
            ("art22_opinion", 1, "2026-06-15", "2026-06-23", "2026-06-18", "按期完成"),
            ("art22_opinion", 2, "2026-11-26", "2026-12-03", None, "进行中"),
            ("art22_quota", 1, "2026-06-18", "2026-06-26", "2026-06-24", "按期完成"),
        ]
        # the quota of 2025: 28 Sep (a make-up Sunday), 29, 30 Sep, 9, 10 Oct; issued 13 Oct
        gm002 = _deadlines(client, headers, "GM-ZB-002")
        assert ("art22_quota", 1, "2025-09-26", "2025-10-10", "2025-10-13", "逾期完成") in gm002
        assert gm002[-1] == ("art29_settlement", 1, "2026-07-31", "2026-11-02", None, "已逾期")
        gm001 = _deadlines(client, headers, "GM-ZB-001")
        assert {d[5] for d in gm001} == {"按期完成", "公告期满"}
        # publicity from Thu 15 May 2025: 14 Jun is a Saturday → Mon 16 Jun
        assert ("art19_publicity", 1, "2025-05-15", "2025-06-16", None, "公告期满") in gm001
        p = client.get(
            "/procedure/projects/GM-ZB-001", params={"today": TODAY}, headers=headers
        ).json()
        notes = [e["note"] for e in p["events"] if e["note"]]
        assert "用时 22 天全部完成计划签约任务" in notes
        assert [e["step_zh"] for e in p["events"]][-2:] == ["入库", "结算方案报审"]


SEED_ORDER = ["GM-ZB-001", "GM-ZB-002", "GM-ZB-003", "GM-ZB-101", "GM-ZB-102"]
"""The projects DEMO_PROCEDURES stands for in the default district (GM-ZB-101 is the first
利益统筹 project at layer stage 实施, GM-ZB-102 the first at 立项)."""


def _events(engine) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT project_code, step, occurred_on, note, recorded_by "
                "FROM procedure_events ORDER BY id"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_the_first_start_records_exactly_the_declared_events_once(db):
    assert load_demo_if_empty(db.engine).startswith("示例数据已加载")
    declared = [
        (code, step, on, note, "demo")
        for code, p in zip(SEED_ORDER, DEMO_PROCEDURES, strict=True)
        for step, on, note in p.events
    ]
    assert len(declared) == 48
    assert _events(db.engine) == declared
    assert load_demo_if_empty(db.engine).startswith("示例数据未加载")
    assert _events(db.engine) == declared


def test_a_clock_before_the_demo_dates_loads_the_layers_without_procedure(db, monkeypatch):
    """record_event refuses an event after today: the demo's layers still load."""
    monkeypatch.setattr("data.demo.china_today", lambda: date(2026, 11, 25))
    summary = load_into_db(generate(), db.engine)
    assert "24 projects" in summary and ", 0 projects under procedure" in summary
    assert _events(db.engine) == []
    monkeypatch.setattr("data.demo.china_today", lambda: date(2026, 11, 26))
    assert ", 5 projects under procedure" in load_into_db(generate(), db.engine)
    assert len(_events(db.engine)) == 48


def test_loading_the_demo_again_adds_nothing_to_the_procedure(demo):
    db, headers = demo
    before = _events(db.engine)
    load_into_db(generate(), db.engine)  # tuzheng demo load over a loaded demo
    assert _events(db.engine) == before
    with db.engine.connect() as conn:
        regs = conn.execute(
            text("SELECT project_code, registered_by FROM procedure_projects ORDER BY 1")
        ).all()
    assert [tuple(r) for r in regs] == [(c, "demo") for c in sorted(CODES)]
    with make_client(db) as client:
        assert _bureau(client, headers) == BUREAU
    # nor does a demo of another seed, whose projects at 实施 / 立项 are others
    load_into_db(generate(n_parcels=300, seed=3), db.engine)
    assert _events(db.engine) == before


def test_unload_removes_the_demo_procedure_and_keeps_what_users_recorded(demo):
    db, headers = demo
    # a planner records a step on a demo project; it is theirs, not the demo's
    record_event(
        db.engine,
        "GM-ZB-102",
        "verification_letters_sent",
        date(2026, 11, 30),
        None,
        "li.planner",
        "planner",
        china_today(),
    )
    result = unload_demo(db.engine, "admin")
    assert len(result.procedure_events) == 48 and len(result.withdrawn) == 5
    assert "撤销程序事项 48 项" in result.summary
    with make_client(db) as client:
        bureau = _bureau(client, headers)
        # the demo projects are gone; GM-ZB-102 stays (a user's step is current), nameless now
        # that the demo's project layer is withdrawn, at the user's step
        assert bureau == [("GM-ZB-102", None, "土地整备", "去函核查", None, None, None, None, 0)]
        assert _ledger(client, headers) == [("GM-ZB-102", "土地整备", "去函核查")]
        p = client.get(
            "/procedure/projects/GM-ZB-003", params={"today": TODAY}, headers=headers
        ).json()
        assert p["events"] == [] and p["stage_zh"] == "未开始"
        # the history keeps every demo event and its withdrawal
        assert len(p["history"]) == 24
        assert {h["reason"] for h in p["history"] if h["supersedes"]} == {DEMO_WITHDRAWAL_REASON}
    with db.engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT user_name, count(*) FROM audit_log WHERE action = 'procedure.withdraw' "
                "GROUP BY 1"
            )
        ).all()
        assert [tuple(a) for a in audit] == [("admin", 48)]
        detail = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'demo_unload'")
        ).scalar_one()
        assert detail["procedure_events"] == result.procedure_events
        assert conn.execute(text("SELECT count(*) FROM procedure_projects_map")).scalar_one() == 0
    # loading the demo again seeds the four untouched projects afresh
    load_into_db(generate(), db.engine)
    with make_client(db) as client:
        bureau = _bureau(client, headers)
    assert [b[0] for b in bureau] == [
        "GM-ZB-002",
        "GM-ZB-003",
        "GM-ZB-101",
        "GM-ZB-001",
        "GM-ZB-102",
    ]
    # the planner's project is left as they had it, its name back with the demo's layer
    assert bureau[4] == (
        "GM-ZB-102",
        "塘尾片区土地整备利益统筹项目",
        "土地整备",
        "去函核查",
        None,
        None,
        None,
        None,
        0,
    )


def test_the_procedure_page_lists_the_demo(demo):
    db, _ = demo
    add_user("li.planner", "planner", db.engine, password=PW)
    with make_client(db) as client:
        login(client, "li.planner")
        html = client.get("/workbench/procedure").text
    # the order by due date does not depend on today
    assert re.findall(r'data-code="([^"]+)"', html) == CODES
    for _, name, track, stage, *_ in BUREAU:
        assert f">{name}<" in html and f">{track}<" in html and f">{stage}<" in html


@pytest.mark.e2e
def test_the_demo_procedure_in_the_browser(demo):
    db, _ = demo
    add_user("li.planner", "planner", db.engine, password=PW)
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server(db.url) as base, signed_in_browser(base, "li.planner") as browser:
        rec = browser.load(f"{base}/workbench/procedure")
        (ARTIFACTS / "procedure_demo_list.png").write_bytes(rec.screenshot_png)
        codes = browser.evaluate(
            "[...document.querySelectorAll('[data-code]')].map(e => e.dataset.code)"
        )
        assert codes == CODES
        rec = browser.load(f"{base}/workbench/procedure/GM-ZB-003")
        (ARTIFACTS / "procedure_demo_project.png").write_bytes(rec.screenshot_png)
        assert browser.evaluate("document.getElementById('stage').textContent") == "签订补偿协议"
