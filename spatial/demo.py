"""Demo data (示例数据) in the store: whether it is loaded, and unloading it.

The demo district (``data/demo.py``) is loaded as datasets with ``uploaded_by = 'demo'``.
Every page marks it ``示例数据`` while one of them is active. :func:`unload_demo` withdraws
them; it never touches a surveyor's dataset.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, text

from spatial.db import read_rows

DEMO_UPLOADER = "demo"
"""``datasets.uploaded_by`` of the demo's datasets."""


class DemoUnload(BaseModel):
    """What unloading the demo did: the datasets withdrawn and those brought back."""

    withdrawn: list[int]
    """Active demo datasets now superseded."""
    restored: list[int]
    """Surveyors' datasets the demo had replaced, active again (the latest per layer)."""
    procedure_events: list[int] = []
    """The demo's procedure events now withdrawn (a withdrawal row supersedes each)."""

    @property
    def summary(self) -> str:
        """One line, Chinese and English."""
        if not self.withdrawn and not self.procedure_events:
            return "未加载示例数据 no demo data was loaded"
        back = f"，恢复数据集 {self.restored}" if self.restored else ""
        n = len(self.procedure_events)
        events = f"，撤销程序事项 {n} 项 ({n} procedure events withdrawn)" if n else ""
        datasets = f"数据集 datasets {self.withdrawn} withdrawn"
        return f"已卸载示例数据 demo unloaded: {datasets}{back}{events}"


def demo_active(engine: Engine) -> bool:
    """True while any active dataset is the demo's."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM datasets "
                    "WHERE status = 'active' AND uploaded_by = :demo)"
                ),
                {"demo": DEMO_UPLOADER},
            ).scalar_one()
        )


def unload_demo(engine: Engine, user_name: str = "system") -> DemoUnload:
    """Withdraw every active demo dataset, in one transaction under the layers' locks.

    Each active demo dataset becomes ``superseded`` (it stays in the version history, as any
    replaced dataset does). Where the demo had replaced a surveyor's dataset of the same
    layer, the latest such dataset becomes active again; a layer without one is left empty.
    The demo's procedure events (on the projects the demo registered) are withdrawn as a user
    withdraws one, each with its audit row; the events are append-only, so they stay in the
    projects' history, and the bureau list then leaves the demo's registrations out
    (:func:`spatial.procedure.projects.listed_codes`). What a user recorded or corrected on a
    demo project stays current. The unload is audited. ``data.demo.load_demo_if_empty`` does
    not load the demo again into a store it was unloaded from.

    Examples
    --------
    >>> unload_demo(engine).withdrawn  # doctest: +SKIP
    [1, 2, 3, 4, 5]
    """
    from spatial.datasets import lock_layer

    with engine.begin() as conn:
        layers = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT DISTINCT layer::text FROM datasets "
                    "WHERE status = 'active' AND uploaded_by = :demo ORDER BY 1"
                ),
                {"demo": DEMO_UPLOADER},
            )
        ]
        events = _withdraw_procedure(conn, user_name)
        withdrawn: list[int] = []
        restored: list[int] = []
        for layer in layers:
            lock_layer(conn, layer)
            ids = conn.execute(
                text(
                    "UPDATE datasets SET status = 'superseded', superseded_at = now() "
                    "WHERE layer = CAST(:layer AS layer_name) AND status = 'active' "
                    "AND uploaded_by = :demo RETURNING id"
                ),
                {"layer": layer, "demo": DEMO_UPLOADER},
            ).scalars()
            withdrawn.extend(int(i) for i in ids)
            still = conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM datasets "
                    "WHERE layer = CAST(:layer AS layer_name) AND status = 'active')"
                ),
                {"layer": layer},
            ).scalar_one()
            if not still:
                back = conn.execute(
                    text(
                        "UPDATE datasets SET status = 'active', superseded_at = NULL "
                        "WHERE id = (SELECT id FROM datasets "
                        "WHERE layer = CAST(:layer AS layer_name) AND status = 'superseded' "
                        "AND uploaded_by <> :demo ORDER BY superseded_at DESC NULLS LAST, "
                        "id DESC LIMIT 1) RETURNING id"
                    ),
                    {"layer": layer, "demo": DEMO_UPLOADER},
                ).scalar_one_or_none()
                if back is not None:
                    restored.append(int(back))
        if withdrawn or events:
            conn.execute(
                text(
                    "INSERT INTO audit_log (user_name, action, target, detail) "
                    "VALUES (:u, 'demo_unload', 'datasets', "
                    "jsonb_build_object('withdrawn', CAST(:w AS jsonb), "
                    "'restored', CAST(:r AS jsonb), 'procedure_events', CAST(:e AS jsonb)))"
                ),
                {
                    "u": user_name,
                    "w": str(sorted(withdrawn)),
                    "r": str(sorted(restored)),
                    "e": str(events),
                },
            )
    return DemoUnload(
        withdrawn=sorted(withdrawn), restored=sorted(restored), procedure_events=events
    )


DEMO_WITHDRAWAL_REASON = "卸载示例数据 demo unloaded"
"""The reason recorded with each demo procedure event the unload withdraws."""


def demo_procedure_events(conn: Connection) -> list[int]:
    """The ids of the current events the demo recorded on the projects it registered."""
    return [
        int(i)
        for i in conn.execute(
            text(
                "SELECT e.id FROM procedure_events e "
                "JOIN procedure_projects r ON r.project_code = e.project_code "
                "WHERE r.registered_by = :demo AND e.recorded_by = :demo "
                "AND e.occurred_on IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM procedure_events s WHERE s.supersedes = e.id) "
                "ORDER BY e.id"
            ),
            {"demo": DEMO_UPLOADER},
        ).scalars()
    ]


def _withdraw_procedure(conn: Connection, user_name: str) -> list[int]:
    """Withdraw the current events the demo recorded on the projects it registered."""
    from spatial.procedure.events import correct_event
    from spatial.procedure.status import china_today

    ids = demo_procedure_events(conn)
    today = china_today()
    for event_id in ids:
        correct_event(conn, event_id, None, DEMO_WITHDRAWAL_REASON, user_name, None, today)
    return ids


def demo_was_unloaded(engine: Engine) -> bool:
    """True if demo datasets exist but none is active (someone unloaded the demo)."""
    (row,) = read_rows(
        engine,
        "SELECT count(*) FILTER (WHERE status = 'active') AS active, count(*) AS demo "
        "FROM datasets WHERE uploaded_by = :demo",
        {"demo": DEMO_UPLOADER},
    )
    return row["demo"] > 0 and row["active"] == 0
