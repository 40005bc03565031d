"""procedure events: append-only history with superseding corrections; status for the map

``procedure_events`` rows are never updated or deleted (a trigger refuses both): a correction
or withdrawal is a new row whose ``supersedes`` (unique) names the row it replaces.
``procedure_status`` holds, per registered project, the stage and the due dates of its open
deadlines, rewritten with every event by :func:`spatial.procedure.events.refresh_status`; the
``procedure_projects_map`` view joins it to the current project boundaries and works out
*overdue* against today's date in China, so the map changes colour the day a deadline passes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE procedure_events (
            id serial PRIMARY KEY,
            project_code varchar(50) NOT NULL REFERENCES procedure_projects (project_code),
            step text NOT NULL,
            occurred_on date,
            note text,
            supersedes integer UNIQUE REFERENCES procedure_events (id),
            reason text,
            recorded_by text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            CHECK (occurred_on IS NOT NULL OR supersedes IS NOT NULL),
            CHECK ((supersedes IS NULL) = (reason IS NULL))
        )
        """
    )
    op.execute("CREATE INDEX ix_procedure_events_project ON procedure_events (project_code)")
    op.execute(
        """
        CREATE FUNCTION tz_procedure_events_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'procedure_events is append-only: record a correction instead';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER tz_procedure_events_append_only BEFORE UPDATE OR DELETE "
        "ON procedure_events FOR EACH ROW EXECUTE FUNCTION tz_procedure_events_append_only()"
    )
    op.execute(
        """
        CREATE TABLE procedure_status (
            project_code varchar(50) PRIMARY KEY REFERENCES procedure_projects (project_code),
            stage text,
            stage_zh text NOT NULL,
            open_dues date[] NOT NULL DEFAULT '{}',
            next_due date,
            next_label_zh text,
            calendar_unknown boolean NOT NULL DEFAULT false,
            refreshed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE VIEW procedure_projects_map AS
        SELECT p.id, p.code AS project_code, p.name AS project_name, r.track,
               coalesce(st.stage, 'not_started') AS stage,
               coalesce(st.stage_zh, '未开始') AS stage_zh,
               st.next_due, st.next_label_zh,
               (SELECT count(*) FROM unnest(coalesce(st.open_dues, '{}')) d
                 WHERE d < (now() AT TIME ZONE 'Asia/Shanghai')::date)::int AS overdue_count,
               coalesce(st.calendar_unknown, false) AS calendar_unknown,
               p.geom, p.geom_3857
        FROM procedure_projects r
        JOIN current_projects p ON p.code = r.project_code
        LEFT JOIN procedure_status st ON st.project_code = r.project_code
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW procedure_projects_map")
    op.execute("DROP TABLE procedure_status")
    op.execute("DROP TABLE procedure_events")
    op.execute("DROP FUNCTION tz_procedure_events_append_only()")
