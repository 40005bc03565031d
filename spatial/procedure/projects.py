"""Projects under procedure tracking: which track (housing compensation or land readiness)
and whether a project is public infrastructure (Art. 16).

Table ``procedure_projects`` (migration 0007), keyed by project code: a project must exist in
the current ``projects`` layer to be registered. Changing the registration is audited with
the old values.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text

from spatial.budget.rates import TRACK_LABELS_ZH, Track
from spatial.db import transaction
from spatial.demo import DEMO_UPLOADER
from spatial.errors import NotFound
from spatial.users import audit


class Registration(BaseModel):
    """A project's procedure registration."""

    project_code: str
    project_name: str | None
    track: Track
    track_zh: str
    public_infrastructure: bool
    registered_by: str
    registered_at: datetime


_SELECT = text(
    "SELECT r.project_code, p.name AS project_name, r.track, r.public_infrastructure, "
    "r.registered_by, r.registered_at FROM procedure_projects r "
    "LEFT JOIN current_projects p ON p.code = r.project_code WHERE r.project_code = :c"
)


def _reg(row: object) -> Registration:
    m = dict(row._mapping)  # type: ignore[attr-defined]
    m["track_zh"] = TRACK_LABELS_ZH[Track(m["track"])]
    return Registration(**m)


_LISTED = text(
    "SELECT r.project_code FROM procedure_projects r WHERE r.registered_by <> :demo "
    "OR EXISTS (SELECT 1 FROM current_projects p WHERE p.code = r.project_code) "
    "OR EXISTS (SELECT 1 FROM procedure_events e WHERE e.project_code = r.project_code "
    "AND e.occurred_on IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM procedure_events s WHERE s.supersedes = e.id)) "
    "ORDER BY r.project_code"
)


def listed_codes(conn: Connection) -> list[str]:
    """The codes of the registrations the bureau list and the ledger show, in code order.

    Every registration, except the demo's (``registered_by = 'demo'``) once the demo is
    unloaded: their project is no longer current and nothing current is recorded on them
    (:func:`spatial.demo.unload_demo` withdrew the demo's events). A registration made by a
    user, or one with an event a user recorded, is always listed.
    """
    return list(conn.execute(_LISTED, {"demo": DEMO_UPLOADER}).scalars())


def get_registration(conn: Engine | Connection, code: str) -> Registration:
    """The registration of project ``code``; NotFound (404) when it is not registered."""
    if isinstance(conn, Engine):
        with conn.connect() as c:
            row = c.execute(_SELECT, {"c": code}).first()
    else:
        row = conn.execute(_SELECT, {"c": code}).first()
    if row is None:
        raise NotFound(
            f"项目 {code} 尚未登记程序", f"project {code!r} is not registered for procedure"
        )
    return _reg(row)


def register_project(
    engine: Engine | Connection,
    code: str,
    track: Track,
    public_infrastructure: bool,
    user_name: str,
    role: str | None,
) -> Registration:
    """Register (or re-register) project ``code``; it must be a current project. Audited.

    On a Connection it runs in the caller's transaction (the demo loader's).
    """
    with transaction(engine) as conn:
        exists = conn.execute(
            text("SELECT 1 FROM current_projects WHERE code = :c"), {"c": code}
        ).first()
        if exists is None:
            raise NotFound(f"没有此项目：{code}", f"no current project with code {code!r}")
        old = conn.execute(
            text(
                "SELECT track, public_infrastructure FROM procedure_projects "
                "WHERE project_code = :c FOR UPDATE"
            ),
            {"c": code},
        ).first()
        conn.execute(
            text(
                "INSERT INTO procedure_projects (project_code, track, public_infrastructure, "
                "registered_by) VALUES (:c, :t, :p, :u) ON CONFLICT (project_code) DO UPDATE "
                "SET track = excluded.track, public_infrastructure = excluded.public_infrastructure"
            ),
            {"c": code, "t": track.value, "p": public_infrastructure, "u": user_name},
        )
        audit(
            conn,
            user_name,
            role,
            "procedure.register",
            f"project:{code}",
            {
                "track": track.value,
                "public_infrastructure": public_infrastructure,
                "old": None
                if old is None
                else {"track": old.track, "public_infrastructure": old.public_infrastructure},
            },
        )
        return get_registration(conn, code)
