"""tz_safe_transform and tz_subdivide_safe are PARALLEL UNSAFE (they use EXCEPTION blocks)

Both catch errors with a PL/pgSQL ``EXCEPTION`` block, which starts a subtransaction, and
PostgreSQL refuses subtransactions in parallel mode ("cannot start subtransactions during a
parallel operation"). They were declared ``PARALLEL SAFE``, so a query the planner ran in
parallel failed: a whole-world ``bbox`` on the OGC API (which, clamped to the CRS's area of use,
now matches every feature) made the items query parallel and answered 500.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FUNCTIONS = ("tz_safe_transform(geometry, integer)", "tz_subdivide_safe(geometry)")


def upgrade() -> None:
    for fn in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {fn} PARALLEL UNSAFE")


def downgrade() -> None:
    for fn in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {fn} PARALLEL SAFE")
