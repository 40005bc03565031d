"""Map an upload's columns and values to the tuzheng model, refusing what it cannot map.

Source columns are matched to model fields by a default table of common Chinese column names
and their pinyin abbreviations (权属类型/QSLX, 宗地编号/ZDBH, 用地性质/YDXZ, 图则编号/TZBH …),
including the three-character forms UTF-8 shapefiles are left with by the 10-byte DBF limit,
which a mapping file (YAML or JSON) can override::

    columns:            # model field: source column
      code: 我的编号
      category: 土地类别
    categories:         # extra category values: source value -> category code
      甲类: collective

A flat ``{field: column}`` mapping is accepted too. Category values written in Chinese, as
abbreviations or as codes map through :func:`spatial.categories.parse_category`. Unknown
values, missing required values, over-long values and duplicate codes are refused, row by row.
Work is done on whole Arrow columns; only distinct category values are looked at in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spatial.categories import OwnershipCategory, parse_category
from spatial.errors import InvalidInput
from spatial.ingest.report import IngestReport
from spatial.models import Layer


@dataclass(frozen=True)
class FieldSpec:
    """A model field: name, whether required, maximum length (None = unlimited), labels."""

    name: str
    required: bool
    max_len: int | None
    label_zh: str


FIELDS: dict[Layer, tuple[FieldSpec, ...]] = {
    Layer.parcels: (
        FieldSpec("code", True, 60, "宗地编号"),
        FieldSpec("category", True, None, "权属类型"),
        FieldSpec("project_code", False, 50, "项目编号"),
        FieldSpec("owner", False, None, "权利人"),
    ),
    Layer.retained_land: (
        FieldSpec("code", True, 60, "留用地编号"),
        FieldSpec("project_code", False, 50, "项目编号"),
        FieldSpec("name", False, None, "名称"),
        FieldSpec("land_use", True, 20, "用地性质"),
    ),
    Layer.state_reserve_land: (
        FieldSpec("code", True, 60, "储备地编号"),
        FieldSpec("name", False, None, "名称"),
    ),
    Layer.statutory_plans: (
        FieldSpec("plan_code", True, 60, "图则编号"),
        FieldSpec("zone_code", True, 60, "地块编号"),
        FieldSpec("plan_name", False, None, "图则名称"),
        FieldSpec("land_use_class", True, 20, "用地性质"),
    ),
    Layer.projects: (
        FieldSpec("code", True, 50, "项目编号"),
        FieldSpec("name", True, None, "项目名称"),
        FieldSpec("district", False, None, "所属区"),
        FieldSpec("stage", False, None, "阶段"),
    ),
}

KEY_FIELD: dict[Layer, str] = {
    layer: ("zone_code" if layer is Layer.statutory_plans else "code") for layer in FIELDS
}

_CODE_ALIASES: dict[Layer, list[str]] = {
    Layer.parcels: ["宗地编号", "ZDBH", "宗地代码", "ZDDM", "宗地号", "ZDH", "宗地编", "宗地代"],
    Layer.retained_land: ["留用地编号", "LYDBH", "留用土地编号", "地块编号", "DKBH"],
    Layer.state_reserve_land: [
        "储备地编号",
        "CBDBH",
        "储备土地编号",
        "地块编号",
        "DKBH",
        "宗地编号",
    ],
    Layer.projects: ["项目编号", "XMBH", "项目代码", "XMDM", "项目编", "项目代"],
    Layer.statutory_plans: [],
}
_GENERIC_CODE = ["编号", "BH", "代码", "DM", "code"]

DEFAULT_ALIASES: dict[str, list[str]] = {
    "category": [
        "权属类型",
        "QSLX",
        "权属性质",
        "QSXZ",
        "土地权属",
        "TDQS",
        "权属",
        "权属类",
        "权属性",
        "category",
    ],
    "project_code": ["项目编号", "XMBH", "项目代码", "XMDM", "项目编", "project_code"],
    "owner": ["权利人", "QLR", "权属人", "QSR", "使用权人", "SYQR", "owner"],
    "name": ["名称", "MC", "项目名称", "XMMC", "地块名称", "DKMC", "name"],
    "land_use": ["用地性质", "YDXZ", "用地性", "规划用途", "GHYT", "用地代码", "YDDM", "land_use"],
    "land_use_class": [
        "用地性质",
        "YDXZ",
        "用地代码",
        "YDDM",
        "用地类别",
        "YDLB",
        "land_use_class",
    ],
    "plan_code": ["图则编号", "TZBH", "图则编", "plan_code"],
    "zone_code": ["地块编号", "DKBH", "分区编号", "FQBH", "地块编", "zone_code"],
    "plan_name": ["图则名称", "TZMC", "plan_name"],
    "district": ["所属区", "行政区", "XZQ", "区", "district"],
    "stage": ["阶段", "JD", "项目阶段", "XMJD", "stage"],
}


@dataclass
class Mapping:
    """A parsed mapping file: model field → source column, and extra category values."""

    columns: dict[str, str]
    categories: dict[str, OwnershipCategory]


def load_mapping(path: str | Path | None) -> Mapping:
    """Read a YAML or JSON mapping file (see the module docstring); empty mapping if None."""
    if path is None:
        return Mapping({}, {})
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            raw: Any = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise InvalidInput(
            f"映射文件无法读取：{p.name}（{exc}）", f"cannot read mapping file {p.name}: {exc}"
        ) from exc
    if not isinstance(raw, dict):
        raise InvalidInput("映射文件必须是键值对象", "the mapping file must be a mapping object")
    columns = raw.get("columns", raw if "categories" not in raw else {})
    cats_raw = raw.get("categories", {}) or {}
    if not isinstance(columns, dict) or not isinstance(cats_raw, dict):
        raise InvalidInput(
            "映射文件格式错误：columns 与 categories 必须是键值对象",
            "bad mapping file: columns and categories must be mapping objects",
        )
    cats: dict[str, OwnershipCategory] = {}
    for k, v in cats_raw.items():
        cat = parse_category(v)
        if cat is None:
            raise InvalidInput(
                f"映射文件中的权属类型 {v!r} 未知"
                f"（可用：{', '.join(c.value for c in OwnershipCategory)}）",
                f"unknown category {v!r} in the mapping file (use one of: "
                f"{', '.join(c.value for c in OwnershipCategory)})",
            )
        cats[str(k).strip().lower()] = cat
    return Mapping({str(k): str(v) for k, v in columns.items()}, cats)


def resolve_columns(layer: Layer, source_columns: list[str], mapping: Mapping) -> dict[str, str]:
    """Model field → source column, from the mapping file first, then the default table.

    Raises
    ------
    InvalidInput
        the mapping names unknown fields or missing columns, or a required field has no column.
    """
    specs = {f.name: f for f in FIELDS[layer]}
    lower = {c.lower(): c for c in source_columns}
    unknown = sorted(set(mapping.columns) - set(specs))
    if unknown:
        raise InvalidInput(
            f"映射文件中有此图层没有的字段：{', '.join(unknown)}（可用：{', '.join(specs)}）",
            f"the mapping names fields this layer does not have: {', '.join(unknown)} "
            f"(fields: {', '.join(specs)})",
        )
    out: dict[str, str] = {}
    for name, spec in specs.items():
        if name in mapping.columns:
            src = mapping.columns[name]
            if src.lower() not in lower:
                raise InvalidInput(
                    f"映射文件指定的列 {src} 不在文件中（文件的列：{', '.join(source_columns)}）",
                    f"column {src} from the mapping file is not in the file (columns: "
                    f"{', '.join(source_columns)})",
                )
            out[name] = lower[src.lower()]
            continue
        aliases = (
            _CODE_ALIASES[layer] + _GENERIC_CODE
            if name == "code"
            else DEFAULT_ALIASES.get(name, [name])
        )
        for a in aliases:
            if a.lower() in lower and lower[a.lower()] not in out.values():
                out[name] = lower[a.lower()]
                break
        else:
            if spec.required:
                raise InvalidInput(
                    f"找不到必需字段 {spec.label_zh}（{name}）对应的列；文件的列："
                    f"{', '.join(source_columns)}。请用 --mapping 映射文件指定，"
                    f"例如 columns: {{{name}: 列名}}",
                    f"no column for required field {name} ({spec.label_zh}); the file's "
                    f"columns: {', '.join(source_columns)}. Name it in a --mapping file, e.g. "
                    f"columns: {{{name}: COLUMN}}",
                    field=name,
                    columns=source_columns,
                )
    return out


def _as_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A string array: integral floats without '.0', whitespace trimmed, blanks null."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    t = col.type
    if pa.types.is_floating(t):
        vals = col.to_numpy(zero_copy_only=False)
        finite = np.isfinite(vals)
        if np.all(np.equal(np.mod(vals[finite], 1), 0)):
            col = pc.cast(pc.if_else(pa.array(finite), col, None), pa.int64())
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    col = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)


def _rows_where(mask: pa.Array) -> np.ndarray:
    return np.flatnonzero(np.asarray(pc.fill_null(mask, False)))


def map_attributes(
    layer: Layer, table: pa.Table, columns: dict[str, str], mapping: Mapping, report: IngestReport
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Map the source ``table`` to model fields; return the arrays and the mask of good rows."""
    n = table.num_rows
    ok = np.ones(n, dtype=bool)
    out: dict[str, pa.Array] = {}
    for spec in FIELDS[layer]:
        src = columns.get(spec.name)
        if src is None:
            out[spec.name] = pa.nulls(n, pa.string())
            continue
        col = _as_text(table.column(src))
        if spec.required:
            for i in _rows_where(pc.is_null(col)):
                report.problem(
                    "missing_value",
                    f"{spec.label_zh}（列 {src}）为空",
                    f"{spec.name} (column {src}) is empty",
                    row=int(i) + 1,
                    field=src,
                )
                ok[i] = False
        if spec.max_len is not None:
            for i in _rows_where(pc.greater(pc.utf8_length(col), spec.max_len)):
                report.problem(
                    "value_too_long",
                    f"{spec.label_zh}（列 {src}）超过 {spec.max_len} 个字符",
                    f"{spec.name} (column {src}) is longer than {spec.max_len} characters",
                    row=int(i) + 1,
                    field=src,
                    value=str(col[int(i)].as_py())[:80],
                )
                ok[i] = False
        if spec.name == "category":
            col = _map_categories(col, src, mapping, report, ok)
        out[spec.name] = col
    _duplicates(out[KEY_FIELD[layer]], columns.get(KEY_FIELD[layer], ""), report, ok)
    return out, ok


def _map_categories(
    col: pa.Array, src: str, mapping: Mapping, report: IngestReport, ok: np.ndarray
) -> pa.Array:
    uniques = pc.unique(col).to_pylist()
    known: dict[str, str] = {}
    unknown: list[str] = []
    for v in uniques:
        if v is None:
            continue
        cat = mapping.categories.get(v.strip().lower()) or parse_category(v)
        if cat is None:
            unknown.append(v)
        else:
            known[v] = cat.value
    if unknown:
        bad = pc.is_in(col, value_set=pa.array(unknown, col.type))
        for i in _rows_where(bad):
            v = col[int(i)].as_py()
            report.problem(
                "unknown_category",
                f"未知的权属类型 “{v}”（列 {src}）；"
                "可用：原农村集体土地/集体、原光明农场国有用地/农场、"
                "未完善征（转）收地补偿手续用地/未完善征转、国有已出让/已完善手续用地/国有，"
                "或在映射文件 categories 中定义",
                f"unknown category {v!r} (column {src}); use collective, state_farm, "
                "incomplete_acquisition, state_owned (or their Chinese names), or define it "
                "under categories in a mapping file",
                row=int(i) + 1,
                field=src,
                value=v,
            )
            ok[i] = False
    keys = list(known)
    idx = pc.index_in(col, value_set=pa.array(keys, col.type)) if keys else None
    if idx is None:
        return pa.nulls(len(col), pa.string())
    return pc.take(pa.array([known[k] for k in keys], pa.string()), idx)


def _duplicates(col: pa.Array, src: str, report: IngestReport, ok: np.ndarray) -> None:
    counts = pc.value_counts(col)
    vals = counts.field("values")
    dup = pc.filter(vals, pc.and_(pc.greater(counts.field("counts"), 1), pc.is_valid(vals)))
    if len(dup) == 0:
        return
    mask = pc.is_in(col, value_set=dup)
    rows = _rows_where(mask)
    values = pc.take(col, pa.array(rows)).to_pylist()
    first: dict[str, int] = {}
    for i, v in zip(rows, values, strict=True):
        first.setdefault(v, int(i) + 1)
    for i, v in zip(rows, values, strict=True):
        report.problem(
            "duplicate_code",
            f"编号 {v} 重复（列 {src}；首次出现在第 {first[v]} 行）",
            f"duplicate code {v} (column {src}; first at row {first[v]})",
            row=int(i) + 1,
            field=src,
            value=v,
        )
        ok[i] = False
