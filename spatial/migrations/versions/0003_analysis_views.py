"""analysis views: reserve occupation with the approval route, plan coverage, use conflicts

The analysis functions in ``spatial/analysis/`` and the map layers read the SAME views, so a map
and a review can never disagree. All views are plain (not materialised) views over the
``current_*`` views: after any dataset change, the next query reflects it. Every geometry is a
MultiPolygon in EPSG:4547 (``geom``), with ``geom_3857`` (Web Mercator, via
``tz_safe_transform``) alongside for tiles. Areas are planar m² in EPSG:4547. Pieces whose area
rounds to 0.00 m² (slivers, shared edges) count as no overlap.

Objects created:

``statutory_plan_parts`` (table)
    Each statutory-plan zone cut by ``ST_Subdivide(geom, 256)`` into small pieces with a GiST
    index, kept in step with ``statutory_plans`` by a statement trigger (insert/update) and
    ``ON DELETE CASCADE``. Large zone polygons then cost little to intersect. It is derived
    data written in the same transaction as the zone rows, not a cache.

``tuzheng_approval_route(numeric) → text``
    The 3000 m² rule, generated from ``spatial.rules.route_function_sql()``:
    ``round(total, 2) > 3000.00`` → ``'city'``, else ``'district'``.

``analysis_site_reserve`` (one row per current retained-land site, including 0 m²)
    id (retained_land.id), project_code, site_code, site_name, site_area_m2, reserve_codes
    (text[], reserve parcels whose interior overlaps the site), area_m2 (occupied state reserve
    land; the reserve polygons meeting the site are unioned first, so overlapping reserve
    polygons are not counted twice), project_total_m2 (sum over the project's sites),
    route ('district' | 'city', from project_total_m2), geom (occupied part, NULL if none).

``analysis_reserve_overlaps`` (map layer: sites that occupy reserve land, area > 0)
    id, project_code, site_code, site_name, reserve_codes, area_m2, project_total_m2, route,
    route_label_zh, route_label_en, geom, geom_3857.

``analysis_site_zones`` (one row per site × statutory zone whose interiors overlap)
    id (bigint: site id << 32 | zone id, stable while both rows exist), site_id, project_code,
    site_code, site_name, planned_use, zone_id, plan_code, plan_name, zone_code, zone_class,
    compatible (false when the pair is absent from ``land_use_compatibility`` or marked
    incompatible), listed (pair present in the table), compatibility_note, area_m2, geom.

``analysis_conflicts`` (map layer: site × zone pairs whose planned use conflicts)
    the columns of analysis_site_zones plus reason_code ('plan_adjustment'), reason_zh
    ('需调整法定图则'), reason_en, geom_3857.

``analysis_site_coverage`` (one row per site)
    id, project_code, site_code, site_name, planned_use, site_area_m2, covered_m2 (by the union
    of zones), uncovered_m2, zone_count, conflict_count, zones (jsonb array of the zones touched:
    zone_id, zone_code, plan_code, plan_name, zone_class, area_m2, compatible, listed, note),
    geom (the uncovered part; EMPTY if none).

``analysis_uncovered`` (map layer: uncovered parts of sites, area > 0)
    id, project_code, site_code, site_name, planned_use, site_area_m2, covered_m2, area_m2
    (uncovered), reason_code ('not_covered' or 'no_statutory_plan' when nothing is covered),
    reason_zh ('法定图则未覆盖' / '未制定法定图则'), reason_en, geom, geom_3857.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00
"""

from alembic import op

from spatial.rules import ROUTE_LABELS_EN, ROUTE_LABELS_ZH, Route, route_function_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SUBDIVIDE_MAX_VERTICES = 256

SAFE_SUBDIVIDE = f"""
CREATE OR REPLACE FUNCTION tz_subdivide_safe(g geometry) RETURNS SETOF geometry
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN QUERY
        SELECT ST_Multi(ST_CollectionExtract(s, 3))
        FROM ST_Subdivide(g, {SUBDIVIDE_MAX_VERTICES}) AS s
        WHERE NOT ST_IsEmpty(s);
EXCEPTION WHEN OTHERS THEN
    RETURN NEXT g;  -- an invalid zone still takes part, undivided
END
$$;
"""

PARTS_TRIGGER = """
CREATE OR REPLACE FUNCTION tz_statutory_plan_parts_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM statutory_plan_parts p USING new_rows n WHERE p.zone_id = n.id;
    END IF;
    INSERT INTO statutory_plan_parts (zone_id, geom)
        SELECT n.id, tz_subdivide_safe(n.geom) FROM new_rows n;
    RETURN NULL;
END
$$;
"""


def _label_case(labels: dict[Route, str]) -> str:
    whens = " ".join(
        f"WHEN '{route.value}' THEN '{label.replace(chr(39), chr(39) * 2)}'"
        for route, label in labels.items()
    )
    return f"CASE route {whens} END"


SITE_RESERVE = """
CREATE VIEW analysis_site_reserve AS
SELECT s.id, s.project_code, s.site_code, s.site_name, s.site_area_m2, s.reserve_codes,
       s.area_m2,
       sum(s.area_m2) OVER w AS project_total_m2,
       tuzheng_approval_route((sum(s.area_m2) OVER w)::numeric) AS route,
       s.geom
FROM (
    SELECT r.id, r.project_code, r.code AS site_code, r.name AS site_name,
           ST_Area(r.geom) AS site_area_m2,
           coalesce(o.reserve_codes, '{}'::text[]) AS reserve_codes,
           coalesce(ST_Area(o.geom), 0)::float8 AS area_m2,
           o.geom
    FROM current_retained_land r
    LEFT JOIN LATERAL (
        SELECT array_agg(sr.code::text ORDER BY sr.code) AS reserve_codes,
               ST_Multi(ST_CollectionExtract(
                   ST_Intersection(r.geom, ST_Union(sr.geom)), 3)) AS geom
        FROM current_state_reserve_land sr
        WHERE sr.geom && r.geom
          AND ST_Intersects(sr.geom, r.geom)
          AND NOT ST_Touches(sr.geom, r.geom)
    ) o ON true
) s
WINDOW w AS (PARTITION BY s.project_code)
"""

RESERVE_OVERLAPS = f"""
CREATE VIEW analysis_reserve_overlaps AS
SELECT id, project_code, site_code, site_name, reserve_codes, area_m2, project_total_m2, route,
       {_label_case(ROUTE_LABELS_ZH)} AS route_label_zh,
       {_label_case(ROUTE_LABELS_EN)} AS route_label_en,
       geom, tz_safe_transform(geom, 3857) AS geom_3857
FROM analysis_site_reserve
WHERE round(area_m2::numeric, 2) > 0
"""

SITE_ZONES = """
CREATE VIEW analysis_site_zones AS
SELECT ((r.id::bigint << 32) | z.id::bigint) AS id,
       r.id AS site_id, r.project_code, r.code AS site_code, r.name AS site_name,
       r.land_use AS planned_use,
       z.id AS zone_id, z.plan_code, z.plan_name, z.zone_code, z.land_use_class AS zone_class,
       coalesce(c.compatible, false) AS compatible,
       (c.planned_use IS NOT NULL) AS listed,
       c.note AS compatibility_note,
       a.area_m2,
       y.geom
FROM current_retained_land r
CROSS JOIN LATERAL (
    -- one piece per zone part; a site within a single part (the usual case) skips the union.
    -- OFFSET 0 keeps the intersection from being computed once per use.
    SELECT q.zone_id,
           CASE WHEN count(*) = 1 THEN (array_agg(q.g))[1]
                ELSE ST_UnaryUnion(ST_Collect(q.g)) END AS g
    FROM (
        SELECT p.zone_id, ST_Intersection(r.geom, p.geom) AS g
        FROM statutory_plan_parts p
        JOIN current_statutory_plans z0 ON z0.id = p.zone_id
        WHERE p.geom && r.geom
          AND ST_Intersects(p.geom, r.geom)
        OFFSET 0
    ) q
    GROUP BY q.zone_id
) x
JOIN statutory_plans z ON z.id = x.zone_id
CROSS JOIN LATERAL (SELECT ST_Multi(ST_CollectionExtract(x.g, 3)) AS geom) y
CROSS JOIN LATERAL (SELECT ST_Area(y.geom)::float8 AS area_m2) a
LEFT JOIN land_use_compatibility c
       ON upper(btrim(c.planned_use)) = upper(btrim(r.land_use))
      AND upper(btrim(c.zone_class)) = upper(btrim(z.land_use_class))
WHERE round(a.area_m2::numeric, 2) > 0
"""

CONFLICTS = """
CREATE VIEW analysis_conflicts AS
SELECT id, site_id, project_code, site_code, site_name, planned_use, zone_id, plan_code,
       plan_name, zone_code, zone_class, compatible, listed, compatibility_note, area_m2,
       'plan_adjustment'::text AS reason_code,
       '需调整法定图则'::text AS reason_zh,
       'statutory plan adjustment required (planned use conflicts with the zone)'::text
           AS reason_en,
       geom, tz_safe_transform(geom, 3857) AS geom_3857
FROM analysis_site_zones
WHERE NOT compatible
"""

SITE_COVERAGE = """
CREATE VIEW analysis_site_coverage AS
SELECT r.id, r.project_code, r.code AS site_code, r.name AS site_name,
       r.land_use AS planned_use,
       ST_Area(r.geom)::float8 AS site_area_m2,
       coalesce(ST_Area(cv.covered), 0)::float8 AS covered_m2,
       ST_Area(u.geom)::float8 AS uncovered_m2,
       coalesce(cv.zone_count, 0) AS zone_count,
       coalesce(cv.conflict_count, 0) AS conflict_count,
       coalesce(cv.zones, '[]'::jsonb) AS zones,
       u.geom
FROM current_retained_land r
LEFT JOIN LATERAL (
    SELECT CASE WHEN count(*) = 1 THEN (array_agg(sz.geom))[1]
                ELSE ST_UnaryUnion(ST_Collect(sz.geom)) END AS covered,
           count(*)::int AS zone_count,
           (count(*) FILTER (WHERE NOT sz.compatible))::int AS conflict_count,
           jsonb_agg(jsonb_build_object(
               'zone_id', sz.zone_id, 'zone_code', sz.zone_code, 'plan_code', sz.plan_code,
               'plan_name', sz.plan_name, 'zone_class', sz.zone_class, 'area_m2', sz.area_m2,
               'compatible', sz.compatible, 'listed', sz.listed,
               'note', sz.compatibility_note) ORDER BY sz.zone_code) AS zones
    FROM analysis_site_zones sz
    WHERE sz.site_id = r.id
) cv ON true
CROSS JOIN LATERAL (
    -- covered ⊆ site, so equal areas (to 0.005 m²) leave nothing uncovered: skip the overlay
    SELECT CASE WHEN cv.covered IS NULL THEN r.geom
                WHEN ST_Area(r.geom) - ST_Area(cv.covered) < 0.005
                    THEN ST_SetSRID('MULTIPOLYGON EMPTY'::geometry, 4547)
                ELSE ST_Multi(ST_CollectionExtract(ST_Difference(r.geom, cv.covered), 3))
           END AS geom
) u
"""

UNCOVERED = """
CREATE VIEW analysis_uncovered AS
SELECT id, project_code, site_code, site_name, planned_use, site_area_m2, covered_m2,
       uncovered_m2 AS area_m2,
       CASE WHEN round(covered_m2::numeric, 2) > 0 THEN 'not_covered'
            ELSE 'no_statutory_plan' END AS reason_code,
       CASE WHEN round(covered_m2::numeric, 2) > 0 THEN '法定图则未覆盖'
            ELSE '未制定法定图则' END AS reason_zh,
       CASE WHEN round(covered_m2::numeric, 2) > 0 THEN 'not covered by a statutory plan'
            ELSE 'no statutory plan made for the site' END AS reason_en,
       geom, tz_safe_transform(geom, 3857) AS geom_3857
FROM analysis_site_coverage
WHERE round(uncovered_m2::numeric, 2) > 0
"""

VIEWS = [
    "analysis_uncovered",
    "analysis_site_coverage",
    "analysis_conflicts",
    "analysis_site_zones",
    "analysis_reserve_overlaps",
    "analysis_site_reserve",
]


def upgrade() -> None:
    op.execute(
        "CREATE TABLE statutory_plan_parts ("
        " id bigserial PRIMARY KEY,"
        " zone_id integer NOT NULL REFERENCES statutory_plans(id) ON DELETE CASCADE,"
        " geom geometry(MultiPolygon, 4547) NOT NULL)"
    )
    op.execute("CREATE INDEX ix_statutory_plan_parts_zone_id ON statutory_plan_parts (zone_id)")
    op.execute(
        "CREATE INDEX ix_statutory_plan_parts_geom ON statutory_plan_parts USING gist (geom)"
    )
    op.execute(SAFE_SUBDIVIDE)
    op.execute(PARTS_TRIGGER)
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER tz_statutory_plan_parts_{event.lower()} AFTER {event} "
            "ON statutory_plans REFERENCING NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION tz_statutory_plan_parts_sync()"
        )
    op.execute(
        "INSERT INTO statutory_plan_parts (zone_id, geom) "
        "SELECT id, tz_subdivide_safe(geom) FROM statutory_plans"
    )
    op.execute(route_function_sql())
    for ddl in (SITE_RESERVE, RESERVE_OVERLAPS, SITE_ZONES, CONFLICTS, SITE_COVERAGE, UNCOVERED):
        op.execute(ddl)


def downgrade() -> None:
    for view in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.execute("DROP FUNCTION IF EXISTS tuzheng_approval_route(numeric)")
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS tz_statutory_plan_parts_{event} ON statutory_plans")
    op.execute("DROP FUNCTION IF EXISTS tz_statutory_plan_parts_sync()")
    op.execute("DROP TABLE IF EXISTS statutory_plan_parts")
    op.execute("DROP FUNCTION IF EXISTS tz_subdivide_safe(geometry)")
