"""spatial.layers.cql2 without a database: the SQL text and bound parameters each filter
compiles to, and every refusal with its Chinese and English message (``make mutation``).

The filters are compiled against a small collection declared here (a column, a renamed column,
a fixed expression, an integer, a boolean, and ``geometry``), so the expected SQL is written by
hand from the compiler's rules: ``(left op right)`` in parentheses, every literal a ``%s``
placeholder cast to its queryable type (``text``, ``bigint``, ``float8``, ``boolean``), every
property the collection's fixed expression over alias ``t``. Geometry literals are bound as
EPSG:4547 WKB; they are decoded and compared with pyproj's own transformation of the literal
(and with values known by hand: x = 500000 m on the central meridian 114°E, y = 0 on the
equator). ``tests/test_cql2_filters.py`` runs the compiled SQL in PostGIS against two oracles.
"""

from __future__ import annotations

import json
import math

import cql2
import pytest
import shapely
from psycopg import sql
from pyproj import Transformer

from spatial.errors import BadRequest
from spatial.layers import cql2 as cq
from spatial.layers.collection import Collection, Prop
from spatial.layers.cql2 import compile_filter, parse
from spatial.layers.crs_uri import CRS84, OutputCrs, parse_crs
from spatial.layers.registry import build_registry

LOTS = Collection(
    id="lots",
    title_zh="地块",
    title_en="Lots",
    relation="lots",
    id_column="gid",
    properties=(
        Prop("code", "string", "编号", "Code"),
        Prop("owner", "string", "权利人", "Owner", column="owner_name"),
        Prop("area_m2", "number", "面积", "Area", expr=sql.SQL("ST_Area(t.geom)")),
        Prop("floors", "integer", "层数", "Floors"),
        Prop("vacant", "boolean", "空置", "Vacant"),
    ),
    depends_on=(),
    tile_properties=(),
)
EPSG4326 = parse_crs("EPSG:4326")  # latitude first
EPSG4490 = parse_crs("EPSG:4490")  # latitude first
EPSG4547 = parse_crs("EPSG:4547")  # northing first, the storage CRS
TO_4547 = Transformer.from_crs(4326, 4547, always_xy=True)
TO_4326 = Transformer.from_crs(4547, 4326, always_xy=True)


def compiled(
    text: str, lang: str = "cql2-text", crs: OutputCrs = CRS84, collection: Collection = LOTS
) -> tuple[str, list]:
    """The condition as SQL text (no connection needed, psycopg >= 3.2) and its parameters."""
    cond, params = compile_filter(text, collection, lang, crs)
    assert isinstance(cond, sql.Composed)
    return cond.as_string(None), params


def refused(text: str, lang: str = "cql2-text", crs: OutputCrs = CRS84) -> tuple[str, str]:
    """The (Chinese, English) messages of the BadRequest that compiling ``text`` raises."""
    with pytest.raises(BadRequest) as e:
        compile_filter(text, LOTS, lang, crs)
    return e.value.message_zh, e.value.message_en


def bad(zh: str, en: str) -> tuple[str, str]:
    """The messages of a refused filter: the shared prefix, then what is wrong."""
    return f"过滤条件无效：{zh}", f"invalid filter: {en}"


def unknown(name: str) -> tuple[str, str]:
    """The messages refusing ``name``: not a queryable (first 50 characters of the name)."""
    queryables = "code, owner, area_m2, floors, vacant, geometry"
    return bad(
        f"属性 {name[:50]!r} 不可查询",
        f"{name[:50]!r} is not a queryable of lots; queryables: {queryables}",
    )


def as_json(tree: object) -> str:
    return json.dumps(tree, ensure_ascii=False)


def eq(left: object, right: object, op: str = "=") -> dict:
    return {"op": op, "args": [left, right]}


CODE, FLOORS, GEOM = {"property": "code"}, {"property": "floors"}, {"property": "geometry"}


# -- comparisons, literals and their casts -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "params"),
    [
        ("code = 'a'", '(t."code" = %s::text)', ["a"]),
        ("owner = 'x'", '(t."owner_name" = %s::text)', ["x"]),
        ("floors <> 3", '(t."floors" <> %s::bigint)', [3]),
        ("area_m2 < 2.5", "(ST_Area(t.geom) < %s::float8)", [2.5]),
        ("area_m2 > 3000", "(ST_Area(t.geom) > %s::bigint)", [3000]),
        ("floors <= -2", '(t."floors" <= %s::bigint)', [-2]),
        ("floors >= 1e3", '(t."floors" >= %s::bigint)', [1000]),
        ("3 < floors", '(%s::bigint < t."floors")', [3]),
        ("floors = area_m2", '(t."floors" = ST_Area(t.geom))', []),
        ("vacant = TRUE", '(t."vacant" = %s::boolean)', [True]),
        ("vacant <> FALSE", '(t."vacant" <> %s::boolean)', [False]),
        ("\"code\" = 'a'", '(t."code" = %s::text)', ["a"]),
    ],
)
def test_comparisons(text, expected, params):
    got, got_params = compiled(text)
    assert got == expected
    assert got_params == params
    # int, float and bool are distinct here: 3 == 3.0 == True in Python, not in the casts.
    assert [type(p) for p in got_params] == [type(p) for p in params]


@pytest.mark.parametrize(
    ("number", "cast", "value"),
    [
        # Text numbers reach the compiler as floats: whole ones below 2**63 in magnitude are
        # bound as integers (bigint), anything else as float8.
        ("9223372036854774784", "bigint", 2**63 - 1024),  # the largest float below 2**63
        ("9223372036854775808", "float8", 2.0**63),  # 2**63 does not fit a bigint
        ("-9223372036854775808", "float8", -(2.0**63)),
        ("-9223372036854774784", "bigint", -(2**63) + 1024),
        ("0", "bigint", 0),
        ("0.5", "float8", 0.5),
        ("-1.25", "float8", -1.25),
    ],
)
def test_whole_numbers_are_bigints_within_range(number, cast, value):
    got, params = compiled(f"area_m2 = {number}")
    assert got == f"(ST_Area(t.geom) = %s::{cast})"
    assert params == [value] and type(params[0]) is type(value)


def test_json_numbers_and_booleans():
    got, params = compiled(as_json(eq(FLOORS, 7)), "cql2-json")
    assert (got, params) == ('(t."floors" = %s::bigint)', [7])
    assert type(params[0]) is int
    got, params = compiled(as_json(eq({"property": "vacant"}, True)), "cql2-json")
    assert (got, params) == ('(t."vacant" = %s::boolean)', [True])
    assert params[0] is True


@pytest.mark.parametrize(
    ("text", "en"),
    [
        ("area_m2 = code", "=: cannot compare a number with a string"),
        ("code = 1", "=: cannot compare a string with an integer"),
        ("code <> 1.5", "<>: cannot compare a string with a number"),
        ("vacant = 1", "=: cannot compare a boolean with an integer"),
        ("floors < 'a'", "<: cannot compare an integer with a string"),
        ("code >= TRUE", ">=: cannot compare a string with a boolean"),
        ("TRUE > floors", ">: cannot compare a boolean with an integer"),
        ("floors <= vacant", "<=: cannot compare an integer with a boolean"),
    ],
)
def test_comparisons_of_different_types_are_refused(text, en):
    assert refused(text) == bad("比较两侧类型不同", en)


def test_integer_and_number_compare():
    assert compiled("floors = 2.5") == ('(t."floors" = %s::float8)', [2.5])
    assert compiled("area_m2 = floors") == ('(ST_Area(t.geom) = t."floors")', [])


@pytest.mark.parametrize(
    "text",
    [
        "'a' = 'a'",
        "1 < 2",
        "CASEI('X') = 'x'",
        "DATE('2020-01-01') = 'x'",
        "BBOX(1, 2, 3, 4) = 'x'",
    ],
)
def test_a_comparison_must_name_a_property(text):
    assert refused(text) == bad(
        "比较须包含可查询属性", "a comparison must name a queryable property"
    )


@pytest.mark.parametrize("text", ["geometry = 1", "1 = geometry", "geometry = geometry"])
def test_geometries_are_not_compared_with_operators(text):
    assert refused(text) == bad("几何不能比较大小", "geometries are compared with S_* functions")


def test_null_literals_and_nul_characters():
    assert refused("code = NULL") == bad(
        "与 NULL 比较请用 IS NULL", "compare with NULL using IS NULL"
    )
    nul = bad("含有空字符（NUL）", "contains a NUL character")
    assert refused(as_json(eq(CODE, "a\x00b")), "cql2-json") == nul
    assert refused("code = 'a\x00b'") == nul  # refused by the text scan, before parsing
    assert refused("code = 'a' \x00") == nul


def test_infinite_numbers_are_refused():
    # 1e400 overflows to infinity in the parser (text); JSON refuses it itself.
    assert refused("area_m2 = 1e400") == bad("数值超出范围", "numbers must be finite")
    assert refused("area_m2 > -1e400") == bad("数值超出范围", "numbers must be finite")


def test_unknown_properties_list_the_queryables():
    queryables = "queryables: code, owner, area_m2, floors, vacant, geometry"
    assert refused("nope = 1") == bad(
        "属性 'nope' 不可查询", f"'nope' is not a queryable of lots; {queryables}"
    )
    long_name = "p" * 60
    assert refused(f"{long_name} IS NULL") == bad(
        f"属性 '{'p' * 50}' 不可查询", f"'{'p' * 50}' is not a queryable of lots; {queryables}"
    )
    # The stored column is not a queryable under its own name.
    assert refused("owner_name = 'x'") == unknown("owner_name")


def test_a_registry_collection():
    """The docstring example of compile_filter, over the declared parcels."""
    parcels = build_registry().get("parcels")
    assert compiled("code IN ('a', 'b')", collection=parcels) == (
        '(t."code" IN (%s::text, %s::text))',
        ["a", "b"],
    )


# -- logic --------------------------------------------------------------------------------


def test_boolean_literals_and_logic():
    assert compiled("TRUE") == ("TRUE", [])
    assert compiled("FALSE") == ("FALSE", [])
    assert compiled("true", "cql2-json") == ("TRUE", [])
    assert compiled("false", "cql2-json") == ("FALSE", [])
    assert compiled("NOT TRUE") == ("(NOT TRUE)", [])
    assert compiled("TRUE AND FALSE OR TRUE") == ("((TRUE AND FALSE) OR TRUE)", [])
    assert compiled("TRUE OR FALSE AND TRUE") == ("(TRUE OR (FALSE AND TRUE))", [])


def test_and_or_not_keep_the_order_of_their_parameters():
    got, params = compiled("code = 'a' AND floors = 1 AND vacant = TRUE")
    assert (
        got
        == '((t."code" = %s::text) AND (t."floors" = %s::bigint) AND (t."vacant" = %s::boolean))'
    )
    assert params == ["a", 1, True]
    got, params = compiled("NOT (code = 'b' OR area_m2 > 2.5)")
    assert got == '(NOT ((t."code" = %s::text) OR (ST_Area(t.geom) > %s::float8)))'
    assert params == ["b", 2.5]
    # The op of CQL2-JSON in another case is the same op.
    tree = {"op": "OR", "args": [eq(CODE, "x"), eq(FLOORS, 2)]}
    assert compiled(as_json(tree), "cql2-json") == (
        '((t."code" = %s::text) OR (t."floors" = %s::bigint))',
        ["x", 2],
    )


def test_not_of_not_in_parentheses():
    assert compiled("NOT (NOT code = 'a')") == ('(NOT (NOT (t."code" = %s::text)))', ["a"])
    assert compiled("NOT(NOT(TRUE))") == ("(NOT (NOT TRUE))", [])


@pytest.mark.parametrize(
    "text", ["NOT NOT code = 'a'", "not Not TRUE", "TRUE AND NOT\n\tNOT FALSE", "NOT  NOT(TRUE)"]
)
def test_not_not_is_refused(text):
    assert refused(text) == bad(
        "NOT NOT 无效，请写 NOT (NOT …)", "NOT NOT is invalid; use NOT (NOT …)"
    )


def test_words_ending_in_not_are_not_not():
    assert refused("knot IS NULL") == unknown("knot")
    assert compiled("NOT code IS NOT NULL") == ('(NOT (NOT (t."code" IS NULL)))', [])


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("BBOX(1, 2, 3, 4)", "cql2-text"),
        ("POINT(1 2)", "cql2-text"),
        ("5", "cql2-json"),
        ('"abc"', "cql2-json"),
        ('{"property": "code"}', "cql2-json"),
    ],
)
def test_a_predicate_is_expected(text, lang):
    assert refused(text, lang) == bad(
        "此处应为条件", "expected a predicate (a comparison, LIKE, IN, …)"
    )


@pytest.mark.parametrize(
    ("text", "lang", "op"),
    [
        ("T_AFTER(code, TIMESTAMP('2020-01-01T00:00:00Z'))", "cql2-text", "'t_after'"),
        ("A_CONTAINS(code, ('a'))", "cql2-text", "'a_contains'"),
        ('{"op": "' + "x" * 40 + '", "args": []}', "cql2-json", repr("x" * 30)),
    ],
)
def test_unsupported_predicates(text, lang, op):
    assert refused(text, lang) == bad("不支持此运算", f"operator or function {op} is not supported")


@pytest.mark.parametrize(
    ("text", "lang", "op"),
    [
        ("floors + 1 = 2", "cql2-text", "'+'"),
        ("f(floors) = 2", "cql2-text", "'f'"),
        (as_json(eq({"op": "y" * 40, "args": [FLOORS]}, 2)), "cql2-json", repr("y" * 30)),
    ],
)
def test_unsupported_functions_and_arithmetic(text, lang, op):
    assert refused(text, lang) == bad("不支持此运算", f"operator or function {op} is not supported")


@pytest.mark.parametrize(
    "text",
    [
        "code = DATE('2020-01-01')",
        "code = TIMESTAMP('2020-01-01T00:00:00Z')",
        "code = INTERVAL('2020-01-01', '..')",
    ],
)
def test_temporal_literals(text):
    assert refused(text) == bad("图层没有时间属性", "these layers have no temporal properties")


def test_a_list_is_not_a_scalar():
    expected = bad("此处应为属性或值", "expected a property or a literal")
    assert refused(as_json(eq(CODE, ["a"])), "cql2-json") == expected


# -- CASEI, ACCENTI, LIKE ------------------------------------------------------------------


def test_casei():
    assert compiled("CASEI(code) = CASEI('AbC')") == (
        '(lower(t."code") = lower(%s::text))',
        ["AbC"],
    )
    assert compiled("CASEI(CASEI(owner)) <> 'x'") == (
        '(lower(lower(t."owner_name")) <> %s::text)',
        ["x"],
    )
    assert refused("CASEI(floors) = 'a'") == bad("CASEI 用于文本", "CASEI applies to strings")
    assert refused("CASEI(3) = code") == bad("CASEI 用于文本", "CASEI applies to strings")


def test_accenti_is_refused():
    expected = bad("不支持 ACCENTI", "ACCENTI is not supported")
    assert refused("ACCENTI(code) = 'x'") == expected
    assert refused("code LIKE ACCENTI('x%')") == expected


def test_like():
    assert compiled("code LIKE 'a%'") == ('(t."code" LIKE %s::text)', ["a%"])
    assert compiled("owner NOT LIKE '_b'") == ('(NOT (t."owner_name" LIKE %s::text))', ["_b"])
    assert compiled("CASEI(code) LIKE CASEI('A%')") == (
        '(lower(t."code") LIKE lower(%s::text))',
        ["A%"],
    )
    # The backslash escape reaches PostgreSQL unchanged (its LIKE escape is the backslash).
    assert compiled("code LIKE 'a\\%b\\_'") == ('(t."code" LIKE %s::text)', ["a\\%b\\_"])
    # A pattern may end in any character but one unpaired backslash.
    assert compiled("code LIKE 'PLOTX'")[1] == ["PLOTX"]
    assert compiled("code LIKE ''")[1] == [""]


@pytest.mark.parametrize("tail", ["\\", "\\\\\\", "%\\"])
def test_like_pattern_ending_in_an_escape_is_refused(tail):
    expected = bad("LIKE 模式以转义符 \\ 结尾", "a LIKE pattern must not end with the escape '\\'")
    like = {"op": "like", "args": [CODE, "a" + tail]}
    assert refused(as_json(like), "cql2-json") == expected
    casei = {"op": "like", "args": [CODE, {"op": "casei", "args": ["a" + tail]}]}
    assert refused(as_json(casei), "cql2-json") == expected


@pytest.mark.parametrize("tail", ["\\\\", "\\\\\\\\", "\\%"])
def test_like_pattern_ending_in_an_escaped_backslash(tail):
    like = {"op": "like", "args": [CODE, "a" + tail]}
    assert compiled(as_json(like), "cql2-json") == ('(t."code" LIKE %s::text)', ["a" + tail])
    casei = {"op": "like", "args": [CODE, {"op": "casei", "args": ["a" + tail]}]}
    assert compiled(as_json(casei), "cql2-json") == (
        '(t."code" LIKE lower(%s::text))',
        ["a" + tail],
    )


@pytest.mark.parametrize("text", ["floors LIKE 'a'", "code LIKE 1", "vacant LIKE 'T%'"])
def test_like_compares_strings_only(text):
    assert refused(text) == bad("LIKE 只能用于文本属性", "LIKE compares strings only")


# -- BETWEEN, IN, IS NULL -------------------------------------------------------------------


def test_between():
    assert compiled("area_m2 BETWEEN 1 AND 2.5") == (
        "(ST_Area(t.geom) BETWEEN %s::bigint AND %s::float8)",
        [1, 2.5],
    )
    assert compiled("floors NOT BETWEEN -1 AND 3") == (
        '(NOT (t."floors" BETWEEN %s::bigint AND %s::bigint))',
        [-1, 3],
    )


@pytest.mark.parametrize(
    "args",
    [[CODE, 1, 2], [FLOORS, "a", 2], [FLOORS, 1, "b"], [FLOORS, 1, {"property": "vacant"}]],
)
def test_between_compares_numbers_only(args):
    tree = {"op": "between", "args": args}
    assert refused(as_json(tree), "cql2-json") == bad(
        "BETWEEN 只用于数值", "BETWEEN compares numbers only"
    )


def test_in():
    assert compiled("code IN ('a', 'b', 'c')") == (
        '(t."code" IN (%s::text, %s::text, %s::text))',
        ["a", "b", "c"],
    )
    assert compiled("floors IN (1)") == ('(t."floors" IN (%s::bigint))', [1])
    assert compiled("floors IN (1, 2.5)") == ('(t."floors" IN (%s::bigint, %s::float8))', [1, 2.5])
    assert compiled("owner NOT IN ('x', 'y')") == (
        '(NOT (t."owner_name" IN (%s::text, %s::text)))',
        ["x", "y"],
    )


def test_in_lists_up_to_500_values():
    values = ", ".join(str(i) for i in range(500))
    got, params = compiled(f"floors IN ({values})")
    assert got == '(t."floors" IN (' + ", ".join(["%s::bigint"] * 500) + "))"
    assert params == list(range(500))
    values = ", ".join(str(i) for i in range(501))
    assert refused(f"floors IN ({values})") == bad("IN 列表超过 500 项", "IN list longer than 500")


@pytest.mark.parametrize("items", [[], 3, "a"])
def test_in_needs_a_list(items):
    tree = {"op": "in", "args": [CODE, items]}
    assert refused(as_json(tree), "cql2-json") == bad(
        "IN 列表格式错误", "IN needs a list of values"
    )


def test_in_values_have_the_property_type():
    assert refused("floors IN (1, 'a')") == bad(
        "比较两侧类型不同", "IN: cannot compare an integer with a string"
    )
    assert refused("code IN ('a', 2)") == bad(
        "比较两侧类型不同", "IN: cannot compare a string with an integer"
    )


def test_is_null():
    assert compiled("code IS NULL") == ('(t."code" IS NULL)', [])
    assert compiled("owner IS NOT NULL") == ('(NOT (t."owner_name" IS NULL))', [])
    assert compiled("area_m2 IS NULL") == ("(ST_Area(t.geom) IS NULL)", [])
    assert compiled("geometry IS NULL") == ("(t.geom IS NULL)", [])
    assert compiled("geometry IS NOT NULL") == ("(NOT (t.geom IS NULL))", [])


@pytest.mark.parametrize("text", ["'a' IS NULL", "CASEI(code) IS NULL", "1 IS NOT NULL"])
def test_is_null_applies_to_a_property(text):
    assert refused(text) == bad("IS NULL 用于属性", "IS NULL applies to a property")


# -- spatial predicates and geometry literals --------------------------------------------


def geometry_param(params: list) -> shapely.Geometry:
    assert len(params) == 1 and isinstance(params[0], bytes)
    return shapely.from_wkb(params[0])


@pytest.mark.parametrize(
    ("cql", "st"),
    [
        ("S_INTERSECTS", "ST_Intersects"),
        ("S_DISJOINT", "ST_Disjoint"),
        ("S_WITHIN", "ST_Within"),
        ("S_CONTAINS", "ST_Contains"),
        ("S_EQUALS", "ST_Equals"),
        ("S_TOUCHES", "ST_Touches"),
        ("S_CROSSES", "ST_Crosses"),
        ("S_OVERLAPS", "ST_Overlaps"),
    ],
)
def test_spatial_predicates(cql, st):
    got, params = compiled(f"{cql}(geometry, POINT(114 22.5))")
    assert got == f"{st}(t.geom, ST_GeomFromWKB(%s, 4547))"
    point = geometry_param(params)
    # On the central meridian (114°E) of EPSG:4547 the easting is its false easting.
    assert point.geom_type == "Point" and point.x == pytest.approx(500_000, abs=1e-6)
    assert (point.x, point.y) == pytest.approx(TO_4547.transform(114, 22.5), abs=1e-6)
    got, params = compiled(f"{cql}(POINT(114 22.5), geometry)")
    assert got == f"{st}(ST_GeomFromWKB(%s, 4547), t.geom)"
    got, params = compiled(f"{cql}(geometry, geometry)")
    assert (got, params) == (f"{st}(t.geom, t.geom)", [])


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("S_INTERSECTS(code, POINT(114 22.5))", "S_INTERSECTS"),
        ("S_WITHIN(geometry, code)", "S_WITHIN"),
        ("S_TOUCHES(floors, owner)", "S_TOUCHES"),
    ],
)
def test_spatial_predicates_need_two_geometries(text, name):
    assert refused(text) == bad(f"{name} 需要两个几何", f"{name} needs two geometries")


def test_the_meridian_and_the_equator_are_known_by_hand():
    _, params = compiled("S_INTERSECTS(geometry, POINT(114 0))")
    point = geometry_param(params)
    assert (point.x, point.y) == pytest.approx((500_000.0, 0.0), abs=1e-6)
    # A quarter meridian of the GRS80/CGCS2000 ellipsoid is 10 001 965.729 m.
    _, params = compiled("S_INTERSECTS(geometry, POINT(114 90))")
    point = geometry_param(params)
    assert (point.x, point.y) == pytest.approx((500_000.0, 10_001_965.729), abs=1e-3)


def test_geojson_literals_in_cql2_json():
    line = {"type": "LineString", "coordinates": [[114, 22.5], [114.01, 22.51]]}
    got, params = compiled(as_json({"op": "s_crosses", "args": [GEOM, line]}), "cql2-json")
    assert got == "ST_Crosses(t.geom, ST_GeomFromWKB(%s, 4547))"
    geom = geometry_param(params)
    assert geom.geom_type == "LineString"
    expected = [v for x, y in line["coordinates"] for v in TO_4547.transform(x, y)]
    assert shapely.get_coordinates(geom).ravel().tolist() == pytest.approx(expected, abs=1e-6)
    collection = "GEOMETRYCOLLECTION(POINT(114 22.5), LINESTRING(114 22.5, 114.01 22.5))"
    _, params = compiled(f"S_INTERSECTS(geometry, {collection})")
    geom = geometry_param(params)
    assert geom.geom_type == "GeometryCollection" and len(geom.geoms) == 2


@pytest.mark.parametrize(
    ("crs", "point"),
    [(CRS84, "114 22.5"), (EPSG4326, "22.5 114"), (EPSG4490, "22.5 114")],
)
def test_filter_crs_axis_order(crs, point):
    _, params = compiled(f"S_INTERSECTS(geometry, POINT({point}))", crs=crs)
    geom = geometry_param(params)
    assert (geom.x, geom.y) == pytest.approx(TO_4547.transform(114, 22.5), abs=1e-6)


def test_storage_crs_literals_are_not_transformed():
    # EPSG:4547 is northing first: POINT(northing easting).
    _, params = compiled("S_INTERSECTS(geometry, POINT(2500000.25 500000.5))", crs=EPSG4547)
    assert shapely.get_coordinates(geometry_param(params)).tolist() == [[500000.5, 2500000.25]]
    # Far outside any longitude/latitude range: accepted, since nothing is transformed.
    _, params = compiled("S_INTERSECTS(geometry, POINT(3000000 -400000))", crs=EPSG4547)
    assert shapely.get_coordinates(geometry_param(params)).tolist() == [[-400000.0, 3000000.0]]


def test_invalid_polygons_are_made_valid():
    # A bow tie: two triangles of 0.25 m² meeting at (0.5, 0.5); as drawn its signed area is 0.
    bowtie = "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"
    assert shapely.from_wkt(bowtie).area == 0
    _, params = compiled(f"S_INTERSECTS(geometry, {bowtie})", crs=EPSG4547)
    geom = geometry_param(params)
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(0.5, abs=1e-12) and len(geom.geoms) == 2


@pytest.mark.parametrize("point", ["-180 0", "180 0", "114 90", "114 -90", "-180 -90", "180 90"])
def test_the_edges_of_the_longitude_latitude_range_are_accepted(point):
    _, params = compiled(f"S_INTERSECTS(geometry, POINT({point}))")
    lon, lat = map(float, point.split())
    geom = geometry_param(params)
    assert (geom.x, geom.y) == pytest.approx(TO_4547.transform(lon, lat), abs=1e-3)


@pytest.mark.parametrize(
    ("point", "crs"),
    [
        ("180.001 0", CRS84),
        ("-180.001 0", CRS84),
        ("114 90.001", CRS84),
        ("114 -90.001", CRS84),
        ("0 200", EPSG4326),  # latitude 0, longitude 200
        ("91 0", EPSG4326),  # latitude 91
        ("-91 0", EPSG4490),
    ],
)
def test_geometry_outside_the_longitude_latitude_range(point, crs):
    text = f"S_INTERSECTS(geometry, LINESTRING(114 22.5, {point}))"
    if crs is not CRS84:
        text = f"S_INTERSECTS(geometry, LINESTRING(22.5 114, {point}))"
    assert refused(text, crs=crs) == bad(
        "几何超出经纬度范围", "geometry outside the longitude/latitude range"
    )


def test_latitude_first_longitudes_beyond_90_are_accepted():
    # (latitude 0, longitude 100): valid, though 100 is no latitude.
    _, params = compiled("S_INTERSECTS(geometry, POINT(0 100))", crs=EPSG4326)
    geom = geometry_param(params)
    assert (geom.x, geom.y) == pytest.approx(TO_4547.transform(100, 0), abs=1e-6)


def test_geometry_outside_the_storage_crs():
    # 90° from the central meridian, on the equator, the transverse Mercator is infinite.
    assert TO_4547.transform(24, 0) == (math.inf, math.inf)
    assert refused("S_INTERSECTS(geometry, POINT(24 0))") == bad(
        "几何超出坐标系范围", "geometry outside the storage CRS's area of use"
    )


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("S_INTERSECTS(geometry, GEOMETRYCOLLECTION EMPTY)", "cql2-text"),
        (
            as_json(
                {"op": "s_intersects", "args": [GEOM, {"type": "MultiPoint", "coordinates": []}]}
            ),
            "cql2-json",
        ),
        (
            as_json(
                {
                    "op": "s_intersects",
                    "args": [GEOM, {"type": "GeometryCollection", "geometries": []}],
                }
            ),
            "cql2-json",
        ),
    ],
)
def test_empty_geometries_are_refused(text, lang):
    assert refused(text, lang) == bad(
        "几何为空或坐标无效", "the geometry is empty or has non-finite coordinates"
    )


def test_invalid_geometry_literals():
    # cql2 parses a ring of two points; shapely refuses it.
    assert refused("S_INTERSECTS(geometry, POLYGON((114 22.5, 114.1 22.6)))") == bad(
        "几何格式错误", "invalid geometry literal"
    )


def test_geometry_point_limit(monkeypatch):
    # 10,000 points do not fit in 8192 characters: lift the length limit to reach this one.
    monkeypatch.setattr(cq, "MAX_LENGTH", 10**6)

    def multipoint(n: int) -> str:
        points = {"type": "MultiPoint", "coordinates": [[500000 + i, 2500000] for i in range(n)]}
        return as_json({"op": "s_intersects", "args": [GEOM, points]})

    _, params = compiled(multipoint(10_000), "cql2-json", EPSG4547)
    coords = shapely.get_coordinates(geometry_param(params))
    assert len(coords) == 10_000 and coords[-1].tolist() == [2500000.0, 509999.0]
    assert refused(multipoint(10_001), "cql2-json", EPSG4547) == bad(
        "几何点数过多", "more than 10000 points in a geometry"
    )


def box_vertices_lonlat(params: list) -> list[tuple[float, float]]:
    polygon = geometry_param(params)
    assert polygon.geom_type == "Polygon" and polygon.is_valid
    return [TO_4326.transform(x, y) for x, y in polygon.exterior.coords]


def test_bbox_literals_follow_the_box_edges():
    got, params = compiled("S_INTERSECTS(geometry, BBOX(113.9, 22.7, 114.0, 22.8))")
    assert got == "ST_Intersects(t.geom, ST_GeomFromWKB(%s, 4547))"
    vertices = box_vertices_lonlat(params)
    # Every vertex, transformed back, lies on an edge of the box; all four corners are there.
    for lon, lat in vertices:
        assert 113.9 - 1e-9 <= lon <= 114.0 + 1e-9 and 22.7 - 1e-9 <= lat <= 22.8 + 1e-9
        on_edge = min(abs(lon - 113.9), abs(lon - 114.0), abs(lat - 22.7), abs(lat - 22.8))
        assert on_edge < 1e-9
    for corner in [(113.9, 22.7), (114.0, 22.7), (114.0, 22.8), (113.9, 22.8)]:
        assert min(math.dist(corner, v) for v in vertices) < 1e-9
    # Densified: the edges follow the box, not straight lines between corners.
    assert len(vertices) > 5
    # Six numbers (with heights) give the same box; so do the latitude-first CRSs.
    assert compiled("S_INTERSECTS(geometry, BBOX(113.9, 22.7, 0, 114.0, 22.8, 10))")[1] == params
    for crs in (EPSG4326, EPSG4490):
        text = "S_INTERSECTS(geometry, BBOX(22.7, 113.9, 22.8, 114.0))"
        assert compiled(text, crs=crs)[1] == params


def test_bbox_in_the_storage_crs():
    text = "S_WITHIN(geometry, BBOX(2500000, 490000, 2510000, 500000))"
    got, params = compiled(text, crs=EPSG4547)
    assert got == "ST_Within(t.geom, ST_GeomFromWKB(%s, 4547))"
    assert geometry_param(params).bounds == (490000.0, 2500000.0, 500000.0, 2510000.0)


def test_bbox_outside_the_storage_area_is_an_empty_geometry():
    # Not NULL: S_DISJOINT with a box that holds nothing stays true.
    got, params = compiled("S_DISJOINT(geometry, BBOX(0, 0, 1, 1))")
    assert got == "ST_Disjoint(t.geom, ST_GeomFromWKB(%s, 4547))"
    empty = geometry_param(params)
    assert empty.geom_type == "GeometryCollection" and empty.is_empty


@pytest.mark.parametrize("values", [["a", 1, 2, 3], [None, 1, 2, 3]])
def test_bbox_of_non_numbers(values):
    tree = {"op": "s_intersects", "args": [GEOM, {"bbox": values}]}
    assert refused(as_json(tree), "cql2-json") == bad("BBOX 格式错误", "BBOX needs 4 or 6 numbers")


def test_bbox_checks_are_those_of_the_bbox_parameter():
    # spatial.bbox refuses with its own messages, as for the bbox query parameter.
    with pytest.raises(BadRequest) as e:
        compile_filter("S_INTERSECTS(geometry, BBOX(114, 23, 113, 22))", LOTS)
    assert (
        e.value.message_en == "bbox minimum is greater than its maximum: (114.0, 23.0, 113.0, 22.0)"
    )
    with pytest.raises(BadRequest) as e:
        compile_filter("S_INTERSECTS(geometry, BBOX(1, 2))", LOTS)
    assert e.value.message_en == "bbox must have 4 (or 6) finite numbers"


# -- the text scan: limits, != , NOT NOT, quotes ------------------------------------------


def test_length_limit():
    at_limit = "code = '" + "a" * 8183 + "'"
    assert len(at_limit) == 8192
    assert compiled(at_limit)[1] == ["a" * 8183]
    over = bad("长度超过 8192 个字符", "longer than 8192 characters")
    assert refused(at_limit + " ") == over
    head, tail = '{"op": "=", "args": [{"property": "code"}, "', '"]}'
    value = "a" * (8192 - len(head) - len(tail))
    tree = head + value + tail
    assert len(tree) == 8192
    assert compiled(tree, "cql2-json")[1] == [value]
    assert refused(tree + " ", "cql2-json") == over


def test_token_limit():
    # NOT + 1000 TRUE + 999 OR = 2000 tokens; spaces do not count.
    at_limit = "NOT " + " OR ".join(["TRUE"] * 1000)
    got, _ = compiled(at_limit)
    assert got == "((NOT TRUE)" + " OR TRUE" * 999 + ")"
    # 1001 TRUE + 1000 OR = 2001 tokens
    over = " OR ".join(["TRUE"] * 1001)
    assert refused(over) == bad("词元超过 2000 个", "more than 2000 tokens")


def test_a_string_or_a_quoted_name_is_one_token():
    words = " ".join(["a"] * 2500)  # 2500 words, inside one string
    assert compiled(f"code = '{words}'")[1] == [words]
    assert refused(f'"{words}" = 1') == unknown(words)


def test_nesting_limit():
    def nested(n: int, inner: str = "code = 'a'") -> str:
        return "(" * n + inner + ")" * n

    assert compiled(nested(32)) == ('(t."code" = %s::text)', ["a"])
    deep = bad("嵌套超过 32 层", "nested deeper than 32 levels")
    assert refused(nested(33)) == deep
    # Depth is counted back down as parentheses close.
    assert compiled(" AND ".join([nested(20, "TRUE")] * 5)) == (
        "(TRUE AND TRUE AND TRUE AND TRUE AND TRUE)",
        [],
    )
    assert compiled("(TRUE) AND " + nested(32, "FALSE")) == ("(TRUE AND FALSE)", [])
    assert refused("(TRUE) AND " + nested(33, "FALSE")) == deep
    # Parentheses inside strings and quoted names are not nesting.
    assert compiled("code = '" + "(" * 40 + "'")[1] == ["(" * 40]
    assert refused('"' + "(" * 40 + '" = 1') == unknown("(" * 40)


def test_json_nesting_limit():
    def nots(n: int, inner: object) -> object:
        for _ in range(n):
            inner = {"op": "not", "args": [inner]}
        return inner

    # Each NOT opens an object and an array: 16 of them around `true` nest 32 deep.
    assert compiled(as_json(nots(16, True)), "cql2-json") == ("(NOT " * 16 + "TRUE" + ")" * 16, [])
    deep = bad("嵌套超过 32 层", "nested deeper than 32 levels")
    # 15 NOTs (30) around a comparison whose property object is 3 deeper: 33.
    assert refused(as_json(nots(15, eq(CODE, "a"))), "cql2-json") == deep
    # 14 NOTs around it: 31 deep.
    assert compiled(as_json(nots(14, eq(CODE, "a"))), "cql2-json") == (
        "(NOT " * 14 + '(t."code" = %s::text)' + ")" * 14,
        ["a"],
    )


def test_json_nesting_counts_back_down_and_ignores_strings():
    fourteen = {"op": "not", "args": [True]}
    for _ in range(13):
        fourteen = {"op": "not", "args": [fourteen]}
    many = {"op": "and", "args": [fourteen] * 3}  # 2 + 28: 30 deep, three times
    assert compiled(as_json(many), "cql2-json")[0].count("NOT") == 42
    # Brackets in strings, after an escaped quote, after an escaped backslash, do not count.
    for s in ["[" * 40, '"' + "[" * 40, "\\" + "{" * 40, '\\"' + "[" * 40]:
        assert compiled(as_json(eq(CODE, s)), "cql2-json")[1] == [s]
    # A string that ends in an escaped backslash ends there: the nesting after it counts.
    deep = {"op": "and", "args": [eq(CODE, "x\\"), {"op": "not", "args": [True]}]}
    for _ in range(15):
        deep = {"op": "not", "args": [deep]}
    assert refused(as_json(deep), "cql2-json") == bad(
        "嵌套超过 32 层", "nested deeper than 32 levels"
    )


def test_not_equals_is_refused_with_its_position():
    assert refused("area_m2 != 1") == bad("不等于应写作 <>", "'!=' at 8 is not CQL2; use '<>'")
    assert refused("code='a'!='b'") == bad("不等于应写作 <>", "'!=' at 8 is not CQL2; use '<>'")
    # Inside a string it is text.
    assert compiled("code = 'a!=b'") == ('(t."code" = %s::text)', ["a!=b"])


def test_unterminated_strings():
    assert refused("code = 'abc") == bad(
        "字符串缺少结尾的引号", "unterminated string starting at 7"
    )
    assert refused('"code = 1') == bad("字符串缺少结尾的引号", "unterminated string starting at 0")
    # \' escapes the quote, so this string never ends.
    assert refused("code LIKE 'a\\'") == bad(
        "字符串缺少结尾的引号", "unterminated string starting at 10"
    )


def test_quote_escapes():
    # CQL2 allows '' and \' inside a string; cql2 0.6 only '', so \' is rewritten.
    assert compiled("code = 'O''Brien'")[1] == ["O'Brien"]
    assert compiled("code = 'O\\'Brien'")[1] == ["O'Brien"]
    assert compiled("code = 'a\\'b''c\\''")[1] == ["a'b'c'"]
    # A backslash before anything else is kept.
    assert compiled("code = 'a\\b'")[1] == ["a\\b"]
    assert parse("code = 'O\\'Brien'") == eq(CODE, "O'Brien")


def test_text_outside_strings_is_kept():
    assert compiled("code\t=\n'a'\r\nAND floors>1") == (
        '((t."code" = %s::text) AND (t."floors" > %s::bigint))',
        ["a", 1],
    )


# -- parse: empty, invalid, JSON ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang"), [("", "cql2-text"), (" \n\t", "cql2-text"), ("  ", "cql2-json")]
)
def test_empty_filters(text, lang):
    assert refused(text, lang) == bad("条件为空", "empty filter")


def test_parse_returns_the_json_tree():
    assert parse("area_m2 > 3000 AND NOT (code = 'c')") == {
        "op": "and",
        "args": [
            {"op": ">", "args": [{"property": "area_m2"}, 3000.0]},
            {"op": "not", "args": [eq(CODE, "c")]},
        ],
    }
    assert parse('{"op": "=", "args": [{"property": "code"}, "c"]}', "cql2-json") == eq(CODE, "c")
    # The language decides: a JSON text given as CQL2-text is not valid CQL2-text.
    with pytest.raises(BadRequest):
        parse('{"op": "=", "args": [{"property": "code"}, "c"]}')


def test_invalid_cql2_text_reports_the_parser_summary():
    with pytest.raises(Exception) as e:  # noqa: PT011  (cql2's own ParseError)
        cql2.parse_text("code = 'a' and")
    lines = str(e.value).splitlines()
    assert len(lines) > 1 and lines[-1].strip().startswith("= expected ")
    assert refused("code = 'a' and") == bad(
        "不是有效的 CQL2", f"not valid CQL2 ({lines[-1].strip()})"
    )
    assert refused("(((") == bad("不是有效的 CQL2", "not valid CQL2 (= expected Expr)")


def test_malformed_json_is_reported_by_cql2():
    # cql2 (serde_json) raises its ParseError, not json.JSONDecodeError, for malformed JSON.
    assert refused("{", "cql2-json") == bad(
        "不是有效的 CQL2", "not valid CQL2 (EOF while parsing an object at line 1 column 1)"
    )
    assert refused('{"op": "and"}', "cql2-json") == bad(
        "不是有效的 CQL2", "not valid CQL2 (data did not match any variant of untagged enum Expr)"
    )


class _Odd(Exception):
    pass


def test_parser_errors_are_cut_to_200_characters(monkeypatch):
    def long_error(text: str) -> None:
        raise _Odd("first line\n\n  " + "x" * 300 + "  \n   ")

    monkeypatch.setattr(cq.cql2, "parse_text", long_error)
    assert refused("TRUE") == bad("不是有效的 CQL2", f"not valid CQL2 ({'x' * 200})")

    def silent(text: str) -> None:
        raise _Odd("  \n ")

    monkeypatch.setattr(cq.cql2, "parse_json", silent)
    assert refused("true", "cql2-json") == bad("不是有效的 CQL2", "not valid CQL2 (_Odd)")


def test_compile_filter_defaults_to_cql2_text_in_crs84():
    cond, params = compile_filter("S_INTERSECTS(geometry, POINT(114 22.5))", LOTS)
    assert cond.as_string(None) == "ST_Intersects(t.geom, ST_GeomFromWKB(%s, 4547))"
    assert geometry_param(params).x == pytest.approx(500_000, abs=1e-6)
    # The parameters are those of this compilation only.
    assert compile_filter("code = 'z'", LOTS)[1] == ["z"]


# -- argument counts (cql2 parses any count; a wrong one used to raise IndexError, a 500) ---


def arity(name: str, n: int, given: int) -> tuple[str, str]:
    return bad(f"{name} 需要 {n} 个参数", f"{name} needs {n} argument(s), not {given}")


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("S_INTERSECTS()", "cql2-text", arity("S_INTERSECTS", 2, 0)),
        ("S_INTERSECTS(geometry)", "cql2-text", arity("S_INTERSECTS", 2, 1)),
        ("S_WITHIN(geometry, geometry, geometry)", "cql2-text", arity("S_WITHIN", 2, 3)),
        ("CASEI() = code", "cql2-text", arity("CASEI", 1, 0)),
        ("CASEI(code, code) = code", "cql2-text", arity("CASEI", 1, 2)),
        (as_json({"op": "=", "args": [CODE]}), "cql2-json", arity("=", 2, 1)),
        (as_json({"op": "<>", "args": [CODE, "a", "b"]}), "cql2-json", arity("<>", 2, 3)),
        (as_json({"op": "not", "args": []}), "cql2-json", arity("NOT", 1, 0)),
        (as_json({"op": "not", "args": [True, False]}), "cql2-json", arity("NOT", 1, 2)),
        (as_json({"op": "isNull", "args": []}), "cql2-json", arity("ISNULL", 1, 0)),
        (as_json({"op": "isNull", "args": [CODE, CODE]}), "cql2-json", arity("ISNULL", 1, 2)),
        (as_json({"op": "like", "args": [CODE]}), "cql2-json", arity("LIKE", 2, 1)),
        (as_json({"op": "like", "args": [CODE, "a", "b"]}), "cql2-json", arity("LIKE", 2, 3)),
        (
            as_json({"op": "like", "args": [CODE, {"op": "casei", "args": []}]}),
            "cql2-json",
            arity("CASEI", 1, 0),
        ),
        (as_json({"op": "in", "args": [CODE]}), "cql2-json", arity("IN", 2, 1)),
        (as_json({"op": "in", "args": [CODE, ["a"], ["b"]]}), "cql2-json", arity("IN", 2, 3)),
        (as_json({"op": "between", "args": [FLOORS, 1]}), "cql2-json", arity("BETWEEN", 3, 2)),
        (
            as_json({"op": "between", "args": [FLOORS, 1, 2, 3]}),
            "cql2-json",
            arity("BETWEEN", 3, 4),
        ),
        (
            as_json({"op": "and", "args": []}),
            "cql2-json",
            bad("AND 至少需要 2 个参数", "AND needs 2 or more arguments, not 0"),
        ),
        (
            as_json({"op": "or", "args": [True]}),
            "cql2-json",
            bad("OR 至少需要 2 个参数", "OR needs 2 or more arguments, not 1"),
        ),
    ],
)
def test_operators_with_the_wrong_number_of_arguments(text, lang, expected):
    assert refused(text, lang) == expected


def test_argument_counts_that_are_right():
    assert compiled(as_json({"op": "and", "args": [True, False]}), "cql2-json") == (
        "(TRUE AND FALSE)",
        [],
    )
    assert compiled(as_json({"op": "or", "args": [True] * 3}), "cql2-json") == (
        "(TRUE OR TRUE OR TRUE)",
        [],
    )
    # An unknown function is refused as such, whatever its arguments.
    assert refused("f()") == bad("不支持此运算", "operator or function 'f' is not supported")


# -- the JSON scan, state by state --------------------------------------------------------


def nots(n: int, inner: object) -> dict:
    for _ in range(n):
        inner = {"op": "not", "args": [inner]}
    assert isinstance(inner, dict)
    return inner


DEEP = bad("嵌套超过 32 层", "nested deeper than 32 levels")


def test_json_depth_after_closed_brackets():
    # AND opens 2, the first comparison closes what it opened; 14 NOTs (28) and a comparison
    # (3) after it reach 33. With 13 NOTs, 31.
    over = {"op": "and", "args": [eq(FLOORS, 1), nots(14, eq(CODE, "a"))]}
    assert refused(as_json(over), "cql2-json") == DEEP
    under = {"op": "and", "args": [eq(FLOORS, 1), nots(13, eq(CODE, "a"))]}
    assert compiled(as_json(under), "cql2-json")[1] == [1, "a"]


def test_json_strings_end_after_an_escaped_backslash():
    # The string "x\" ends at its closing quote; the 16 NOTs after it nest 2 + 32 = 34 deep.
    over = {"op": "and", "args": [eq(CODE, "x\\"), nots(16, True)]}
    assert refused(as_json(over), "cql2-json") == DEEP
    under = {"op": "and", "args": [eq(CODE, "x\\"), nots(15, True)]}
    assert compiled(as_json(under), "cql2-json")[1] == ["x\\"]


def test_json_scan_starts_outside_an_escape():
    # The first string is empty: its second quote closes it, so what follows is counted.
    text = '{"": 0, ' + as_json(nots(16, eq(CODE, "a")))[1:]
    assert refused(text, "cql2-json") == DEEP


def test_json_scan_counts_only_brackets():
    assert refused("[X" * 40, "cql2-json") == DEEP
    assert refused("X" * 40, "cql2-json") == bad(
        "不是有效的 CQL2", "not valid CQL2 (expected value at line 1 column 1)"
    )
