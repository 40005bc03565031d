"""The public Python API (spatial.workbench): load_layer filters, exports, lazy import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text

import spatial as tz
from spatial.datasets import copy_rows, new_dataset, publish
from spatial.errors import BadRequest, InvalidInput, NotFound
from spatial.models import Layer

X0, Y0 = 500_000.0, 2_500_000.0


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.MultiPolygon:
    return shapely.MultiPolygon([shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)])


def load(engine, layer: Layer, rows: list[dict]) -> int:
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=4547)
    with engine.begin() as conn:
        ds = new_dataset(conn, layer, f"{layer.value}.shp", "pytest")
        copy_rows(conn, layer, ds, gdf)
        publish(conn, layer, ds, "replace")
    return ds


@pytest.fixture
def small(db):
    """Two projects, four current parcels (plus a superseded version), reserve land, plans."""
    e = db.engine
    load(
        e,
        Layer.projects,
        [
            {"code": "P1", "name": "科学城启动区", "geometry": box(0, 0, 400, 300)},
            {"code": "P2", "name": "轨道6号线", "geometry": box(1000, 0, 1200, 200)},
        ],
    )
    load(e, Layer.parcels, [{"code": "OLD", "category": "collective", "geometry": box(0, 0, 9, 9)}])
    load(
        e,
        Layer.parcels,
        [
            {
                "code": "A",
                "category": "collective",
                "project_code": "P1",
                "owner": "玉塘街道田寮社区股份合作公司",
                "geometry": box(0, 0, 200, 300),
            },
            {
                "code": "B",
                "category": "state_farm",
                "project_code": "P1",
                "owner": "光明农场",
                "geometry": box(200, 0, 400, 150),
            },
            {
                "code": "C",
                "category": "incomplete_acquisition",
                "project_code": "P1",
                "owner": "未完善征（转）收地",
                "geometry": box(200, 150, 400, 300),
            },
            {
                "code": "D",
                "category": "state_owned",
                "project_code": "P2",
                "owner": "深圳市土地储备中心",
                "geometry": box(1000, 0, 1200, 200),
            },
        ],
    )
    load(
        e,
        Layer.state_reserve_land,
        [
            {"code": "R1", "name": "储备一", "geometry": box(350, 250, 450, 350)},
            {"code": "R2", "name": "储备二", "geometry": box(5000, 5000, 5100, 5100)},
        ],
    )
    return db


def test_load_layer_current_rows_and_areas(small):
    parcels = tz.load_layer("parcels", small.engine)
    assert parcels.crs.to_epsg() == 4547
    assert list(parcels.code) == ["A", "B", "C", "D"]  # OLD was superseded
    assert parcels.area_m2.round(6).tolist() == [60000.0, 30000.0, 30000.0, 40000.0]
    assert (
        parcels.loc[parcels.code == "C", "category_zh"].item() == "未完善征（转）收地补偿手续用地"
    )
    assert parcels.loc[parcels.code == "A", "owner"].item() == "玉塘街道田寮社区股份合作公司"
    same = tz.load_layer("宗地", small.engine)
    assert list(same.code) == ["A", "B", "C", "D"]


def test_load_layer_filters(small):
    e = small.engine
    assert list(tz.load_layer("parcels", e, project="P1").code) == ["A", "B", "C"]
    assert list(tz.load_layer("parcels", e, project="轨道6号线").code) == ["D"]
    assert list(tz.load_layer("parcels", e, project=["P1", "P2"]).code) == ["A", "B", "C", "D"]
    assert list(tz.load_layer("parcels", e, category="集体").code) == ["A"]
    got = tz.load_layer("parcels", e, project="P1", category=["农场", "国有"])
    assert list(got.code) == ["B"]
    assert list(tz.load_layer("projects", e, project="P2").code) == ["P2"]
    # reserve land has no project attribute: filtered by the project boundary
    assert list(tz.load_layer("reserve", e, project="P1").code) == ["R1"]
    assert list(tz.load_layer("reserve", e, project="P2").code) == []


def test_load_layer_bbox_in_storage_and_wgs84(small):
    e = small.engine
    bbox = (X0 + 250, Y0 + 100, X0 + 260, Y0 + 110)
    assert list(tz.load_layer("parcels", e, bbox=bbox).code) == ["B"]
    t = Transformer.from_crs(4547, 4326, always_xy=True)
    lon0, lat0 = t.transform(bbox[0], bbox[1])
    lon1, lat1 = t.transform(bbox[2], bbox[3])
    got = tz.load_layer("parcels", e, bbox=(lon0, lat0, lon1, lat1), bbox_crs=4326)
    assert list(got.code) == ["B"]
    with pytest.raises(BadRequest):
        tz.load_layer("parcels", e, bbox=(1, 1, 0, 0))
    with pytest.raises(BadRequest):
        tz.load_layer("parcels", e, bbox=(0, 0, float("nan"), 1))
    with pytest.raises(BadRequest):
        tz.load_layer("parcels", e, bbox=(113.9, 22.7, 114.0, 22.8), bbox_crs=999999)


def test_load_layer_refuses_unknown_names_and_binds_values(small):
    e = small.engine
    with pytest.raises(NotFound):
        tz.load_layer("parcels", e, project="' OR '1'='1")
    with pytest.raises(BadRequest):
        tz.load_layer("parcels", e, category="x'; DROP TABLE parcels;--")
    with pytest.raises(BadRequest):
        tz.load_layer("parcels; DROP TABLE parcels", e)
    with pytest.raises(BadRequest):
        tz.load_layer("reserve", e, category="集体")
    with e.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar_one() == 4


def test_list_projects(small):
    projects = tz.list_projects(small.engine)
    assert list(projects.code) == ["P1", "P2"]
    assert list(projects.name) == ["科学城启动区", "轨道6号线"]
    assert projects.area_m2.round(6).tolist() == [120000.0, 40000.0]
    assert projects.parcel_count.tolist() == [3, 1]
    assert projects.retained_site_count.tolist() == [0, 0]
    assert projects.geometry.area.round(6).tolist() == [120000.0, 40000.0]
    assert projects.crs.to_epsg() == 4547


def test_export_shapefile_gbk_round_trips_chinese_byte_exact(small, tmp_path):
    parcels = tz.load_layer("parcels", small.engine)[["code", "owner", "category_zh", "geometry"]]
    parcels = parcels.rename(columns={"category_zh": "类别"})  # 4 bytes in GBK
    shp = tz.export_shapefile(parcels, tmp_path / "宗地", encoding="GBK")
    assert shp == tmp_path / "宗地.shp"
    assert (tmp_path / "宗地.cpg").read_bytes() == b"GBK"
    dbf = (tmp_path / "宗地.dbf").read_bytes()
    assert dbf[29] == 0x4D  # language driver: code page 936
    for owner in parcels.owner:
        assert owner.encode("gbk") in dbf
        assert owner.encode("utf-8") not in dbf
    assert "类别".encode("gbk") in dbf[:200]
    back = pyogrio.read_dataframe(shp)
    assert back.owner.tolist() == parcels.owner.tolist()
    assert back["类别"].tolist() == parcels["类别"].tolist()
    assert back.crs.to_epsg() == 4547
    assert back.area.round(6).tolist() == [60000.0, 30000.0, 30000.0, 40000.0]
    # GBK read explicitly without the .cpg gives the same text
    (tmp_path / "宗地.cpg").unlink()
    again = pyogrio.read_dataframe(shp, encoding="GBK")
    assert again.owner.tolist() == parcels.owner.tolist()


def test_export_shapefile_utf8(small, tmp_path):
    parcels = tz.load_layer("parcels", small.engine)[["code", "owner", "geometry"]]
    shp = tz.export_shapefile(parcels, tmp_path / "p.shp", encoding="UTF-8")
    assert (tmp_path / "p.cpg").read_bytes() == b"UTF-8"
    assert "光明农场".encode() in (tmp_path / "p.dbf").read_bytes()
    assert pyogrio.read_dataframe(shp).owner.tolist() == parcels.owner.tolist()


def test_export_shapefile_refuses_lossy_text(tmp_path):
    g = gpd.GeoDataFrame({"name": ["𠮷野家"]}, geometry=[box(0, 0, 1, 1)], crs=4547)
    with pytest.raises(InvalidInput) as err:
        tz.export_shapefile(g, tmp_path / "x.shp", encoding="GBK")
    assert "row 0 name" in err.value.message_en
    assert not (tmp_path / "x.shp").exists()
    # the same text is fine in UTF-8
    tz.export_shapefile(g, tmp_path / "x.shp", encoding="UTF-8")
    assert pyogrio.read_dataframe(tmp_path / "x.shp").name.tolist() == ["𠮷野家"]
    long_name = gpd.GeoDataFrame({"权属类别名称": ["a"]}, geometry=[box(0, 0, 1, 1)], crs=4547)
    with pytest.raises(InvalidInput):  # 12 bytes in GBK: would be cut mid-character
        tz.export_shapefile(long_name, tmp_path / "y.shp")
    with pytest.raises(BadRequest):
        tz.export_shapefile(g, tmp_path / "z.shp", encoding="Big5")
    with pytest.raises(InvalidInput):
        tz.export_shapefile(g.set_crs(None, allow_override=True), tmp_path / "w.shp")


def test_export_gpkg_and_excel(small, tmp_path):
    parcels = tz.load_layer("parcels", small.engine)
    gpkg = tz.export_gpkg(parcels, tmp_path / "out.gpkg", layer="宗地")
    tz.export_gpkg(tz.list_projects(small.engine), gpkg, layer="项目")
    assert sorted(pyogrio.list_layers(gpkg)[:, 0].tolist()) == ["宗地", "项目"]
    back = pyogrio.read_dataframe(gpkg, layer="宗地")
    assert back.owner.tolist() == parcels.owner.tolist()
    assert back.crs.to_epsg() == 4547
    assert back.area.round(6).tolist() == parcels.area_m2.round(6).tolist()
    tz.export_gpkg(parcels.iloc[:1], gpkg, layer="宗地")  # replaces that layer only
    assert len(pyogrio.read_dataframe(gpkg, layer="宗地")) == 1
    assert len(pyogrio.read_dataframe(gpkg, layer="项目")) == 2

    xlsx = tz.export_excel(
        {"宗地 parcels": parcels, "项目": tz.list_projects(small.engine)}, tmp_path / "out.xlsx"
    )
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["宗地 parcels", "项目"]
    ws = wb["宗地 parcels"]
    header = [c.value for c in ws[1]]
    assert "geometry" not in header and "area_m2" in header
    owners = [r[header.index("owner")] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert owners == parcels.owner.tolist()


def test_connect_reports_unreachable_database():
    with pytest.raises(ConnectionError) as err:
        tz.connect("postgresql://nobody@127.0.0.1:1/nothing")
    assert "make db" in str(err.value)


def test_import_spatial_is_cheap_and_lazy():
    code = (
        "import sys, spatial; "
        "assert 'geopandas' not in sys.modules and 'sqlalchemy' not in sys.modules, 'eager'; "
        "assert 'load_layer' in dir(spatial); "
        "spatial.load_layer; assert 'geopandas' in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_map_layers_is_offline(small):
    parcels = tz.load_layer("parcels", small.engine)
    m = tz.map_layers({"宗地 parcels": parcels}, tooltip={"宗地 parcels": ["code", "owner"]})
    html = m.get_root().render()
    assert "cdn" not in html.lower()
    assert 'src="http' not in html and 'href="http' not in html
    owner = "玉塘街道田寮社区股份合作公司"
    assert owner in html or json.dumps(owner) in html


def surveyor_shapefile(folder: Path) -> Path:
    """A GBK shapefile as surveyors send it: Chinese columns, no .prj, no .cpg, a bow-tie."""
    x0, y0 = 530_000.0, 2_515_000.0
    bow = shapely.Polygon(
        [(x0, y0 + 200), (x0 + 60, y0 + 260), (x0 + 60, y0 + 200), (x0, y0 + 260)]
    )
    g = gpd.GeoDataFrame(
        {
            "宗地编号": ["SV-001", "SV-002", "SV-003"],
            "权属类型": ["集体", "农场", "未完善征转"],
            "权利人": ["玉塘街道田寮社区股份合作公司", "光明农场", "凤凰社区"],
        },
        geometry=[
            shapely.box(x0, y0, x0 + 100, y0 + 80),
            shapely.box(x0 + 100, y0, x0 + 200, y0 + 80),
            bow,
        ],
        crs=4547,
    )
    shp = folder / "测绘成果_宗地.shp"
    pyogrio.write_dataframe(g, shp, encoding="GBK")
    shp.with_suffix(".prj").unlink()
    shp.with_suffix(".cpg").unlink()
    return shp


def test_validate_file_refuses_without_crs_then_reports(db, tmp_path):
    shp = surveyor_shapefile(tmp_path)
    refused = tz.validate_file(shp, "宗地", engine=db.engine)
    assert refused.status == "refused"
    assert "EPSG:4547" in refused.problems[0].message_en
    assert "EPSG:2383" in refused.problems[0].message_en
    with pytest.raises(InvalidInput) as err:
        tz.validate_file(shp, "parcels", engine=db.engine, raise_on_refusal=True)
    assert err.value.detail["candidates"] == ["EPSG:4547", "EPSG:2383"]

    report = tz.validate_file(shp, "parcels", engine=db.engine, crs="EPSG:4547")
    assert report.status == "dry_run"
    assert report.encoding == "GBK"
    assert (report.counts.read, report.counts.repaired, report.counts.written) == (3, 1, 0)
    assert report.total_area_m2 == pytest.approx(8000 + 8000 + 1800)
    frame = tz.problems_frame(report)
    repaired = frame[frame.code == "geometry_repaired"].iloc[0]
    assert (repaired.row, repaired.area_before_m2, repaired.area_after_m2) == (3, 0.0, 1800.0)
    with db.engine.connect() as conn:  # a dry run writes nothing
        assert conn.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0


def without_timings(report: dict) -> dict:
    """The report without wall-clock fields (``duration_s``, ``timings_s``…)."""
    return {k: v for k, v in report.items() if not k.startswith(("duration", "timings"))}


def test_validate_file_matches_cli_dry_run(db, tmp_path):
    shp = surveyor_shapefile(tmp_path)
    env = {**os.environ, "DATABASE_URL": db.url}
    tzcli = Path(sys.executable).parent / "tuzheng"
    out = subprocess.run(
        [
            str(tzcli),
            "ingest",
            str(shp),
            "--layer",
            "parcels",
            "--crs",
            "EPSG:4547",
            "--dry-run",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    cli = json.loads(out.stdout)
    api = tz.validate_file(shp, "parcels", engine=db.engine, crs="EPSG:4547").model_dump(
        mode="json"
    )
    assert without_timings(api) == without_timings(cli)
    # and the refusal is the same report too
    out = subprocess.run(
        [str(tzcli), "ingest", str(shp), "--layer", "parcels", "--dry-run", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 1
    cli = json.loads(out.stdout)
    api = tz.validate_file(shp, "parcels", engine=db.engine).model_dump(mode="json")
    assert without_timings(api) == without_timings(cli)


def test_ingest_file_then_load_layer(db, tmp_path):
    shp = surveyor_shapefile(tmp_path)
    report = tz.ingest_file(shp, "parcels", engine=db.engine, crs="EPSG:4547", user="analyst1")
    assert report.status == "published" and report.counts.written == 3
    parcels = tz.load_layer("parcels", db.engine)
    assert parcels.code.tolist() == ["SV-001", "SV-002", "SV-003"]
    assert parcels.owner.tolist() == ["玉塘街道田寮社区股份合作公司", "光明农场", "凤凰社区"]
    assert parcels.category.tolist() == ["collective", "state_farm", "incomplete_acquisition"]
    assert parcels.area_m2.round(6).tolist() == [8000.0, 8000.0, 1800.0]
    assert parcels.geometry.is_valid.all()
    assert set(parcels.dataset_id) == {report.dataset_id}
