"""The OpenAPI document lists the error statuses each route gives and who needs a token."""

from __future__ import annotations

from conftest import make_client


def _ops(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_errors_are_documented_and_public_reads_declare_no_bearer(db):
    with make_client(db) as c:
        spec = c.get("/openapi.json").json()
    assert spec["components"]["schemas"]["Error"]["required"] == [
        "code",
        "message_zh",
        "message_en",
    ]
    assert list(spec["components"]["securitySchemes"]) == ["HTTPBearer"]
    for method, path, op in _ops(spec):
        codes = set(op["responses"])
        assert "503" in codes, (method, path)
        assert op["responses"]["503"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in ("post", "put", "patch"):
            assert {"400", "409", "413"} <= codes, (method, path)
        public = path.startswith(("/collections", "/conformance", "/tiles", "/health"))
        assert bool(op.get("security")) is not public, (method, path, op.get("security"))
        if op.get("security"):
            assert op["security"] == [{"HTTPBearer": []}] and {"401", "403"} <= codes
    ops = {(m, p): op for m, p, op in _ops(spec)}
    assert "401" not in ops[("get", "/collections/{collectionId}/items")]["responses"]
    assert {"401", "403", "413", "422"} <= set(ops[("post", "/uploads")]["responses"])
    assert ops[("get", "/collections/{collectionId}/queryables")]["responses"]["200"][
        "content"
    ].keys() >= {"application/schema+json"}


def test_reads_declare_a_bearer_when_public_read_is_off(db):
    with make_client(db) as c:
        c.app.state.settings.public_read = False
        c.app.openapi_schema = None
        spec = c.get("/openapi.json").json()
        r = c.get("/collections")
    ops = {(m, p): op for m, p, op in _ops(spec)}
    assert ops[("get", "/collections")]["security"] == [{"HTTPBearer": []}]
    assert ops[("get", "/health")].get("security") is None
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_405_lists_every_method_of_the_path(db):
    with make_client(db) as c:
        r = c.delete("/users")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
