"""budgets: projects under procedure, budget versions and items, the Art. 36 adjustment pool

``procedure_projects``: a project's track (``housing_compensation`` / ``land_readiness``) and
whether it is public infrastructure (Art. 16), keyed by project code.
``budget_versions`` / ``budget_items``: each save is a complete item list (direct compensation
and technical-support fees, ``numeric(16, 2)`` yuan); the previous version gets
``superseded_at`` and is kept. ``adjustment_pool_movements``: draws and repayments of the
Art. 36 pool. See :mod:`spatial.budget`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 11:00:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE procedure_projects (
            project_code varchar(50) PRIMARY KEY,
            track text NOT NULL CHECK (track IN ('housing_compensation', 'land_readiness')),
            public_infrastructure boolean NOT NULL DEFAULT false,
            registered_by text NOT NULL,
            registered_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE budget_versions (
            id serial PRIMARY KEY,
            project_code varchar(50) NOT NULL REFERENCES procedure_projects (project_code),
            source text NOT NULL,
            file_sha256 char(64),
            actual_payments numeric(16, 2) CHECK (actual_payments >= 0),
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            superseded_at timestamptz
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_budget_versions_current ON budget_versions (project_code) "
        "WHERE superseded_at IS NULL"
    )
    op.execute(
        """
        CREATE TABLE budget_items (
            version_id integer NOT NULL REFERENCES budget_versions (id) ON DELETE CASCADE,
            line integer NOT NULL,
            section text NOT NULL CHECK (section IN ('direct', 'technical')),
            category text NOT NULL,
            description text NOT NULL,
            quantity numeric(20, 4),
            unit text,
            amount numeric(16, 2) NOT NULL CHECK (amount > 0),
            PRIMARY KEY (version_id, line)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE adjustment_pool_movements (
            id serial PRIMARY KEY,
            kind text NOT NULL CHECK (kind IN ('draw', 'repay')),
            project_code varchar(50) NOT NULL REFERENCES procedure_projects (project_code),
            amount numeric(16, 2) NOT NULL CHECK (amount > 0),
            on_date date NOT NULL,
            note text,
            recorded_by text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE adjustment_pool_movements")
    op.execute("DROP TABLE budget_items")
    op.execute("DROP TABLE budget_versions")
    op.execute("DROP TABLE procedure_projects")
