"""Every mutating route, enumerated from ``app.routes``, refuses the wrong callers and writes
nothing: no token (401), a bad token (401), a signed-in browser session without its CSRF
token (403), and every role it does not allow (403), analyst included. A route added without
an entry in :data:`ROLE_POLICY` (or :data:`PUBLIC_MUTATING`) fails this file, by name.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import layers_data
import pytest
from conftest import make_client
from ingest_files import parcels, write_shp
from openpyxl import Workbook
from sqlalchemy import text

from api.app import create_app
from api.deps import SESSION_COOKIE
from spatial.budget.pool import move
from spatial.budget.rates import Track
from spatial.models import Layer
from spatial.procedure.events import record_event
from spatial.procedure.projects import register_project
from spatial.roles import Role
from spatial.sessions import start_session
from spatial.users import add_user

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Policy:
    """Who may call a route, and a request that would change something if allowed."""

    allowed: frozenset[Role]
    request: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda ids: {})
    """Keyword arguments of ``TestClient.request``, given the fixture's ids."""
    path_params: dict[str, str] = field(default_factory=dict)
    ok: int = 200
    writes: bool = True
    """Whether the allowed request changes the store (logout by token does not)."""


def _upload(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "files": {"file": ("宗地.zip", ids["zip"], "application/zip")},
        "data": {"layer": "parcels"},
    }


def _items_xlsx(ids: dict[str, Any]) -> dict[str, Any]:
    return {
        "files": {"file": ("预算.xlsx", ids["xlsx"], "application/vnd.openxmlformats-"
                           "officedocument.spreadsheetml.sheet")},
    }  # fmt: skip


ITEMS = {"items": [{"section": "direct", "category": "land", "description": "土地补偿",
                    "amount": "1200000.00"}]}  # fmt: skip
MOVE = {"project_code": "P1", "amount": "100.00", "on_date": "2026-12-01"}
RECORDERS = frozenset({Role.admin, Role.planner})

NOTICE_2027 = {
    "year": 2027,
    "reference": "国办发明电〔2026〕1号",
    "holidays": [{"start": "2027-02-06", "end": "2027-02-13", "name": "春节"}],
    "workdays": [],
}

UPLOADERS = frozenset({Role.admin, Role.surveyor})
LINE_500_M = {"type": "LineString", "coordinates": [[500_000, 2_510_000], [500_300, 2_510_400]]}
CANDIDATE = {
    "project_code": "P1",
    "planned_use": "M1",
    "crs": 4547,
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[500_100, 2_510_100], [500_150, 2_510_100], [500_150, 2_510_150], [500_100, 2_510_100]]
        ],
    },
}
"""A triangle inside project P1 of tests/layers_data.py, EPSG:4547."""

ROLE_POLICY: dict[tuple[str, str], Policy] = {
    ("POST", "/users"): Policy(
        frozenset({Role.admin}),
        lambda ids: {"json": {"name": "新用户", "role": "surveyor"}},
        ok=201,
    ),
    ("PATCH", "/users/{name}"): Policy(
        frozenset({Role.admin}),
        lambda ids: {"json": {"role": "analyst"}},
        path_params={"name": "target"},
    ),
    ("POST", "/users/{name}/password"): Policy(
        frozenset({Role.admin}),
        lambda ids: {"json": {"password": "correct-horse-battery"}},
        path_params={"name": "target"},
        ok=204,
    ),
    ("POST", "/users/{name}/token"): Policy(
        frozenset({Role.admin}), path_params={"name": "target"}
    ),
    ("POST", "/uploads"): Policy(frozenset({Role.admin, Role.surveyor}), _upload, ok=201),
    ("POST", "/datasets/{dataset_id}/restore"): Policy(
        frozenset({Role.admin}), path_params={"dataset_id": "superseded"}
    ),
    ("PUT", "/calendar/years/{year}"): Policy(
        frozenset({Role.admin}), lambda ids: {"json": NOTICE_2027}, path_params={"year": "2027"}
    ),
    ("POST", "/logout"): Policy(EVERYONE, ok=303, writes=False),
    ("PUT", "/procedure/projects/{code}/registration"): Policy(
        RECORDERS, lambda ids: {"json": {"track": "land_readiness"}}, path_params={"code": "P2"}
    ),
    ("PUT", "/budget/projects/{code}/items"): Policy(
        RECORDERS, lambda ids: {"json": ITEMS}, path_params={"code": "P1"}
    ),
    ("POST", "/budget/projects/{code}/items.xlsx"): Policy(
        RECORDERS, _items_xlsx, path_params={"code": "P1"}
    ),
    ("POST", "/procedure/projects/{code}/events"): Policy(
        RECORDERS,
        lambda ids: {"json": {"step": "verification_letters_sent", "occurred_on": "2026-09-07"}},
        path_params={"code": "P1"},
        ok=201,
    ),
    ("POST", "/procedure/events/{event_id}/correction"): Policy(
        RECORDERS,
        lambda ids: {"json": {"occurred_on": "2026-09-02", "reason": "收件日期录错"}},
        path_params={"event_id": "event"},
        ok=201,
    ),
    ("POST", "/budget/pool/draws"): Policy(RECORDERS, lambda ids: {"json": MOVE}),
    ("POST", "/budget/pool/repayments"): Policy(RECORDERS, lambda ids: {"json": MOVE}),
    ("POST", "/uploads/staged/{sha256}/publish"): Policy(
        UPLOADERS, path_params={"sha256": "staged"}, ok=201
    ),
    # the kept file is on disk, not in the store: refused callers must leave it (the allowed
    # call then deletes it); the store is unchanged either way
    ("DELETE", "/uploads/staged/{sha256}"): Policy(
        UPLOADERS, path_params={"sha256": "staged"}, ok=204, writes=False
    ),
    # the workbench tools compute and write nothing, but need a sign-in (and a CSRF token)
    ("POST", "/measure"): Policy(
        EVERYONE, lambda ids: {"json": {"geometry": LINE_500_M, "crs": 4547}}, writes=False
    ),
    ("POST", "/siting/check"): Policy(EVERYONE, lambda ids: {"json": CANDIDATE}, writes=False),
    ("POST", "/siting/candidate.{fmt}"): Policy(
        EVERYONE, lambda ids: {"json": CANDIDATE}, path_params={"fmt": "geojson"}, writes=False
    ),
    ("POST", "/siting/suggestions"): Policy(
        EVERYONE,
        lambda ids: {"json": {"project_code": "P1", "planned_use": "M1", "area_m2": 2500}},
        writes=False,
    ),
}
"""(method, path) → policy, for every route that changes data. Add yours here."""

PUBLIC_MUTATING: dict[tuple[str, str], str] = {
    ("POST", "/login"): "the sign-in form: anyone may submit it (throttled, login CSRF cookie)",
}
"""(method, path) → why anyone may call it."""


def _flat(routes: list[Any]) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, including those of included routers."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI ≥ 0.150 keeps included routers as one entry
            for ctx in contexts():
                yield ctx.path, set(getattr(ctx.original_route, "methods", None) or ())
        else:
            yield getattr(route, "path", ""), set(getattr(route, "methods", None) or ())


def mutating_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app with an unsafe method."""
    return {(m, p) for p, ms in _flat(create_app().routes) for m in ms & MUTATING}


def test_every_mutating_route_declares_a_role_policy():
    routes = mutating_routes()
    assert ("POST", "/uploads") in routes  # the enumeration sees included routers
    missing = sorted(routes - set(ROLE_POLICY) - set(PUBLIC_MUTATING))
    assert not missing, (
        "mutating route(s) without a declared role policy: "
        + ", ".join(f"{m} {p}" for m, p in missing)
        + ". Add each to ROLE_POLICY in tests/test_role_matrix.py (the roles it allows and a "
        "request that would write), or to PUBLIC_MUTATING with the reason anyone may call it."
    )
    stale = sorted((set(ROLE_POLICY) | set(PUBLIC_MUTATING)) - routes)
    assert not stale, f"policies for routes the app does not have: {stale}"


def _fingerprint(engine) -> dict[str, str]:  # noqa: ANN001
    """Row count and md5 of every row of every table of the public schema."""
    with engine.connect() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"  # noqa: E501
                    " AND c.relname <> 'spatial_ref_sys' ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        return {
            t: conn.execute(
                text(
                    f"SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|' "
                    f"ORDER BY x::text), '')) FROM \"{t}\" x"
                )
            ).scalar_one()
            for t in tables
        }


@pytest.fixture
def matrix(db, tmp_path):
    v1 = layers_data.load_layer(db.engine, Layer.parcels, layers_data.parcel_rows()[:3])
    layers_data.load_layer(db.engine, Layer.parcels, layers_data.parcel_rows()[3:5])
    layers_data.load_layer(db.engine, Layer.projects, layers_data.LAYERS[Layer.projects])
    register_project(db.engine, "P1", Track.land_readiness, False, "setup", "admin")
    move(db.engine, "draw", "P1", Decimal("1000.00"), date(2026, 11, 30), None, "setup", "admin")
    record_event(db.engine, "P1", "entrusted", date(2026, 9, 1), None, "setup", "admin",
                 date(2026, 12, 1))  # fmt: skip
    tokens = {role: add_user(f"u-{role.value}", role, db.engine) for role in Role}
    add_user("target", Role.planner, db.engine)
    with db.engine.connect() as conn:
        admin_id = conn.execute(text("SELECT id FROM users WHERE name = 'u-admin'")).scalar_one()
    shp = write_shp(parcels(3, x0=510_000.0), tmp_path / "src")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in sorted(shp.parent.iterdir()):
            zf.write(part, part.name)
    wb = Workbook()
    wb.active.append(["费用类型", "类别", "名称", "金额（元）"])
    wb.active.append(["直接补偿费", "土地", "土地补偿", "800000.00"])
    xlsx = io.BytesIO()
    wb.save(xlsx)
    with db.engine.connect() as conn:
        event = conn.execute(text("SELECT max(id) FROM procedure_events")).scalar_one()
    with make_client(db) as client:  # a dry run kept for publishing, by the admin
        kept = client.post(
            "/uploads",
            files={"file": ("宗地.zip", buf.getvalue(), "application/zip")},
            data={"layer": "parcels", "dry_run": "true", "keep": "true"},
            headers={"Authorization": f"Bearer {tokens[Role.admin]}"},
        )
    assert kept.status_code == 200, kept.text
    ids = {"superseded": str(v1), "zip": buf.getvalue(), "xlsx": xlsx.getvalue(),
           "event": str(event), "staged": kept.json()["sha256"]}  # fmt: skip
    session = start_session(db.engine, admin_id)
    return db, tokens, ids, session


@pytest.mark.parametrize("key", sorted(ROLE_POLICY), ids=lambda k: f"{k[0]} {k[1]}")
def test_wrong_callers_are_refused_and_write_nothing(matrix, key):
    db, tokens, ids, session = matrix
    method, path = key
    policy = ROLE_POLICY[key]
    url = path.format(**{k: ids.get(v, v) for k, v in policy.path_params.items()})
    callers: list[tuple[str, dict[str, str], dict[str, str], int, str]] = [
        ("anonymous", {}, {}, 401, "unauthenticated"),
        ("bad token", {"Authorization": "Bearer tz_not-a-real-token"}, {}, 401, "unauthenticated"),
        ("basic auth", {"Authorization": "Basic dXNlcjpwdw=="}, {}, 401, "unauthenticated"),
        ("admin session, no CSRF token", {}, {SESSION_COOKIE: session}, 403, "csrf_failed"),
    ]
    callers += [
        (role.value, {"Authorization": f"Bearer {tokens[role]}"}, {}, 403, "forbidden")
        for role in Role
        if role not in policy.allowed
    ]
    assert Role.analyst in policy.allowed or any(c[0] == "analyst" for c in callers)
    with make_client(db) as client:
        before = _fingerprint(db.engine)
        for who, headers, cookies, status, code in callers:
            client.cookies.clear()
            for k, v in cookies.items():
                client.cookies.set(k, v)
            r = client.request(method, url, headers=headers, **policy.request(ids))
            assert r.status_code == status, (who, method, url, r.status_code, r.text[:300])
            assert r.json()["code"] == code, (who, r.text[:300])
            assert _fingerprint(db.engine) == before, f"{who}: {method} {url} wrote to the store"
        client.cookies.clear()
        # the same request from an allowed role goes through: the refusals were about the caller
        role = sorted(policy.allowed)[0]
        r = client.request(
            method,
            url,
            headers={"Authorization": f"Bearer {tokens[role]}"},
            follow_redirects=False,
            **policy.request(ids),
        )
        assert r.status_code == policy.ok, (role, r.text[:300])
        assert (_fingerprint(db.engine) != before) is policy.writes
