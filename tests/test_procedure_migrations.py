"""Migrations 0006–0008 go down and up again: tables, trigger and view gone, then back with
the calendar seeded again."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from spatial import migrate


def test_procedure_migrations_downgrade_and_upgrade(db):
    command.downgrade(migrate.alembic_config(db.url), "0005")
    insp = inspect(db.engine)
    gone = {
        "calendar_notices",
        "calendar_days",
        "procedure_projects",
        "budget_versions",
        "budget_items",
        "adjustment_pool_movements",
        "procedure_events",
        "procedure_status",
    }
    assert not gone & set(insp.get_table_names())
    assert "procedure_projects_map" not in insp.get_view_names()
    with db.engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_proc WHERE proname = 'tz_procedure_events_append_only'"
                )
            ).scalar()
            == 0
        )
    migrate.upgrade(db.url)
    insp = inspect(db.engine)
    assert gone <= set(insp.get_table_names())
    with db.engine.connect() as conn:
        years = conn.execute(
            text("SELECT min(year), max(year), count(*) FROM calendar_notices")
        ).one()
    assert tuple(years) == (2004, 2026, 23)
