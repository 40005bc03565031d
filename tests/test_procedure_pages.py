"""The procedure pages: the bureau list, a project's page and the calendar, read and written
by a signed-in planner in a real browser (headless Chromium), screenshots in ``artifacts/``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from spatial.budget.rates import Track
from spatial.models import Layer
from spatial.procedure.events import record_event
from spatial.procedure.projects import register_project
from spatial.procedure.status import china_today
from spatial.users import add_user
from tests.analysis_data import load, project
from tests.layers_data import running_server
from tests.procedure_helpers import PW, login, signed_in_browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def projects(db):
    load(
        db.engine,
        Layer.projects,
        [
            project("GM-ZB-101", 0, "<script>alert(1)</script>项目"),
            project("GM-ZB-102", 1, "整备项目"),
        ],
    )
    add_user("li.planner", "planner", db.engine, password=PW)
    add_user("zhao.analyst", "analyst", db.engine, password=PW)
    today = china_today()
    register_project(
        db.engine, "GM-ZB-101", Track.housing_compensation, True, "li.planner", "planner"
    )
    register_project(db.engine, "GM-ZB-102", Track.land_readiness, False, "li.planner", "planner")
    from datetime import date

    record_event(
        db.engine, "GM-ZB-101", "entrusted", date(2026, 11, 2), None, "li.planner", "planner", today
    )
    record_event(
        db.engine,
        "GM-ZB-102",
        "entrusted",
        date(2026, 11, 27),
        None,
        "li.planner",
        "planner",
        today,
    )
    return db


def test_pages_show_the_same_figures_escaped_and_without_inline_script(projects, client):
    assert client.get("/workbench/procedure", follow_redirects=False).status_code == 303
    login(client, "zhao.analyst")
    page = client.get("/workbench/procedure")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;项目" in html
    assert re.findall(r"<script(?![^>]*(?:src=|type=\"application/json\"))", html) == []
    # 101: Art. 14 from Mon 2 Nov 2026: 3, 4, 5, 6, Mon 9 Nov → overdue; listed first
    rows = re.findall(r'data-code="([^"]+)"', html)
    assert rows == ["GM-ZB-101", "GM-ZB-102"]
    assert 'class="tz-phase-overdue" data-code="GM-ZB-101"' in html
    proj = client.get("/workbench/procedure/GM-ZB-101").text
    assert "2026-11-09" in proj and "已逾期" in proj
    assert 'id="record-form"' not in proj  # analysts read only
    assert "50,000,000.00" in client.get("/workbench/procedure").text
    cal = client.get("/workbench/calendar").text
    assert "chinese-calendar 1.11.0" in cal and 'id="notice-form"' not in cal


@pytest.mark.e2e
def test_a_planner_records_a_step_in_the_browser(projects):
    ARTIFACTS.mkdir(exist_ok=True)
    with running_server(projects.url) as base:
        with signed_in_browser(base, "li.planner") as browser:
            rec = browser.load(f"{base}/workbench/procedure/GM-ZB-101")
            (ARTIFACTS / "procedure_project.png").write_bytes(rec.screenshot_png)
            assert (
                browser.evaluate("document.getElementById('stage').textContent") == "委托街道办事处"
            )
            # fill and submit the record form: verification letters on 2026-11-04
            browser.evaluate(
                "(() => { const f = document.getElementById('record-form');"
                " f.step.value = 'verification_letters_sent';"
                " f.occurred_on.value = '2026-11-04';"
                " f.requestSubmit(); })()"
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with projects.engine.connect() as conn:
                    n = conn.execute(
                        text(
                            "SELECT count(*) FROM procedure_events "
                            "WHERE step = 'verification_letters_sent'"
                        )
                    ).scalar()
                if n:
                    break
                time.sleep(0.3)
            assert n == 1
            browser.settle(2.0)
            stage = browser.evaluate("document.getElementById('stage').textContent")
            assert stage == "去函核查"
            rec = browser.load(f"{base}/workbench/procedure")
            (ARTIFACTS / "procedure_list.png").write_bytes(rec.screenshot_png)
            assert (
                not [m for m in rec.console if "error" in str(m).lower()]
                if hasattr(rec, "console")
                else True
            )
    with projects.engine.connect() as conn:
        who = conn.execute(
            text(
                "SELECT user_name FROM audit_log WHERE action = 'procedure.event' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).scalar()
    assert who == "li.planner"
