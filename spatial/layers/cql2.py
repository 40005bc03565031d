"""CQL2 filters (text and JSON) compiled to parameterised SQL through the queryables allowlist.

The ``cql2`` package (Rust, the parser tipg uses) parses CQL2-text and CQL2-JSON into its JSON
syntax tree; this module compiles that tree to SQL over alias ``t``, checking every operator,
name and type itself (``cql2``'s JSON Schema validation costs about 28 ms a filter, 4000× the
parse, so it is not called). Supported:

- ``AND``, ``OR``, ``NOT``, ``TRUE``/``FALSE``, ``( … )``;
- ``= <> < > <= >=`` between properties and literals of the same type (string, number,
  boolean), ``[NOT] LIKE`` (``%``, ``_``, ``\\`` escapes), ``[NOT] IN (…)``,
  ``[NOT] BETWEEN`` (numbers), ``IS [NOT] NULL`` (any queryable, ``geometry`` included),
  ``CASEI(…)``;
- ``S_INTERSECTS``, ``S_DISJOINT``, ``S_WITHIN``, ``S_CONTAINS``, ``S_EQUALS``, ``S_TOUCHES``,
  ``S_CROSSES``, ``S_OVERLAPS`` between ``geometry`` and a geometry literal (WKT, GeoJSON or
  ``BBOX(…)``) in ``filter-crs`` (CRS84 by default).

Property names must be queryables of the collection; every literal becomes a bound parameter
and every property a fixed SQL expression from the registry. Anything else (other functions,
arithmetic, temporal literals, unknown names, type mismatches, operators with the wrong number
of arguments) raises :class:`spatial.errors.BadRequest`.

Before the text reaches the parser, :func:`_check_text` scans it once (linear time) for what
the limits below forbid (length, nesting, tokens) and for what ``cql2`` 0.6 gets wrong against
the CQL2 grammar: it accepts ``!=`` and ``NOT NOT x`` (both invalid: ``<>``, ``NOT (NOT x)``)
and refuses the ``\\'`` quote escape that the grammar allows (``'O\\'Brien'``); the scan
refuses the former and rewrites ``\\'`` as ``''``. The choice of ``cql2`` over our former
hand-written parser was measured in ``bench/cql2_parse.py``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import cql2
import numpy as np
import shapely
from psycopg import sql

from spatial.bbox import bbox_from, storage_wkb
from spatial.crs import STORAGE, transform_geometry
from spatial.errors import BadRequest
from spatial.layers.collection import Collection
from spatial.layers.crs_uri import CRS84, OutputCrs

MAX_LENGTH = 8192
"""Maximum filter length (characters)."""
MAX_DEPTH = 32
"""Maximum nesting of parentheses (text) or of arrays and objects (JSON)."""
MAX_TOKENS = 2000
"""Maximum number of tokens (words, literals, operators) in CQL2-text."""
MAX_IN_ITEMS = 500
"""Maximum number of values in one IN list."""
MAX_GEOMETRY_POINTS = 10_000
"""Maximum number of coordinates in a geometry literal."""

_COMPARISONS = {"=": "=", "<>": "<>", "<": "<", ">": ">", "<=": "<=", ">=": ">="}
_SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_within": "ST_Within",
    "s_contains": "ST_Contains",
    "s_equals": "ST_Equals",
    "s_touches": "ST_Touches",
    "s_crosses": "ST_Crosses",
    "s_overlaps": "ST_Overlaps",
}
_ARITY = {
    "not": 1,
    "isnull": 1,
    "like": 2,
    "in": 2,
    "between": 3,
    "casei": 1,
    **dict.fromkeys(_COMPARISONS, 2),
    **dict.fromkeys(_SPATIAL, 2),
}
"""Arguments each operator takes (the CQL2 JSON Schema's); ``and`` and ``or`` take two or more."""
_CASTS = {"string": "text", "number": "float8", "integer": "bigint", "boolean": "boolean"}
GEOMETRY = "geometry"
"""The queryable name of a collection's geometry (``t.geom``, EPSG:4547)."""


def _bad(zh: str, en: str) -> BadRequest:
    return BadRequest(f"过滤条件无效：{zh}", f"invalid filter: {en}")


def _check_arity(op: str, args: list[Any]) -> None:
    """Refuse ``op`` with the wrong number of arguments (cql2's JSON parser lets it through)."""
    n, name = len(args), op.upper()
    if op in ("and", "or"):
        if n < 2:
            raise _bad(f"{name} 至少需要 2 个参数", f"{name} needs 2 or more arguments, not {n}")
    elif op in _ARITY and n != _ARITY[op]:
        raise _bad(
            f"{name} 需要 {_ARITY[op]} 个参数", f"{name} needs {_ARITY[op]} argument(s), not {n}"
        )


# -- the text scan before parsing ---------------------------------------------------------


_TEXT_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:''|\\'|[^'])*+')
  | (?P<name>"[^"]*+")
  | (?P<word>[^\W\d][\w.:]*+)
  | (?P<ne>!=)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<quote>['"])
  | (?P<other>[^\s'"()!\w]+|\w+|!)
    """,
    re.VERBOSE,
)
_QUOTE_ESCAPE = re.compile(r"''|\\'")


def _check_text(text: str) -> str:
    """Enforce the limits on CQL2-text and fix ``cql2``'s deviations; returns the text to parse.

    One regular-expression pass (possessive, so linear): string literals (``'…'`` with ``''``
    and ``\\'`` escapes) and quoted names (``"…"``) are single tokens, parentheses are
    counted, ``!=`` and ``NOT NOT`` are refused and ``\\'`` is rewritten as ``''``.
    """
    if len(text) > MAX_LENGTH:
        raise _bad(f"长度超过 {MAX_LENGTH} 个字符", f"longer than {MAX_LENGTH} characters")
    if "\x00" in text:
        raise _bad("含有空字符（NUL）", "contains a NUL character")
    out: list[str] = []
    depth = tokens = 0
    last_word = ""
    for m in _TEXT_TOKEN.finditer(text):
        kind, value = m.lastgroup, m.group()
        if kind == "ws":
            out.append(value)
            continue
        tokens += 1
        if tokens > MAX_TOKENS:
            raise _bad(f"词元超过 {MAX_TOKENS} 个", f"more than {MAX_TOKENS} tokens")
        word = ""
        if kind == "string":
            value = "'" + _QUOTE_ESCAPE.sub("''", value[1:-1]) + "'"
        elif kind == "word":
            word = value.upper()
            if word == "NOT" and last_word == "NOT":
                raise _bad("NOT NOT 无效，请写 NOT (NOT …)", "NOT NOT is invalid; use NOT (NOT …)")
        elif kind == "ne":
            raise _bad("不等于应写作 <>", f"'!=' at {m.start()} is not CQL2; use '<>'")
        elif kind == "open":
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad(f"嵌套超过 {MAX_DEPTH} 层", f"nested deeper than {MAX_DEPTH} levels")
        elif kind == "close":
            depth -= 1
        elif kind == "quote":
            raise _bad("字符串缺少结尾的引号", f"unterminated string starting at {m.start()}")
        last_word = word
        out.append(value)
    return "".join(out)


def _check_json(text: str) -> None:
    if len(text) > MAX_LENGTH:
        raise _bad(f"长度超过 {MAX_LENGTH} 个字符", f"longer than {MAX_LENGTH} characters")
    depth, in_str, escaped = 0, False, False
    for c in text:
        if in_str:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad(f"嵌套超过 {MAX_DEPTH} 层", f"nested deeper than {MAX_DEPTH} levels")
        elif c in "]}":
            depth -= 1


def parse(text: str, lang: str = "cql2-text") -> Any:
    """The CQL2-JSON syntax tree of ``text`` (``lang``: ``cql2-text`` or ``cql2-json``).

    Raises BadRequest (400) for invalid CQL2 or a filter over the limits.

    Examples
    --------
    >>> parse("area_m2 > 3000 AND NOT (category = 'collective')")["op"]
    'and'
    >>> parse("name = 'O\\\\'Brien'")["args"][1]
    "O'Brien"
    """
    if not text.strip():
        raise _bad("条件为空", "empty filter")
    try:
        if lang == "cql2-json":
            _check_json(text)
            expr = cql2.parse_json(text)
        else:
            expr = cql2.parse_text(_check_text(text))
        return expr.to_json()
    except BadRequest:
        raise
    except Exception as exc:  # cql2 raises ParseError (malformed JSON too), ValidationError …
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = (lines[-1] if lines else type(exc).__name__)[:200]
        raise _bad("不是有效的 CQL2", f"not valid CQL2 ({detail})") from None


# -- the compiler --------------------------------------------------------------------------


def _names_property(node: Any) -> bool:
    if isinstance(node, dict):
        return "property" in node or any(_names_property(a) for a in node.get("args", ()))
    return False


Parts = list[sql.Composable]
"""SQL as a flat list of pieces, joined once at the end (nested ``sql.Composed`` is slow)."""


@dataclass(frozen=True)
class _Scalar:
    sql: Parts
    type: str  # string, number, integer, boolean, geometry


def _a(type_: str) -> str:
    return ("an " if type_[0] in "aeiou" else "a ") + type_


def _numeric(t: str) -> bool:
    return t in ("number", "integer")


_S = {k: sql.SQL(k) for k in ("(", ")", ", ", " AND ", " OR ", "(NOT ", " IS NULL)", "lower(")}
_OPS = {k: sql.SQL(f" {v} ") for k, v in _COMPARISONS.items()}
_LIKE, _BETWEEN, _IN = sql.SQL(" LIKE "), sql.SQL(" BETWEEN "), sql.SQL(" IN (")
_BINDS = {t: sql.SQL("%s::" + c) for t, c in _CASTS.items()}


class _Compiler:
    def __init__(self, collection: Collection, filter_crs: OutputCrs) -> None:
        self.col = collection
        self.crs = filter_crs
        self.params: list[Any] = []

    def bind(self, value: Any, type_: str) -> Parts:
        self.params.append(value)
        return [_BINDS[type_]]

    def predicate(self, node: Any) -> Parts:
        if isinstance(node, bool):
            return [sql.SQL("TRUE" if node else "FALSE")]
        if not isinstance(node, dict) or "op" not in node:
            raise _bad("此处应为条件", "expected a predicate (a comparison, LIKE, IN, …)")
        op, args = str(node["op"]).lower(), node.get("args", [])
        _check_arity(op, args)
        if op in ("and", "or"):
            out: Parts = [_S["("]]
            for i, a in enumerate(args):
                if i:
                    out.append(_S[" AND " if op == "and" else " OR "])
                out += self.predicate(a)
            return out + [_S[")"]]
        if op == "not":
            return [_S["(NOT "], *self.predicate(args[0]), _S[")"]]
        if op in _COMPARISONS:
            if not any(_names_property(a) for a in args):
                raise _bad("比较须包含可查询属性", "a comparison must name a queryable property")
            left, right = self.scalar(args[0]), self.scalar(args[1])
            if GEOMETRY in (left.type, right.type):
                raise _bad("几何不能比较大小", "geometries are compared with S_* functions")
            self.same_type(op, left, right)
            return [_S["("], *left.sql, _OPS[op], *right.sql, _S[")"]]
        if op == "like":
            return self.like(args)
        if op == "between":
            value, lo, hi = (self.scalar(a) for a in args)
            for s in (value, lo, hi):
                if not _numeric(s.type):
                    raise _bad("BETWEEN 只用于数值", "BETWEEN compares numbers only")
            return [_S["("], *value.sql, _BETWEEN, *lo.sql, _S[" AND "], *hi.sql, _S[")"]]
        if op == "in":
            return self.in_list(args)
        if op == "isnull":
            arg = args[0]
            if isinstance(arg, dict) and "property" in arg:
                return [_S["("], *self.scalar(arg).sql, _S[" IS NULL)"]]
            raise _bad("IS NULL 用于属性", "IS NULL applies to a property")
        if op in _SPATIAL:
            a, b = (self.scalar(x) for x in args)
            if a.type != GEOMETRY or b.type != GEOMETRY:
                raise _bad(f"{op.upper()} 需要两个几何", f"{op.upper()} needs two geometries")
            return [sql.SQL(_SPATIAL[op] + "("), *a.sql, _S[", "], *b.sql, _S[")"]]
        raise _bad("不支持此运算", f"operator or function {op[:30]!r} is not supported")

    def same_type(self, op: str, left: _Scalar, right: _Scalar) -> None:
        if left.type == right.type or (_numeric(left.type) and _numeric(right.type)):
            return
        en = f"{op}: cannot compare {_a(left.type)} with {_a(right.type)}"
        raise _bad("比较两侧类型不同", en)

    def like(self, args: list[Any]) -> Parts:
        value, pattern = self.scalar(args[0]), self.scalar(args[1])
        if value.type != "string" or pattern.type != "string":
            raise _bad("LIKE 只能用于文本属性", "LIKE compares strings only")
        raw = args[1]
        while isinstance(raw, dict) and raw.get("op") in ("casei", "accenti"):
            raw = raw["args"][0]
        if isinstance(raw, str):
            trailing = len(raw) - len(raw.rstrip("\\"))
            if trailing % 2:
                raise _bad(
                    "LIKE 模式以转义符 \\ 结尾", "a LIKE pattern must not end with the escape '\\'"
                )
        return [_S["("], *value.sql, _LIKE, *pattern.sql, _S[")"]]

    def in_list(self, args: list[Any]) -> Parts:
        value, items = self.scalar(args[0]), args[1]
        if not isinstance(items, list) or not items:
            raise _bad("IN 列表格式错误", "IN needs a list of values")
        if len(items) > MAX_IN_ITEMS:
            raise _bad(f"IN 列表超过 {MAX_IN_ITEMS} 项", f"IN list longer than {MAX_IN_ITEMS}")
        out: Parts = [_S["("], *value.sql, _IN]
        for i, item in enumerate(items):
            s = self.scalar(item)
            self.same_type("IN", value, s)
            if i:
                out.append(_S[", "])
            out += s.sql
        return out + [_S[")"], _S[")"]]

    def scalar(self, node: Any) -> _Scalar:
        if isinstance(node, bool):
            return _Scalar(self.bind(node, "boolean"), "boolean")
        if isinstance(node, int | float):
            if not math.isfinite(node):
                raise _bad("数值超出范围", "numbers must be finite")
            if float(node).is_integer() and abs(node) < 2**63:
                return _Scalar(self.bind(int(node), "integer"), "integer")
            return _Scalar(self.bind(float(node), "number"), "number")
        if isinstance(node, str):
            if "\x00" in node:
                raise _bad("含有空字符（NUL）", "contains a NUL character")
            return _Scalar(self.bind(node, "string"), "string")
        if node is None:
            raise _bad("与 NULL 比较请用 IS NULL", "compare with NULL using IS NULL")
        if isinstance(node, dict):
            if "property" in node:
                return self.prop(str(node["property"]))
            if node.get("op") in ("casei", "accenti"):
                if node["op"] == "accenti":
                    raise _bad("不支持 ACCENTI", "ACCENTI is not supported")
                _check_arity("casei", node["args"])
                inner = self.scalar(node["args"][0])
                if inner.type != "string":
                    raise _bad("CASEI 用于文本", "CASEI applies to strings")
                return _Scalar([_S["lower("], *inner.sql, _S[")"]], "string")
            if "bbox" in node or node.get("type") in _GEOJSON_TYPES:
                return _Scalar([self.geometry_literal(node)], GEOMETRY)
            if any(k in node for k in ("timestamp", "date", "interval")):
                raise _bad("图层没有时间属性", "these layers have no temporal properties")
            if "op" in node:
                raise _bad(
                    "不支持此运算",
                    f"operator or function {str(node['op'])[:30]!r} is not supported",
                )
        raise _bad("此处应为属性或值", "expected a property or a literal")

    def prop(self, name: str) -> _Scalar:
        if name == GEOMETRY:
            return _Scalar([sql.SQL("t.geom")], GEOMETRY)
        prop = self.col.prop(name)
        if prop is None:
            raise _bad(
                f"属性 {name[:50]!r} 不可查询",
                f"{name[:50]!r} is not a queryable of {self.col.id}; queryables: "
                f"{', '.join(p.name for p in self.col.properties)}, {GEOMETRY}",
            )
        return _Scalar([prop.sql()], prop.type)

    def geometry_literal(self, node: dict[str, Any]) -> sql.Composable:
        """A geometry literal in ``filter-crs`` as an EPSG:4547 shape bound as WKB.

        ``BBOX(…)`` goes through :mod:`spatial.bbox` (validated, clamped to EPSG:4547's area of
        use, densified), like the ``bbox`` parameter; other geometries are transformed with
        pyproj. Either way the stored column is never transformed, so the GiST index is used.
        """
        if "bbox" in node:
            try:
                values = [float(v) for v in node["bbox"]]
            except (TypeError, ValueError):
                raise _bad("BBOX 格式错误", "BBOX needs 4 or 6 numbers") from None
            box = bbox_from(values, self.crs.srid, self.crs.north_first)
            wkb = storage_wkb(box)
            # Outside the area of use nothing intersects it: an empty geometry, not NULL, so
            # S_DISJOINT stays true.
            self.params.append(wkb if wkb is not None else _EMPTY_WKB)
            return sql.SQL("ST_GeomFromWKB(%s, 4547)")
        try:
            geom = shapely.from_geojson(json.dumps(node))
        except (ValueError, TypeError, shapely.errors.GEOSException):
            raise _bad("几何格式错误", "invalid geometry literal") from None
        coords = shapely.get_coordinates(geom)
        if len(coords) > MAX_GEOMETRY_POINTS:
            raise _bad("几何点数过多", f"more than {MAX_GEOMETRY_POINTS} points in a geometry")
        if geom.is_empty or not coords.size or not bool(np.isfinite(coords).all()):
            raise _bad("几何为空或坐标无效", "the geometry is empty or has non-finite coordinates")
        if self.crs.north_first:
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        if self.crs.srid != STORAGE:
            lon, lat = shapely.get_coordinates(geom).T
            if lon.min() < -180 or lon.max() > 180 or lat.min() < -90 or lat.max() > 90:
                raise _bad("几何超出经纬度范围", "geometry outside the longitude/latitude range")
            geom = transform_geometry(geom, self.crs.srid, STORAGE)
            if not bool(np.isfinite(shapely.get_coordinates(geom)).all()):
                raise _bad("几何超出坐标系范围", "geometry outside the storage CRS's area of use")
        self.params.append(shapely.to_wkb(shapely.make_valid(geom)))
        return sql.SQL("ST_GeomFromWKB(%s, 4547)")


_EMPTY_WKB = shapely.to_wkb(shapely.GeometryCollection())
_GEOJSON_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}


def compile_filter(
    text: str,
    collection: Collection,
    lang: str = "cql2-text",
    filter_crs: OutputCrs = CRS84,
) -> tuple[sql.Composable, list[Any]]:
    """Compile the CQL2 filter ``text`` into a SQL condition over alias ``t`` and its parameters.

    Parameters
    ----------
    text : str
        The filter, e.g. ``category = 'collective' AND area_m2 > 3000``.
    collection : Collection
        Supplies the allowlist of queryable properties and their types.
    lang : {"cql2-text", "cql2-json"}
        The filter's encoding.
    filter_crs : OutputCrs
        CRS of geometry literals (CRS84 lon/lat by default).

    Returns
    -------
    (condition, params)
        ``condition`` uses ``%s`` placeholders, in the order of ``params``.

    Raises
    ------
    BadRequest
        On any syntax error, unknown property, type mismatch or limit exceeded.

    Examples
    --------
    >>> from spatial.layers.registry import build_registry
    >>> cond, params = compile_filter("code IN ('a', 'b')", build_registry().get("parcels"))
    >>> params
    ['a', 'b']
    """
    tree = parse(text, lang)
    compiler = _Compiler(collection, filter_crs)
    condition = sql.Composed(compiler.predicate(tree))
    return condition, compiler.params
