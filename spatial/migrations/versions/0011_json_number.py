"""tz_json_number(float8) → json: a double written so that JSON clients type it as one

A whole value gets a ``.0`` (``3000`` → ``3000.0``), any other value the shortest round-trip
form (``2999.99``). QGIS 3.22 and GDAL 3.6 type a field from the values they see and took
``3000`` for an integer, so the 3000 m² rule's ``reserve_m2`` became an Integer field on the
planner's desktop (QGIS showed 11970.07 as NULL, GDAL truncated 2999.99 to 2999). Every
``number`` property of the OGC API goes through it (``spatial.layers.features``). Plain SQL,
inlined by the planner, so it is ``PARALLEL SAFE`` (unlike the guarded functions of 0009).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:30:00
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON_NUMBER = """
CREATE OR REPLACE FUNCTION tz_json_number(v double precision) RETURNS json
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN v = trunc(v) AND abs(v) < 1e15 THEN to_json(v::numeric(16, 1))
                ELSE to_json(v) END
$$;
"""


def upgrade() -> None:
    op.execute(JSON_NUMBER)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS tz_json_number(double precision)")
