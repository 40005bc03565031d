"""JSON Schemas of a collection, derived from its declared properties (the registry).

Two documents, both from the same :class:`~spatial.layers.registry.Collection` declaration:

- :func:`queryables_schema`: OGC API Features Part 3 queryables, the properties a filter,
  ``sortby`` or ``properties=`` may name, the geometry included as ``format: geometry-…``;
- :func:`feature_schema`: the GeoJSON Feature every ``/items`` response holds (OGC API
  Features Part 5 style, linked from the collection as ``describedby``), so a client types
  each field from the declaration instead of guessing from the values of its first page.

Property types are plain ``"type": "<t>"`` values. GDAL 3.6 builds its field list from this
schema and reads only a single string ``type`` (a ``["number", "null"]`` list would make the
field a string), so nullability is not written into the type; any property may be null.
"""

from __future__ import annotations

from typing import Any

from spatial.layers.collection import Collection, Prop

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
GEOMETRY_FORMAT = "geometry-multipolygon"
"""Every collection serves MultiPolygons (stored as ``geometry(MultiPolygon, 4547)``)."""


def _property_schema(p: Prop) -> dict[str, Any]:
    out: dict[str, Any] = {"title": f"{p.title_zh} {p.title_en}", "type": p.type}
    if p.max_length is not None:
        out["maxLength"] = p.max_length
    if p.enum is not None:
        out["enum"] = list(p.enum)
    if p.unit is not None:
        out["x-ogc-unit"] = p.unit  # Part 5's keyword for a unit of measure
    return out


def _property_schemas(col: Collection) -> dict[str, dict[str, Any]]:
    return {p.name: _property_schema(p) for p in col.properties}


def queryables_schema(col: Collection, schema_id: str) -> dict[str, Any]:
    """The queryables of ``col`` as a JSON Schema (Part 3), with ``$id`` = ``schema_id``.

    Examples
    --------
    >>> from spatial.layers.registry import build_registry
    >>> q = queryables_schema(build_registry().get("parcels"), "urn:x")
    >>> q["properties"]["area_m2"]["type"], q["properties"]["geometry"]["format"]
    ('number', 'geometry-multipolygon')
    """
    props = _property_schemas(col)
    props["geometry"] = {"title": "几何 Geometry", "format": GEOMETRY_FORMAT}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id,
        "type": "object",
        "title": col.title,
        "properties": props,
        "additionalProperties": False,
    }


def feature_schema(col: Collection, schema_id: str) -> dict[str, Any]:
    """The JSON Schema of one GeoJSON feature of ``col`` (the ``describedby`` document).

    ``id`` is an integer; ``properties`` holds every declared property with its type (and
    ``maxLength``, ``enum``, ``x-ogc-unit`` where declared), in declaration order (the order
    ``/items`` writes them); the declared ``NOT NULL`` properties are ``required``.

    Examples
    --------
    >>> from spatial.layers.registry import build_registry
    >>> s = feature_schema(build_registry().get("retained_land"), "urn:x")
    >>> s["properties"]["properties"]["properties"]["reserve_m2"]["type"]
    'number'
    """
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_id,
        "title": col.title,
        "description": col.description or col.title_en,
        "type": "object",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer"},
            "geometry": {"title": "几何 Geometry", "format": GEOMETRY_FORMAT},
            "properties": {
                "type": "object",
                "properties": _property_schemas(col),
                "required": [p.name for p in col.properties if p.required],
                "additionalProperties": False,
            },
        },
    }
