"""OGC API requests that used to answer 500 or 422, typed numbers, schemas and links.

Over the tiny district (tests/layers_data.py): R1 occupies exactly 4,000 m² of reserve land
(a whole number, written ``4000.0`` so clients type the field as a double).
"""

from __future__ import annotations

import json
import re

import layers_data
import pytest
from sqlalchemy import text

from spatial.layers.registry import build_registry

small_db = layers_data.small_db
small_client = layers_data.small_client
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def get(client, collection: str, **params):  # noqa: ANN001, ANN201
    return client.get(f"/collections/{collection}/items", params=params)


def test_whole_numbers_are_written_with_a_fraction(small_client):
    r = get(small_client, "projects", filter="code = 'P1'")
    assert r.status_code == 200
    # json_build_object text: the double 4000 is written 4000.0, never 4000.
    assert '"reserve_m2" : 4000.0,' in r.text
    assert '"area_m2" : 1000000.0,' in r.text
    assert '"site_count" : 1,' in r.text  # integers stay integers
    props = json.loads(r.text)["features"][0]["properties"]
    assert isinstance(props["reserve_m2"], float) and props["reserve_m2"] == 4000.0
    assert isinstance(props["site_count"], int)
    # Every number property, in every collection, is a JSON float (or null).
    for col in build_registry():
        feats = get(small_client, col.id, limit=1000).json()["features"]
        for p in col.properties:
            values = [f["properties"][p.name] for f in feats if f["properties"][p.name] is not None]
            if p.type == "number":
                assert all(isinstance(v, float) for v in values), (col.id, p.name)
            if p.type == "integer":
                assert all(type(v) is int for v in values), (col.id, p.name)


def test_tz_json_number_keeps_every_double(small_db):
    with small_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v::text, tz_json_number(v)::text FROM unnest(ARRAY["
                "3000, 2999.99, 0, -1, 11970.07, 1e14, 1e16, 0.1, 123456789.125]::float8[]) v"
            )
        ).all()
    assert [r[1] for r in rows] == [
        "3000.0",
        "2999.99",
        "0.0",
        "-1.0",
        "11970.07",
        "100000000000000.0",
        "1e+16",
        "0.1",
        "123456789.125",
    ]
    for plain, written in rows:
        assert float(written) == float(plain)


def test_feature_schema_is_linked_as_describedby(small_client):
    col = small_client.get("/collections/retained_land").json()
    links = {(x["rel"], x["type"]): x["href"] for x in col["links"]}
    href = links[("describedby", "application/schema+json")]
    assert href.endswith("/collections/retained_land/schema")
    assert links[("describedBy", "application/schema+json")] == href  # GDAL 3.6 spelling
    r = small_client.get("/collections/retained_land/schema")
    assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
    schema = r.json()
    props = schema["properties"]["properties"]["properties"]
    assert props["reserve_m2"]["type"] == "number"
    assert props["uncovered_m2"]["type"] == "number"
    assert props["conflict_count"]["type"] == "integer"
    assert props["route_zh"] == {"title": "审批路径 Approval route", "type": "string"}
    assert list(props) == [p.name for p in build_registry().get("retained_land").properties]
    assert schema["properties"]["geometry"]["format"] == "geometry-multipolygon"
    assert props["area_m2"]["x-ogc-unit"] == "m²"
    assert props["code"]["maxLength"] == 60
    assert "code" in schema["properties"]["properties"]["required"]
    parcels = small_client.get("/collections/parcels/schema").json()["properties"]["properties"]
    assert parcels["properties"]["category"]["enum"] == [
        "collective", "state_farm", "incomplete_acquisition", "state_owned"
    ]  # fmt: skip
    # Every served feature validates against its collection's schema (nulls aside).
    jsonschema = pytest.importorskip("jsonschema")
    for cid in ("parcels", "retained_land", "projects", "reserve_overlaps"):
        schema = small_client.get(f"/collections/{cid}/schema").json()
        for feat in get(small_client, cid, limit=1000).json()["features"]:
            feat["properties"] = {k: v for k, v in feat["properties"].items() if v is not None}
            feat.pop("geometry")
            feat["geometry"] = None
            jsonschema.validate(feat, schema)
    assert small_client.get("/collections/nope/schema").status_code == 404


def test_queryables_geometry_has_a_format_not_a_ref(small_client):
    q = small_client.get("/collections/parcels/queryables").json()
    assert q["properties"]["geometry"] == {
        "title": "几何 Geometry",
        "format": "geometry-multipolygon",
    }
    assert "$ref" not in json.dumps(q)
    assert q["$id"] == "http://testserver/collections/parcels/queryables"


def test_items_link_to_queryables_in_body_and_header(small_client):
    r = get(small_client, "parcels", limit=10, bbox="113,22,115,23")
    links = {x["rel"]: x["href"] for x in r.json()["links"]}
    assert links[QUERYABLES_REL] == "http://testserver/collections/parcels/queryables"
    header = r.headers["link"]
    assert f'<http://testserver/collections/parcels/queryables>; rel="{QUERYABLES_REL}"' in header
    # Commas of the bbox are percent-encoded in the header so its links split cleanly.
    assert 'bbox=113%2C22%2C115%2C23>; rel="self"; type="application/geo+json"' in header
    assert 'rel="next"' in header


def test_head_on_items_and_item(small_client):
    r = small_client.head("/collections/parcels/items?limit=5")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert QUERYABLES_REL in r.headers["link"]
    fid = get(small_client, "parcels", limit=1).json()["features"][0]["id"]
    assert small_client.head(f"/collections/parcels/items/{fid}").status_code == 200
    assert small_client.head("/collections/parcels/items/999999").status_code == 404


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "1,2,3,nan"}, "bbox"),
        ({"bbox": "5,5,1,1"}, "bbox"),
        ({"datetime": "garbage"}, "datetime"),
        ({"datetime": "2020-13-01"}, "datetime"),
        ({"datetime": "2021-01-01T00:00:00"}, "time zone"),
        ({"datetime": "2022-01-01/2021-01-01"}, "starts after"),
        ({"datetime": "../.."}, "both ends"),
        ({"datetime": "2020-01-01/2021/2022"}, "one '/'"),
        ({"filter-lang": "sql"}, "filter-lang"),
        ({"filter": ""}, "empty"),
        ({"filter": "   "}, "empty"),
        ({"crs": "EPSG:2383"}, "crs"),
        ({"f": "xml"}, "f="),
    ],
)
def test_invalid_ogc_parameters_answer_400(small_client, params, needle):
    r = get(small_client, "parcels", **params)
    assert r.status_code == 400, (params, r.text)
    body = r.json()
    assert body["code"] == "bad_request" and body["message_zh"]
    assert needle in body["message_en"]


@pytest.mark.parametrize(
    "value", ["2020-01-01T00:00:00Z", "2020-01-01", "2020-01-01T00:00:00+08:00/..", "../2024-12-31"]
)
def test_valid_datetime_selects_every_feature(small_client, value):
    # These layers have no temporal property (declared in the OpenAPI document).
    assert get(small_client, "parcels", datetime=value).json()["numberMatched"] == 105


@pytest.mark.parametrize(
    "params",
    [
        {"land_use": "M\x00"},
        {"project_code": "P1\x00"},
        {"filter": "code = 'P1\x00'"},
        {"filter": "\x00"},
        {"sortby": "code\x00"},
        {"bbox": "1,2,3,4\x00"},
        {"crs\x00": "x"},
    ],
)
def test_nul_characters_answer_400(small_client, params):
    r = get(small_client, "parcels", **params)
    assert r.status_code == 400, r.text
    assert "NUL" in r.json()["message_en"]
    r = get(small_client, "retained_land", **params)
    assert r.status_code == 400


def test_properties_with_many_names(small_client):
    # 60 names (json_build_object takes at most 100 arguments): repeats are dropped.
    many = ",".join(["code", "area_m2"] * 30)
    r = get(small_client, "parcels", properties=many, limit=1)
    assert r.status_code == 200, r.text
    assert r.json()["features"][0]["properties"] == {"code": "P1-000", "area_m2": 10000.0}
    r = get(small_client, "parcels", properties=",".join(f"p{i}" for i in range(200)))
    assert r.status_code == 400 and "'p0' is not a property" in r.json()["message_en"]
    # No collection has more than 50 properties, so one json_build_object holds them all.
    assert max(len(c.properties) for c in build_registry()) <= 50


def test_like_pattern_ending_in_a_backslash_is_a_400(small_client):
    # CQL2-text: \' escapes a quote, so the string is unterminated.
    r = get(small_client, "parcels", filter="owner LIKE '%\\'")
    assert r.status_code == 400 and "unterminated" in r.json()["message_en"]
    # CQL2-JSON can carry the pattern: LIKE would fail in PostgreSQL, so it is refused first.
    flt = json.dumps({"op": "like", "args": [{"property": "owner"}, "%\\"]})
    r = get(small_client, "parcels", filter=flt, **{"filter-lang": "cql2-json"})
    assert r.status_code == 400 and "escape" in r.json()["message_en"]
    # An escaped backslash at the end is a literal backslash: valid, no match.
    flt = json.dumps({"op": "like", "args": [{"property": "owner"}, "%\\\\"]})
    r = get(small_client, "parcels", filter=flt, **{"filter-lang": "cql2-json"})
    assert r.status_code == 200 and r.json()["numberMatched"] == 0


def test_filter_lang_names(small_client):
    flt = "category = 'collective'"
    for lang in ("cql2-text", "cql-text"):
        assert (
            get(small_client, "parcels", filter=flt, **{"filter-lang": lang}).json()[
                "numberMatched"
            ]
            == 25
        )
    as_json = json.dumps({"op": "=", "args": [{"property": "category"}, "collective"]})
    r = get(small_client, "parcels", filter=as_json, **{"filter-lang": "cql2-json"})
    assert r.json()["numberMatched"] == 25
    r = get(small_client, "parcels", filter="{not json", **{"filter-lang": "cql2-json"})
    assert r.status_code == 400


def test_functions_with_an_exception_block_are_not_parallel_safe(small_db):
    """Audit: a PL/pgSQL EXCEPTION block cannot run in parallel mode (migration 0009)."""
    with small_db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.proname, p.proparallel, p.prosrc FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace "
                "JOIN pg_language l ON l.oid = p.prolang "
                "WHERE n.nspname = 'public' AND l.lanname = 'plpgsql' "
                "AND (p.proname LIKE 'tz\\_%' OR p.proname LIKE 'tuzheng\\_%')"
            )
        ).all()
    guarded = {name: par for name, par, src in rows if re.search(r"\bEXCEPTION\s+WHEN\b", src)}
    assert guarded == {"tz_safe_transform": "u", "tz_subdivide_safe": "u"}


def test_district_bbox_under_a_parallel_plan(db):
    """The 500 of a district-sized bbox: the scan ran in parallel workers (forced here).

    The features queries run on connections that plan in parallel mode
    (``force_parallel_mode``), which is where an EXCEPTION block fails.
    """
    from sqlalchemy import create_engine, pool

    from spatial.layers.crs_uri import parse_crs
    from spatial.layers.features import ItemsQuery, count_items, items_json

    layers_data.load_small(db.engine)
    parallel = create_engine(
        db.url,
        poolclass=pool.NullPool,
        connect_args={
            "options": "-c force_parallel_mode=on -c parallel_setup_cost=0 "
            "-c parallel_tuple_cost=0 -c jit=off"
        },
    )
    reg = build_registry()
    district = ItemsQuery(limit=1000, bbox=[113.85, 22.68, 114.1, 22.84])
    try:
        assert count_items(parallel, reg.get("parcels"), district) == 105
        body, returned = items_json(parallel, reg.get("parcels"), district, 105, [])
        assert returned == 105 and json.loads(body)["numberReturned"] == 105
        cgcs = ItemsQuery(crs=parse_crs("http://www.opengis.net/def/crs/EPSG/0/4490", "crs"))
        _, returned = items_json(parallel, reg.get("retained_land"), cgcs, 2, [])
        assert returned == 2
        # The same query with the old label fails in the parallel worker: the test can fail.
        with db.engine.connect() as conn:
            conn.execute(text("ALTER FUNCTION tz_safe_transform(geometry, integer) PARALLEL SAFE"))
            conn.commit()
        with pytest.raises(Exception, match="subtransactions during a parallel operation"):
            items_json(parallel, reg.get("retained_land"), cgcs, 2, [])
    finally:
        parallel.dispose()
