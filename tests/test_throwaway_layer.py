"""A layer added from a declaration alone is ingested, served with queryables, and tiled.

The test declares a layer nobody wrote code for (old trees, 古树), creates its table from the
ORM table derived from the declaration (migrations stay hand-written; this stands in for one),
and then uses it through the ordinary entry points: ``ingest`` (the CLI's), the OGC API, the
vector tiles and the notebook API. Nothing else is registered or edited.
"""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import pytest
import shapely
from fastapi.testclient import TestClient
from ingest_files import write_shp
from pyproj import Transformer
from sqlalchemy import MetaData, text

from api.app import create_app
from spatial import workbench
from spatial.errors import InvalidInput
from spatial.ingest import ingest
from spatial.models import layer_table
from spatial.schema import Column, LayerSpec, register, unregister

TREES = LayerSpec(
    name="tz_old_trees",
    title_zh="古树名木保护范围",
    title_en="Protected old trees",
    columns=(
        Column(
            "code",
            "text",
            "古树编号",
            "Tree code",
            max_len=20,
            required=True,
            aliases=("古树编号", "GSBH"),
        ),
        Column("species", "text", "树种", "Species", aliases=("树种", "SZ")),
        Column(
            "crown_m2", "number", "冠幅面积", "Crown area", unit="m²", aliases=("冠幅面积", "GFMJ")
        ),
    ),
    key="code",
    names=("古树",),
)
X0, Y0 = 500_000.0, 2_500_000.0


@pytest.fixture
def trees(db) -> Iterator[LayerSpec]:
    """The declaration registered, and its table, view and layer name in the test database."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"ALTER TYPE layer_name ADD VALUE '{TREES.name}'"))
    with db.engine.begin() as conn:
        layer_table(TREES, MetaData()).create(conn)
        conn.execute(
            text(
                f"CREATE VIEW {TREES.current_view} AS SELECT t.* FROM {TREES.name} t "
                "JOIN datasets d ON d.id = t.dataset_id WHERE d.status = 'active'"
            )
        )
    register(TREES)
    try:
        yield TREES
    finally:
        unregister(TREES.name)


def _survey(n: int = 3, crown: list[object] | None = None) -> gpd.GeoDataFrame:
    xs = [X0 + 30.0 * i for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "GSBH": [f"GS-{i:03d}" for i in range(n)],
            "树种": ["樟树", "榕树", "荔枝"][:n],
            "冠幅面积": crown if crown is not None else [78.5, 113.1, 50.0][:n],
        },
        geometry=[shapely.box(x, Y0, x + 20, Y0 + 20) for x in xs],
        crs=4547,
    )


def test_a_declared_layer_is_ingested_served_and_tiled(db, trees, tmp_path) -> None:
    shp = write_shp(_survey(), tmp_path / "trees", "古树")
    report = ingest(shp, "tz_old_trees", engine=db.engine)
    assert report.status == "published" and report.counts.written == 3
    assert report.column_mapping == {"code": "GSBH", "species": "树种", "crown_m2": "冠幅面积"}
    assert report.total_area_m2 == 1200.0
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, species, crown_m2, ST_Area(geom) "
                f"FROM {trees.current_view} ORDER BY code"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("GS-000", "樟树", 78.5, 400.0),
        ("GS-001", "榕树", 113.1, 400.0),
        ("GS-002", "荔枝", 50.0, 400.0),
    ]

    with TestClient(create_app(db_settings=db.settings)) as client:
        ids = [c["id"] for c in client.get("/collections").json()["collections"]]
        assert "tz_old_trees" in ids
        doc = client.get("/collections/tz_old_trees").json()
        assert doc["title"] == "古树名木保护范围 Protected old trees"
        q = client.get("/collections/tz_old_trees/queryables").json()
        assert q["properties"]["code"] == {
            "title": "古树编号 Tree code",
            "type": "string",
            "maxLength": 20,  # the declaration's max_len
        }
        assert q["properties"]["crown_m2"] == {
            "title": "冠幅面积 Crown area",
            "type": "number",
            "x-ogc-unit": "m²",
        }
        assert list(q["properties"]) == [
            "code",
            "species",
            "crown_m2",
            "area_m2",
            "dataset_id",
            "geometry",
        ]
        r = client.get("/collections/tz_old_trees/items", params={"filter": "crown_m2 > 60"})
        assert r.status_code == 200, r.text
        features = r.json()["features"]
        assert [f["properties"]["species"] for f in features] == ["樟树", "榕树"]
        assert features[0]["properties"]["area_m2"] == 400.0
        r = client.get("/collections/tz_old_trees/items", params={"species": "荔枝"})
        assert [f["properties"]["code"] for f in r.json()["features"]] == ["GS-002"]

        lon, lat = Transformer.from_crs(4547, 4326, always_xy=True).transform(X0 + 40, Y0 + 10)
        t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 16)
        r = client.get(f"/tiles/tz_old_trees/{t.z}/{t.x}/{t.y}.pbf")
        assert r.status_code == 200
        layer = mapbox_vector_tile.decode(r.content)["tz_old_trees"]
        props = sorted((f["properties"] for f in layer["features"]), key=lambda p: p["code"])
        assert [(p["code"], p["species"], p["crown_m2"]) for p in props] == [
            ("GS-000", "樟树", 78.5),
            ("GS-001", "榕树", 113.1),
            ("GS-002", "荔枝", 50.0),
        ]
        assert client.get("/tiles/tz_old_trees.json").json()["vector_layers"][0]["fields"][
            "crown_m2"
        ] == ("冠幅面积 Crown area (number)")

    gdf = workbench.load_layer("古树", db.engine)
    assert list(gdf.columns) == [
        "id",
        "dataset_id",
        "code",
        "species",
        "crown_m2",
        "area_m2",
        "geometry",
    ]
    assert gdf.crs.to_epsg() == 4547 and list(gdf.species) == ["樟树", "榕树", "荔枝"]


def test_a_declared_layer_refuses_bad_rows_with_its_labels(db, trees, tmp_path) -> None:
    long_code = _survey(2)
    long_code.loc[1, "GSBH"] = "GS-" + "9" * 30
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(long_code, tmp_path / "a", "a"), "tz_old_trees", engine=db.engine)
    problems = info.value.detail["report"]["problems"]
    too_long = [p for p in problems if p["code"] == "value_too_long"]
    assert [(p["row"], p["field"]) for p in too_long] == [(2, "GSBH")]
    assert too_long[0]["message_zh"] == "古树编号（列 GSBH）超过 20 个字符"

    not_numbers = _survey(3, crown=["78.5", "大约一百", "inf"])
    with pytest.raises(InvalidInput) as info:
        ingest(write_shp(not_numbers, tmp_path / "b", "b"), "tz_old_trees", engine=db.engine)
    problems = info.value.detail["report"]["problems"]
    bad = [(p["row"], p["field"], p["value"]) for p in problems if p["code"] == "not_a_number"]
    assert bad == [(2, "冠幅面积", "大约一百"), (3, "冠幅面积", "inf")]
    assert [p["message_zh"] for p in problems if p["code"] == "not_a_number"][0] == (
        "冠幅面积（m²）（列 冠幅面积）不是数值"
    )
    with db.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {trees.name}")).scalar_one() == 0
        statuses = conn.execute(text("SELECT status::text FROM datasets ORDER BY id")).scalars()
        assert list(statuses) == ["failed", "failed"]
