"""Days are given as ``YYYY-MM-DD``: a number is refused, never read as Unix time (1970).

pydantic alone reads ``today=0`` as 1970-01-01 and ``"occurred_on": 86400`` as 1970-01-02;
schemathesis found the first (``GET /procedure/projects?today=0`` answered 200).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text

from spatial.isodate import IsoDate
from spatial.models import Layer
from spatial.users import add_user
from tests.analysis_data import load, project
from tests.procedure_helpers import bearer

MESSAGE = "Value error, 日期须写作 YYYY-MM-DD / a date must be written YYYY-MM-DD"
DAY = TypeAdapter(IsoDate)


@pytest.mark.parametrize(
    "value", [0, 86400, 1.5, "0", "20261201", "2026-12-01T00:00:00", "2026-1-1"]
)
def test_anything_but_a_written_day_is_refused(value):
    with pytest.raises(ValidationError) as err:
        DAY.validate_python(value)
    assert err.value.errors()[0]["msg"] == MESSAGE
    with pytest.raises(ValidationError):
        DAY.validate_json(f"{value}" if not isinstance(value, str) else f'"{value}"')


def test_a_written_day_or_a_date_is_taken_and_checked():
    assert DAY.validate_python("2026-12-01") == date(2026, 12, 1)
    assert DAY.validate_json('"2027-02-07"') == date(2027, 2, 7)
    assert DAY.validate_python(date(2026, 10, 10)) == date(2026, 10, 10)
    with pytest.raises(ValidationError):  # a datetime is a date subclass: still refused
        DAY.validate_python(datetime(2026, 12, 1))
    with pytest.raises(ValidationError) as err:  # the right shape, but no such day
        DAY.validate_python("2026-02-30")
    assert err.value.errors()[0]["type"] == "date_from_datetime_parsing"
    assert DAY.json_schema() == {"type": "string", "format": "date"}


@pytest.fixture
def planner(db, client):
    load(db.engine, Layer.projects, [project("GM-ZB-201", 0, "日期项目")])
    token = add_user("li.planner", "planner", db.engine)
    r = client.put(
        "/procedure/projects/GM-ZB-201/registration",
        json={"track": "land_readiness", "public_infrastructure": False},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    return token


def _refused(r) -> None:  # noqa: ANN001
    assert r.status_code == 422, r.text
    assert [e["msg"] for e in r.json()["detail"]] == [MESSAGE]


@pytest.mark.parametrize(
    "url",
    [
        "/procedure/projects?today=0",
        "/procedure/projects/GM-ZB-201?today=86400",
        "/procedure/ledger.xlsx?today=0",
        "/audit?until=0",
        "/audit?since=20261201",
        "/calendar/period-end?start=0&count=15&unit=working_days",
    ],
)
def test_a_number_as_a_day_in_a_query_is_422(db, client, planner, url):
    token = add_user("admin", "admin", db.engine) if url.startswith("/audit") else planner
    _refused(client.get(url, headers=bearer(token)))


def test_the_same_queries_with_written_days_answer(client, planner):
    r = client.get("/procedure/projects?today=2026-12-01", headers=bearer(planner))
    assert r.status_code == 200
    assert [p["project_code"] for p in r.json()] == ["GM-ZB-201"]
    r = client.get(
        "/calendar/period-end?start=2026-09-30&count=5&unit=working_days",
        headers=bearer(planner),
    )
    assert r.status_code == 200
    # 1-7 Oct 2026 are off, Sat 10 Oct is worked: 8, 9, 10, 12, 13 October
    assert r.json()["end"] == "2026-10-13"


def test_a_number_as_the_day_of_an_event_is_422_and_nothing_is_recorded(db, client, planner):
    r = client.post(
        "/procedure/projects/GM-ZB-201/events",
        json={"step": "entrusted", "occurred_on": 86400},
        headers=bearer(planner),
    )
    _refused(r)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM procedure_events")).scalar_one() == 0
    r = client.post(
        "/procedure/projects/GM-ZB-201/events",
        json={"step": "entrusted", "occurred_on": "2026-11-02"},
        headers=bearer(planner),
    )
    assert r.status_code == 201, r.text
