"""The API and the CLI return exactly what the module functions return."""

import json
from io import BytesIO

import pytest
from analysis_data import load_layers, rect, route_case_layers, zone
from openpyxl import load_workbook
from typer.testing import CliRunner

from spatial.analysis import list_projects, review_all, review_project, write_review_xlsx
from spatial.models import Layer
from spatial.users import add_user


@pytest.fixture
def review_db(db):
    layers = route_case_layers()
    # a zone covering part of R3000's site with a conflicting class, for the coverage part
    layers[Layer.statutory_plans] = [zone("Z-1", "M1", rect(100, 100, 160, 200, 2))]
    load_layers(db.engine, layers)
    return db


def auth(db):
    return {"Authorization": f"Bearer {add_user('reader', 'planner', db.engine)}"}


def test_api_matches_module(review_db, client):
    h = auth(review_db)
    r = client.get("/projects", headers=h)
    assert r.status_code == 200
    assert r.json() == [p.model_dump(mode="json") for p in list_projects(review_db.engine)]
    first = r.json()[0]
    assert set(first) >= {"code", "name", "stage", "area_m2"}
    assert {p["code"]: p["area_m2"] for p in r.json()}["R3000"] == pytest.approx(1_000_000.0)

    r = client.get("/projects/R3000/review", headers=h)
    assert r.status_code == 200
    expected = review_project(review_db.engine, "R3000").model_dump(mode="json")
    assert r.json() == expected
    body = r.json()
    assert body["verdict"]["route"] == "district"
    assert body["verdict"]["total_occupied_m2"] == 3000.0
    assert body["verdict"]["route_label_zh"] == "区政府审批"
    assert body["reserve"]["rounding"] == "ROUND_HALF_UP to 0.01 m² before comparing with 3000 m²"
    site = body["sites"][0]
    assert site["covered_m2"] == 6000.0 and site["uncovered_m2"] == 4000.0
    assert [x["zh"] for x in site["reasons"]] == ["法定图则未覆盖", "需调整法定图则"]
    assert body["verdict"]["planning_study_required"] is True

    r = client.get("/projects/R3001/review", headers=h)
    assert r.json()["verdict"]["route"] == "city"
    assert r.json()["verdict"]["publicity"]["articles"] == "Art. 19(3), 20"


def test_api_errors_and_roles(review_db, client):
    h = auth(review_db)
    r = client.get("/projects/NOPE/review", headers=h)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert r.json()["message_zh"] == "整备项目不存在：NOPE"
    assert client.get("/projects/NOPE/review.xlsx", headers=h).status_code == 404
    assert client.get("/projects/1; DROP TABLE projects/review", headers=h).status_code == 404
    assert client.get("/projects").status_code == 401
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/projects", "/projects/{code}/review", "/projects/{code}/review.xlsx"} <= set(paths)
    assert client.get("/projects/R0/review").status_code == 401


def test_xlsx(review_db, client):
    h = auth(review_db)
    r = client.get("/projects/R3000/review.xlsx", headers=h)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert r.headers["content-disposition"].endswith("filename*=UTF-8''review-R3000.xlsx")
    wb = load_workbook(BytesIO(r.content))
    assert wb.sheetnames == [
        "项目结论",
        "面积台账",
        "留用土地构成",
        "储备用地占用",
        "图则覆盖",
        "用途冲突",
    ]
    verdict = wb["项目结论"]
    assert verdict["A1"].value == "项目编号"
    assert verdict["D1"].value == "占用国有储备土地合计(m²)"
    assert verdict["A3"].value == "R3000"
    assert verdict["D3"].value == 3000.0
    assert verdict["F3"].value == "区政府审批"
    reserve = wb["储备用地占用"]
    assert reserve["E1"].value == "占用国有储备土地(m²)"
    assert reserve["E3"].value == 3000.0
    conflicts = wb["用途冲突"]
    assert [c.value for c in conflicts[3]][4:7] == ["Z-1", "M1", 6000.0]
    # the module writes the same workbook content
    local = load_workbook(BytesIO(write_review_xlsx(review_project(review_db.engine, "R3000"))))
    assert [[c.value for c in row] for row in local["项目结论"].iter_rows()] == [
        [c.value for c in row] for row in verdict.iter_rows()
    ]


@pytest.fixture
def cli_env(review_db, monkeypatch):
    from spatial.db import dispose_engines
    from spatial.settings import database_settings

    monkeypatch.setenv("DATABASE_URL", review_db.url)
    database_settings.cache_clear()
    yield review_db
    dispose_engines()
    database_settings.cache_clear()


def test_cli_matches_module(cli_env, tmp_path):
    from spatial.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["review", "R3001", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == review_project(cli_env.engine, "R3001").model_dump(mode="json")
    res = runner.invoke(app, ["review", "TWO"])
    assert res.exit_code == 0
    assert "3200.00 m² → city (报市规划国土部门)" in res.stdout
    out = tmp_path / "all.xlsx"
    res = runner.invoke(app, ["review", "--all", "--json", "--xlsx", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [r.model_dump(mode="json") for r in review_all(cli_env.engine)]
    wb = load_workbook(out)
    codes = [row[0].value for row in wb["项目结论"].iter_rows(min_row=3)]
    assert codes == sorted(codes) and "R12000" in codes and len(codes) == 10
    res = runner.invoke(app, ["review", "NOPE"])
    assert res.exit_code == 1
    assert "整备项目不存在：NOPE" in res.output


def test_review_all_matches_review_project(review_db):
    every = {r.project_code: r for r in review_all(review_db.engine)}
    for code in ("R0", "R3000", "SPLIT", "TWO"):
        one = review_project(review_db.engine, code)
        assert every[code].model_dump() == one.model_dump()
    assert [every[c].verdict.route.value for c in ("R0", "R2999", "R3000", "R3001", "R12000")] == [
        "district",
        "district",
        "district",
        "city",
        "city",
    ]
