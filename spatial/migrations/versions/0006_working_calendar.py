"""working calendar: State Council holiday notices, seeded from chinese-calendar

``calendar_notices`` holds one current row per year whose holiday notice is known (seeded from
the installed ``chinese-calendar`` package, later years entered by an administrator); a year
entered again supersedes the old row, which stays with its days. ``calendar_days`` lists each
notice's holidays (``holiday``) and make-up working days (``workday``, 调休上班). Days not
listed follow the week: Monday–Friday working, Saturday and Sunday off. See
:mod:`spatial.procedure.calendar_store`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""

from alembic import op

from spatial.procedure.calendar_store import seed_from_package

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE calendar_notices (
            id serial PRIMARY KEY,
            year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
            source text NOT NULL,
            reference text,
            entered_by text NOT NULL,
            entered_at timestamptz NOT NULL DEFAULT now(),
            superseded_at timestamptz,
            superseded_by integer REFERENCES calendar_notices (id)
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_calendar_notices_current ON calendar_notices (year) "
        "WHERE superseded_at IS NULL"
    )
    op.execute(
        """
        CREATE TABLE calendar_days (
            notice_id integer NOT NULL REFERENCES calendar_notices (id) ON DELETE CASCADE,
            day date NOT NULL,
            kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
            name text NOT NULL,
            PRIMARY KEY (notice_id, day)
        )
        """
    )
    seed_from_package(op.get_bind(), actor="migration 0006")


def downgrade() -> None:
    op.execute("DROP TABLE calendar_days")
    op.execute("DROP TABLE calendar_notices")
