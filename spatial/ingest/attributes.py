"""Map an upload's columns and values to the tuzheng model, refusing what it cannot map.

Source columns are matched to model fields by the source names each column's declaration lists
(:mod:`spatial.schema.layers`): common Chinese column names and their pinyin abbreviations
(权属类型/QSLX, 宗地编号/ZDBH, 用地性质/YDXZ, 图则编号/TZBH …), including the three-character
forms UTF-8 shapefiles are left with by the 10-byte DBF limit. A mapping file (YAML or JSON)
overrides them::

    columns:            # model field: source column
      code: 我的编号
      category: 土地类别
    categories:         # extra category values: source value -> category code
      甲类: collective

A flat ``{field: column}`` mapping is accepted too. Category values written in Chinese, as
abbreviations or as codes map through :func:`spatial.categories.parse_category`. Unknown
values, missing required values, over-long values, numbers that are not numbers and duplicate
keys are refused, row by row, with the column's declared Chinese and English labels.
Work is done on whole Arrow columns; only distinct category values are looked at in Python.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spatial.categories import OwnershipCategory, parse_category
from spatial.errors import InvalidInput
from spatial.ingest.report import IngestReport
from spatial.schema import Column, LayerSpec, layer_spec


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


def resolve_columns(
    layer: str | LayerSpec, source_columns: list[str], mapping: Mapping
) -> dict[str, str]:
    """Model field → source column, from the mapping file first, then the default table.

    Raises
    ------
    InvalidInput
        the mapping names unknown fields or missing columns, or a required field has no column.
    """
    specs = {c.name: c for c in layer_spec(layer).columns}
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
        for a in spec.source_names:
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
    layer: str | LayerSpec,
    table: pa.Table,
    columns: dict[str, str],
    mapping: Mapping,
    report: IngestReport,
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Map the source ``table`` to model fields; return the arrays and the mask of good rows."""
    n = table.num_rows
    ok = np.ones(n, dtype=bool)
    out: dict[str, pa.Array] = {}
    declared = layer_spec(layer)
    for spec in declared.columns:
        src = columns.get(spec.name)
        if src is None:
            out[spec.name] = pa.nulls(n, pa.string())
            continue
        col = _as_text(table.column(src))
        refuse = _Refusals(report, ok, col, src)
        _check_present_and_short(col, spec, refuse)
        if spec.kind == "code":
            col = _map_codes(col, spec, mapping, refuse)
        elif spec.kind == "number":
            _check_numbers(col, spec, refuse)
        out[spec.name] = col
    key_src = columns.get(declared.key, "")
    _duplicates(out[declared.key], _Refusals(report, ok, out[declared.key], key_src))
    return out, ok


@dataclass
class _Refusals:
    """Refuses rows of one source column: a problem each (row, field, value), and not ok."""

    report: IngestReport
    ok: np.ndarray
    col: pa.Array
    src: str

    def __call__(
        self,
        mask: pa.Array,
        code: str,
        zh: Callable[[Any], str],
        en: Callable[[Any], str],
        show_value: bool = True,
    ) -> None:
        """Refuse the rows where ``mask`` is true; messages are made from each row's value."""
        for i in _rows_where(mask):
            v = self.col[int(i)].as_py()
            value = {"value": str(v)[:80]} if show_value else {}
            self.report.problem(code, zh(v), en(v), row=int(i) + 1, field=self.src, **value)
            self.ok[i] = False


def _check_present_and_short(col: pa.Array, spec: Column, refuse: _Refusals) -> None:
    """Refuse empty values of a required column and values longer than its ``max_len``."""
    src = refuse.src
    if spec.required:
        refuse(
            pc.is_null(col),
            "missing_value",
            lambda _: f"{spec.label_zh}（列 {src}）为空",
            lambda _: f"{spec.name} (column {src}) is empty",
            show_value=False,
        )
    most = spec.max_len
    if most is not None:
        refuse(
            pc.greater(pc.utf8_length(col), most),
            "value_too_long",
            lambda _: f"{spec.label_zh}（列 {src}）超过 {most} 个字符",
            lambda _: f"{spec.name} (column {src}) is longer than {most} characters",
        )


def _check_numbers(col: pa.Array, spec: Column, refuse: _Refusals) -> None:
    """Refuse the rows of a ``number`` column whose text is not a finite number."""
    bad_values = []
    for v in pc.unique(col).to_pylist():
        if v is None:
            continue
        try:
            finite = math.isfinite(float(v))
        except ValueError:
            finite = False
        if not finite:
            bad_values.append(v)
    if not bad_values:
        return
    unit = f"（{spec.unit}）" if spec.unit else ""
    refuse(
        pc.is_in(col, value_set=pa.array(bad_values, col.type)),
        "not_a_number",
        lambda _: f"{spec.label_zh}{unit}（列 {refuse.src}）不是数值",
        lambda _: f"{spec.name} (column {refuse.src}) is not a number",
    )


def _map_codes(col: pa.Array, spec: Column, mapping: Mapping, refuse: _Refusals) -> pa.Array:
    """Map a ``code`` column's values to its vocabulary's codes; refuse the rows it cannot."""
    vocab = spec.vocabulary
    assert vocab is not None  # a code column has one (Column checks it)
    uniques = pc.unique(col).to_pylist()
    known: dict[str, str] = {}
    unknown: list[str] = []
    for v in uniques:
        if v is None:
            continue
        mapped = mapping.categories.get(v.strip().lower())
        code = mapped.value if mapped is not None else vocab.parse(v)
        if code is None or code not in vocab.codes:
            unknown.append(v)
        else:
            known[v] = code
    if unknown:
        src = refuse.src
        refuse(
            pc.is_in(col, value_set=pa.array(unknown, col.type)),
            "unknown_category",
            lambda v: (
                f"未知的{spec.label_zh} “{v}”（列 {src}）；可用：{vocab.choices_zh}，"
                "或在映射文件 categories 中定义"
            ),
            lambda v: (
                f"unknown {spec.label_en.lower()} {v!r} (column {src}); use "
                f"{vocab.choices_en}, or define it under categories in a mapping file"
            ),
        )
    keys = list(known)
    idx = pc.index_in(col, value_set=pa.array(keys, col.type)) if keys else None
    if idx is None:
        return pa.nulls(len(col), pa.string())
    return pc.take(pa.array([known[k] for k in keys], pa.string()), idx)


def _duplicates(col: pa.Array, refuse: _Refusals) -> None:
    """Refuse every row whose key value occurs more than once, naming its first row."""
    counts = pc.value_counts(col)
    vals = counts.field("values")
    dup = pc.filter(vals, pc.and_(pc.greater(counts.field("counts"), 1), pc.is_valid(vals)))
    if len(dup) == 0:
        return
    mask = pc.is_in(col, value_set=dup)
    rows = _rows_where(mask)
    first: dict[str, int] = {}
    for i, v in zip(rows, pc.take(col, pa.array(rows)).to_pylist(), strict=True):
        first.setdefault(v, int(i) + 1)
    src = refuse.src
    refuse(
        mask,
        "duplicate_code",
        lambda v: f"编号 {v} 重复（列 {src}；首次出现在第 {first[v]} 行）",
        lambda v: f"duplicate code {v} (column {src}; first at row {first[v]})",
    )
