"""What changed between two versions (datasets) of a layer, feature by feature.

:func:`diff_datasets` matches the rows of two datasets of one layer by their feature code
(``zone_code`` for statutory plans, ``code`` otherwise) and answers, in PostGIS, which codes
were added, removed or changed: which attributes (old → new), and whether the geometry moved
(not ``ST_Equals``), with the area change in m² (planar, EPSG:4547). The CLI
(``tuzheng datasets diff A B``), the API (``GET /datasets/{a}/diff/{b}``), the versions page
and notebooks all call this one function.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg import sql
from sqlalchemy import Engine, text

from spatial.datasets.lifecycle import dataset_not_found
from spatial.errors import InvalidInput
from spatial.schema import LayerSpec, layer_spec

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_LIMIT = 1000
"""Changes listed by default (the counts always cover every feature)."""


@dataclass
class FeatureChange:
    """One feature code that differs between the two versions."""

    key: str
    change: str
    """``added``, ``removed`` or ``changed``."""
    attributes: dict[str, list[Any]] = field(default_factory=dict)
    """Changed attributes: column → [old, new] (for ``changed``)."""
    geometry_moved: bool = False
    """True when some point of the geometry moved by more than the diff's tolerance."""
    moved_m: float | None = None
    """How far the geometry moved at most (Hausdorff distance, m, EPSG:4547), when it did."""
    area_before_m2: float | None = None
    area_after_m2: float | None = None
    area_change_m2: float | None = None
    """after − before, m² (EPSG:4547), rounded to 0.01; for added/removed the whole area."""
    geometry: dict[str, Any] | None = None
    """GeoJSON (CRS84) of the feature as it is in the newer version (removed: the older)."""


@dataclass
class DatasetDiff:
    """The differences from dataset ``from_id`` to dataset ``to_id`` of ``layer``."""

    layer: str
    from_id: int
    to_id: int
    added: int
    removed: int
    changed: int
    unchanged: int
    changes: list[FeatureChange]
    truncated: bool
    """True when more changes exist than were listed (see ``limit``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the CLI's ``--json``, the API's body)."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """The listed changes as a table: one row per code, changed attributes as text."""
        import pandas as pd

        rows = []
        for c in self.changes:
            rows.append(
                {
                    "key": c.key,
                    "change": c.change,
                    "attributes": "; ".join(
                        f"{k}: {old} → {new}" for k, (old, new) in c.attributes.items()
                    ),
                    "geometry_moved": c.geometry_moved,
                    "moved_m": c.moved_m,
                    "area_before_m2": c.area_before_m2,
                    "area_after_m2": c.area_after_m2,
                    "area_change_m2": c.area_change_m2,
                }
            )
        return pd.DataFrame(
            rows,
            columns=[
                "key",
                "change",
                "attributes",
                "geometry_moved",
                "moved_m",
                "area_before_m2",
                "area_after_m2",
                "area_change_m2",
            ],
        )


def _layer_of(engine: Engine, a: int, b: int) -> LayerSpec:
    with engine.connect() as conn:
        rows: dict[int, str] = dict(
            conn.execute(
                text("SELECT id, layer::text FROM datasets WHERE id IN (:a, :b)"), {"a": a, "b": b}
            ).all()
        )
    for ds in (a, b):
        if ds not in rows:
            raise dataset_not_found(ds)
    if rows[a] != rows[b]:
        raise InvalidInput(
            f"只能比较同一图层的版本：数据集 {a} 是 {rows[a]}，数据集 {b} 是 {rows[b]}",
            f"only versions of one layer can be compared: dataset {a} is {rows[a]}, "
            f"dataset {b} is {rows[b]}",
        )
    return layer_spec(rows[a])


def _rows_table(engine: Engine, spec: LayerSpec, dataset_id: int) -> sql.Identifier:
    """The table holding a dataset's rows: its own partition for a partitioned layer (attached
    or not: superseded versions are detached), else the layer's table."""
    from spatial.datasets.partitions import partition_name, partition_state

    if spec.partitioned:
        with engine.connect() as conn:
            exists, _ = partition_state(conn.connection.driver_connection, spec, dataset_id)
        if exists:
            return sql.Identifier(partition_name(spec, dataset_id))
    return sql.Identifier(spec.name)


_MOVED = sql.SQL(
    "a.geom IS DISTINCT FROM b.geom AND NOT ST_Equals(a.geom, b.geom) "
    "AND ST_HausdorffDistance(a.geom, b.geom) > %(tol)s"
)
"""SQL: the geometry of ``a`` and ``b`` differ by more than the tolerance."""


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2) + 0.0  # no "-0.0"


TOLERANCE_M = 0.001
"""A geometry whose every point stays within this distance (m) has not moved: a file
re-projected from another CRS (e.g. zone-38 eastings) differs by far less than a millimetre."""


def diff_datasets(
    engine: Engine,
    from_id: int,
    to_id: int,
    limit: int | None = DEFAULT_LIMIT,
    tolerance_m: float = TOLERANCE_M,
) -> DatasetDiff:
    """Compare two versions of one layer by feature code.

    Parameters
    ----------
    engine
        The store.
    from_id, to_id
        Dataset ids of the older and the newer version (any two of the same layer).
    limit
        At most this many changes are listed (ordered by code); None lists all. The counts
        always cover every feature.
    tolerance_m
        A geometry counts as moved only when some point of it moved further than this
        (Hausdorff distance, m, EPSG:4547; default 1 mm).

    Returns
    -------
    DatasetDiff
        Counts of added, removed, changed and unchanged codes, and the changes: attributes
        old → new, whether the geometry moved, areas before/after and the change (m²,
        EPSG:4547), and each feature's geometry as GeoJSON (CRS84) for a map.

    Raises
    ------
    NotFound
        A dataset does not exist.
    InvalidInput
        The datasets belong to different layers.

    Examples
    --------
    >>> d = diff_datasets(engine, 3, 7)  # doctest: +SKIP
    >>> d.added, d.removed, d.changed  # doctest: +SKIP
    (1, 2, 5)
    >>> d.to_frame().head()  # doctest: +SKIP
    """
    layer = _layer_of(engine, from_id, to_id)
    key = layer.key
    cols = [c for c in layer.column_names if c != key]
    ident = sql.Identifier
    k = ident(key)
    differs = sql.SQL(" OR ").join(
        [sql.SQL("a.{c}::text IS DISTINCT FROM b.{c}::text").format(c=ident(c)) for c in cols]
        + [sql.SQL("({moved})").format(moved=_MOVED)]
    )
    pairs = sql.SQL(
        "WITH a AS (SELECT * FROM {ta} WHERE dataset_id = %(a)s), "
        "b AS (SELECT * FROM {tb} WHERE dataset_id = %(b)s), "
        "d AS (SELECT coalesce(a.{k}, b.{k}) AS key, "
        "CASE WHEN a.{k} IS NULL THEN 'added' WHEN b.{k} IS NULL THEN 'removed' "
        "WHEN {differs} THEN 'changed' ELSE 'same' END AS change, a.{k} AS ak, b.{k} AS bk "
        "FROM a FULL JOIN b ON a.{k} = b.{k}) "
    ).format(
        ta=_rows_table(engine, layer, from_id),
        tb=_rows_table(engine, layer, to_id),
        k=k,
        differs=differs,
    )
    counts_q = pairs + sql.SQL("SELECT change, count(*) FROM d GROUP BY change")
    old_new = sql.SQL(", ").join(
        sql.SQL("a.{c}::text AS {ao}, b.{c}::text AS {bo}").format(
            c=ident(c), ao=ident(f"a_{c}"), bo=ident(f"b_{c}")
        )
        for c in cols
    )
    rows_q = pairs + sql.SQL(
        "SELECT d.key, d.change, {old_new}, "
        "(a.geom IS NOT NULL AND b.geom IS NOT NULL AND {moved}) AS moved, "
        "CASE WHEN a.geom IS NOT NULL AND b.geom IS NOT NULL AND {moved} "
        "THEN ST_HausdorffDistance(a.geom, b.geom) END AS moved_m, "
        "ST_Area(a.geom) AS area_a, ST_Area(b.geom) AS area_b, "
        "ST_AsGeoJSON(ST_Transform(coalesce(b.geom, a.geom), 4326), 7) AS gj "
        "FROM d LEFT JOIN a ON a.{k} = d.ak LEFT JOIN b ON b.{k} = d.bk "
        "WHERE d.change <> 'same' ORDER BY d.key" + (" LIMIT %(lim)s" if limit else "")
    ).format(old_new=old_new, k=k, moved=_MOVED)
    params: dict[str, Any] = {"a": from_id, "b": to_id, "tol": float(tolerance_m)}
    if limit:
        params["lim"] = int(limit) + 1
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(counts_q, params)
            counts = {str(c): int(n) for c, n in cur.fetchall()}
            cur.execute(rows_q, params)
            names = [d.name for d in cur.description or []]
            fetched = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    truncated = bool(limit) and len(fetched) > int(limit or 0)
    changes = []
    for r in fetched[: limit or None]:
        attrs = {}
        if r["change"] == "changed":
            attrs = {c: [r[f"a_{c}"], r[f"b_{c}"]] for c in cols if r[f"a_{c}"] != r[f"b_{c}"]}
        before, after = _round(r["area_a"]), _round(r["area_b"])
        if r["change"] == "added":
            delta = after
        elif r["change"] == "removed":
            delta = -before if before is not None else None
        else:
            delta = _round((r["area_b"] or 0.0) - (r["area_a"] or 0.0))
        changes.append(
            FeatureChange(
                key=str(r["key"]),
                change=r["change"],
                attributes=attrs,
                geometry_moved=bool(r["moved"]),
                moved_m=None if r["moved_m"] is None else round(float(r["moved_m"]), 3),
                area_before_m2=before,
                area_after_m2=after,
                area_change_m2=delta,
                geometry=json.loads(r["gj"]) if r["gj"] else None,
            )
        )
    return DatasetDiff(
        layer=layer.name,
        from_id=from_id,
        to_id=to_id,
        added=counts.get("added", 0),
        removed=counts.get("removed", 0),
        changed=counts.get("changed", 0),
        unchanged=counts.get("same", 0),
        changes=changes,
        truncated=truncated,
    )
