"""Stored analysis results (migration 0013): current after every kind of change, and only
the affected projects and sites recomputed.

Each test loads the demo district into its own database, makes one kind of change the way
users make it (an upload through the ingest pipeline, a restore, an edit of
``land_use_compatibility``), then checks that every stored result equals the live views
computed now, for every demo project (:func:`spatial.analysis.stored.compare_with_live`), and
that the refresh recomputed exactly the units the change can affect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, text

from data.demo import generate, load_into_db
from spatial import datasets
from spatial.analysis import area_ledger, reserve_occupation, review_project
from spatial.analysis.stored import compare_with_live, refresh_all, results_state
from spatial.ingest import ingest
from spatial.schema import layer_spec

PROJECT = "GM-ZB-001"  # three sites, 67 parcels, 4,200 m² of reserve land: route city


@pytest.fixture
def demo(db) -> Engine:
    load_into_db(generate(), db.engine)
    assert compare_with_live(db.engine) == []
    return db.engine


def current(engine: Engine, layer: str) -> gpd.GeoDataFrame:
    """The current rows of ``layer`` with the declared columns (as a surveyor would send)."""
    cols = ", ".join(f'"{c}"::text AS "{c}"' for c in layer_spec(layer).column_names)
    return gpd.read_postgis(
        f"SELECT {cols}, geom FROM current_{layer} ORDER BY id", engine, geom_col="geom"
    )


def upload(engine: Engine, layer: str, gdf: gpd.GeoDataFrame, tmp_path: Path) -> int:
    """Upload ``gdf`` as a GeoPackage through the ingest pipeline (replace); its dataset id."""
    path = tmp_path / f"{layer}-{len(list(tmp_path.iterdir()))}.gpkg"
    gdf.to_file(path, driver="GPKG")
    report = ingest(path, layer, crs="EPSG:4547", engine=engine, user="pytest")
    assert report.status == "published", report.problems
    assert report.dataset_id is not None
    return report.dataset_id


def state(engine: Engine) -> dict[str, Any]:
    return {s.name: (s.version, s.detail) for s in results_state(engine)}


def scalars(engine: Engine, q: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(q), params).scalars())


def test_parcels_upload_touching_one_project_recomputes_its_ledger_and_sites(demo, tmp_path):
    before = state(demo)
    parcels = current(demo, "parcels")
    mine = parcels["project_code"] == PROJECT
    assert mine.sum() == 67
    changed = mine & (parcels["category"] != "state_owned")
    codes = list(parcels.loc[changed, "code"])
    assert len(codes) >= 10
    parcels.loc[mine, "category"] = "state_owned"
    # the sites a changed parcel touches: their compositions, and nothing else, are recomputed
    touched = scalars(
        demo,
        "SELECT DISTINCT r.code FROM current_retained_land r JOIN current_parcels p "
        "ON ST_Intersects(r.geom, p.geom) WHERE p.code = ANY(:c) ORDER BY 1",
        c=codes,
    )
    assert touched
    upload(demo, "parcels", parcels, tmp_path)

    assert compare_with_live(demo) == []
    after = state(demo)
    detail = after["ledgers"][1]
    assert detail["changed_rows"] == 2 * len(codes)  # each changed parcel, before and after
    assert (detail["ledgers"], detail["compositions"]) == (1, len(touched))
    assert (detail["reserve_sites"], detail["coverage_sites"]) == (0, 0)
    assert after["ledgers"][0] == before["ledgers"][0] + 1
    assert after["sites"] == before["sites"]  # the map layers' results did not change
    ledger = area_ledger(demo, PROJECT)
    total = sum(ln.planar_m2 for ln in ledger.lines if ln.kind == "category")
    assert ledger.line("state_owned").planar_m2 == pytest.approx(total, abs=1e-6)
    assert ledger.line("collective").parcel_count == 0
    assert ledger.adds_up
    comp = {s.site_code: s for s in review_project(demo, PROJECT).composition}
    assert comp["LY-001"].categories_m2["state_owned"] == pytest.approx(
        comp["LY-001"].site_area_m2 - comp["LY-001"].no_parcel_m2, abs=1e-6
    )


def test_retained_land_upload_recomputes_the_projects_it_changes(demo, tmp_path):
    sites = current(demo, "retained_land")
    ids_before = dict(
        zip(
            scalars(demo, "SELECT code FROM current_retained_land ORDER BY id"),
            scalars(demo, "SELECT id FROM current_retained_land ORDER BY id"),
            strict=True,
        )
    )
    sites.loc[sites["code"] == "LY-001", "land_use"] = "R2"
    sites = sites[sites["code"] != "LY-125"]  # GM-ZB-119 loses its only site
    upload(demo, "retained_land", sites, tmp_path)

    assert compare_with_live(demo) == []
    detail = state(demo)["sites"][1]
    # reserve totals are per project: the three sites of GM-ZB-001 (GM-ZB-119 has none left);
    # coverage and composition are per site: LY-001 only
    assert (detail["reserve_sites"], detail["coverage_sites"], detail["compositions"]) == (3, 1, 1)
    assert detail["ledgers"] == 0
    # every unchanged site kept its stored results under the new version's ids
    ids_after = dict(
        zip(
            scalars(demo, "SELECT site_code FROM analysis_site_reserve ORDER BY id"),
            scalars(demo, "SELECT id FROM analysis_site_reserve ORDER BY id"),
            strict=True,
        )
    )
    assert set(ids_after) == set(ids_before) - {"LY-125"}
    assert not set(ids_after.values()) & set(ids_before.values())
    review = review_project(demo, PROJECT)
    ly1 = next(s for s in review.sites if s.site_code == "LY-001")
    assert ly1.planned_use == "R2"
    left = "SELECT count(*) FROM analysis_site_reserve WHERE project_code = 'GM-ZB-119'"
    assert scalars(demo, left) == [0]


def test_reserve_upload_recomputes_the_projects_of_the_sites_it_touches(demo, tmp_path):
    assert reserve_occupation(demo, PROJECT).total_occupied_m2 == 4200.0
    reserve = current(demo, "state_reserve_land")
    gone = scalars(
        demo,
        "SELECT DISTINCT sr.code FROM current_state_reserve_land sr JOIN current_retained_land r "
        "ON ST_Intersects(sr.geom, r.geom) WHERE r.project_code = :p ORDER BY 1",
        p=PROJECT,
    )
    assert gone
    projects = scalars(
        demo,
        "SELECT DISTINCT r.project_code FROM current_state_reserve_land sr "
        "JOIN current_retained_land r ON ST_Intersects(sr.geom, r.geom) "
        "WHERE sr.code = ANY(:g) ORDER BY 1",
        g=gone,
    )
    n_sites = scalars(
        demo, "SELECT count(*) FROM current_retained_land WHERE project_code = ANY(:p)", p=projects
    )[0]
    upload(demo, "state_reserve_land", reserve[~reserve["code"].isin(gone)], tmp_path)

    assert compare_with_live(demo) == []
    detail = state(demo)["sites"][1]
    assert (detail["reserve_sites"], detail["coverage_sites"]) == (n_sites, 0)
    occ = reserve_occupation(demo, PROJECT)
    assert (occ.total_occupied_m2, occ.route.value) == (0.0, "district")


def test_plans_upload_recomputes_the_sites_under_the_changed_zone(demo, tmp_path):
    zones = current(demo, "statutory_plans")
    (zone,) = scalars(
        demo,
        "SELECT zone_code FROM analysis_site_zones WHERE site_code = 'LY-001' "
        "ORDER BY zone_code LIMIT 1",
    )
    under = scalars(
        demo,
        "SELECT count(DISTINCT r.id) FROM current_statutory_plans z JOIN current_retained_land r "
        "ON ST_Intersects(z.geom, r.geom) WHERE z.zone_code = :z",
        z=zone,
    )[0]
    assert under >= 1
    zones.loc[zones["zone_code"] == zone, "land_use_class"] = "E1"  # listed with nothing
    upload(demo, "statutory_plans", zones, tmp_path)

    assert compare_with_live(demo) == []
    detail = state(demo)["sites"][1]
    assert (detail["coverage_sites"], detail["reserve_sites"]) == (under, 0)
    classes = scalars(
        demo, "SELECT DISTINCT zone_class FROM analysis_conflicts WHERE zone_code = :z", z=zone
    )
    assert classes == ["E1"]


def test_compatibility_edit_recomputes_the_sites_with_that_pair(demo):
    pair = ("M1", "M1")
    n = scalars(
        demo,
        "SELECT count(DISTINCT site_id) FROM analysis_site_zones "
        "WHERE planned_use = :u AND zone_class = :c",
        u=pair[0],
        c=pair[1],
    )[0]
    assert n >= 1
    before = scalars(demo, "SELECT count(*) FROM analysis_conflicts")[0]
    with demo.begin() as conn:
        changed = conn.execute(
            text(
                "UPDATE land_use_compatibility SET compatible = false "
                "WHERE planned_use = :u AND zone_class = :c"
            ),
            {"u": pair[0], "c": pair[1]},
        ).rowcount
    assert changed == 1
    assert compare_with_live(demo) == []
    detail = state(demo)["sites"][1]
    assert (detail["coverage_sites"], detail["reserve_sites"]) == (n, 0)
    assert scalars(demo, "SELECT count(*) FROM analysis_conflicts")[0] > before


def test_restore_brings_back_the_old_results(demo, tmp_path):
    (v1,) = scalars(demo, "SELECT id FROM datasets WHERE layer = 'parcels' AND status = 'active'")
    old = area_ledger(demo, PROJECT).model_dump()
    parcels = current(demo, "parcels")
    parcels.loc[parcels["project_code"] == PROJECT, "category"] = "collective"
    upload(demo, "parcels", parcels, tmp_path)
    assert area_ledger(demo, PROJECT).model_dump() != old
    (r1,) = scalars(demo, "SELECT id FROM datasets WHERE layer = 'retained_land'")
    sites = current(demo, "retained_land")
    upload(demo, "retained_land", sites[sites["code"] != "LY-002"], tmp_path)

    datasets.restore(demo, v1)
    datasets.restore(demo, r1)
    assert compare_with_live(demo) == []
    assert area_ledger(demo, PROJECT).model_dump() == old
    assert state(demo)["sites"][1]["reserve_sites"] == 3  # LY-002 is back in GM-ZB-001
    assert reserve_occupation(demo, PROJECT).total_occupied_m2 == 4200.0


def test_direct_sql_edits_of_active_rows_are_changes_too(demo):
    gone = scalars(
        demo,
        "SELECT count(*) FROM current_state_reserve_land sr JOIN current_retained_land r "
        "ON ST_Intersects(sr.geom, r.geom) WHERE r.code = 'LY-004'",
    )[0]
    assert gone >= 1
    with demo.begin() as conn:
        conn.execute(
            text(
                "UPDATE retained_land SET geom = ST_Multi(ST_Translate(geom, 40, 0)) "
                "WHERE code = 'LY-006'"
            )
        )
        conn.execute(text("DELETE FROM state_reserve_land WHERE code IN ("
                          "SELECT sr.code FROM current_state_reserve_land sr JOIN "
                          "current_retained_land r ON ST_Intersects(sr.geom, r.geom) "
                          "WHERE r.code = 'LY-004')"))  # fmt: skip
    assert compare_with_live(demo) == []
    detail = state(demo)["sites"][1]
    assert detail["coverage_sites"] == 1  # LY-006
    # no dataset changed: the edited rows were the changes (LY-006 before and after, and the
    # deleted reserve polygons)
    assert detail["changed_rows"] == 2 + gone


def test_interleaved_publishes_see_each_other(demo):
    """A reserve publish still open while a retained-land publish commits: its refresh, at its
    commit, finds the site the other one added."""
    corner = "SELECT ST_XMin(geom), ST_YMin(geom) FROM current_projects WHERE code = :p"
    with demo.connect() as conn:
        x0, y0 = conn.execute(text(corner), {"p": PROJECT}).one()
    site = shapely.MultiPolygon([shapely.box(x0 + 5, y0 + 5, x0 + 45, y0 + 45)])
    assert not scalars(
        demo,
        "SELECT code FROM current_retained_land WHERE ST_Intersects(geom, "
        "ST_GeomFromText(:w, 4547))",
        w=site.wkt,
    )
    spec = layer_spec("state_reserve_land")
    a = demo.connect()
    txa = a.begin()
    ds = datasets.new_dataset(a, spec, "reserve.gpkg", "pytest")
    rows = current(demo, "state_reserve_land")
    extra = gpd.GeoDataFrame(
        {"code": ["RES-NEW"], "name": ["新储备地"]}, geometry=[site], crs=4547
    ).rename_geometry("geom")
    datasets.copy_rows(a, spec, ds, gpd.GeoDataFrame(
        gpd.pd.concat([rows, extra], ignore_index=True), geometry="geom", crs=4547))  # fmt: skip
    datasets.publish(a, spec, ds)
    # meanwhile another upload adds a site on that land and commits first
    sites = current(demo, "retained_land")
    new = gpd.GeoDataFrame(
        {"code": ["LY-NEW"], "project_code": [PROJECT], "name": ["新留用地"], "land_use": ["M1"]},
        geometry=[site],
        crs=4547,
    ).rename_geometry("geom")
    with demo.begin() as b:
        ds_b = datasets.new_dataset(b, "retained_land", "sites.gpkg", "pytest")
        datasets.copy_rows(b, "retained_land", ds_b, gpd.GeoDataFrame(
            gpd.pd.concat([sites, new], ignore_index=True), geometry="geom", crs=4547))  # fmt: skip
        datasets.publish(b, "retained_land", ds_b)
    assert reserve_occupation(demo, PROJECT).total_occupied_m2 == 4200.0  # a not committed
    txa.commit()
    a.close()
    assert compare_with_live(demo) == []
    assert reserve_occupation(demo, PROJECT).total_occupied_m2 == 4200.0 + 1600.0


def test_full_refresh_and_migration_round_trip(demo):
    from alembic import command

    from spatial import migrate

    stored = review_project(demo, PROJECT).model_dump()
    assert refresh_all(demo)["full"] is True
    assert review_project(demo, PROJECT).model_dump() == stored
    url = demo.url.render_as_string(hide_password=False)
    command.downgrade(migrate.alembic_config(url), "0010")
    # the 0003 views are back under their names, computing live
    assert scalars(
        demo, "SELECT relkind::text FROM pg_class WHERE relname = 'analysis_site_reserve'"
    ) == ["v"]
    assert not scalars(demo, "SELECT relname::text FROM pg_class WHERE relname LIKE 'stored_%'")
    total = scalars(
        demo, "SELECT sum(area_m2) FROM analysis_site_reserve WHERE project_code = :p", p=PROJECT
    )
    assert total == [pytest.approx(4200.0, abs=0.005)]
    migrate.upgrade(url)
    assert compare_with_live(demo) == []
    assert review_project(demo, PROJECT).model_dump() == stored


def test_deleting_a_superseded_version_changes_nothing(demo, tmp_path):
    (v1,) = scalars(demo, "SELECT id FROM datasets WHERE layer = 'parcels' AND status = 'active'")
    parcels = current(demo, "parcels")
    parcels.loc[parcels["project_code"] == PROJECT, "category"] = "collective"
    upload(demo, "parcels", parcels, tmp_path)
    before = state(demo)
    with demo.begin() as conn:
        conn.execute(text("DELETE FROM datasets WHERE id = :id"), {"id": v1})
    assert state(demo) == before  # its rows were not current: no refresh ran
    assert compare_with_live(demo) == []


def test_tile_key_follows_the_stored_results(demo, tmp_path):
    from spatial.layers.registry import build_registry
    from spatial.layers.tiles import collection_version

    reg = build_registry()
    shown = [reg.get(c) for c in ("reserve_overlaps", "uncovered", "conflicts", "retained_land")]
    before = [collection_version(demo, c) for c in shown]
    # a parcels upload changes ledgers and compositions only: the map layers' key stays
    parcels = current(demo, "parcels")
    parcels.loc[parcels["project_code"] == PROJECT, "category"] = "collective"
    upload(demo, "parcels", parcels, tmp_path)
    assert [collection_version(demo, c) for c in shown] == before
    # a full recompute rewrites them (same content): every key changes
    refresh_all(demo)
    after = [collection_version(demo, c) for c in shown]
    assert all(a != b for a, b in zip(after, before, strict=True))
