"""land-use class names: the Chinese name of every land-use class code, editable

``land_use_classes`` (code, name_zh, name_en) names the land-use classes that statutory-plan
zones and planned uses carry (R2 二类居住用地, M0 新型产业用地 …), seeded from
``data/land_use_classes.csv`` (Shenzhen's planning standard classes). Like
``land_use_compatibility`` it is reference data an administrator edits with SQL; the map's
popups, the attribute table and the reports read it (:mod:`spatial.landuse`). A code missing
from it is shown as the bare code.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 11:00:00
"""

import csv

import sqlalchemy as sa
from alembic import op

from data import DATA_DIR

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE land_use_classes ("
        " code text PRIMARY KEY CHECK (code = upper(btrim(code)) AND code <> ''),"
        " name_zh text NOT NULL,"
        " name_en text)"
    )
    table = sa.table(
        "land_use_classes",
        sa.column("code", sa.String),
        sa.column("name_zh", sa.String),
        sa.column("name_en", sa.String),
    )
    with open(DATA_DIR / "land_use_classes.csv", encoding="utf-8") as fh:
        op.bulk_insert(table, list(csv.DictReader(fh)))


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS land_use_classes")
