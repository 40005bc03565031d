"""Browser sign-in: passwords (Argon2id), server-side sessions, CSRF, expiry, the last admin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from api.deps import SESSION_COOKIE
from spatial.errors import Conflict
from spatial.users import add_user, update_user

PW = "土整-correct-horse-7"


def login(client, name: str, password: str = PW, next_url: str = "/workbench"):
    page = client.get("/login")
    assert page.status_code == 200
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={"name": name, "password": password, "login_csrf": token, "next": next_url},
        follow_redirects=False,
    )


def csrf_of(client) -> str:
    page = client.get("/workbench")
    assert page.status_code == 200, page.text
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text).group(1)


def test_password_is_stored_as_argon2id_and_signs_in(db, client):
    add_user("张测绘", "surveyor", db.engine, password=PW)
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$v=19$") and PW not in stored

    r = login(client, "张测绘")
    assert r.status_code == 303 and r.headers["location"] == "/workbench"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attrs
    assert "secure" not in attrs  # served over http here; see the https test
    value = cookie.split(";")[0].split("=", 1)[1]
    with db.engine.connect() as conn:
        hashes = conn.execute(text("SELECT token_hash FROM web_sessions")).scalars().all()
    assert len(hashes) == 1 and value not in hashes[0]  # only the digest is stored

    me = client.get("/users/me")
    assert me.status_code == 200 and me.json() == {"name": "张测绘", "role": "surveyor"}
    page = client.get("/workbench")
    assert "张测绘" in page.text and "测绘员 surveyor" in page.text and "退出 Log out" in page.text
    assert "/workbench/upload" in page.text and "/workbench/users" not in page.text


def test_wrong_password_unknown_user_and_no_password_are_the_same_401(db, client):
    add_user("li", "planner", db.engine, password=PW)
    add_user("token.only", "planner", db.engine)
    for name, pw in [("li", "wrong-password-1"), ("nobody", PW), ("token.only", "")]:
        r = login(client, name, pw)
        assert r.status_code == 401, name
        assert "用户名或密码错误" in r.text and "wrong user name or password" in r.text
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert client.get("/users/me").status_code == 401
    with db.engine.connect() as conn:
        failed = conn.execute(
            text("SELECT target FROM audit_log WHERE action = 'login.failed' ORDER BY id")
        ).scalars()
    assert list(failed) == ["user:li", "user:nobody", "user:token.only"]


def test_failed_sign_ins_lock_the_name_for_a_while(db, monkeypatch):
    from conftest import make_client

    monkeypatch.setenv("TUZHENG_SESSION_MAX_FAILED_LOGINS", "3")  # read when the app is built
    add_user("wang", "planner", db.engine, password=PW)
    with make_client(db) as client:
        for _ in range(3):
            assert login(client, "wang", "not-the-password").status_code == 401
        r = login(client, "wang", PW)  # even the right password waits now
        assert r.status_code == 429 and "登录失败次数过多" in r.text
        with db.engine.begin() as conn:  # the window passes
            conn.execute(text("UPDATE audit_log SET at = at - interval '1 hour'"))
        assert login(client, "wang", PW).status_code == 303


def test_login_form_needs_its_double_submit_token(db, client):
    add_user("li", "planner", db.engine, password=PW)
    r = client.post(
        "/login", data={"name": "li", "password": PW, "login_csrf": "x"}, follow_redirects=False
    )
    assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_next_is_never_another_site(db, client):
    add_user("li", "planner", db.engine, password=PW)
    for bad in ["//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:x"]:
        client.cookies.clear()
        r = login(client, "li", next_url=bad)
        assert r.status_code == 303 and r.headers["location"] == "/workbench", bad
    client.cookies.clear()
    assert login(client, "li", next_url="/map").headers["location"] == "/map"


def test_pages_redirect_to_login_and_back(db, client):
    add_user("li", "planner", db.engine, password=PW)
    r = client.get("/workbench?from=mail&x=1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/workbench%3Ffrom%3Dmail%26x%3D1"
    page = client.get(r.headers["location"])
    assert 'name="next" value="/workbench?from=mail&amp;x=1"' in page.text
    r = login(client, "li", next_url="/workbench?from=mail&x=1")
    assert r.headers["location"] == "/workbench?from=mail&x=1"


def test_csrf_on_every_mutating_request_with_a_session(db, client):
    admin_token = add_user("root", "admin", db.engine, password=PW)
    assert login(client, "root").status_code == 303
    body = {"name": "new.user", "role": "planner"}
    r = client.post("/users", json=body)  # a forged request: no token
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    r = client.post("/users", json=body, headers={"X-CSRF-Token": "guessed"})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    token = csrf_of(client)
    r = client.post("/users", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201
    # a form post carries it as a field
    r = client.post("/logout", data={"csrf_token": "nope"}, follow_redirects=False)
    assert r.status_code == 403
    # API tokens are not ambient: no CSRF token needed (the bearer token wins over the cookie)
    r = client.post(
        "/users",
        json={"name": "script.user", "role": "analyst"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert r.status_code == 201
    with db.engine.connect() as conn:
        names = set(conn.execute(text("SELECT name FROM users")).scalars())
    assert names == {"root", "new.user", "script.user"}


def test_a_planner_session_gets_403_with_or_without_csrf(db, client, tmp_path: Path):
    add_user("li", "planner", db.engine, password=PW)
    assert login(client, "li").status_code == 303
    token = csrf_of(client)
    files = {"file": ("a.zip", b"PK\x05\x06" + b"\0" * 18, "application/zip")}
    for headers in ({}, {"X-CSRF-Token": token}):
        r = client.post("/uploads", files=files, data={"layer": "parcels"}, headers=headers)
        assert r.status_code == 403, headers
        assert r.json()["code"] == ("forbidden" if headers else "csrf_failed")
        r = client.post("/users", json={"name": "x", "role": "admin"}, headers=headers)
        assert r.status_code == 403
        r = client.post("/datasets/1/restore", headers=headers)
        assert r.status_code == 403
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 1


def test_logout_ends_the_session(db, client):
    add_user("li", "planner", db.engine, password=PW)
    login(client, "li")
    stolen = client.cookies.get(SESSION_COOKIE)
    r = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_sessions")).scalar_one() == 0
    client.cookies.set(SESSION_COOKIE, stolen)
    r = client.get("/users/me")
    assert r.status_code == 401 and r.json()["message_en"] == (
        "the session has expired; sign in again"
    )


def test_sessions_expire_when_idle_or_old(db, client):
    add_user("li", "planner", db.engine, password=PW)
    login(client, "li")
    assert client.get("/users/me").status_code == 200
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE web_sessions SET last_seen_at = now() - interval '61 minutes'"))
    assert client.get("/users/me").status_code == 401
    client.cookies.clear()
    login(client, "li")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE web_sessions SET expires_at = now() - interval '1 second'"))
    assert client.get("/users/me").status_code == 401


def test_deactivation_and_role_changes_apply_at_once(db, client):
    add_user("root", "admin", db.engine, password=PW)
    add_user("li", "surveyor", db.engine, password=PW)
    login(client, "li")
    assert client.get("/users/me").json()["role"] == "surveyor"
    update_user(db.engine, "li", "root", role="planner")
    assert client.get("/users/me").json()["role"] == "planner"
    update_user(db.engine, "li", "root", active=False)
    assert client.get("/users/me").status_code == 401
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_sessions")).scalar_one() == 0
    assert login(client, "li").status_code == 401


def test_nobody_can_remove_the_last_admin(db, client):
    token = add_user("root", "admin", db.engine, password=PW)
    auth = {"Authorization": f"Bearer {token}"}
    for change in ({"role": "planner"}, {"active": False}):
        r = client.patch("/users/root", json=change, headers=auth)
        assert r.status_code == 409 and "last admin" in r.json()["message_en"]
    with pytest.raises(Conflict):
        update_user(db.engine, "root", "cli", active=False)
    add_user("second", "admin", db.engine)
    r = client.patch("/users/root", json={"role": "surveyor"}, headers=auth)
    assert r.status_code == 200 and r.json() == {"name": "root", "role": "surveyor", "active": True}
    with pytest.raises(Conflict):  # now "second" is the last one
        update_user(db.engine, "second", "cli", role="planner")
    with db.engine.connect() as conn:
        audit = conn.execute(
            text("SELECT user_name, target, detail FROM audit_log WHERE action = 'user.update'")
        ).all()
    assert [(a.user_name, a.target, a.detail) for a in audit] == [
        ("root", "user:root", {"role": ["admin", "surveyor"]})
    ]


def test_admin_resets_password_and_token(db, client):
    admin = add_user("root", "admin", db.engine)
    old = add_user("li", "surveyor", db.engine, password=PW)
    login(client, "li")
    auth = {"Authorization": f"Bearer {admin}"}
    r = client.post("/users/li/password", json={"password": "short"}, headers=auth)
    assert r.status_code == 422
    r = client.post("/users/li/password", json={"password": "a-new-password-2"}, headers=auth)
    assert r.status_code == 204
    assert client.get("/users/me").status_code == 401  # sessions ended
    assert login(client, "li").status_code == 401
    assert login(client, "li", "a-new-password-2").status_code == 303
    r = client.post("/users/li/token", headers=auth)
    new = r.json()["token"]
    assert r.status_code == 200 and new != old
    assert client.get("/users/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    me = client.get("/users/me", headers={"Authorization": f"Bearer {new}"})
    assert me.json() == {"name": "li", "role": "surveyor"}
    listing = client.get("/users", headers=auth).json()
    assert [(u["name"], u["role"], u["has_password"]) for u in listing] == [
        ("li", "surveyor", True),
        ("root", "admin", False),
    ]
    assert listing[0]["last_login"] is not None


def test_secure_cookie_over_https(db):
    from fastapi.testclient import TestClient

    from api.app import create_app

    add_user("li", "planner", db.engine, password=PW)
    with TestClient(create_app(db_settings=db.settings), base_url="https://testserver") as c:
        r = login(c, "li")
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "secure" in {a.strip().lower() for a in cookie.split(";")}


def test_database_text_is_escaped_in_the_layout(db, client):
    name = '<img src=x onerror="alert(1)">'
    add_user(name, "planner", db.engine, password=PW)
    login(client, name)
    page = client.get("/workbench").text
    assert name not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


def test_demo_marker_in_the_header(demo_db):
    from conftest import make_client

    try:
        add_user("demo.viewer", "planner", demo_db.engine, password=PW)
        with make_client(demo_db) as c:
            login(c, "demo.viewer")
            assert '<span class="tz-demo"' in c.get("/workbench").text
    finally:
        with demo_db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE target = 'user:demo.viewer'"))
            conn.execute(text("DELETE FROM users WHERE name = 'demo.viewer'"))


def test_no_demo_marker_without_demo_data(db, client):
    add_user("li", "planner", db.engine, password=PW)
    login(client, "li")
    assert "tz-demo" not in client.get("/workbench").text


def test_cli_sets_passwords(db, client):
    exe = Path(sys.executable).parent / "tuzheng"
    env = {**os.environ, "DATABASE_URL": db.url}
    out = subprocess.run(
        [str(exe), "user", "add", "陈测绘", "--role", "surveyor", "--password-stdin"],
        env=env,
        input=PW + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().startswith("tz_")
    assert login(client, "陈测绘").status_code == 303
    out = subprocess.run(
        [str(exe), "user", "passwd", "陈测绘", "--password-stdin"],
        env=env,
        input="short\n",
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "at least 10 characters" in out.stderr
    subprocess.run(
        [str(exe), "user", "passwd", "陈测绘", "--password-stdin"],
        env=env,
        input="another-password-9\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert client.get("/users/me").status_code == 401
    assert login(client, "陈测绘", "another-password-9").status_code == 303
