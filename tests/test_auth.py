from sqlalchemy import text

from spatial.users import add_user, hash_token


def test_tokens_are_stored_hashed(db):
    token = add_user("li.si", "planner", db.engine)
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM users WHERE name='li.si'")).scalar()
    assert stored == hash_token(token)
    assert token not in stored


def test_roles_401_403_and_audit(db, client):
    admin = add_user("admin", "admin", db.engine)
    planner = add_user("wang.wu", "planner", db.engine)

    r = client.post("/users", json={"name": "x", "role": "surveyor"})
    assert r.status_code == 401
    r = client.post(
        "/users",
        json={"name": "x", "role": "surveyor"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert r.status_code == 401
    r = client.post(
        "/users",
        json={"name": "x", "role": "surveyor"},
        headers={"Authorization": f"Bearer {planner}"},
    )
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    assert "planner" in r.json()["message_en"]

    r = client.post(
        "/users",
        json={"name": "赵六", "role": "surveyor"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 201
    new_token = r.json()["token"]
    me = client.get("/users/me", headers={"Authorization": f"Bearer {new_token}"})
    assert me.json() == {"name": "赵六", "role": "surveyor"}
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT user_name, action, target FROM audit_log ORDER BY id")
        ).all()
    assert ("admin", "user.add", "user:赵六") in [tuple(r) for r in rows]
    # failed attempts wrote nothing
    assert all(r[2] != "user:x" for r in rows)


def test_cli_user_add_prints_a_working_token(db, client):
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "tuzheng"
    env = {**os.environ, "DATABASE_URL": db.url}
    out = subprocess.run(
        [str(exe), "user", "add", "陈测绘", "--role", "surveyor"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = out.stdout.strip()
    assert token.startswith("tz_") and len(token) > 40
    me = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"name": "陈测绘", "role": "surveyor"}
    again = subprocess.run(
        [str(exe), "user", "add", "陈测绘", "--role", "planner"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1
    assert "用户已存在" in again.stderr and "already exists" in again.stderr
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT role::text FROM users WHERE name = '陈测绘'")).scalar()
    assert stored == "surveyor"
