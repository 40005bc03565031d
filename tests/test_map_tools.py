"""The map's tools: search, attribute-table exports, measuring, class names, first view, colours,
demo unload."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import openpyxl
import pyogrio
import pytest
import siting_data
from analysis_data import X0, Y0
from conftest import make_client
from sqlalchemy import text

from spatial.crs import transformer
from spatial.demo import demo_active, unload_demo
from spatial.errors import BadRequest, InvalidInput
from spatial.landuse import class_label, land_use_classes
from spatial.layers import styles
from spatial.layers.mapcontext import robust_extent
from spatial.measure import measure
from spatial.rules import Route
from spatial.search import search_features
from spatial.users import add_user

siting_db = siting_data.siting_db


def test_search_codes_and_names(siting_db):
    hits = search_features(siting_db.engine, "S1")
    assert [(h.layer, h.code) for h in hits][:3] == [
        ("projects", "S1"),
        ("retained_land", "S1-L1"),
        ("parcels", "S1-P1"),
    ]
    assert [h.code for h in search_features(siting_db.engine, "选址试算")] == ["S1"]
    p = search_features(siting_db.engine, "s1-p2")[0]  # case-insensitive
    lon, lat = transformer(4547, 4326).transform(X0 + 750, Y0 + 500)
    w, s, e, n = p.bbox
    assert w < lon < e and s < lat < n
    assert search_features(siting_db.engine, "%") == []  # % matches itself only
    assert search_features(siting_db.engine, "_1") == []
    for bad in ["", " ", "x" * 51, "a\x00b"]:
        with pytest.raises(BadRequest):
            search_features(siting_db.engine, bad)


def test_measure_is_planar_4547():
    line = measure({"type": "LineString", "coordinates": [[X0, Y0], [X0 + 300, Y0 + 400]]}, 4547)
    assert line.length_m == 500.0 and line.area_m2 is None
    poly = measure(
        {
            "type": "Polygon",
            "coordinates": [
                [[X0, Y0], [X0 + 100, Y0], [X0 + 100, Y0 + 250], [X0, Y0 + 250], [X0, Y0]]
            ],
        },
        4547,
    )
    assert poly.area_m2 == 25000.0 and poly.area_ha == 2.5 and poly.length_m == 700.0
    assert "EPSG:4547" in poly.method_zh
    t = transformer(4547, 4326)
    ring = [
        list(t.transform(X0 + x, Y0 + y))
        for x, y in [(0, 0), (100, 0), (100, 250), (0, 250), (0, 0)]
    ]
    ll = measure({"type": "Polygon", "coordinates": [ring]}, 4326)
    assert abs(ll.area_m2 - 25000.0) < 0.05
    with pytest.raises(InvalidInput):
        measure({"type": "Point", "coordinates": [1, 2]})
    with pytest.raises(InvalidInput):
        measure({"type": "LineString", "coordinates": [[X0, Y0], [X0, Y0]]}, 3857)


def test_land_use_class_names_are_an_editable_table(siting_db):
    classes = land_use_classes(siting_db.engine)
    assert classes["R2"].name_zh == "二类居住用地" and classes["GIC"].name_zh == "政府社团用地"
    assert class_label("M0", classes) == "M0 新型产业用地"
    assert class_label("XX9", classes) == "XX9" and class_label(None, classes) == ""
    with siting_db.engine.begin() as conn:
        conn.execute(text("UPDATE land_use_classes SET name_zh = '二类居住' WHERE code = 'R2'"))
    try:
        assert land_use_classes(siting_db.engine)["R2"].name_zh == "二类居住"
        token = add_user("lu-planner", "planner", siting_db.engine)
        with make_client(siting_db) as c:
            assert c.get("/land-use-classes").status_code == 401
            assert {"code": "R2", "name_zh": "二类居住", "name_en": "Residential class 2"} in (
                c.get("/land-use-classes", headers={"Authorization": f"Bearer {token}"}).json()
            )
    finally:
        with siting_db.engine.begin() as conn:
            conn.execute(
                text("UPDATE land_use_classes SET name_zh = '二类居住用地' WHERE code = 'R2'")
            )


def test_exports_of_the_attribute_table(siting_db, tmp_path):
    token = add_user("export-planner", "planner", siting_db.engine)
    h = {"Authorization": f"Bearer {token}"}
    with make_client(siting_db) as c:
        assert c.get("/export/parcels.xlsx?project=S1").status_code == 401
        r = c.get("/export/parcels.xlsx?project=S1&sortby=-code", headers=h)
        assert r.status_code == 200
        ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
        rows = list(ws.iter_rows(values_only=True))
        header = list(rows[0])
        assert header[:3] == ["code", "category", "category_zh"]
        codes = [row[0] for row in rows[1:]]
        assert codes == ["S1-P2", "S1-P1"]  # sorted as asked
        area = header.index("area_m2")
        assert [row[area] for row in rows[1:]] == [500000.0, 500000.0]
        r = c.get("/export/retained_land.gpkg?project=S1", headers=h)
        path = tmp_path / "r.gpkg"
        path.write_bytes(r.content)
        gdf = pyogrio.read_dataframe(path)
        assert list(gdf["code"]) == ["S1-L1"] and gdf.crs.to_epsg() == 4547
        assert round(gdf.geometry.area.iloc[0], 2) == 10000.00
        # GBK shapefile, columns cut to 10 bytes, a view box in lon/lat
        t = transformer(4547, 4326)
        w, s = t.transform(X0 - 10, Y0 - 10)
        e, n = t.transform(X0 + 1010, Y0 + 1010)
        r = c.get(f"/export/state_reserve_land.zip?bbox={w},{s},{e},{n}", headers=h)
        assert r.status_code == 200
        zpath = tmp_path / "s.zip"
        zpath.write_bytes(r.content)
        with zipfile.ZipFile(zpath) as zf:
            assert zf.read("state_reserve_land.cpg") == b"GBK"
        gdf = pyogrio.read_dataframe(f"/vsizip/{zpath}/state_reserve_land.shp", encoding="gbk")
        assert sorted(gdf["code"]) == ["RA", "RB"] and "储备地RA" in list(gdf["name"])
        r = c.get("/export/reserve_overlaps.xlsx?project=S1", headers=h)
        ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
        rows = list(ws.iter_rows(values_only=True))
        assert rows[1][rows[0].index("area_m2")] == 2000.0
        assert c.get("/export/nope.xlsx", headers=h).status_code == 404
        assert c.get("/export/parcels.xlsx?bbox=1,2,3", headers=h).status_code == 400


def test_search_and_measure_through_the_api(siting_db):
    h = {"Authorization": f"Bearer {add_user('search-planner', 'planner', siting_db.engine)}"}
    with make_client(siting_db) as c:
        assert c.get("/search?q=S1-L").status_code == 401  # the workbench's tools need a sign-in
        c.headers.update(h)
        r = c.get("/search?q=S1-L")
        assert r.status_code == 200 and [h["code"] for h in r.json()] == ["S1-L1"]
        assert c.get("/search?q=").status_code in (400, 422)
        assert c.get("/search", params={"q": "x\x00"}).status_code == 400
        r = c.post(
            "/measure",
            json={
                "geometry": {"type": "LineString", "coordinates": [[X0, Y0], [X0 + 300, Y0 + 400]]},
                "crs": 4547,
            },
        )
        assert r.status_code == 200 and r.json()["length_m"] == 500.0


def test_first_view_ignores_far_away_features():
    district = [
        (1000.0 * i, 1000.0 * j, 1000.0 * i + 500, 1000.0 * j + 500)
        for i in range(10)
        for j in range(10)
    ]
    stray = [(5e6, 5e6, 5e6 + 10, 5e6 + 10), (-4e6, 0.0, -4e6 + 10, 10.0)]
    assert robust_extent(district + stray) == (0.0, 0.0, 9500.0, 9500.0)
    assert robust_extent(district) == (0.0, 0.0, 9500.0, 9500.0)
    assert robust_extent([(0.0, 0.0, 10.0, 10.0)]) == (0.0, 0.0, 10.0, 10.0)
    assert robust_extent([]) is None


# --- colour-blind safety (Machado, Oliveira & Fernandes 2009, severity 1.0) -------------------
_CVD = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}


def _lin(c):
    c = np.asarray(c) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(lin):
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ np.clip(lin, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _rgb(hex_colour):
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]


def test_review_colours_stay_apart_for_colour_blind_planners():
    colours = {
        "city": styles.ROUTE_COLOURS[Route.city],
        "district": styles.ROUTE_COLOURS[Route.district],
        "occupied": styles.OCCUPIED_COLOUR,
        "uncovered": styles.UNCOVERED_COLOUR,
        "conflict": styles.CONFLICT_COLOUR,
    }
    pairs = [
        ("city", "occupied"),
        ("city", "district"),
        ("district", "occupied"),
        ("city", "conflict"),
        ("occupied", "conflict"),
        ("uncovered", "city"),
    ]
    worst = {}
    for name, matrix in [("normal", np.eye(3)), *_CVD.items()]:
        for a, b in pairs:
            la = _lab(np.asarray(matrix) @ _lin(_rgb(colours[a])))
            lb = _lab(np.asarray(matrix) @ _lin(_rgb(colours[b])))
            worst[(name, a, b)] = float(np.linalg.norm(la - lb))
    # CIE76 ΔE ≥ 20: clearly different colours, not shades of one
    assert min(worst.values()) >= 20, sorted(worst.items(), key=lambda kv: kv[1])[:3]
    # the old pair (#c62828 route red vs #ff1744 occupied red) fails the same test
    old = min(
        float(
            np.linalg.norm(
                _lab(np.asarray(m) @ _lin(_rgb("#c62828")))
                - _lab(np.asarray(m) @ _lin(_rgb("#ff1744")))
            )
        )
        for m in [np.eye(3), *_CVD.values()]
    )
    assert old < 20


def test_demo_unload_withdraws_demo_data_only(db):
    from analysis_data import load_layers
    from siting_data import siting_layers

    from data.demo import generate, load_demo_if_empty, load_into_db

    load_layers(db.engine, siting_layers())  # a surveyor's data first
    load_into_db(generate(n_parcels=300), db.engine)  # then the demo replaces it
    assert demo_active(db.engine)
    with make_client(db) as c:
        assert "示例数据" in c.get("/login").text
    result = unload_demo(db.engine, "tester")
    assert len(result.withdrawn) == 5 and len(result.restored) == 5
    assert not demo_active(db.engine)
    with db.engine.connect() as conn:
        codes = conn.execute(text("SELECT code FROM current_projects")).scalars().all()
        assert codes == ["S1"]  # the surveyor's project is back
        audit = conn.execute(
            text("SELECT user_name, detail FROM audit_log WHERE action = 'demo_unload'")
        ).one()
    assert audit[0] == "tester" and sorted(audit[1]["withdrawn"]) == result.withdrawn
    with make_client(db) as c:
        assert "示例数据" not in c.get("/login").text
    assert unload_demo(db.engine).withdrawn == []
    assert "unloaded" in load_demo_if_empty(db.engine) or "already" in load_demo_if_empty(db.engine)
