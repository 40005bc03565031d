"""OGC API Features over the tiny district (tests/layers_data.py): paging, bbox, CRS, filters."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import layers_data
import pytest
from pyproj import Transformer
from sqlalchemy import text

X0, Y0 = layers_data.X0, layers_data.Y0
small_db = layers_data.small_db
small_client = layers_data.small_client
GEOJSON = "application/geo+json"
ALL_IDS = [
    "projects",
    "parcels",
    "retained_land",
    "state_reserve_land",
    "statutory_plans",
    "reserve_overlaps",
    "uncovered",
    "conflicts",
    "procedure_projects",
]


def items(client, collection: str, **params):  # noqa: ANN001, ANN201
    r = client.get(f"/collections/{collection}/items", params=params)
    return r


def matched(client, collection: str = "parcels", **params) -> int:  # noqa: ANN001
    r = items(client, collection, **params)
    assert r.status_code == 200, r.text
    return r.json()["numberMatched"]


def test_landing_html_and_json(small_client):
    html = small_client.get("/", headers={"Accept": "text/html"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    for link in ('href="/map"', 'href="/docs"', 'href="/health"', "宗地</a> Parcels"):
        assert link in html.text
    assert "用途与法定图则冲突" in html.text
    as_json = small_client.get("/?f=json").json()
    rels = {link["rel"] for link in as_json["links"]}
    assert {"self", "conformance", "data", "service-desc", "service-doc"} <= rels
    by_accept = small_client.get("/", headers={"Accept": "application/json"})
    assert by_accept.json()["title"] == "土整 tuzheng"
    assert small_client.get("/?f=xml").status_code == 400


def test_conformance_and_collections(small_client):
    conf = small_client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in conf
    cols = small_client.get("/collections").json()["collections"]
    assert [c["id"] for c in cols] == ALL_IDS
    parcels = next(c for c in cols if c["id"] == "parcels")
    assert parcels["title"] == "宗地 Parcels"
    assert parcels["storageCrs"] == "http://www.opengis.net/def/crs/EPSG/0/4547"
    assert "http://www.opengis.net/def/crs/EPSG/0/4490" in parcels["crs"]
    minx, miny, maxx, maxy = parcels["extent"]["spatial"]["bbox"][0]
    to_lonlat = Transformer.from_crs(4547, 4326, always_xy=True)
    lon0, lat0 = to_lonlat.transform(X0, Y0)
    assert minx == pytest.approx(lon0, abs=1e-6) and miny == pytest.approx(lat0, abs=1e-4)
    assert maxx > minx and maxy > miny
    one = small_client.get("/collections/conflicts").json()
    assert one["title"] == "用途与法定图则冲突 Planned use conflicts with the zoning"
    assert small_client.get("/collections/nope").status_code == 404
    assert small_client.get("/collections/parcels;DROP TABLE parcels").status_code == 404
    assert small_client.get("/collections/par'cels/items").status_code == 404
    assert small_client.get('/collections/"parcels"/items').status_code == 404


def test_paging_follows_next_links_through_every_feature(small_client):
    r = items(small_client, "parcels", limit=40)
    assert r.status_code == 200
    assert r.headers["content-type"] == GEOJSON
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    seen: list[int] = []
    page = r.json()
    pages = 0
    while True:
        pages += 1
        assert page["numberMatched"] == 105
        assert page["numberReturned"] == len(page["features"])
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        q = parse_qs(urlparse(nxt[0]).query)
        page = small_client.get(urlparse(nxt[0]).path, params={k: v[0] for k, v in q.items()})
        page = page.json()
        assert any(link["rel"] == "prev" for link in page["links"])
    assert pages == 3
    assert len(seen) == len(set(seen)) == 105
    assert page["numberReturned"] == 25


def test_limit_is_clamped_and_offset_past_end_is_empty(small_client):
    small_client.app.state.settings.features_max_limit = 50
    try:
        assert items(small_client, "parcels", limit=100000).json()["numberReturned"] == 50
    finally:
        small_client.app.state.settings.features_max_limit = 10000
    past = items(small_client, "parcels", offset=1000).json()
    assert past["numberReturned"] == 0 and past["features"] == []
    # OGC API Features Part 1 (/req/core/query-param-invalid): an invalid value is a 400.
    for bad in ({"limit": 0}, {"limit": "x"}, {"offset": -1}, {"offset": "1.5"}):
        r = items(small_client, "parcels", **bad)
        assert r.status_code == 400, bad
        assert r.json()["code"] == "bad_request" and next(iter(bad)) in r.json()["message_en"]


def test_bbox_in_storage_crs_and_crs84(small_client):
    # EPSG:4547 is northing-first: bbox = minN, minE, maxN, maxE. 10..250 m east, 10..50 m north.
    bbox_4547 = f"{Y0 + 10},{X0 + 10},{Y0 + 50},{X0 + 250}"
    r = items(
        small_client,
        "parcels",
        bbox=bbox_4547,
        **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4547"},
    )
    codes = sorted(f["properties"]["code"] for f in r.json()["features"])
    assert codes == ["P1-000", "P1-001", "P1-002"]
    to_lonlat = Transformer.from_crs(4547, 4326, always_xy=True)
    (x1, x2), (y1, y2) = to_lonlat.transform([X0 + 10, X0 + 250], [Y0 + 10, Y0 + 50])
    r = items(small_client, "parcels", bbox=f"{x1},{y1},{x2},{y2}")
    assert sorted(f["properties"]["code"] for f in r.json()["features"]) == codes
    assert items(small_client, "parcels", bbox="1,2,3").status_code == 400
    assert items(small_client, "parcels", bbox="a,b,c,d").status_code == 400
    assert items(small_client, "parcels", bbox="5,5,1,1").status_code == 400
    assert (
        items(small_client, "parcels", bbox="0,0,1,1", **{"bbox-crs": "EPSG:3857"}).status_code
        == 400
    )


def test_output_crs_axis_order(small_client):
    flt = {"filter": "code = 'P1-000'"}
    lon_lat = items(small_client, "parcels", **flt).json()["features"][0]
    x, y = lon_lat["geometry"]["coordinates"][0][0][0]
    assert 113 < x < 115 and 22 < y < 23
    r = items(small_client, "parcels", crs="http://www.opengis.net/def/crs/EPSG/0/4547", **flt)
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4547>"
    ring = r.json()["features"][0]["geometry"]["coordinates"][0][0]
    assert sorted(map(tuple, ring[:4])) == sorted(
        [(Y0, X0), (Y0, X0 + 100), (Y0 + 100, X0 + 100), (Y0 + 100, X0)]
    )
    r = items(small_client, "parcels", crs="http://www.opengis.net/def/crs/EPSG/0/4490", **flt)
    lat, lon = r.json()["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 22 < lat < 23 and 113 < lon < 115
    assert items(small_client, "parcels", crs="EPSG:2383").status_code == 400


def test_attribute_and_cql2_filters(small_client):
    assert matched(small_client, category="state_farm") == 25
    assert matched(small_client, project_code="P2") == 5
    assert matched(small_client, filter="category = 'collective' OR project_code = 'P2'") == 30
    assert matched(small_client, filter="code IN ('P1-000', 'P2-004')") == 2
    assert matched(small_client, filter="code NOT IN ('P1-000', 'P2-004')") == 103
    assert matched(small_client, filter="area_m2 > 20000") == 5
    assert matched(small_client, filter="area_m2 BETWEEN 9999 AND 10001") == 100
    assert matched(small_client, filter="NOT (project_code = 'P1')") == 5
    assert matched(small_client, filter="owner IS NULL") == 0
    assert matched(small_client, filter="code LIKE 'P1-00_'") == 10
    assert matched(small_client, filter="\"code\" = 'P1-000'") == 1
    assert (
        matched(small_client, filter="category_zh = '原农村集体土地' and owner like '玉塘%'") == 25
    )
    assert matched(small_client, "projects", filter="route = 'city'") == 1
    assert matched(small_client, "retained_land", filter="route_zh = '区政府审批'") == 1
    sorted_desc = items(small_client, "parcels", sortby="-area_m2,code", limit=2).json()
    assert [f["properties"]["code"] for f in sorted_desc["features"]] == ["P2-000", "P2-001"]
    only = items(small_client, "parcels", properties="code,area_m2", limit=1).json()
    assert only["features"][0]["properties"] == {"code": "P1-000", "area_m2": 10000.0}


def test_queryables(small_client):
    r = small_client.get("/collections/parcels/queryables")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/schema+json")
    body = r.json()
    assert body["properties"]["area_m2"]["type"] == "number"
    assert body["properties"]["category_zh"]["title"] == "权属类型 Ownership category"
    assert body["additionalProperties"] is False
    assert small_client.get("/collections/nope/queryables").status_code == 404


def test_item_by_id_and_hostile_ids(small_client, small_db):
    first = items(small_client, "parcels", limit=1).json()["features"][0]
    one = small_client.get(f"/collections/parcels/items/{first['id']}")
    assert one.status_code == 200 and one.headers["content-type"] == GEOJSON
    assert one.json()["properties"]["code"] == "P1-000"
    assert {link["rel"] for link in one.json()["links"]} == {"self", "collection"}
    for bad in [
        "1; DROP TABLE parcels;",
        "1<script>",
        "123abc",
        "1 OR 1=1",
        "'1'",
        "99999999999999999999999",
        "-1",
        "0x1",
    ]:
        r = small_client.get(f"/collections/parcels/items/{bad}")
        assert r.status_code == 404, bad
    with small_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar() == 105


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "exec('rm -rf /')"},
        {"filter": "code = exec('x')"},
        {"filter": "java.lang.Runtime.getRuntime().exec('id') = 1"},
        {"filter": "pg_sleep(10) = 1"},
        {"filter": "code = '' OR '1'='1'"},
        {"filter": "code = 'a'; DROP TABLE parcels; --"},
        {"filter": "geom IS NULL"},
        {"filter": "dataset_id = 'x'"},
        {"filter": "area_m2 LIKE '1%'"},
        {"filter": "code = 1"},
        {"filter": '"co""de" = \'x\''},
        {"filter": "code = 'a' UNION SELECT 1"},
        {"filter": "code = 'a'", "filter-lang": "cql2-json"},
        {"sortby": "exec(1)"},
        {"sortby": "code;DROP TABLE parcels"},
        {"sortby": "geom"},
        {"properties": "exec(1)"},
        {"properties": "code,pg_sleep(5)"},
        {"exec(1)": "1"},
        {"category": "x' OR '1'='1", "area_m2": "1 OR 1=1"},
    ],
)
def test_injection_attempts_are_refused(small_client, small_db, params):
    r = items(small_client, "parcels", **params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "bad_request" and body["message_en"]
    with small_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM current_parcels")).scalar() == 105


def test_quotes_backslashes_and_percent_are_plain_values(small_client):
    assert matched(small_client, filter="code = ''' OR ''1''=''1'") == 0
    # CQL2 allows \' as an escaped quote, so 'P1-000\' is an unterminated string: 400.
    r = items(small_client, "parcels", filter="code = 'P1-000\\'")
    assert r.status_code == 400 and "unterminated string" in r.json()["message_en"]
    assert matched(small_client, filter="code = 'P1-000\\''") == 0  # the value P1-000'
    assert matched(small_client, filter="code IN ('P1-000', ''' OR 1=1 --')") == 1
    assert matched(small_client, filter="owner LIKE '%\\%%'") == 0
    assert matched(small_client, filter="code LIKE '%'") == 105
    assert matched(small_client, category="x' OR '1'='1") == 0
    assert matched(small_client, owner="%") == 0


def test_deep_nesting_and_huge_in_lists_fail_fast(small_client):
    deep = "(" * 1600 + "code = 'a'" + ")" * 1600
    r = items(small_client, "parcels", filter=deep)
    assert r.status_code == 400 and "nested deeper" in r.json()["message_en"]
    nots = "NOT " * 1600 + "code = 'a'"
    assert items(small_client, "parcels", filter=nots).status_code == 400
    huge_in = "code IN (" + ", ".join(f"'{i}'" for i in range(600)) + ")"
    r = items(small_client, "parcels", filter=huge_in)
    assert r.status_code == 400 and "IN list" in r.json()["message_en"]
    r = items(small_client, "parcels", filter="code = '" + "x" * 20000 + "'")
    assert r.status_code == 400 and "longer than" in r.json()["message_en"]
    ors = " OR ".join(f"code = '{i}'" for i in range(1500))
    assert items(small_client, "parcels", filter=ors).status_code == 400


def test_chinese_values_served_byte_exact(small_client):
    r = items(small_client, "projects", filter="name = '光明科学城启动区'")
    assert r.status_code == 200
    assert "光明科学城启动区".encode() in r.content
    props = r.json()["features"][0]["properties"]
    assert props["district"] == "光明区"
    assert props["route_zh"] == "报市规划国土部门"
    assert props["reserve_m2"] == 4000.0
    conflict = items(small_client, "conflicts").json()["features"][0]["properties"]
    assert conflict["reason_zh"] == "需调整法定图则"
    assert conflict["area_m2"] == 20000.0
    uncovered = items(small_client, "uncovered").json()["features"][0]["properties"]
    assert (uncovered["reason_zh"], uncovered["area_m2"]) == ("法定图则未覆盖", 10000.0)


def test_reads_can_require_a_token(small_client):
    settings = small_client.app.state.settings
    settings.public_read = False
    try:
        assert small_client.get("/collections").status_code == 401
        assert items(small_client, "parcels").status_code == 401
        assert small_client.get("/tiles/parcels/14/13380/7131.pbf").status_code == 401
    finally:
        settings.public_read = True
    assert small_client.get("/collections").status_code == 200
