"""OpenAPI 3.0 for the document of :mod:`api.openapi`, and the OGC API Features parameters.

The server declares the ``oas30`` conformance class, and GDAL and QGIS read the document to
learn what the server can do, so it must be valid OpenAPI **3.0**:

- FastAPI writes JSON Schema 2020-12 (OpenAPI 3.1 style) whatever ``openapi_version`` says;
  :func:`to_openapi30` rewrites the 3.1-only forms (``anyOf`` with ``null`` → ``nullable``,
  ``const``, ``examples``, numeric ``exclusiveMinimum``, ``contentMediaType``, ``prefixItems``);
- the OGC parameters are declared once under ``components/parameters`` as Part 1 and Part 3
  define them (``bbox`` an array of 4–6 numbers, ``limit`` with its default and maximum,
  ``datetime``, ``filter-lang`` with its values), and referenced from the items paths;
- every collection also gets its own ``/collections/<id>/items`` path listing its queryables as
  query parameters (Part 1, Recommendation 12 of ``/rec/core/fc-filters``). GDAL sends a
  ``-where`` to the server only for fields it finds there, and as CQL2 only when the
  ``filter-lang`` enum offers it (GDAL 3.6 looks for the draft name ``cql-text``).
"""

from __future__ import annotations

import copy
from typing import Any

from api.settings import ApiSettings
from spatial.layers.crs_uri import SUPPORTED
from spatial.layers.registry import Registry

OPENAPI_VERSION = "3.0.3"
ITEMS_PATH = "/collections/{collectionId}/items"
ITEM_PATH = "/collections/{collectionId}/items/{featureId}"
_SCHEMA_KEYS_WITH_SCHEMA = ("items", "additionalProperties", "not")
_SCHEMA_KEYS_WITH_LISTS = ("anyOf", "oneOf", "allOf")


def _null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _schema30(node: Any) -> Any:
    """One JSON Schema 2020-12 node (and its children) in the OpenAPI 3.0 schema dialect."""
    if isinstance(node, list):
        return [_schema30(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            out[key] = {k: _schema30(v) for k, v in value.items()}
        elif key in _SCHEMA_KEYS_WITH_SCHEMA:
            out[key] = _schema30(value)
        elif key in _SCHEMA_KEYS_WITH_LISTS:
            out[key] = [_schema30(v) for v in value]
        else:
            out[key] = value
    for key in ("anyOf", "oneOf"):
        alts = out.get(key)
        if isinstance(alts, list) and any(_null(a) for a in alts):
            rest = [a for a in alts if not _null(a)]
            del out[key]
            if len(rest) == 1 and "$ref" not in rest[0]:
                out = {**rest[0], **out}
            elif rest:
                out[key] = rest
            out["nullable"] = True
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        if len(types) < len(out["type"]):
            out["nullable"] = True
        out["type"] = types[0] if len(types) == 1 else out["type"]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if "examples" in out:
        examples = out.pop("examples")
        if isinstance(examples, list) and examples:
            out["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out.get(bound), bool):
            out[plain] = out.pop(bound)
            out[bound] = True
    if "prefixItems" in out:  # a tuple (e.g. a bbox): 3.0 has one ``items`` schema
        first, *others = _schema30(out.pop("prefixItems"))
        out["items"] = first if all(o == first for o in others) else {"anyOf": [first, *others]}
    if "contentMediaType" in out:
        out.pop("contentMediaType")
        if out.get("type") == "string":
            out["format"] = "binary"
    out.pop("$schema", None)
    return out


def to_openapi30(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of FastAPI's document with every schema in the OpenAPI 3.0 dialect."""
    doc = copy.deepcopy(doc)
    doc["openapi"] = OPENAPI_VERSION
    seen: set[str] = set()
    for path_item in doc.get("paths", {}).values():
        for method, op in path_item.items():
            # A GET+HEAD route shares one operationId in FastAPI; 3.0 requires unique ids.
            if isinstance(op, dict) and op.get("operationId") in seen:
                op["operationId"] = f"{op['operationId']}_{method}"
            if isinstance(op, dict) and "operationId" in op:
                seen.add(op["operationId"])
    comps = doc.get("components", {})
    if "schemas" in comps:
        comps["schemas"] = {k: _schema30(v) for k, v in comps["schemas"].items()}
    for path_item in doc.get("paths", {}).values():
        for op in path_item.values():
            if not isinstance(op, dict):
                continue
            for param in op.get("parameters", []):
                if "schema" in param:
                    param["schema"] = _schema30(param["schema"])
            bodies = [op.get("requestBody", {})] + list(op.get("responses", {}).values())
            for holder in bodies:
                for media in holder.get("content", {}).values():
                    if "schema" in media:
                        media["schema"] = _schema30(media["schema"])
    return doc


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": description,
        "schema": schema,
        **extra,
    }


def ogc_parameters(settings: ApiSettings) -> dict[str, dict[str, Any]]:
    """The OGC API Features query and path parameters, as ``components/parameters``."""
    crs_enum = {"type": "string", "format": "uri", "enum": [c.uri for c in SUPPORTED]}
    return {
        "collectionId": {
            "name": "collectionId",
            "in": "path",
            "required": True,
            "description": "图层 id / local identifier of a collection",
            "schema": {"type": "string"},
        },
        "featureId": {
            "name": "featureId",
            "in": "path",
            "required": True,
            "description": "要素 id / local identifier of a feature (an integer)",
            "schema": {"type": "string"},
        },
        "limit": _param(
            "limit",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": settings.features_max_limit,
                "default": settings.features_default_limit,
            },
            "每页要素数 / features per page; larger values are clamped to the maximum",
        ),
        "offset": _param(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0},
            "跳过的要素数 / number of features to skip (paging; follow the next links)",
        ),
        "bbox": _param(
            "bbox",
            {  # 4 to 6 numbers, as /ats/core/fc-bbox-definition requires; oneOf leaves out 5
                "type": "array",
                "minItems": 4,
                "maxItems": 6,
                "oneOf": [{"maxItems": 4}, {"minItems": 6}],
                "items": {"type": "number"},
            },
            "范围 / minx,miny,maxx,maxy (or with heights, 6 numbers) in bbox-crs (CRS84 "
            "lon/lat by default)",
        ),
        "bbox-crs": _param("bbox-crs", crs_enum, "CRS of bbox (Part 2); default CRS84"),
        "crs": _param("crs", crs_enum, "output CRS (Part 2); default CRS84"),
        "datetime": _param(
            "datetime",
            {"type": "string", "minLength": 1},
            "RFC 3339 date-time, date or interval (start/end, ../end, start/..). These "
            "layers have no temporal property: a valid value selects every feature, an "
            "invalid one answers 400.",
        ),
        "filter": _param(
            "filter",
            {"type": "string", "minLength": 1},  # an empty filter is refused (400)
            "CQL2 filter (Part 3) over the collection's queryables, e.g. "
            "category = 'collective' AND area_m2 > 3000",
        ),
        "filter-lang": _param(
            "filter-lang",
            {
                "type": "string",
                "enum": ["cql2-text", "cql2-json", "cql-text"],
                "default": "cql2-text",
            },
            "filter language; cql-text is the draft name of cql2-text (GDAL 3.6)",
        ),  # fmt: skip
        "filter-crs": _param("filter-crs", crs_enum, "CRS of geometries in filter"),
        "properties": _param(
            "properties",
            {"type": "array", "items": {"type": "string"}},
            "properties to return (comma-separated queryable names)",
        ),
        "sortby": _param(
            "sortby",
            {"type": "array", "items": {"type": "string"}},
            "sort keys, e.g. -area_m2,code (- descending)",
        ),
        "f": _param(
            "f",
            {"type": "string", "enum": ["json", "geojson", "html"]},
            "output format; browsers get HTML by default",
        ),
    }


ITEMS_QUERY = [
    "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang",
    "filter-crs", "properties", "sortby", "f",
]  # fmt: skip


def _refs(names: list[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/components/parameters/{n}"} for n in names]


def _no_422(paths: dict[str, Any]) -> None:
    """OGC routes answer an invalid parameter with 400 (``api.ogc_params``), never FastAPI's 422.

    The 400 itself, with the one error body, is documented by :func:`api.openapi.document`.
    """
    for path, item in paths.items():
        if path.startswith("/collections") or path == "/conformance":
            for op in item.values():
                op.get("responses", {}).pop("422", None)


def add_ogc_parameters(doc: dict[str, Any], settings: ApiSettings, reg: Registry) -> None:
    """Declare the OGC parameters in ``doc`` and add a path per collection (in place)."""
    doc.setdefault("components", {})["parameters"] = ogc_parameters(settings)
    paths = doc["paths"]
    _no_422(paths)
    for op in paths.get(ITEMS_PATH, {}).values():
        op["parameters"] = _refs(["collectionId", *ITEMS_QUERY])
    for op in paths.get(ITEM_PATH, {}).values():
        op["parameters"] = _refs(["collectionId", "featureId", "crs", "f"])
    template = paths.get(ITEMS_PATH, {}).get("get")
    if template is None:
        return
    for col in reg:
        op = copy.deepcopy(template)
        op["operationId"] = f"getItems_{col.id}"
        op["summary"] = f"{col.title}: 要素 features"
        op["parameters"] = _refs(ITEMS_QUERY) + [
            _param(p.name, {"type": p.type}, f"{p.title_zh} {p.title_en}（等于 equals）")
            for p in col.properties
        ]
        paths[f"/collections/{col.id}/items"] = {"get": op}
