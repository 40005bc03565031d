"""The calendar in the database: entering a year's notice (admin, audited, old kept), refusing
deadlines into a year nobody entered, and the API and CLI agreeing with the Python function."""

from __future__ import annotations

import json
from datetime import date

import yaml
from sqlalchemy import text

from spatial.procedure.calendar_store import load_calendar, seed
from spatial.procedure.periods import Period, Unit, period_end
from spatial.users import add_user
from tests.procedure_helpers import NOTICE_2027, bearer, run_cli

PERIOD_2027 = {"start": "2026-12-28", "count": 5, "unit": "working_days"}


def test_2027_refused_until_entered_then_computed(db, client):
    admin = add_user("admin", "admin", db.engine)
    planner = add_user("li.planner", "planner", db.engine)

    r = client.get("/calendar/period-end", params=PERIOD_2027, headers=bearer(planner))
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "calendar_year_unknown"
    assert body["year"] == 2027 and body["known_years"] == list(range(2004, 2027))
    assert body["message_zh"].startswith("2027 年的节假日安排尚未录入")
    assert "2004–2026" in body["message_en"]

    assert client.put("/calendar/years/2027", json=NOTICE_2027).status_code == 401
    r = client.put("/calendar/years/2027", json=NOTICE_2027, headers=bearer(planner))
    assert r.status_code == 403
    r = client.put("/calendar/years/2027", json=NOTICE_2027, headers=bearer(admin))
    assert r.status_code == 200, r.text
    assert r.json()["year"] == 2027 and r.json()["source"] == "notice"
    assert (r.json()["holiday_count"], r.json()["workday_count"]) == (9, 1)

    # 28 Dec 2026 + 5 working days: Tue 29 (1), Wed 30 (2), Thu 31 (3), 1–3 Jan 2027 off by
    # the fixture notice, Mon 4 Jan (4), Tue 5 Jan (5).
    r = client.get("/calendar/period-end", params=PERIOD_2027, headers=bearer(planner))
    assert r.status_code == 200, r.text
    assert r.json()["end"] == "2027-01-05"
    assert r.json()["known_years"] == list(range(2004, 2028))
    # Fri 5 Feb 2027 + 3: Sun 7 Feb (1, the fixture's make-up day), 8–13 off, Sun 14 off,
    # Mon 15 (2), Tue 16 (3).
    r = client.get(
        "/calendar/period-end",
        params={"start": "2027-02-05", "count": 3, "unit": "working_days"},
        headers=bearer(planner),
    )
    assert r.json()["end"] == "2027-02-16"

    with db.engine.connect() as conn:
        audit = conn.execute(
            text("SELECT user_name, role, action, target, detail FROM audit_log ORDER BY id")
        ).all()
    entry = [a for a in audit if a.action == "calendar.enter"]
    assert len(entry) == 1
    assert (entry[0].user_name, entry[0].role, entry[0].target) == (
        "admin",
        "admin",
        "calendar:2027",
    )
    assert entry[0].detail["workdays"] == ["2027-02-07"]
    assert entry[0].detail["replaced"] is None

    years = client.get("/calendar/years", headers=bearer(planner)).json()
    assert [y["year"] for y in years] == list(range(2004, 2028))
    assert years[0]["source"] == "chinese-calendar 1.11.0"


def test_replacing_a_year_keeps_the_old_notice(db, client):
    admin = add_user("admin", "admin", db.engine)
    assert client.put("/calendar/years/2027", json=NOTICE_2027, headers=bearer(admin)).is_success
    corrected = {
        **NOTICE_2027,
        "reference": "更正 corrected fixture",
        "holidays": [{"start": "2027-01-01", "end": "2027-01-01", "name": "元旦"}],
        "workdays": [],
    }
    r = client.put("/calendar/years/2027", json=corrected, headers=bearer(admin))
    assert r.status_code == 200 and r.json()["holiday_count"] == 1
    days = client.get("/calendar/years/2027", headers=bearer(admin)).json()
    assert days == [{"day": "2027-01-01", "kind": "holiday", "name": "元旦"}]
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT n.id, n.reference, n.superseded_at IS NOT NULL AS old, n.superseded_by, "
                "(SELECT count(*) FROM calendar_days d WHERE d.notice_id = n.id) AS days "
                "FROM calendar_notices n WHERE year = 2027 ORDER BY id"
            )
        ).all()
        replaced = conn.execute(
            text(
                "SELECT detail->'replaced'->>'reference' FROM audit_log "
                "WHERE action = 'calendar.enter' ORDER BY id DESC LIMIT 1"
            )
        ).scalar()
    assert [(r.old, r.days) for r in rows] == [(True, 10), (False, 1)]
    assert rows[0].superseded_by == rows[1].id
    assert replaced == NOTICE_2027["reference"]
    # the corrected 2027 has no Spring Festival break and no make-up Sunday 7 Feb, so Fri 5 Feb
    # + 3 working days: Mon 8 (1), Tue 9 (2), Wed 10 (3) (16 Feb under the replaced notice)
    cal = load_calendar(db.engine)
    assert period_end(cal, date(2027, 2, 5), Period(3, Unit.working_days)) == date(2027, 2, 10)
    # re-seeding from the package never touches an entered year
    assert seed(db.engine) == []
    assert 2027 in load_calendar(db.engine).known_years


def test_bad_notices_are_refused_naming_the_field(db, client):
    admin = add_user("admin", "admin", db.engine)
    bad = {
        **NOTICE_2027,
        "holidays": [
            {"start": "2027-01-03", "end": "2027-01-01", "name": "元旦"},
            {"start": "2026-12-31", "end": "2027-01-01", "name": "跨年"},
        ],
        "workdays": [{"day": "2027-02-10", "name": "春节"}],
    }
    r = client.put("/calendar/years/2027", json=bad, headers=bearer(admin))
    assert r.status_code == 422
    problems = r.json()["problems"]
    assert [p["field"] for p in problems] == ["holidays[0]", "holidays[1]", "workdays[0]"]
    assert problems[0]["message_zh"] == "元旦：结束日早于开始日"
    assert problems[1]["message_en"] == "跨年: days off must be in 2027"
    assert (
        "不是周末" in problems[2]["message_zh"] and "not a weekend day" in problems[2]["message_en"]
    )
    r = client.put("/calendar/years/2028", json=NOTICE_2027, headers=bearer(admin))
    assert r.status_code == 400 and "2028" in r.json()["message_en"]
    with db.engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM calendar_notices WHERE year = 2027")).scalar()
            == 0
        )


def test_cli_enters_a_notice_as_an_admin_and_agrees_with_the_api(db, client, tmp_path):
    add_user("admin", "admin", db.engine)
    planner = add_user("li.planner", "planner", db.engine)
    notice = tmp_path / "2027.yaml"
    notice.write_text(yaml.safe_dump(NOTICE_2027, allow_unicode=True), encoding="utf-8")

    out = run_cli(
        db.url,
        "calendar",
        "period-end",
        "2026-12-28",
        "--count",
        "5",
        "--unit",
        "working_days",
        check=False,
    )
    assert out.returncode == 1 and "2027 年的节假日安排尚未录入" in out.stderr
    out = run_cli(db.url, "calendar", "enter", str(notice), "--by", "li.planner", check=False)
    assert out.returncode == 1 and "may not do this" in out.stderr
    out = run_cli(db.url, "calendar", "enter", str(notice), "--by", "nobody", check=False)
    assert out.returncode == 1 and "no active user" in out.stderr
    out = run_cli(db.url, "calendar", "enter", str(notice), "--by", "admin")
    assert "已录入 entered 2027" in out.stdout

    cal = load_calendar(db.engine)
    for start, count, unit in [
        ("2026-12-28", 5, "working_days"),
        ("2025-12-31", 2, "months"),
        ("2026-01-20", 30, "natural_days"),
    ]:
        cli = json.loads(
            run_cli(
                db.url,
                "calendar",
                "period-end",
                start,
                "--count",
                str(count),
                "--unit",
                unit,
                "--json",
            ).stdout
        )
        api = client.get(
            "/calendar/period-end",
            params={"start": start, "count": count, "unit": unit},
            headers=bearer(planner),
        ).json()
        py = period_end(cal, date.fromisoformat(start), Period(count, Unit(unit))).isoformat()
        assert cli["end"] == api["end"] == py
        assert cli["known_years"] == api["known_years"] == list(range(2004, 2028))
    assert py == "2026-02-24"

    years = json.loads(run_cli(db.url, "calendar", "years", "--json").stdout)
    assert years[-1]["year"] == 2027 and years[-1]["entered_by"] == "admin"
    with db.engine.connect() as conn:
        who = (
            conn.execute(text("SELECT user_name FROM audit_log WHERE action = 'calendar.enter'"))
            .scalars()
            .all()
        )
    assert who == ["admin"]
