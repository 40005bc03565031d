"""Workbench pages and the audit API: who sees what, filters, exports, escaping."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from sqlalchemy import text
from test_login import PW, login

from spatial.users import add_user, update_user


def test_pages_by_role(db, client):
    add_user("root", "admin", db.engine, password=PW)
    add_user("li", "planner", db.engine, password=PW)
    add_user("chen", "surveyor", db.engine, password=PW)
    login(client, "li")
    for path in ("/workbench/upload", "/workbench/uploads", "/workbench/users", "/workbench/audit"):
        r = client.get(path)
        assert r.status_code == 403 and "无权访问" in r.text, path
    r = client.get("/workbench/versions")
    assert r.status_code == 200 and "tz-restore" not in r.text  # read-only for planners
    client.cookies.clear()
    login(client, "chen")
    assert client.get("/workbench/upload").status_code == 200
    assert client.get("/workbench/users").status_code == 403
    client.cookies.clear()
    login(client, "root")
    for path in (
        "/workbench/upload",
        "/workbench/users",
        "/workbench/audit",
        "/workbench/versions",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", page.text), path
        assert " on" not in re.sub(r'"[^"]*"', "", " ".join(re.findall(r"<[^>]+>", page.text)))


def test_audit_filters_and_exports(db, client):
    admin = add_user("root", "admin", db.engine, password=PW)
    add_user("li", "planner", db.engine, password=PW)
    update_user(db.engine, "li", "root", role="analyst")
    login(client, "li", "wrong-password-x")
    auth = {"Authorization": f"Bearer {admin}"}
    rows = client.get("/audit", headers=auth).json()
    assert [(r["user_name"], r["action"], r["target"]) for r in rows] == [
        ("li", "login.failed", "user:li"),
        ("root", "user.update", "user:li"),
        ("cli", "user.add", "user:li"),
        ("cli", "user.add", "user:root"),
    ]
    only = client.get("/audit", params={"action": "user."}, headers=auth).json()
    assert {r["action"] for r in only} == {"user.add", "user.update"}
    assert client.get("/audit", params={"user": "root"}, headers=auth).json()[0]["detail"] == {
        "role": ["planner", "analyst"]
    }
    assert client.get("/audit", params={"since": "2999-01-01"}, headers=auth).json() == []
    assert client.get("/audit", params={"since": "yesterday"}, headers=auth).status_code == 422
    r = client.get("/audit", params={"format": "csv", "user": "li"}, headers=auth)
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0][0] == "编号 id" and [row[4] for row in table[1:]] == ["login.failed"]
    r = client.get("/audit", params={"format": "xlsx"}, headers=auth)
    ws = openpyxl.load_workbook(io.BytesIO(r.content))["审计日志 Audit"]
    assert [row[4] for row in ws.iter_rows(min_row=3, values_only=True)][:2] == [
        "login.failed",
        "user.update",
    ]
    planner = add_user("p2", "planner", db.engine)
    assert client.get("/audit", headers={"Authorization": f"Bearer {planner}"}).status_code == 403


def test_audit_page_escapes_and_filters(db, client):
    add_user("root", "admin", db.engine, password=PW)
    evil = "<script>alert(1)</script>"
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_log (user_name, action, target, detail) "
                "VALUES (:u, 'upload', :u, CAST(:d AS jsonb))"
            ),
            {"u": evil, "d": '{"file": "</td><script>x()</script>"}'},
        )
    login(client, "root")
    page = client.get("/workbench/audit", params={"action": "upload"}).text
    assert evil not in page and "</td><script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('<tr data-action="upload">') == 1
    assert 'href="/audit?format=csv&amp;action=upload"' in page


def test_users_page_lists_without_secrets(db, client):
    token = add_user("root", "admin", db.engine, password=PW)
    login(client, "root")
    page = client.get("/workbench/users").text
    with db.engine.connect() as conn:
        pw_hash, token_hash = conn.execute(
            text("SELECT password_hash, token_hash FROM users")
        ).one()
    assert 'data-user="root"' in page
    assert token not in page and pw_hash not in page and token_hash not in page
