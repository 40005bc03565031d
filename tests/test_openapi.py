"""The OpenAPI document is valid 3.0 (the oas30 class) and declares the OGC parameters."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from spatial.layers.registry import build_registry


@pytest.fixture(scope="module")
def doc(demo_client):  # noqa: ANN001, ANN201
    r = demo_client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_document_is_valid_openapi_3_0(doc):
    assert doc["openapi"] == "3.0.3"
    validate(doc)  # openapi-spec-validator, 3.0 schema: raises on any violation
    text = json.dumps(doc)
    for only_31 in ('"const"', '"type": "null"', '"examples": [', '"contentMediaType"'):
        assert only_31 not in text
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_ogc_parameters(doc, demo_client):
    params = doc["components"]["parameters"]
    assert params["bbox"]["schema"] == {  # the ATS fragment (ogctests checks it), 5 left out
        "type": "array",
        "minItems": 4,
        "maxItems": 6,
        "oneOf": [{"maxItems": 4}, {"minItems": 6}],
        "items": {"type": "number"},
    }
    assert params["filter"]["schema"] == {"type": "string", "minLength": 1}
    assert (params["bbox"]["style"], params["bbox"]["explode"]) == ("form", False)
    settings = demo_client.app.state.settings
    assert params["limit"]["schema"]["default"] == settings.features_default_limit == 100
    assert params["limit"]["schema"]["maximum"] == settings.features_max_limit
    assert params["datetime"]["schema"] == {"type": "string", "minLength": 1}
    assert params["filter-lang"]["schema"]["enum"] == ["cql2-text", "cql2-json", "cql-text"]
    assert params["filter-lang"]["schema"]["default"] == "cql2-text"
    items = doc["paths"]["/collections/{collectionId}/items"]
    refs = [p["$ref"].rsplit("/", 1)[1] for p in items["get"]["parameters"]]
    for name in ("collectionId", "limit", "bbox", "datetime", "filter", "filter-lang", "crs"):
        assert name in refs
    assert "head" in items
    # Invalid parameters answer 400 (the OGC route class), and the document says so.
    for path, item in doc["paths"].items():
        if path.startswith("/collections"):
            for op in item.values():
                assert "422" not in op["responses"] and "400" in op["responses"], path


def test_what_the_document_allows_the_server_takes_and_what_it_refuses_the_server_refuses(
    doc, demo_client
):
    # schemathesis' "schema-valid request rejected": f= and filter= were allowed by the document
    for path in ("/collections", "/collections/{collectionId}"):
        (f,) = [p for p in doc["paths"][path]["get"]["parameters"] if p.get("name") == "f"]
        assert f["schema"]["enum"] == ["json", "html"], path
    for url in ("/collections", "/collections/parcels"):
        assert demo_client.get(url, params={"f": "json"}).status_code == 200
        assert demo_client.get(url, params={"f": "JSON"}).status_code == 200  # lenient, too
        r = demo_client.get(url, params={"f": ""})
        assert r.status_code == 400 and r.json()["message_zh"] == "不支持的格式 f"
    r = demo_client.get("/collections/parcels/items", params={"filter": ""})
    assert r.status_code == 400 and r.json()["message_zh"] == "过滤条件为空"
    r = demo_client.get("/collections/parcels/items", params={"datetime": ""})
    assert r.status_code == 400
    assert r.json()["message_zh"] == "datetime 格式错误（应为 RFC 3339 时间或区间）"
    r = demo_client.get("/collections/parcels/items", params={"bbox": "113.9,22.7,113.95,22.75,1"})
    assert r.status_code == 400, r.text
    r = demo_client.get("/collections/parcels/items", params={"bbox": "113.9,22.7,113.95,22.75"})
    assert r.status_code == 200


def test_a_path_per_collection_lists_its_queryables(doc):
    for col in build_registry():
        op = doc["paths"][f"/collections/{col.id}/items"]["get"]
        declared = {p["name"]: p["schema"]["type"] for p in op["parameters"] if "name" in p}
        assert declared == {p.name: p.type for p in col.properties}
        assert op["operationId"] == f"getItems_{col.id}"
    parcels = doc["paths"]["/collections/parcels/items"]["get"]["parameters"]
    category = next(p for p in parcels if p.get("name") == "category")
    assert category["in"] == "query" and category["style"] == "form"


def test_docs_pages_use_local_assets_only(demo_client):
    for path, asset in (
        ("/docs", "/vendor/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/redoc", "/vendor/redoc/redoc.standalone.js"),
    ):
        page = demo_client.get(path)
        assert page.status_code == 200
        assert asset in page.text
        assert "http://" not in page.text and "https://" not in page.text
        assert "<script>" not in page.text and "onload=" not in page.text
        assert demo_client.get(asset).status_code == 200
    assert demo_client.get("/static/js/docs-init.js").status_code == 200
    assert demo_client.get("/vendor/swagger-ui-dist/swagger-ui.css").status_code == 200


def test_the_upload_form_names_the_layers_a_surveyor_may_choose(doc):
    body = doc["paths"]["/uploads"]["post"]["requestBody"]["content"]["multipart/form-data"]
    form = doc["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    # the form is the upload options (one declaration) and the file fields
    (options,) = [s["$ref"].rsplit("/", 1)[1] for s in form["allOf"]]
    layer = doc["components"]["schemas"][options]["properties"]["layer"]
    assert layer["type"] == "string"
    assert layer["enum"] == [
        "projects",
        "parcels",
        "retained_land",
        "state_reserve_land",
        "statutory_plans",
    ]
