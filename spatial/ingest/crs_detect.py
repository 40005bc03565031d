"""Which CRS an upload is in, and how we know. Never a silent guess.

Order: ``--crs`` from the user (``EPSG:NNNN`` or ``gcj02``); else the dataset's own CRS
(a shapefile ``.prj``, including Esri WKT naming Gauss_Kruger / CGCS2000, matched to its EPSG
code by PROJ; a GeoPackage's SRS; GeoJSON's RFC 7946 WGS 84); else inference from the
coordinates, only where it is unambiguous:

* eastings with the zone prefix 38 (≈ 38,474,000–38,564,000 m) → EPSG:4526;
* longitude/latitude inside Shenzhen → EPSG:4490 (4490 and 4326 differ by well under a
  metre here; the report says it was assumed).

Everything else, in particular eastings that could be EPSG:4547 or Xian 1980 EPSG:2383, is
refused with the candidates and how to pass ``--crs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError

from spatial import crs as crsmod
from spatial.errors import InvalidInput

STORAGE = crsmod.STORAGE

# Windows around Shenzhen (with a margin) used only for the inference rules.
SZ_LONLAT = (113.6, 22.3, 114.8, 23.0)
SZ_GK_CM114 = (440_000.0, 2_450_000.0, 600_000.0, 2_560_000.0)
SZ_GK_ZONE38 = (38_440_000.0, 2_450_000.0, 38_600_000.0, 2_560_000.0)
# Shenzhen in EPSG:4547 with a 5 km margin: features outside signal a wrong CRS.
SZ_STORAGE_BOUNDS = (469_000.0, 2_478_000.0, 569_000.0, 2_535_000.0)

CANDIDATES: list[tuple[str, str, str]] = [
    (
        "EPSG:4547",
        "CGCS2000 3度带高斯-克吕格 中央经线114°E（无带号）",
        "CGCS2000 / 3-degree GK CM 114E",
    ),
    ("EPSG:2383", "西安1980 3度带高斯-克吕格 中央经线114°E", "Xian 1980 / 3-degree GK CM 114E"),
    ("EPSG:4526", "CGCS2000 3度带高斯-克吕格 第38带（东坐标带 38 前缀）", "CGCS2000 / GK zone 38"),
    ("EPSG:4490", "CGCS2000 经纬度", "CGCS2000 geographic"),
    ("EPSG:4326", "WGS 84 经纬度", "WGS 84"),
    ("gcj02", "GCJ-02（高德/腾讯地图偏移坐标）", "GCJ-02 web-map offset coordinates"),
]


@dataclass
class CrsChoice:
    """The source CRS (an EPSG code, or GCJ-02) and how it was chosen."""

    epsg: int | None
    method: str
    gcj02: bool = False
    warnings: list[tuple[str, str, str]] = field(default_factory=list)
    custom: str | None = None
    """WKT of a custom CRS without an EPSG code (only when given explicitly with --crs)."""

    @property
    def label(self) -> str:
        """``EPSG:NNNN``, ``GCJ-02`` or ``custom:<name>`` (at most 40 characters)."""
        if self.gcj02:
            return "GCJ-02"
        if self.custom is not None:
            return ("custom:" + CRS.from_wkt(self.custom).name)[:40]
        return f"EPSG:{self.epsg}"


def _candidates_text(codes: list[str]) -> tuple[str, str]:
    rows = [c for c in CANDIDATES if c[0] in codes]
    zh = "；".join(f"{c[0]}（{c[1]}）" for c in rows)
    en = "; ".join(f"{c[0]} ({c[2]})" for c in rows)
    return zh, en


def refuse(reason_zh: str, reason_en: str, codes: list[str]) -> InvalidInput:
    """An InvalidInput asking for ``--crs``, listing the candidate CRSs."""
    zh, en = _candidates_text(codes)
    return InvalidInput(
        f"{reason_zh}。可能的坐标系：{zh}。请用 --crs 指定，例如 --crs EPSG:4547"
        "（API：表单字段 crs）",
        f"{reason_en}. Candidates: {en}. Pass the CRS with --crs, e.g. --crs EPSG:4547 "
        "(API: form field crs)",
        candidates=codes,
    )


def parse_user_crs(value: str) -> CrsChoice:
    """Parse ``--crs``: ``EPSG:NNNN``, ``NNNN`` or ``gcj02``."""
    v = value.strip()
    if v.lower().replace("-", "") in ("gcj02", "gcj"):
        return CrsChoice(None, "--crs 指定 GCJ-02 / given with --crs gcj02", gcj02=True)
    try:
        c = CRS.from_user_input(int(v) if v.isdigit() else v)
    except CRSError as exc:
        raise refuse(
            f"无法识别的 --crs：{value}", f"unrecognised --crs: {value}", [c[0] for c in CANDIDATES]
        ) from exc
    epsg = c.to_epsg()
    if epsg is None:
        if not c.is_projected and not c.is_geographic:
            raise refuse(
                f"--crs {value} 不是平面或地理坐标系",
                f"--crs {value} is neither a projected nor a geographic CRS",
                [c[0] for c in CANDIDATES],
            )
        # a registered local grid (e.g. 深圳独立坐标系) given as PROJ string or WKT
        return CrsChoice(
            None,
            f"--crs 指定的自定义坐标系 {c.name} / custom CRS given with --crs: {c.name}",
            custom=c.to_wkt(),
        )
    return _with_warnings(CrsChoice(epsg, f"--crs 指定 {value} / given with --crs {value}"))


def _with_warnings(choice: CrsChoice) -> CrsChoice:
    if choice.epsg == crsmod.XIAN80_GK_CM114:
        choice.warnings.append(
            (
                "crs_ballpark",
                "西安1980→CGCS2000 没有公开的转换参数，PROJ 使用近似转换（误差可达数米）；"
                "精确转换参数需向测绘主管部门申请",
                "PROJ has no published Xian 1980 → CGCS2000 transformation and uses a ballpark "
                "one (errors of metres); exact parameters come from the surveying authority",
            )
        )
    return choice


def from_dataset(crs_text: str | None, driver: str) -> CrsChoice | None:
    """The CRS the dataset declares (``.prj``, GeoPackage SRS), or None when it has none.

    Raises
    ------
    InvalidInput
        a CRS is declared but no EPSG code matches it.
    """
    if not crs_text:
        return None
    source = ".prj 文件 / the .prj file" if driver == "ESRI Shapefile" else f"{driver} SRS"
    try:
        c = CRS.from_user_input(crs_text)
    except CRSError as exc:
        raise refuse(
            "无法解析数据自带的坐标系定义", "the dataset's CRS definition cannot be parsed", _ALL
        ) from exc
    epsg = c.to_epsg(min_confidence=70)
    if epsg is None:
        matches = c.list_authority(min_confidence=70) if hasattr(c, "list_authority") else []
        epsg = next((int(m.code) for m in matches if m.auth_name == "EPSG"), None)
    if epsg is None and c.name.upper() in ("WGS 84 (CRS84)", "WGS84"):
        epsg = crsmod.WGS84
    if epsg is None:
        raise refuse(
            f"数据自带的坐标系（{c.name}）无法对应到 EPSG 代码",
            f"the dataset's CRS ({c.name}) matches no EPSG code",
            _ALL,
        )
    return _with_warnings(CrsChoice(epsg, f"{source}：{c.name} → EPSG:{epsg}"))


_ALL = [c[0] for c in CANDIDATES]


def _within(b: tuple[float, float, float, float], w: tuple[float, float, float, float]) -> bool:
    return b[0] >= w[0] and b[1] >= w[1] and b[2] <= w[2] and b[3] <= w[3]


def infer(bounds: tuple[float, float, float, float]) -> CrsChoice:
    """Infer the CRS from the data's bounds (xmin, ymin, xmax, ymax), or refuse.

    Examples
    --------
    >>> infer((38_500_000, 2_500_000, 38_501_000, 2_501_000)).epsg
    4526
    """
    b = tuple(float(v) for v in bounds)
    if not all(np.isfinite(b)):
        raise refuse("没有坐标系且坐标无效", "no CRS and the coordinates are not finite", _ALL)
    if _within(b, SZ_GK_ZONE38):  # type: ignore[arg-type]
        return CrsChoice(
            crsmod.CGCS2000_GK_ZONE38,
            "推断：东坐标带 38 带号前缀（约 38,4xx,xxx m）→ EPSG:4526 / inferred: eastings "
            "carry the zone-38 prefix → EPSG:4526",
        )
    if _within(b, SZ_LONLAT):  # type: ignore[arg-type]
        return CrsChoice(
            crsmod.CGCS2000_GEOGRAPHIC,
            "推断：经纬度位于深圳，按 CGCS2000 经纬度 EPSG:4490 处理（与 WGS 84 EPSG:4326 在此相差"
            "远小于 1 米）；若来自高德/腾讯网络地图请用 --crs gcj02 / inferred: longitude/latitude "
            "inside Shenzhen, assumed EPSG:4490 (differs from WGS 84 EPSG:4326 by well under a "
            "metre here); pass --crs gcj02 for AMap/Tencent web-map data",
        )
    if _within(b, SZ_GK_CM114):  # type: ignore[arg-type]
        raise refuse(
            "没有 .prj 坐标系文件；坐标像 3 度带高斯-克吕格 CM 114E 的东/北坐标，但 CGCS2000 "
            "（EPSG:4547）与西安1980（EPSG:2383）的坐标范围相同，无法区分",
            "no .prj; the coordinates look like 3-degree Gauss-Kruger CM 114E eastings/"
            "northings, but CGCS2000 (EPSG:4547) and Xian 1980 (EPSG:2383) cover the same "
            "ranges and cannot be told apart",
            ["EPSG:4547", "EPSG:2383"],
        )
    raise refuse(
        f"没有 .prj 坐标系文件，坐标范围 {b} 无法对应到深圳的任何常用坐标系",
        f"no .prj, and the coordinate range {b} matches no CRS commonly used for Shenzhen",
        _ALL,
    )


def choose_crs(
    user_crs: str | None, dataset_crs: str | None, driver: str, bounds: tuple[float, ...]
) -> CrsChoice:
    """Apply the order --crs, dataset CRS, inference (see the module docstring)."""
    if user_crs:
        return parse_user_crs(user_crs)
    declared = from_dataset(dataset_crs, driver)
    if declared is not None:
        return declared
    return infer(bounds)  # type: ignore[arg-type]


def to_storage(geoms: NDArray, choice: CrsChoice) -> NDArray:
    """Transform shapely geometries from the chosen source CRS to EPSG:4547 (vectorised)."""
    if choice.gcj02:
        return crsmod.geometry_from_gcj02(geoms, STORAGE)
    if choice.epsg == STORAGE:
        return geoms
    src = choice.custom if choice.custom is not None else choice.epsg
    return crsmod.transform_geometry(geoms, src, STORAGE)  # type: ignore[arg-type]
