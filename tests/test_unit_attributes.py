"""spatial.ingest.attributes without a database or GDAL: mapping files, column resolution,
value checks and messages, on Arrow tables built here (run by ``make mutation``)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from spatial.categories import OwnershipCategory
from spatial.errors import InvalidInput
from spatial.ingest.attributes import (
    Mapping,
    _as_text,
    load_mapping,
    map_attributes,
    resolve_columns,
)
from spatial.ingest.report import IngestReport

NO_MAPPING = Mapping({}, {})


def _report() -> IngestReport:
    return IngestReport(source_file="t.shp", layer="parcels")


def _problems(report: IngestReport) -> list[tuple]:
    return [(p.code, p.row, p.field, p.value, p.message_zh, p.message_en) for p in report.problems]


# -- load_mapping ----------------------------------------------------------------------------


def test_no_mapping_file_is_empty():
    m = load_mapping(None)
    assert m.columns == {} and m.categories == {}


def test_yaml_mapping_with_columns_and_categories(tmp_path: Path):
    p = tmp_path / "m.yaml"
    p.write_text(
        "columns:\n  code: 地块号\ncategories:\n  ' 甲类 ': 农场\n  B: collective\n", "utf-8"
    )
    m = load_mapping(p)
    assert m.columns == {"code": "地块号"}
    assert m.categories == {"甲类": OwnershipCategory.state_farm, "b": OwnershipCategory.collective}


def test_flat_json_mapping_and_categories_only(tmp_path: Path):
    flat = tmp_path / "m.JSON"  # the suffix is compared case-insensitively
    flat.write_text(json.dumps({"code": 7, "owner": "权利人"}), "utf-8")
    assert load_mapping(flat).columns == {"code": "7", "owner": "权利人"}
    cats = tmp_path / "c.json"
    cats.write_text(json.dumps({"categories": {"甲": "国有"}}), "utf-8")
    m = load_mapping(cats)
    assert m.columns == {} and m.categories == {"甲": OwnershipCategory.state_owned}
    nulls = tmp_path / "n.yaml"
    nulls.write_text("columns:\n  code: X\ncategories:\n", "utf-8")
    assert load_mapping(nulls).categories == {}


@pytest.mark.parametrize(
    ("content", "name", "zh", "en"),
    [
        ("[1, 2]", "m.json", "映射文件必须是键值对象", "the mapping file must be a mapping object"),
        (
            '{"columns": [1]}',
            "m.json",
            "映射文件格式错误：columns 与 categories 必须是键值对象",
            "bad mapping file: columns and categories must be mapping objects",
        ),
        (
            '{"categories": [1]}',
            "m.json",
            "映射文件格式错误：columns 与 categories 必须是键值对象",
            "bad mapping file: columns and categories must be mapping objects",
        ),
        (
            '{"categories": {"甲": "火星"}}',
            "m.json",
            "映射文件中的权属类型 '火星' 未知（可用：collective, state_farm, "
            "incomplete_acquisition, state_owned）",
            "unknown category '火星' in the mapping file (use one of: collective, state_farm, "
            "incomplete_acquisition, state_owned)",
        ),
    ],
)
def test_bad_mapping_files(tmp_path: Path, content, name, zh, en):
    p = tmp_path / name
    p.write_text(content, "utf-8")
    with pytest.raises(InvalidInput) as info:
        load_mapping(p)
    assert (info.value.message_zh, info.value.message_en) == (zh, en)


def test_unparseable_mapping_names_the_file(tmp_path: Path):
    p = tmp_path / "坏.yaml"
    p.write_text("columns: [unclosed", "utf-8")
    with pytest.raises(InvalidInput) as info:
        load_mapping(p)
    assert info.value.message_zh.startswith("映射文件无法读取：坏.yaml（")
    assert info.value.message_en.startswith("cannot read mapping file 坏.yaml: ")
    j = tmp_path / "x.json"
    j.write_text("columns: {}", "utf-8")  # YAML, but named .json: parsed as JSON and refused
    with pytest.raises(InvalidInput):
        load_mapping(j)


# -- resolve_columns -------------------------------------------------------------------------


def test_default_source_names_case_insensitive():
    cols = ["zdbh", "QSLX", "权利人", "其他"]
    assert resolve_columns("parcels", cols, NO_MAPPING) == {
        "code": "zdbh",
        "category": "QSLX",
        "owner": "权利人",
    }


def test_a_column_is_used_for_one_field_only():
    # 项目编号 is a source name of the project's own code and of a parcel's project_code
    got = resolve_columns("projects", ["项目编号", "项目名称"], NO_MAPPING)
    assert got == {"code": "项目编号", "name": "项目名称"}


def test_mapping_overrides_and_is_checked():
    m = Mapping({"code": "MY_CODE"}, {})
    assert resolve_columns("parcels", ["my_code", "权属类型"], m) == {
        "code": "my_code",
        "category": "权属类型",
    }
    with pytest.raises(InvalidInput) as info:
        resolve_columns("parcels", ["A", "权属类型"], Mapping({"code": "B"}, {}))
    assert info.value.message_zh == "映射文件指定的列 B 不在文件中（文件的列：A, 权属类型）"
    assert (
        info.value.message_en
        == "column B from the mapping file is not in the file (columns: A, 权属类型)"
    )  # noqa: E501
    with pytest.raises(InvalidInput) as info:
        resolve_columns("parcels", ["宗地编号"], Mapping({"nope": "x", "also": "y"}, {}))
    assert info.value.message_zh == (
        "映射文件中有此图层没有的字段：also, nope（可用：code, category, project_code, owner）"
    )
    assert info.value.message_en == (
        "the mapping names fields this layer does not have: also, nope "
        "(fields: code, category, project_code, owner)"
    )


def test_missing_required_field():
    with pytest.raises(InvalidInput) as info:
        resolve_columns("parcels", ["NO", "权属类型"], NO_MAPPING)
    exc = info.value
    assert exc.message_zh == (
        "找不到必需字段 宗地编号（code）对应的列；文件的列：NO, 权属类型。"
        "请用 --mapping 映射文件指定，例如 columns: {code: 列名}"
    )
    assert exc.message_en == (
        "no column for required field code (宗地编号); the file's columns: NO, 权属类型. "
        "Name it in a --mapping file, e.g. columns: {code: COLUMN}"
    )
    assert exc.detail["field"] == "code" and exc.detail["columns"] == ["NO", "权属类型"]
    # an optional field without a column is simply left out
    assert resolve_columns("parcels", ["宗地编号", "权属类型"], NO_MAPPING) == {
        "code": "宗地编号",
        "category": "权属类型",
    }


# -- _as_text --------------------------------------------------------------------------------


def test_as_text_integral_floats_trim_and_blanks():
    assert _as_text(pa.array([1001.0, None, 3.0])).to_pylist() == ["1001", None, "3"]
    assert _as_text(pa.array([1.5, 2.0])).to_pylist() == ["1.5", "2"]
    assert _as_text(pa.array([float("nan"), 4.0])).to_pylist() == [None, "4"]
    assert _as_text(pa.array([7, 8], pa.int32())).to_pylist() == ["7", "8"]
    assert _as_text(pa.chunked_array([[" a "], ["", "  ", "b"]])).to_pylist() == [
        "a",
        None,
        None,
        "b",
    ]
    assert _as_text(pa.array(["x"], pa.large_string())).to_pylist() == ["x"]
    # a 16-digit numeric code: pyarrow would print the float as 3.000000000000001e+15
    assert _as_text(pa.array([3e15 + 1, 2.0])).to_pylist() == ["3000000000000001", "2"]


# -- map_attributes --------------------------------------------------------------------------


def _parcels(**cols) -> pa.Table:
    base = {
        "宗地编号": ["A-1", "A-2", "A-3"],
        "权属类型": ["集体", "农场", "GY"],
        "权利人": ["张三", None, "李四"],
    }
    base.update(cols)
    return pa.table(base)


def _map(table: pa.Table, mapping: Mapping = NO_MAPPING, layer: str = "parcels"):
    report = _report()
    cols = resolve_columns(layer, table.column_names, mapping)
    out, ok = map_attributes(layer, table, cols, mapping, report)
    return {k: v.to_pylist() for k, v in out.items()}, ok.tolist(), report


def test_clean_rows_map_every_field():
    out, ok, report = _map(_parcels())
    assert ok == [True, True, True] and report.problems == []
    assert out == {
        "code": ["A-1", "A-2", "A-3"],
        "category": ["collective", "state_farm", "state_owned"],
        "project_code": [None, None, None],
        "owner": ["张三", None, "李四"],
    }


def test_unknown_category_and_mapping_categories():
    out, ok, report = _map(_parcels(权属类型=["集体", "火星用地", "甲类"]))
    assert ok == [True, False, False]
    assert out["category"] == ["collective", None, None]
    assert [(p.code, p.row, p.field, p.value) for p in report.problems] == [
        ("unknown_category", 2, "权属类型", "火星用地"),
        ("unknown_category", 3, "权属类型", "甲类"),
    ]
    p = report.problems[0]
    assert p.message_zh.startswith("未知的权属类型 “火星用地”（列 权属类型）；可用：")
    assert p.message_zh.endswith("，或在映射文件 categories 中定义")
    assert p.message_en.startswith("unknown ownership category '火星用地' (column 权属类型); use ")
    assert p.message_en.endswith(", or define it under categories in a mapping file")
    m = Mapping({}, {"jia": OwnershipCategory.collective})  # keys are lower case: "JIA" maps
    out, ok, _ = _map(_parcels(权属类型=["JIA", " Jia ", "集体"]), m)
    assert out["category"] == ["collective"] * 3 and ok == [True] * 3
    m = Mapping({}, {"甲类": OwnershipCategory.incomplete_acquisition})
    out, ok, report = _map(_parcels(权属类型=["集体", " 甲类", "甲类"]), m)
    assert out["category"] == ["collective", "incomplete_acquisition", "incomplete_acquisition"]
    assert ok == [True, True, True]


def test_every_category_unknown_gives_nulls():
    out, ok, report = _map(_parcels(权属类型=["x", "y", "x"]))
    assert out["category"] == [None, None, None] and ok == [False, False, False]
    assert [p.row for p in report.problems] == [1, 2, 3]
    t = _parcels(权属类型=["x", "y", "x"])
    raw, _ = map_attributes("parcels", t, resolve_columns("parcels", t.column_names, NO_MAPPING),
                            NO_MAPPING, _report())  # fmt: skip
    assert raw["category"].type == pa.string()


def test_a_missing_value_first_does_not_stop_the_mapping():
    # pc.unique lists the null first here: the values after it are still mapped and checked
    out, ok, report = _map(_parcels(权属类型=[None, "集体", "火星"]))
    assert out["category"] == [None, "collective", None] and ok == [False, True, False]
    assert [(p.code, p.row) for p in report.problems] == [("missing_value", 1),
                                                          ("unknown_category", 3)]  # fmt: skip


def test_missing_and_too_long_values():
    long_code = "Z" * 61
    out, ok, report = _map(
        _parcels(宗地编号=["A-1", None, long_code], 权属类型=["集体", "集体", None])
    )
    assert ok == [True, False, False]
    assert _problems(report) == [
        ("missing_value", 2, "宗地编号", None, "宗地编号（列 宗地编号）为空",
         "code (column 宗地编号) is empty"),
        ("value_too_long", 3, "宗地编号", long_code, "宗地编号（列 宗地编号）超过 60 个字符",
         "code (column 宗地编号) is longer than 60 characters"),
        ("missing_value", 3, "权属类型", None, "权属类型（列 权属类型）为空",
         "category (column 权属类型) is empty"),
    ]  # fmt: skip
    # exactly 60 characters is allowed
    _, ok, report = _map(_parcels(宗地编号=["A", "B", "Z" * 60]))
    assert ok == [True, True, True] and report.problems == []


def test_value_too_long_shows_at_most_80_characters():
    owner_table = _parcels(宗地编号=["Q" * 100, "A-2", "A-3"])
    _, _, report = _map(owner_table)
    (p,) = report.problems
    assert p.value == "Q" * 80


def test_duplicate_codes_name_the_first_row():
    out, ok, report = _map(
        pa.table({"宗地编号": ["A", "B", "A", None, "B", "C"], "权属类型": ["集体"] * 6})
    )
    assert ok == [False, False, False, False, False, True]
    dups = [(p.code, p.row, p.value, p.message_zh, p.message_en) for p in report.problems
            if p.code == "duplicate_code"]  # fmt: skip
    assert dups == [
        ("duplicate_code", 1, "A", "编号 A 重复（列 宗地编号；首次出现在第 1 行）",
         "duplicate code A (column 宗地编号; first at row 1)"),
        ("duplicate_code", 2, "B", "编号 B 重复（列 宗地编号；首次出现在第 2 行）",
         "duplicate code B (column 宗地编号; first at row 2)"),
        ("duplicate_code", 3, "A", "编号 A 重复（列 宗地编号；首次出现在第 1 行）",
         "duplicate code A (column 宗地编号; first at row 1)"),
        ("duplicate_code", 5, "B", "编号 B 重复（列 宗地编号；首次出现在第 2 行）",
         "duplicate code B (column 宗地编号; first at row 2)"),
    ]  # fmt: skip
    assert [p.row for p in report.problems if p.code == "missing_value"] == [4]


def test_statutory_plan_key_is_the_zone_code():
    t = pa.table({"图则编号": ["P", "P"], "地块编号": ["01", "01"], "用地性质": ["R2", "M1"]})
    out, ok, report = _map(t, layer="statutory_plans")
    assert ok == [False, False]
    assert [(p.code, p.field) for p in report.problems] == [
        ("duplicate_code", "地块编号"),
        ("duplicate_code", "地块编号"),
    ]


def test_number_columns_refuse_what_is_not_a_finite_number():
    # buildings declare floor_area_m2 as a number in m² (the layer is not uploadable yet, but
    # its declaration is mapped the same way)
    t = pa.table(
        {
            "编号": ["B1", "B2", "B3", "B4", "B5", "B6"],
            "建筑面积": [None, "abc", "inf", "12.5", "1e3", "abc"],
        }
    )
    report = _report()
    cols = resolve_columns("buildings", t.column_names, NO_MAPPING)
    assert cols["floor_area_m2"] == "建筑面积"
    out, ok = map_attributes("buildings", t, cols, NO_MAPPING, report)
    assert ok.tolist() == [True, False, False, True, True, False]  # a null first: still checked
    assert out["floor_area_m2"].to_pylist() == [None, "abc", "inf", "12.5", "1e3", "abc"]
    assert [(p.code, p.row, p.field, p.value, p.message_zh, p.message_en)
            for p in report.problems] == [
        ("not_a_number", r, "建筑面积", v, "建筑面积（m²）（列 建筑面积）不是数值",
         "floor_area_m2 (column 建筑面积) is not a number")
        for r, v in ((2, "abc"), (3, "inf"), (6, "abc"))
    ]  # fmt: skip
    report = _report()
    clean = pa.table({"编号": ["B1"], "建筑面积": ["3"]})
    _, ok = map_attributes("buildings", clean, resolve_columns("buildings", clean.column_names,
                                                              NO_MAPPING), NO_MAPPING, report)  # fmt: skip  # noqa: E501
    assert ok.tolist() == [True] and report.problems == []


def test_a_layer_without_the_optional_columns_gets_string_nulls():
    t = pa.table({"宗地编号": ["A"], "权属类型": ["集体"]})
    report = _report()
    out, ok = map_attributes("parcels", t, resolve_columns("parcels", t.column_names, NO_MAPPING),
                             NO_MAPPING, report)  # fmt: skip
    assert out["owner"].type == pa.string() and out["owner"].to_pylist() == [None]
    assert out["project_code"].type == pa.string()
    assert ok.dtype == bool and ok.tolist() == [True]
