"""stored analysis results, brought up to date at commit from what changed

The analysis views of migration 0003 computed the whole city for every query: a map tile of an
analysis layer, the review attributes of ``projects``, a review. This migration keeps their
results in tables and recomputes only what a transaction's changes can affect, *inside* that
transaction, at its commit. Readers see either the old data with the old results or the new data
with the new results, never a mix, whoever wrote the data (an upload, a restore, a SQL edit of
``land_use_compatibility`` or of rows of an active dataset) and even if the writer is killed.

The rule stays in one place: the 0003 views are kept, renamed ``analysis_live_*``, and every
stored row is an ``INSERT … SELECT`` from them (or from the ledger and composition views added
here, moved out of ``spatial/analysis/``). The map-layer views keep their names and their 0003
SQL, re-created from ``pg_get_viewdef`` over the stored tables, so existing readers
(``spatial.analysis``, the collections, the siting check) are unchanged.

Objects:

``analysis_live_site_reserve``, ``…_reserve_overlaps``, ``…_site_zones``, ``…_conflicts``,
``…_site_coverage``, ``…_uncovered``
    The 0003 views, renamed: the computation.
``analysis_live_project_ledger`` (one row per current project code)
    code, name, b_planar/b_ellip (boundary m²), u_planar/u_ellip (union of the project's parcels),
    i_planar/i_ellip (that union ∩ boundary), cats (jsonb: category → n, planar, ellip).
    Planar m² in EPSG:4547; ellipsoidal m² on CGCS2000 (EPSG:4490 geography, spheroid).
``analysis_live_site_composition`` (one row per current retained-land site)
    id, project_code, site_code, site_name, land_use, site_area_m2, categories (jsonb: category →
    n parcels, area m² of the site on them; pieces that round to 0.00 m² do not count).
``stored_site_reserve``, ``stored_site_zones``, ``stored_site_coverage``,
``stored_project_ledger``, ``stored_site_composition``
    The stored results, column for column the live views (``LIKE``), each with a GiST index on
    ``tz_safe_transform(geom, 3857)`` where it has a geometry (the map-layer views' expression).
``analysis_site_reserve``, ``analysis_site_zones``, ``analysis_site_coverage``,
``analysis_project_ledger``, ``analysis_site_composition`` (views of the stored tables), and
``analysis_reserve_overlaps``, ``analysis_conflicts``, ``analysis_uncovered`` (the 0003 SQL over
them): what everything reads.
``analysis_coverage_of_stored_zones``
    The 0003 coverage SQL over the *stored* site × zone pieces: a refresh computes zones once.
``analysis_versions`` (name ``sites`` | ``ledgers``, version, refreshed_at, detail)
    ``sites`` counts changes of the reserve/zone/coverage results (the map layers and the review
    attributes; the tile cache keys on it), ``ledgers`` of ledgers and compositions; ``detail``
    says what the last refresh recomputed and how long it took.
``analysis_changes``, ``analysis_changed_rows``
    What the running transaction changed (written by triggers, emptied by the refresh; always
    empty once committed).

Triggers record changes: a dataset of an input layer becoming active or inactive (publish,
supersede, restore, delete), rows of an active dataset inserted/updated/deleted directly
(statement triggers with transition tables; loads go to staging datasets and are ignored, and
so are rows of superseded datasets deleted with them), a layer truncated,
``land_use_compatibility`` edited. A deferred constraint trigger on
``analysis_changes`` runs ``tz_analysis_refresh()`` once at commit:

1. under a transaction advisory lock (concurrent refreshes queue; each sees the others'
   committed data), for each layer whose active datasets changed, the rows that differ between
   the datasets that left and those that came (full join on the layer's key, every column
   compared, geometries exactly) go to ``analysis_changed_rows``; for parcels only rows that can
   matter are compared: those of a current project, and those near a current site (each
   version read from its own table, ``parcels_ds_<id>``, attached or not);
2. unchanged retained-land sites and plan zones that got new ids (a new version) keep their
   stored results, renumbered;
3. the affected units are recomputed: ledgers of the projects whose boundary or parcels changed;
   compositions of sites touching changed parcels; reserve occupation of whole projects (the 3000
   m² total) whose sites changed or touch changed reserve land; zones and coverage of sites that
   changed, touch changed zones, or whose compatibility answer changed;
4. versions are bumped and ``NOTIFY tuzheng_datasets, 'analysis_results'`` is sent.

``tz_analysis_refresh_all()`` recomputes everything (the upgrade runs it; so does
``tuzheng analysis refresh``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 14:00:00
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

LIVE_RENAMED = (
    "analysis_site_reserve",
    "analysis_reserve_overlaps",
    "analysis_site_zones",
    "analysis_conflicts",
    "analysis_site_coverage",
    "analysis_uncovered",
)
"""The 0003 views, renamed ``analysis_live_*``."""

DERIVED = ("analysis_reserve_overlaps", "analysis_conflicts", "analysis_uncovered")
"""0003 map-layer views re-created over the stored base views from their own definitions."""

INPUTS = {
    # layer: (key column, project column or None)
    "projects": ("code", "code"),
    "parcels": ("code", "project_code"),
    "retained_land": ("code", "project_code"),
    "state_reserve_land": ("code", None),
    "statutory_plans": ("zone_code", None),
}
"""The layers the stored results depend on, with the key a diff joins on."""

SITE_CELL_M = 500
"""Site footprint cell (m): parcels are diffed only with a project code or near a site."""

ELLIP = "ST_Area(ST_Transform({g}, 4490)::geography, true)"

PROJECT_LEDGER = f"""
CREATE VIEW analysis_live_project_ledger AS
SELECT pr.code, pr.name,
       ST_Area(pr.geom) AS b_planar, {ELLIP.format(g="pr.geom")} AS b_ellip,
       coalesce(ST_Area(un.g), 0) AS u_planar,
       coalesce({ELLIP.format(g="un.g")}, 0) AS u_ellip,
       coalesce(ST_Area(i.g), 0) AS i_planar,
       coalesce({ELLIP.format(g="i.g")}, 0) AS i_ellip,
       coalesce(pc.cats, '{{}}'::jsonb) AS cats
FROM (
    SELECT DISTINCT ON (code) code, name, geom FROM current_projects ORDER BY code, id
) pr
LEFT JOIN LATERAL (
    SELECT ST_Union(p.geom) AS g FROM current_parcels p WHERE p.project_code = pr.code
) un ON true
LEFT JOIN LATERAL (SELECT ST_Intersection(un.g, pr.geom) AS g) i ON true
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(c.category, jsonb_build_object(
               'n', c.n, 'planar', c.planar, 'ellip', c.ellip)) AS cats
    FROM (
        SELECT p.category::text AS category, count(*) AS n, sum(ST_Area(p.geom)) AS planar,
               sum({ELLIP.format(g="p.geom")}) AS ellip
        FROM current_parcels p WHERE p.project_code = pr.code
        GROUP BY 1
    ) c
) pc ON true
"""

SITE_COMPOSITION = """
CREATE VIEW analysis_live_site_composition AS
SELECT r.id, r.project_code, r.code AS site_code, r.name AS site_name, r.land_use,
       ST_Area(r.geom) AS site_area_m2,
       coalesce(c.categories, '{}'::jsonb) AS categories
FROM current_retained_land r
LEFT JOIN LATERAL (
    SELECT jsonb_object_agg(q.category, jsonb_build_object('n', q.n, 'area', q.area))
               AS categories
    FROM (
        SELECT x.category, count(*) AS n, sum(x.area) AS area
        FROM (
            SELECT p.category::text AS category,
                   ST_Area(ST_Intersection(p.geom, r.geom)) AS area
            FROM current_parcels p
            WHERE p.geom && r.geom AND ST_Intersects(p.geom, r.geom)
            OFFSET 0
        ) x
        WHERE round(x.area::numeric, 2) > 0  -- parcels that only touch the site do not count
        GROUP BY 1
    ) q
) c ON true
"""

STORED = {
    # stored table: (live view, key column, other indexed columns, has geometry)
    "stored_site_reserve": ("analysis_live_site_reserve", "id", ("project_code",), True),
    "stored_site_zones": ("analysis_live_site_zones", None, ("id", "site_id", "zone_id"), True),
    "stored_site_coverage": ("analysis_live_site_coverage", "id", ("project_code",), True),
    "stored_project_ledger": ("analysis_live_project_ledger", "code", (), False),
    "stored_site_composition": ("analysis_live_site_composition", "id", ("project_code",), False),
}
"""Stored tables. site×zone ids are not unique when the compatibility table lists one pair twice
in different letter cases (the live view then repeats the piece), so they only get an index."""

SERVED = {
    "analysis_site_reserve": "stored_site_reserve",
    "analysis_site_zones": "stored_site_zones",
    "analysis_site_coverage": "stored_site_coverage",
    "analysis_project_ledger": "stored_project_ledger",
    "analysis_site_composition": "stored_site_composition",
}

NOTE_DATASET = f"""
CREATE FUNCTION tz_analysis_note_dataset() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was boolean;
    is_now boolean;
    rec record;
BEGIN
    -- BEFORE DELETE (so rows deleted by the cascade find it) and AFTER INSERT/UPDATE
    IF TG_OP = 'DELETE' THEN
        rec := OLD;
        was := OLD.status = 'active';
        is_now := false;
    ELSE
        rec := NEW;
        was := TG_OP = 'UPDATE' AND OLD.status = 'active';
        is_now := NEW.status = 'active';
    END IF;
    IF was IS DISTINCT FROM is_now
       AND rec.layer::text IN ({", ".join(f"'{x}'" for x in INPUTS)})
       AND NOT EXISTS (
           SELECT 1 FROM analysis_changes c WHERE c.kind = 'dataset' AND c.dataset_id = rec.id)
    THEN
        -- the first change of a dataset in the transaction says what it was before
        INSERT INTO analysis_changes (kind, layer, dataset_id, was_active)
        VALUES ('dataset', rec.layer::text, rec.id, was);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NULL;
END
$$;
"""

NOTE_ROWS = """
CREATE FUNCTION tz_analysis_note_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    key text := TG_ARGV[0];
    proj text := TG_ARGV[1];
    tt text;
    ids integer[];
    n bigint := 0;
    total bigint := 0;
    pc text := CASE WHEN proj = '' THEN 'NULL::text' ELSE format('t.%I::text', proj) END;
BEGIN
    FOREACH tt IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY['new_rows']
                                   WHEN 'DELETE' THEN ARRAY['old_rows']
                                   ELSE ARRAY['old_rows', 'new_rows'] END
    LOOP
        -- rows of staging datasets (every load) and of superseded ones are not what results
        -- were computed from: only rows of active datasets, or of active ones being deleted
        -- (their cascade runs after the BEFORE DELETE trigger noted them), are changes
        EXECUTE format(
            'SELECT array_agg(x.id) FROM (SELECT DISTINCT dataset_id AS id FROM %I) x '
            'WHERE EXISTS (SELECT 1 FROM datasets d WHERE d.id = x.id AND d.status = ''active'') '
            'OR (NOT EXISTS (SELECT 1 FROM datasets d WHERE d.id = x.id) AND EXISTS ('
            'SELECT 1 FROM analysis_changes c WHERE c.kind = ''dataset'' '
            'AND c.dataset_id = x.id AND c.was_active))', tt)
        INTO ids;
        CONTINUE WHEN ids IS NULL;
        EXECUTE format(
            'INSERT INTO analysis_changed_rows (layer, code, project_code, geom) '
            'SELECT %L, t.%I::text, %s, t.geom FROM %I t WHERE t.dataset_id = ANY($1)',
            TG_TABLE_NAME, key, pc, tt)
        USING ids;
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    IF total > 0 THEN
        PERFORM pg_notify('tuzheng_datasets', TG_TABLE_NAME);
        IF NOT EXISTS (
            SELECT 1 FROM analysis_changes c WHERE c.kind = 'rows' AND c.layer = TG_TABLE_NAME)
        THEN
            INSERT INTO analysis_changes (kind, layer) VALUES ('rows', TG_TABLE_NAME);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
"""

NOTE_ALL = """
CREATE FUNCTION tz_analysis_note_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analysis_changes (kind, layer) VALUES (TG_ARGV[0], TG_TABLE_NAME);
    RETURN NULL;
END
$$;
"""

PARCEL_SOURCE = """
CREATE FUNCTION tz_analysis_parcel_source(ids integer[]) RETURNS text
LANGUAGE sql STABLE AS $$
    -- each version's own table (publish detaches superseded versions from parcels, 0010):
    -- its parcels of a current project (ledgers), and the others near a current site
    -- (compositions); ``codes`` and ``cells`` are CTEs of the diff
    SELECT coalesce(string_agg(format(
        '(SELECT * FROM %1$I WHERE project_code = ANY((SELECT c FROM codes)::varchar[])) '
        'UNION ALL (SELECT DISTINCT ON (q.id) q.* FROM cells JOIN %1$I q '
        'ON q.geom && cells.g WHERE q.project_code IS NULL '
        'OR q.project_code <> ALL((SELECT c FROM codes)::varchar[]) ORDER BY q.id)',
        'parcels_ds_' || i), ' UNION ALL '),
        'SELECT * FROM parcels WHERE false')
    FROM unnest(ids) i WHERE to_regclass('parcels_ds_' || i) IS NOT NULL
$$;
"""

DIFF = f"""
CREATE FUNCTION tz_analysis_diff(
    lay text, key text, proj text, added integer[], removed integer[], pairs boolean,
    OUT changed bigint, OUT old_ids bigint[], OUT new_ids bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    cols text[];
    pre text := '';
    n_src text := 'SELECT * FROM ' || quote_ident(lay) || ' WHERE dataset_id = ANY($1)';
    o_src text := 'SELECT * FROM ' || quote_ident(lay) || ' WHERE dataset_id = ANY($2)';
    k text := quote_ident(key);
    q text;
BEGIN
    -- every stored column but the row id, the dataset and generated copies
    SELECT array_agg(quote_ident(a.attname::text) ORDER BY a.attnum) INTO cols
    FROM pg_attribute a
    WHERE a.attrelid = lay::regclass AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attgenerated = '' AND a.attname NOT IN ('id', 'dataset_id');
    IF lay = 'parcels' THEN
        -- a parcel matters to a ledger through its project code and to a site composition by
        -- touching the site: compare only those (the rest of a city cannot change a result)
        pre := 'codes AS (SELECT coalesce(array_agg(DISTINCT code::text), ''{{}}'') AS c '
            || 'FROM current_projects), '
            || 'cells AS (SELECT ST_Expand(ST_Extent(geom)::geometry, 1.0) AS g '
            || 'FROM current_retained_land GROUP BY floor(ST_XMin(geom) / {SITE_CELL_M}), '
            || 'floor(ST_YMin(geom) / {SITE_CELL_M})), ';
        n_src := tz_analysis_parcel_source(added);
        o_src := tz_analysis_parcel_source(removed);
    END IF;
    q := 'WITH ' || pre
        || 'n AS (' || n_src || '), '
        || 'o AS (' || o_src || '), '
        || 'j AS MATERIALIZED (SELECT n.id AS nid, o.id AS oid, '
        || 'n.' || k || '::text AS ncode, o.' || k || '::text AS ocode, '
        || CASE WHEN proj IS NULL THEN 'NULL::text AS npc, NULL::text AS opc, '
                ELSE 'n.' || quote_ident(proj) || '::text AS npc, '
                  || 'o.' || quote_ident(proj) || '::text AS opc, ' END
        || 'n.geom AS ngeom, o.geom AS ogeom, '
        || '(n.id IS NOT NULL AND o.id IS NOT NULL AND ROW(n.'
        || array_to_string(cols, ', n.') || ') IS NOT DISTINCT FROM ROW(o.'
        || array_to_string(cols, ', o.') || ')) AS same '
        || 'FROM n FULL JOIN o ON n.' || k || ' = o.' || k || '), '
        || 'ins AS (INSERT INTO analysis_changed_rows (layer, code, project_code, geom) '
        || 'SELECT $3, x.code, x.pc, x.geom FROM j CROSS JOIN LATERAL (VALUES '
        || '(j.nid, j.ncode, j.npc, j.ngeom), (j.oid, j.ocode, j.opc, j.ogeom)) '
        || 'x(id, code, pc, geom) WHERE NOT j.same AND x.id IS NOT NULL RETURNING 1) '
        || 'SELECT (SELECT count(*) FROM ins), '
        || 'coalesce(array_agg(j.oid ORDER BY j.oid) FILTER (WHERE j.same AND $4), ''{{}}''), '
        || 'coalesce(array_agg(j.nid ORDER BY j.oid) FILTER (WHERE j.same AND $4), ''{{}}'') '
        || 'FROM j';
    EXECUTE q INTO changed, old_ids, new_ids USING added, removed, lay, pairs;
END
$$;
"""

REFRESH_ALL = """
CREATE FUNCTION tz_analysis_refresh_all() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    summary jsonb;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tuzheng.analysis'));
    PERFORM set_config('jit', 'off', true);
    DELETE FROM analysis_changes;
    DELETE FROM analysis_changed_rows;
    DELETE FROM stored_site_zones;
    INSERT INTO stored_site_zones SELECT * FROM analysis_live_site_zones;
    DELETE FROM stored_site_coverage;
    INSERT INTO stored_site_coverage SELECT * FROM analysis_coverage_of_stored_zones;
    DELETE FROM stored_site_reserve;
    INSERT INTO stored_site_reserve SELECT * FROM analysis_live_site_reserve;
    DELETE FROM stored_project_ledger;
    INSERT INTO stored_project_ledger SELECT * FROM analysis_live_project_ledger;
    DELETE FROM stored_site_composition;
    INSERT INTO stored_site_composition SELECT * FROM analysis_live_site_composition;
    summary := jsonb_build_object(
        'full', true,
        'sites', (SELECT count(*) FROM stored_site_coverage),
        'projects', (SELECT count(*) FROM stored_project_ledger),
        'ms', round(extract(epoch FROM clock_timestamp() - t0) * 1000));
    UPDATE analysis_versions SET version = version + 1, refreshed_at = now(), detail = summary;
    PERFORM pg_notify('tuzheng_datasets', 'analysis_results');
    RETURN summary;
END
$$;
"""

REFRESH = """
CREATE FUNCTION tz_analysis_refresh() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
    full_ boolean;
    compat boolean;
    d_layers text[];
    d_ids integer[];
    d_was boolean[];
    lay text;
    added integer[];
    removed integer[];
    diff record;
    sites_moved boolean := false;
    sites_touched boolean := false;
    ledger_codes text[];
    comp_ids integer[];
    res_codes text[];
    res_null boolean;
    zone_ids integer[];
    n_ledgers bigint := 0;
    n_comp bigint := 0;
    n_res bigint := 0;
    n_zones bigint := 0;
    n_changed bigint := 0;
    summary jsonb;
    cfg jsonb := '__INPUTS__';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM analysis_changes) THEN
        RETURN NULL;  -- drained by an earlier firing in this transaction
    END IF;
    -- Refreshes queue here. Each statement below takes a new snapshot (READ COMMITTED), so a
    -- refresh that waited sees what the one before it committed.
    PERFORM pg_advisory_xact_lock(hashtext('tuzheng.analysis'));
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'analysis results are refreshed at commit under READ COMMITTED only'
            USING HINT = 'publish datasets and edit land_use_compatibility in READ COMMITTED';
    END IF;
    PERFORM set_config('jit', 'off', true);
    PERFORM set_config('work_mem', '256MB', true);
    WITH d AS (DELETE FROM analysis_changes RETURNING *)
    SELECT coalesce(bool_or(d.kind = 'all'), false),
           coalesce(bool_or(d.kind = 'compatibility'), false),
           array_agg(d.layer ORDER BY d.id) FILTER (WHERE d.kind = 'dataset'),
           array_agg(d.dataset_id ORDER BY d.id) FILTER (WHERE d.kind = 'dataset'),
           array_agg(d.was_active ORDER BY d.id) FILTER (WHERE d.kind = 'dataset')
    INTO full_, compat, d_layers, d_ids, d_was
    FROM d;
    IF full_ THEN
        RETURN tz_analysis_refresh_all();
    END IF;

    -- 1. the rows that differ between the datasets that left and those that came
    FOR lay, added, removed IN
        SELECT c.layer,
               coalesce(array_agg(c.id) FILTER (WHERE NOT c.was AND s.status = 'active'), '{}'),
               coalesce(array_agg(c.id) FILTER (WHERE c.was AND s.status IS DISTINCT FROM 'active'), '{}')
        FROM unnest(d_layers, d_ids, d_was) AS c(layer, id, was)
        LEFT JOIN datasets s ON s.id = c.id
        GROUP BY c.layer
    LOOP
        CONTINUE WHEN added = '{}' AND removed = '{}';
        -- unchanged sites and zones are paired with their new ids (step 2)
        SELECT * INTO diff FROM tz_analysis_diff(
            lay, cfg -> lay ->> 0, cfg -> lay ->> 1, added, removed,
            lay IN ('retained_land', 'statutory_plans'));
        -- 2. unchanged sites and zones keep their results under their new ids
        IF lay = 'retained_land' AND diff.old_ids <> '{}' THEN
            UPDATE stored_site_reserve s SET id = m.n FROM unnest(diff.old_ids, diff.new_ids) m(o, n) WHERE s.id = m.o;
            UPDATE stored_site_coverage s SET id = m.n FROM unnest(diff.old_ids, diff.new_ids) m(o, n) WHERE s.id = m.o;
            UPDATE stored_site_composition s SET id = m.n FROM unnest(diff.old_ids, diff.new_ids) m(o, n) WHERE s.id = m.o;
            UPDATE stored_site_zones s SET site_id = m.n, id = (m.n << 32) | s.zone_id
            FROM unnest(diff.old_ids, diff.new_ids) m(o, n) WHERE s.site_id = m.o;
            sites_moved := true;
        ELSIF lay = 'statutory_plans' AND diff.old_ids <> '{}' THEN
            UPDATE stored_site_zones s SET zone_id = m.n, id = (s.site_id::bigint << 32) | m.n
            FROM unnest(diff.old_ids, diff.new_ids) m(o, n) WHERE s.zone_id = m.o;
            UPDATE stored_site_coverage s SET zones = (
                SELECT jsonb_agg(CASE WHEN m.n IS NULL THEN e.z
                                      ELSE jsonb_set(e.z, '{zone_id}', to_jsonb(m.n)) END
                                 ORDER BY e.ord)
                FROM jsonb_array_elements(s.zones) WITH ORDINALITY AS e(z, ord)
                LEFT JOIN unnest(diff.old_ids, diff.new_ids) m(o, n)
                       ON m.o = (e.z ->> 'zone_id')::bigint)
            WHERE EXISTS (
                SELECT 1 FROM jsonb_array_elements(s.zones) z
                WHERE (z ->> 'zone_id')::bigint = ANY(diff.old_ids));
            sites_moved := true;
        END IF;
    END LOOP;

    -- 3. the units those rows can change
    ledger_codes := ARRAY(
        SELECT DISTINCT c.project_code FROM analysis_changed_rows c
        WHERE c.layer IN ('projects', 'parcels') AND c.project_code IS NOT NULL);
    comp_ids := ARRAY(
        SELECT r.id FROM current_retained_land r
        WHERE r.code IN (SELECT c.code FROM analysis_changed_rows c WHERE c.layer = 'retained_land')
        UNION
        SELECT r.id FROM analysis_changed_rows c
        JOIN current_retained_land r ON r.geom && c.geom AND ST_Intersects(r.geom, c.geom)
        WHERE c.layer = 'parcels');
    res_codes := ARRAY(
        SELECT c.project_code FROM analysis_changed_rows c
        WHERE c.layer = 'retained_land' AND c.project_code IS NOT NULL
        UNION
        SELECT r.project_code FROM analysis_changed_rows c
        JOIN current_retained_land r ON r.geom && c.geom AND ST_Intersects(r.geom, c.geom)
        WHERE c.layer = 'state_reserve_land' AND r.project_code IS NOT NULL);
    res_null := EXISTS (
        SELECT 1 FROM analysis_changed_rows c
        WHERE c.layer = 'retained_land' AND c.project_code IS NULL)
        OR EXISTS (
        SELECT 1 FROM analysis_changed_rows c
        JOIN current_retained_land r ON r.geom && c.geom AND ST_Intersects(r.geom, c.geom)
        WHERE c.layer = 'state_reserve_land' AND r.project_code IS NULL);
    zone_ids := ARRAY(
        SELECT r.id FROM current_retained_land r
        WHERE r.code IN (SELECT c.code FROM analysis_changed_rows c WHERE c.layer = 'retained_land')
        UNION
        SELECT r.id FROM analysis_changed_rows c
        JOIN current_retained_land r ON r.geom && c.geom AND ST_Intersects(r.geom, c.geom)
        WHERE c.layer = 'statutory_plans');
    IF compat THEN
        -- sites whose stored compatibility answer is no longer the table's
        zone_ids := zone_ids || ARRAY(
            SELECT DISTINCT s.site_id FROM stored_site_zones s
            LEFT JOIN land_use_compatibility c
                   ON upper(btrim(c.planned_use)) = upper(btrim(s.planned_use))
                  AND upper(btrim(c.zone_class)) = upper(btrim(s.zone_class))
            WHERE (coalesce(c.compatible, false), c.planned_use IS NOT NULL, c.note)
                  IS DISTINCT FROM (s.compatible, s.listed, s.compatibility_note));
    END IF;

    -- 4. recompute them from the live views, and drop the results of sites that are gone
    IF EXISTS (SELECT 1 FROM analysis_changed_rows c WHERE c.layer = 'retained_land') THEN
        DELETE FROM stored_site_reserve s WHERE NOT EXISTS (
            SELECT 1 FROM current_retained_land r WHERE r.id = s.id);
        DELETE FROM stored_site_coverage s WHERE NOT EXISTS (
            SELECT 1 FROM current_retained_land r WHERE r.id = s.id);
        DELETE FROM stored_site_zones s WHERE NOT EXISTS (
            SELECT 1 FROM current_retained_land r WHERE r.id = s.site_id);
        DELETE FROM stored_site_composition s WHERE NOT EXISTS (
            SELECT 1 FROM current_retained_land r WHERE r.id = s.id);
        sites_touched := true;
    END IF;
    IF ledger_codes <> '{}' THEN
        DELETE FROM stored_project_ledger WHERE code = ANY(ledger_codes);
        INSERT INTO stored_project_ledger
            SELECT * FROM analysis_live_project_ledger WHERE code = ANY(ledger_codes);
        GET DIAGNOSTICS n_ledgers = ROW_COUNT;
    END IF;
    IF comp_ids <> '{}' THEN
        DELETE FROM stored_site_composition WHERE id = ANY(comp_ids);
        INSERT INTO stored_site_composition
            SELECT * FROM analysis_live_site_composition WHERE id = ANY(comp_ids);
        GET DIAGNOSTICS n_comp = ROW_COUNT;
    END IF;
    IF res_codes <> '{}' OR res_null THEN
        DELETE FROM stored_site_reserve
        WHERE project_code = ANY(res_codes) OR (res_null AND project_code IS NULL);
        INSERT INTO stored_site_reserve
            SELECT * FROM analysis_live_site_reserve
            WHERE project_code = ANY(res_codes) OR (res_null AND project_code IS NULL);
        GET DIAGNOSTICS n_res = ROW_COUNT;
        sites_touched := true;
    END IF;
    IF zone_ids <> '{}' THEN
        DELETE FROM stored_site_zones WHERE site_id = ANY(zone_ids);
        INSERT INTO stored_site_zones
            SELECT * FROM analysis_live_site_zones WHERE site_id = ANY(zone_ids);
        DELETE FROM stored_site_coverage WHERE id = ANY(zone_ids);
        INSERT INTO stored_site_coverage
            SELECT * FROM analysis_coverage_of_stored_zones WHERE id = ANY(zone_ids);
        GET DIAGNOSTICS n_zones = ROW_COUNT;
        sites_touched := true;
    END IF;
    SELECT count(*) INTO n_changed FROM analysis_changed_rows;
    DELETE FROM analysis_changed_rows;

    summary := jsonb_build_object(
        'full', false, 'changed_rows', n_changed, 'ledgers', n_ledgers,
        'compositions', n_comp, 'reserve_sites', n_res, 'coverage_sites', n_zones,
        'ms', round(extract(epoch FROM clock_timestamp() - t0) * 1000));
    IF sites_touched OR sites_moved THEN
        UPDATE analysis_versions SET version = version + 1, refreshed_at = now(),
               detail = summary
        WHERE name = 'sites';
        PERFORM pg_notify('tuzheng_datasets', 'analysis_results');
    END IF;
    IF n_ledgers > 0 OR n_comp > 0 OR sites_moved THEN
        UPDATE analysis_versions SET version = version + 1, refreshed_at = now(),
               detail = summary
        WHERE name = 'ledgers';
    END IF;
    RETURN summary;
END
$$;
"""

REFRESH_TRIGGER = """
CREATE FUNCTION tz_analysis_refresh_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tz_analysis_refresh();
    RETURN NULL;
END
$$;
"""


def _inputs_json() -> str:
    import json

    return json.dumps({k: list(v) for k, v in INPUTS.items()})


def upgrade() -> None:
    bind = op.get_bind()
    # the 0003 map-layer SQL, read before its base views are renamed away
    defs = {
        v: bind.exec_driver_sql(f"SELECT pg_get_viewdef('{v}'::regclass)").scalar_one()
        for v in (*DERIVED, "analysis_site_coverage")
    }
    for v in LIVE_RENAMED:
        op.execute(f"ALTER VIEW {v} RENAME TO {v.replace('analysis_', 'analysis_live_', 1)}")
    op.execute(PROJECT_LEDGER)
    op.execute(SITE_COMPOSITION)

    for table, (live, key, indexed, geom) in STORED.items():
        op.execute(f"CREATE TABLE {table} (LIKE {live})")
        if key is not None:
            op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")
        for col in indexed:
            op.execute(f"CREATE INDEX ix_{table}_{col} ON {table} ({col})")
        if geom:
            op.execute(
                f"CREATE INDEX ix_{table}_geom_3857 ON {table} "
                "USING gist (tz_safe_transform(geom, 3857))"
            )
    for view, table in SERVED.items():
        op.execute(f"CREATE VIEW {view} AS SELECT * FROM {table}")
    for view in DERIVED:
        op.execute(f"CREATE VIEW {view} AS {defs[view]}")
    op.execute(f"CREATE VIEW analysis_coverage_of_stored_zones AS {defs['analysis_site_coverage']}")

    op.execute(
        "CREATE TABLE analysis_versions (name text PRIMARY KEY, version bigint NOT NULL DEFAULT 0,"
        " refreshed_at timestamptz, detail jsonb)"
    )
    op.execute("INSERT INTO analysis_versions (name) VALUES ('sites'), ('ledgers')")
    op.execute(
        "CREATE TABLE analysis_changes (id bigserial PRIMARY KEY, kind text NOT NULL"
        " CHECK (kind IN ('dataset', 'rows', 'compatibility', 'all')), layer text,"
        " dataset_id integer, was_active boolean)"
    )
    op.execute(
        "CREATE TABLE analysis_changed_rows (layer text NOT NULL, code text, project_code text,"
        " geom geometry)"
    )

    op.execute(NOTE_DATASET)
    op.execute(NOTE_ROWS)
    op.execute(NOTE_ALL)
    op.execute(PARCEL_SOURCE)
    op.execute(DIFF)
    op.execute(REFRESH_ALL)
    op.execute(REFRESH.replace("__INPUTS__", _inputs_json()))
    op.execute(REFRESH_TRIGGER)

    op.execute(
        "CREATE TRIGGER tz_analysis_datasets AFTER INSERT OR UPDATE OF status "
        "ON datasets FOR EACH ROW EXECUTE FUNCTION tz_analysis_note_dataset()"
    )
    op.execute(
        "CREATE TRIGGER tz_analysis_datasets_delete BEFORE DELETE "
        "ON datasets FOR EACH ROW EXECUTE FUNCTION tz_analysis_note_dataset()"
    )
    for layer, (key, proj) in INPUTS.items():
        args = f"'{key}', '{proj or ''}'"
        for event, refs in (
            ("insert", "NEW TABLE AS new_rows"),
            ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("delete", "OLD TABLE AS old_rows"),
        ):
            op.execute(
                f"CREATE TRIGGER tz_analysis_rows_{event} AFTER {event.upper()} ON {layer} "
                f"REFERENCING {refs} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION tz_analysis_note_rows({args})"
            )
        op.execute(
            f"CREATE TRIGGER tz_analysis_truncate AFTER TRUNCATE ON {layer} "
            "FOR EACH STATEMENT EXECUTE FUNCTION tz_analysis_note_all('all')"
        )
    op.execute(
        "CREATE TRIGGER tz_analysis_compatibility AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        "ON land_use_compatibility FOR EACH STATEMENT "
        "EXECUTE FUNCTION tz_analysis_note_all('compatibility')"
    )
    op.execute(
        "CREATE CONSTRAINT TRIGGER tz_analysis_refresh AFTER INSERT ON analysis_changes "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION tz_analysis_refresh_at_commit()"
    )
    op.execute("SELECT tz_analysis_refresh_all()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS tz_analysis_refresh ON analysis_changes")
    op.execute("DROP TRIGGER IF EXISTS tz_analysis_compatibility ON land_use_compatibility")
    for layer in INPUTS:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS tz_analysis_rows_{event} ON {layer}")
        op.execute(f"DROP TRIGGER IF EXISTS tz_analysis_truncate ON {layer}")
    op.execute("DROP TRIGGER IF EXISTS tz_analysis_datasets_delete ON datasets")
    op.execute("DROP TRIGGER IF EXISTS tz_analysis_datasets ON datasets")
    for fn in (
        "tz_analysis_refresh_at_commit()",
        "tz_analysis_refresh()",
        "tz_analysis_refresh_all()",
        "tz_analysis_diff(text, text, text, integer[], integer[], boolean)",
        "tz_analysis_parcel_source(integer[])",
        "tz_analysis_note_all()",
        "tz_analysis_note_rows()",
        "tz_analysis_note_dataset()",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    for table in ("analysis_changed_rows", "analysis_changes", "analysis_versions"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP VIEW IF EXISTS analysis_coverage_of_stored_zones")
    for view in (*DERIVED, *SERVED):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for table in STORED:
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP VIEW IF EXISTS analysis_live_site_composition")
    op.execute("DROP VIEW IF EXISTS analysis_live_project_ledger")
    for v in LIVE_RENAMED:
        op.execute(f"ALTER VIEW {v.replace('analysis_', 'analysis_live_', 1)} RENAME TO {v}")
