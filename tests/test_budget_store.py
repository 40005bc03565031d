"""Budgets in the database through the API and the CLI: registration, items entered and
imported from Excel (bad rows named), versions kept, the Art. 36 pool, and the same figures
from the Python functions, the API and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal as D
from io import BytesIO

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from spatial.budget.plan import compute_budget
from spatial.budget.pool import POOL_CAPACITY
from spatial.budget.rates import Track
from spatial.budget.store import project_budget
from spatial.models import Layer
from spatial.users import add_user
from tests.analysis_data import load, project
from tests.procedure_helpers import bearer, run_cli

HEADER = ["费用类型", "类别", "名称", "数量", "单位", "金额（元）"]


def xlsx(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def staff(db):
    load(
        db.engine, Layer.projects, [project("GM-ZB-101", 0, "测试项目一"), project("GM-ZB-102", 1)]
    )
    return {
        "admin": add_user("admin", "admin", db.engine),
        "planner": add_user("li.planner", "planner", db.engine),
        "analyst": add_user("zhao.analyst", "analyst", db.engine),
    }


def register(client, token, code="GM-ZB-101", track="housing_compensation", pi=True):  # noqa: ANN001, ANN201
    return client.put(
        f"/procedure/projects/{code}/registration",
        json={"track": track, "public_infrastructure": pi},
        headers=bearer(token),
    )


ITEMS = [
    {
        "section": "direct",
        "category": "building",
        "description": "民房 12 栋",
        "amount": "1234567.89",
    },
    {
        "section": "direct",
        "category": "seedling",
        "description": "苗木",
        "quantity": "320",
        "unit": "株",
        "amount": 0.11,
    },
    {"section": "technical", "category": "survey", "description": "测绘", "amount": "8765.43"},
]


def test_register_save_and_version_items(db, client, staff):
    assert register(client, staff["analyst"]).status_code == 403
    r = register(client, staff["planner"], code="NO-SUCH")
    assert r.status_code == 404 and "NO-SUCH" in r.json()["message_en"]
    r = register(client, staff["planner"])
    assert r.status_code == 200 and r.json()["track_zh"] == "房屋补偿"
    assert r.json()["project_name"] == "测试项目一"

    r = client.put(
        "/budget/projects/GM-ZB-101/items", json={"items": ITEMS}, headers=bearer(staff["planner"])
    )
    assert r.status_code == 200, r.text
    body = r.json()
    # direct 1,234,567.89 + 0.11 = 1,234,568.00: 10% = 123,456.80, 5% = 61,728.40, 1% = 12,345.68
    # total = 1,234,568.00 + 8,765.43 + 123,456.80 + 61,728.40 + 12,345.68 = 1,440,864.31
    amounts = {ln["code"]: ln["amount"] for ln in body["budget"]["lines"]}
    assert amounts == {
        "direct_compensation": "1234568.00",
        "technical_fees": "8765.43",
        "contingency": "123456.80",
        "rewards": "61728.40",
        "working_funds": "12345.68",
    }
    assert body["budget"]["total"] == "1440864.31"
    assert body["budget"]["art16"]["exempt"] is True
    assert [i["category_zh"] for i in body["items"]] == ["建（构）筑物", "苗木", "测绘"]

    # a second save supersedes, the first version stays with its items
    r = client.put(
        "/budget/projects/GM-ZB-101/items",
        json={"items": ITEMS[:1], "actual_payments": "1000000.00"},
        headers=bearer(staff["planner"]),
    )
    body = r.json()
    assert [v["item_count"] for v in body["versions"]] == [1, 3]
    assert body["versions"][1]["superseded_at"] is not None
    assert {ln["code"]: ln["amount"] for ln in body["budget"]["lines"]}[
        "working_funds"
    ] == "10000.00"
    with db.engine.connect() as conn:
        audit = conn.execute(
            text(
                "SELECT user_name, action, target FROM audit_log "
                "WHERE action LIKE 'budget.%' OR action LIKE 'procedure.%' ORDER BY id"
            )
        ).all()
        kept = conn.execute(text("SELECT count(*) FROM budget_items")).scalar()
    assert [tuple(a) for a in audit] == [
        ("li.planner", "procedure.register", "project:GM-ZB-101"),
        ("li.planner", "budget.save", "project:GM-ZB-101"),
        ("li.planner", "budget.save", "project:GM-ZB-101"),
    ]
    assert kept == 4


def test_bad_json_items_are_refused(client, staff):
    register(client, staff["planner"])
    bad = [{**ITEMS[0], "amount": "12.345"}, {**ITEMS[1], "category": "飞机"}]
    r = client.put(
        "/budget/projects/GM-ZB-101/items", json={"items": bad}, headers=bearer(staff["planner"])
    )
    assert r.status_code == 422
    text_ = json.dumps(r.json(), ensure_ascii=False)
    assert "at most two decimals" in text_ and "unknown category" in text_


def test_excel_import_all_or_nothing_naming_row_and_field(db, client, staff):
    register(client, staff["planner"])
    bad = xlsx(
        [
            ["直接补偿费", "建（构）筑物", "民房", 12, "栋", 1000000.5],
            ["直接补偿费", "飞机", "?", None, None, 10],
            ["技术支持费", "测绘", "", None, None, "abc"],
            ["间接费", "测绘", "x", None, None, 1],
            [None, None, None, None, None, None],
            ["直接补偿费", "苗木", "苗木", -3, "株", "12.345"],
        ]
    )
    r = client.post(
        "/budget/projects/GM-ZB-101/items.xlsx",
        files={"file": ("补偿明细.xlsx", bad, "application/octet-stream")},
        headers=bearer(staff["planner"]),
    )
    assert r.status_code == 422
    body = r.json()
    assert body["message_zh"] == "补偿明细.xlsx：4 行有错误，未导入任何数据"
    got = [(p["row"], p["field"]) for p in body["problems"]]
    assert got == [
        (3, "category"),
        (4, "description"),
        (5, "section"),
        (7, "amount"),
        (7, "quantity"),
    ]
    assert body["problems"][0]["message_zh"].startswith("第 3 行「类别」：未知类别 '飞机'")
    assert body["problems"][1]["message_en"] == "row 4, description: is empty"
    assert (
        body["problems"][3]["message_zh"]
        == "第 7 行「金额（元）」：金额最多两位小数（到分）：12.345"
    )
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM budget_versions")).scalar() == 0

    r = client.post(
        "/budget/projects/GM-ZB-101/items.xlsx",
        files={"file": ("x.xlsx", xlsx([], header=["名称", "金额"]), "application/octet-stream")},
        headers=bearer(staff["planner"]),
    )
    assert r.status_code == 422 and [p["field"] for p in r.json()["problems"]] == [
        "section",
        "category",
    ]
    r = client.post(
        "/budget/projects/GM-ZB-101/items.xlsx",
        files={"file": ("x.xlsx", b"PK\x03\x04 not a workbook", "application/octet-stream")},
        headers=bearer(staff["planner"]),
    )
    assert r.status_code == 422 and "not a valid Excel workbook" in r.json()["message_en"]

    good = xlsx(
        [
            ["直接补偿费", "建（构）筑物", "民房 12 栋", 12, "栋", 1999999.99],
            ["技术支持费", "评估", "评估费", None, None, "1,000.01"],
        ]
    )
    r = client.post(
        "/budget/projects/GM-ZB-101/items.xlsx",
        files={"file": ("补偿明细.xlsx", good, "application/octet-stream")},
        headers=bearer(staff["planner"]),
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"]["source"] == "excel:补偿明细.xlsx"
    assert [i["amount"] for i in r.json()["items"]] == ["1999999.99", "1000.01"]
    assert r.json()["budget"]["direct_compensation"] == "1999999.99"


def test_adjustment_pool_draws_and_repayments(db, client, staff):
    register(client, staff["planner"])
    register(client, staff["planner"], code="GM-ZB-102")
    p = bearer(staff["planner"])

    def move(kind, code, amount):  # noqa: ANN001, ANN202
        return client.post(
            f"/budget/pool/{kind}",
            json={"project_code": code, "amount": amount, "on_date": "2026-11-20"},
            headers=p,
        )

    assert move("draws", "GM-ZB-101", "30000000.00").json()["available"] == "20000000.00"
    assert move("draws", "GM-ZB-102", "19999999.99").json()["available"] == "0.01"
    r = move("draws", "GM-ZB-102", "0.02")
    assert r.status_code == 409
    assert (
        r.json()["message_zh"]
        == "调剂资金池余额不足：申请 0.02 元，剩余 0.01 元（第三十六条，额度 5000 万元）"
    )
    assert move("draws", "GM-ZB-102", "0.01").json()["available"] == "0.00"
    r = move("repayments", "GM-ZB-102", "20000000.01")
    assert r.status_code == 409 and r.json()["outstanding"] == "20000000.00"
    st = move("repayments", "GM-ZB-101", "12345678.90").json()
    assert (st["drawn"], st["repaid"], st["outstanding"], st["available"]) == (
        "50000000.00",
        "12345678.90",
        "37654321.10",
        "12345678.90",
    )
    assert [(b["project_code"], b["outstanding"]) for b in st["projects"]] == [
        ("GM-ZB-101", "17654321.10"),
        ("GM-ZB-102", "20000000.00"),
    ]
    assert move("draws", "GM-ZB-101", "-1").status_code == 422
    assert move("draws", "GM-ZB-101", "0.001").status_code == 422
    r = client.post(
        "/budget/pool/draws",
        json={"project_code": "GM-ZB-101", "amount": "1", "on_date": "2026-11-20"},
        headers=bearer(staff["analyst"]),
    )
    assert r.status_code == 403
    assert POOL_CAPACITY == D("50000000.00")
    with db.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM audit_log WHERE action LIKE 'pool.%'")).scalar()
    assert n == 4


@pytest.mark.parametrize(
    ("track", "direct", "technical", "payments"),
    [
        ("land_readiness", "3456789.10", "0", None),
        ("land_readiness", "1000000.70", "12.34", "999999.99"),
        ("housing_compensation", "1234567.89", "8765.43", None),
        ("housing_compensation", "1000000.00", "840000.00", None),
    ],
)
def test_api_cli_and_python_give_the_same_budget(
    db, client, staff, track, direct, technical, payments
):
    py = compute_budget(
        Track(track), D(direct), D(technical), None if payments is None else D(payments), True
    ).model_dump(mode="json")
    params = {
        "track": track,
        "direct": direct,
        "technical": technical,
        "public_infrastructure": True,
    }
    args = [
        "budget",
        "compute",
        "--track",
        track,
        "--direct",
        direct,
        "--technical",
        technical,
        "--public-infrastructure",
        "--json",
    ]
    if payments:
        params["payments"] = payments
        args += ["--payments", payments]
    api = client.get("/budget/compute", params=params, headers=bearer(staff["analyst"])).json()
    cli = json.loads(run_cli(db.url, *args).stdout)
    assert api == py == cli


def test_cli_import_show_and_pool_match_the_api(db, client, staff, tmp_path):
    run_cli(
        db.url,
        "procedure",
        "register",
        "GM-ZB-101",
        "--track",
        "land_readiness",
        "--by",
        "li.planner",
    )
    book = tmp_path / "明细.xlsx"
    book.write_bytes(xlsx([["直接补偿费", "土地", "集体土地", 12000, "m²", "3456789.10"]]))
    out = run_cli(
        db.url, "budget", "import", "GM-ZB-101", str(book), "--by", "zhao.analyst", check=False
    )
    assert out.returncode == 1 and "may not do this" in out.stderr
    out = run_cli(db.url, "budget", "import", "GM-ZB-101", str(book), "--by", "li.planner")
    assert "17,283.94" in out.stdout and "69,135.78" in out.stdout
    cli = json.loads(run_cli(db.url, "budget", "show", "GM-ZB-101", "--json").stdout)
    api = client.get("/budget/projects/GM-ZB-101", headers=bearer(staff["analyst"])).json()
    assert cli == api == project_budget(db.engine, "GM-ZB-101").model_dump(mode="json")
    assert cli["budget"]["total"] == "4217282.70"

    run_cli(
        db.url,
        "budget",
        "draw",
        "GM-ZB-101",
        "49999999.99",
        "--on",
        "2026-11-30",
        "--by",
        "li.planner",
    )
    out = run_cli(
        db.url,
        "budget",
        "draw",
        "GM-ZB-101",
        "0.02",
        "--on",
        "2026-11-30",
        "--by",
        "li.planner",
        check=False,
    )
    assert out.returncode == 1 and "余额不足" in out.stderr
    cli_pool = json.loads(run_cli(db.url, "budget", "pool", "--json").stdout)
    api_pool = client.get("/budget/pool", headers=bearer(staff["analyst"])).json()
    assert cli_pool == api_pool and api_pool["available"] == "0.01"


def test_hostile_input_gets_a_4xx_never_a_500(db, client, staff):
    import zipfile

    register(client, staff["planner"])
    p = bearer(staff["planner"])
    bomb = BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (101 * 1024 * 1024))
    r = client.post(
        "/budget/projects/GM-ZB-101/items.xlsx",
        files={"file": ("bomb.xlsx", bomb.getvalue(), "application/octet-stream")},
        headers=p,
    )
    assert r.status_code == 413 and "unpacks to more than 100 MB" in r.json()["message_en"]
    nul = [{**ITEMS[0], "description": "民房\x00"}]
    r = client.put("/budget/projects/GM-ZB-101/items", json={"items": nul}, headers=p)
    assert r.status_code == 422 and "NUL" in r.text
    r = client.post(
        "/budget/pool/draws",
        json={"project_code": "GM\x00", "amount": "1", "on_date": "2026-11-20"},
        headers=p,
    )
    assert r.status_code == 422
    assert client.get("/budget/projects/GM%00", headers=p).status_code == 422
    r = client.post(
        "/procedure/projects/GM-ZB-101/events",
        json={"step": "entrusted", "occurred_on": "2026-11-02", "note": "\x00"},
        headers=p,
    )
    assert r.status_code == 422
    assert client.get("/procedure/projects/%00x", headers=p).status_code == 422
    assert client.get("/projects/GM%00/review", headers=p).status_code == 422
    bad_notice = {"year": 2027, "reference": "x\x00", "holidays": [], "workdays": []}
    r = client.put("/calendar/years/2027", json=bad_notice, headers=bearer(staff["admin"]))
    assert r.status_code == 422
