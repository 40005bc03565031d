"""CQL2 filters: edge cases of the grammar, and a differential test against two oracles.

The differential test generates filters (as a tree) over the queryables of every collection of
the demo district, downloads every feature once, and compares what the server returns for each
filter with what two client-side evaluators say of the downloaded GeoJSON:

- a small evaluator of the generated tree written here (SQL's three-valued logic for NULL);
- the ``cql2`` package's own evaluator (``Expr.matches``) on the filter text.

``cql2`` is also the server's parser, but its evaluator never sees our SQL: the server runs the
compiled SQL in PostGIS, the oracles evaluate the downloaded JSON in Python (and the tree
evaluator does not parse at all), so a wrong compilation shows up as a disagreement.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

import clients_data
import cql2
import pytest
from sqlalchemy import text

from spatial.layers.registry import Collection, build_registry

clients_db = clients_data.clients_db
clients_client = clients_data.clients_client

# -- edge cases -----------------------------------------------------------------------------


def items(client, collection: str, **params):  # noqa: ANN001, ANN201
    return client.get(f"/collections/{collection}/items", params=params)


def matched(client, flt: str, collection: str = "parcels", **params) -> int:  # noqa: ANN001
    r = items(client, collection, filter=flt, **params)
    assert r.status_code == 200, (flt, r.text)
    return r.json()["numberMatched"]


@pytest.fixture(scope="module")
def n_parcels(clients_client) -> int:  # noqa: ANN001
    return items(clients_client, "parcels", limit=1).json()["numberMatched"]


def test_boolean_literals(clients_client, n_parcels):
    assert matched(clients_client, "TRUE") == n_parcels
    assert matched(clients_client, "FALSE") == 0
    assert matched(clients_client, "NOT FALSE AND TRUE") == n_parcels
    assert matched(clients_client, "category = 'collective' AND TRUE") == matched(
        clients_client, "category = 'collective'"
    )


def test_escaped_quotes_and_signed_numbers(clients_client, n_parcels):
    # CQL2 allows both '' and \' inside a string: the same value either way.
    assert matched(clients_client, "owner = 'O''Brien'") == 0
    assert matched(clients_client, "owner = 'O\\'Brien'") == 0
    assert matched(clients_client, "owner <> 'O\\'Brien' OR owner IS NULL") == n_parcels
    assert matched(clients_client, "area_m2 > +0") == n_parcels
    assert matched(clients_client, "area_m2 > -1.5e3") == n_parcels
    assert matched(clients_client, "area_m2 < +1E12") == n_parcels


def test_geometry_is_a_queryable(clients_client, n_parcels):
    assert matched(clients_client, "geometry IS NULL") == 0
    assert matched(clients_client, "geometry IS NOT NULL") == n_parcels
    whole = "S_INTERSECTS(geometry, BBOX(113.7, 22.6, 114.1, 22.9))"
    assert matched(clients_client, whole) == n_parcels
    assert matched(clients_client, "S_INTERSECTS(geometry, POINT(0 0))") == 0
    assert matched(clients_client, "S_DISJOINT(geometry, POINT(0 0))") == n_parcels
    # bbox parameter and S_INTERSECTS with the same box select the same parcels.
    box = (113.90, 22.72, 113.95, 22.76)
    by_param = items(clients_client, "parcels", bbox=",".join(map(str, box)), limit=1)
    by_filter = matched(clients_client, f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, box))}))")
    assert 0 < by_filter == by_param.json()["numberMatched"] < n_parcels
    # A geometry literal in EPSG:4547 (northing first, as the CRS defines).
    r = items(
        clients_client,
        "parcels",
        filter="S_INTERSECTS(geometry, POINT(2500000 500000))",
        **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/4547"},
    )
    assert r.status_code == 200


def test_casei(clients_client):
    n = matched(clients_client, "category = 'collective'")
    assert matched(clients_client, "CASEI(category) = CASEI('COLLECTIVE')") == n
    assert matched(clients_client, "category = 'COLLECTIVE'") == 0


@pytest.mark.parametrize(
    ("flt", "needle"),
    [
        ("area_m2 != 1", "'!=' at 8 is not CQL2"),
        ("NOT NOT category = 'collective'", "NOT NOT is invalid"),
        ("code BETWEEN 'a' AND 'b'", "BETWEEN compares numbers only"),
        ("code = 'unterminated", "unterminated string"),
        ("owner LIKE '%\\'", "unterminated string"),
        ("area_m2 = 1e400", "finite"),
        ("code = NULL", "IS NULL"),
        ("'a' = 'a'", "must name a queryable"),
        ("area_m2 + 1 = 2", "not supported"),
        ("ACCENTI(owner) = 'x'", "ACCENTI"),
        ("T_AFTER(code, TIMESTAMP('2020-01-01T00:00:00Z'))", "not supported"),
        ("area_m2 = code", "cannot compare a number with a string"),
        ("geometry = 1", "geometries are compared"),
        ("S_INTERSECTS(geometry, POINT(200 100))", "longitude/latitude"),
        ("S_INTERSECTS(code, POINT(1 1))", "needs two geometries"),
        ("BBOX(1, 2, 3, 4)", "expected a predicate"),
        ("S_INTERSECTS(geometry)", "S_INTERSECTS needs 2 argument(s), not 1"),
        ("CASEI() = code", "CASEI needs 1 argument(s), not 0"),
        ("code = 'a' and", "not valid CQL2"),
    ],
)
def test_invalid_cql2_is_refused(clients_client, flt, needle):
    r = items(clients_client, "parcels", filter=flt)
    assert r.status_code == 400, flt
    assert needle in r.json()["message_en"], r.json()


def test_not_of_not_in_parentheses_is_valid(clients_client):
    n = matched(clients_client, "category = 'collective'")
    assert matched(clients_client, "NOT (NOT (category = 'collective'))") == n


def test_cql2_json_filters(clients_client):
    n = matched(clients_client, "category = 'collective' AND area_m2 > 5000")
    body = {
        "op": "and",
        "args": [
            {"op": "=", "args": [{"property": "category"}, "collective"]},
            {"op": ">", "args": [{"property": "area_m2"}, 5000]},
        ],
    }
    r = items(clients_client, "parcels", filter=json.dumps(body), **{"filter-lang": "cql2-json"})
    assert r.status_code == 200 and r.json()["numberMatched"] == n > 0
    deep = {"op": "not", "args": [True]}
    for _ in range(40):
        deep = {"op": "not", "args": [deep]}
    r = items(clients_client, "parcels", filter=json.dumps(deep), **{"filter-lang": "cql2-json"})
    assert r.status_code == 400 and "nested deeper" in r.json()["message_en"]


# -- the differential test ----------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A generated filter: op and args (a property name, literals or child nodes)."""

    op: str
    args: tuple[Any, ...]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return _quote(value)
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(node: Node) -> str:
    """CQL2-text of a generated node."""
    op, a = node.op, node.args
    if op in ("and", "or"):
        return "(" + f" {op.upper()} ".join(render(x) for x in a) + ")"
    if op == "not":
        return f"NOT ({render(a[0])})"
    if op == "isNull":
        return f"{a[0]} IS NULL"
    if op == "like":
        return f"{a[0]} LIKE {_quote(a[1])}"
    if op == "in":
        return f"{a[0]} IN ({', '.join(_literal(v) for v in a[1])})"
    if op == "between":
        return f"{a[0]} BETWEEN {_literal(a[1])} AND {_literal(a[2])}"
    return f"{a[0]} {op} {_literal(a[1])}"


def _like(value: str, pattern: str) -> bool:
    """SQL LIKE (``%``, ``_``, ``\\`` escape) without regular expressions."""

    def match(i: int, j: int) -> bool:
        while j < len(pattern):
            c = pattern[j]
            if c == "%":
                return any(match(k, j + 1) for k in range(i, len(value) + 1))
            if c == "\\" and j + 1 < len(pattern):
                j += 1
                c = pattern[j]
            elif c == "_":
                if i >= len(value):
                    return False
                i, j = i + 1, j + 1
                continue
            if i >= len(value) or value[i] != c:
                return False
            i, j = i + 1, j + 1
        return i == len(value)

    return match(0, 0)


def evaluate(node: Node, props: dict[str, Any]) -> bool | None:
    """The generated filter on one feature's properties, with SQL's NULL logic (None)."""
    op, a = node.op, node.args
    if op in ("and", "or"):
        values = [evaluate(x, props) for x in a]
        if op == "and":
            return False if False in values else (None if None in values else True)
        return True if True in values else (None if None in values else False)
    if op == "not":
        v = evaluate(a[0], props)
        return None if v is None else not v
    value = props[a[0]]
    if op == "isNull":
        return value is None
    if value is None:
        return None
    if op == "like":
        return _like(value, a[1])
    if op == "in":
        return value in a[1]
    if op == "between":
        return a[1] <= value <= a[2]
    lit = a[1]
    return {
        "=": value == lit,
        "<>": value != lit,
        "<": value < lit,
        ">": value > lit,
        "<=": value <= lit,
        ">=": value >= lit,
    }[op]


class Generator:
    """Random filters over a collection's queryables, with literals drawn from its data."""

    def __init__(self, col: Collection, features: list[dict], seed: int, string_order: bool):
        self.rng = random.Random(seed)
        self.col = col
        self.string_order = string_order
        self.values: dict[str, list[Any]] = {}
        for p in col.properties:
            seen = [f["properties"][p.name] for f in features]
            self.values[p.name] = [v for v in seen if v is not None]

    def literal(self, name: str, kind: str) -> Any:
        pool = self.values[name]
        if kind == "string":
            if pool and self.rng.random() < 0.8:
                return self.rng.choice(pool)
            return self.rng.choice(["不存在", "x'y", "GM-ZB-001", "", "collective"])
        if pool and self.rng.random() < 0.7:
            v = self.rng.choice(pool)
            return v if kind == "integer" else v + self.rng.choice([0.0, 0.01, -0.01, 0.5])
        return self.rng.choice([0, 1, 3000.0, 2999.99, 3000.01, -1.5, 1e6])

    def leaf(self) -> Node:
        p = self.rng.choice(self.col.properties)
        name, kind = p.name, p.type
        if kind == "boolean":
            op = self.rng.choice(["=", "<>", "isNull"])
            return (
                Node(op, (name,)) if op == "isNull" else Node(op, (name, self.rng.random() < 0.5))
            )
        ops = ["=", "<>", "isNull", "in"]
        if kind == "string":
            ops += ["like"] + (["<", ">", "<=", ">="] if self.string_order else [])
        else:
            ops += ["<", ">", "<=", ">=", "between"]
        op = self.rng.choice(ops)
        if op == "isNull":
            return Node(op, (name,))
        if op == "like":
            base = self.literal(name, "string")
            cut = self.rng.randint(0, len(base))
            pattern = self.rng.choice([base[:cut] + "%", "%" + base[cut:], "_" + base[1:], base])
            return Node(op, (name, pattern.replace("\\", "\\\\")))
        if op == "in":
            return Node(op, (name, tuple(self.literal(name, kind) for _ in range(3))))
        if op == "between":
            lo, hi = sorted([self.literal(name, kind), self.literal(name, kind)])
            return Node(op, (name, lo, hi))
        return Node(op, (name, self.literal(name, kind)))

    def tree(self, depth: int = 0) -> Node:
        r = self.rng.random()
        if depth >= 3 or r < 0.35:
            return self.leaf()
        if r < 0.5:
            return Node("not", (self.tree(depth + 1),))
        op = "and" if r < 0.75 else "or"
        return Node(op, tuple(self.tree(depth + 1) for _ in range(self.rng.randint(2, 3))))


def _all_features(client, cid: str, **params) -> list[dict]:  # noqa: ANN001
    r = items(client, cid, limit=10000, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["numberReturned"] == body["numberMatched"]
    return body["features"]


FILTERS_PER_COLLECTION = 60


def test_generated_filters_agree_with_client_side_evaluation(clients_client, clients_db):
    with clients_db.engine.connect() as conn:
        collate = conn.execute(
            text("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        ).scalar()
    string_order = collate in ("C", "C.UTF-8", "POSIX")
    checked = cql2_verdicts = 0
    for i, col in enumerate(build_registry()):
        features = _all_features(clients_client, col.id)
        assert features, col.id
        gen = Generator(col, features, seed=1000 + i, string_order=string_order)
        for _ in range(FILTERS_PER_COLLECTION):
            node = gen.tree()
            flt = render(node)
            served = {f["id"] for f in _all_features(clients_client, col.id, filter=flt)}
            by_tree = {f["id"] for f in features if evaluate(node, f["properties"]) is True}
            assert served == by_tree, (col.id, flt, sorted(served ^ by_tree)[:5])
            expr = cql2.Expr(flt)
            for f in features:
                try:
                    verdict = expr.matches(f)
                except Exception:  # cql2 cannot reduce a comparison with a null: no verdict
                    continue
                cql2_verdicts += 1
                assert verdict == (f["id"] in served), (col.id, flt, f["id"])
            checked += 1
    assert checked == FILTERS_PER_COLLECTION * len(build_registry())
    assert cql2_verdicts > checked * 10
