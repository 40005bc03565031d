"""spatial.ingest.encoding on hand-written .dbf files (exact bytes, no GDAL; ``make mutation``).

The Chinese test text goes beyond GB2312 on purpose: 喆 堃 镕 昇 are GBK-only (a GB2312
decoder fails on them) and 䶮 𠮷 are GB18030-only (GBK fails on them).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dbf import write_dbf

from spatial.errors import InvalidInput
from spatial.ingest import encoding as enc
from spatial.ingest.encoding import EncodingChoice, choose_encoding, normalise

GBK_ONLY = "张喆 王堃 朱镕 李昇"
GB18030_ONLY = "刘䶮 𠮷野家"


def dbf(tmp_path: Path, values: list[bytes], name: bytes = b"OWNER", ldid: int = 0,
        width: int = 40) -> Path:  # fmt: skip
    return write_dbf(tmp_path / "t.dbf", [(b"CODE", 4), (name, width)],
                     [[str(i).encode(), v] for i, v in enumerate(values)], ldid)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        (" UTF_8 ", "utf-8"),
        ("65001", "utf-8"),
        ("GBK", "cp936"),
        ("936", "cp936"),
        ("CP936", "cp936"),
        ("ANSI 936", "cp936"),
        ("GB2312", "cp936"),  # what Windows calls GB2312 is code page 936, i.e. GBK
        ("GB18030", "gb18030"),
        ("54936", "gb18030"),
        ("BIG5", "cp950"),
        ("950", "cp950"),
        ("1252", "cp1252"),
        ("ISO-8859-1", "latin-1"),
        ("ISO_8859_1", "latin-1"),
        ("88591", "latin-1"),
        ("ascii", "ascii"),
        ("euc_kr", "euc_kr"),  # not an alias: Python's codec registry
        ("CP-936", "cp936"),  # dashes dropped to find the alias
        ("GB-18030", "gb18030"),
        ("shift-jis", "shift_jis"),
    ],
)
def test_normalise(name, codec):
    assert normalise(name) == codec


def test_normalise_unknown():
    with pytest.raises(InvalidInput) as info:
        normalise("klingon")
    assert info.value.message_zh == "未知的字符编码：klingon（可用 UTF-8、GBK、GB18030）"
    assert info.value.message_en == "unknown encoding: klingon (try UTF-8, GBK or GB18030)"


def test_choice_labels_and_gdal_names():
    assert [EncodingChoice(c, "").label for c in ("cp936", "utf-8", "gb18030", "cp950")] == [
        "GBK",
        "UTF-8",
        "GB18030",
        "CP950",
    ]
    assert [EncodingChoice(c, "").gdal_name for c in ("cp936", "utf-8", "gb18030", "cp950")] == [
        "CP936",
        "UTF-8",
        "GB18030",
        "CP950",
    ]
    assert EncodingChoice("latin-1", "").gdal_name == "LATIN-1"
    assert enc.LDID_CODEPAGES[0x4D] == enc.LDID_CODEPAGES[0x7A] == "cp936"


def test_dbf_header_parse(tmp_path: Path):
    p = dbf(tmp_path, [b"a", b"b", b"c"], ldid=0x4D)
    d = enc._dbf(p)
    assert d.names == [b"CODE", b"OWNER"]
    assert (d.records, d.header_len, d.record_len, d.ldid) == (3, 32 + 64 + 1, 45, 0x4D)
    short = tmp_path / "s.dbf"
    short.write_bytes(b"\x03" * 31)
    with pytest.raises(InvalidInput) as info:
        enc._dbf(short)
    assert (info.value.message_zh, info.value.message_en) == (
        ".dbf 文件被截断",
        ".dbf is truncated",
    )


@pytest.mark.parametrize(
    ("values", "codec", "method"),
    [
        ([b"abc", b"xyz"], "utf-8", "全部为 ASCII 文本 / all text is ASCII"),
        (
            [GBK_ONLY.encode("utf-8")],
            "utf-8",
            "检测：可按 UTF-8 严格解码 / detected: decodes strictly as UTF-8",
        ),
        (
            [b"x", GBK_ONLY.encode("gbk")],
            "cp936",
            "检测：不是 UTF-8，可按 GBK 严格解码 / detected: not UTF-8, decodes as GBK",
        ),
        (
            [GBK_ONLY.encode("gb18030"), GB18030_ONLY.encode("gb18030")],
            "gb18030",
            "检测：不是 UTF-8，可按 GB18030 严格解码 / detected: decodes as GB18030",
        ),
    ],
)
def test_detection_order(tmp_path: Path, values, codec, method):
    choice = choose_encoding(dbf(tmp_path, values), None, None, "ESRI Shapefile")
    assert (choice.codec, choice.method) == (codec, method)
    assert choice.records_unchecked is False and choice.name_fixes == {}


def test_gb2312_is_not_enough_for_gbk_names(tmp_path: Path):
    raw = GBK_ONLY.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")  # what a GB2312-only decoder would do with these names
    choice = choose_encoding(dbf(tmp_path, [raw]), None, None, "ESRI Shapefile")
    assert choice.label == "GBK" and raw.decode(choice.codec) == GBK_ONLY


def test_undecodable_everything_is_refused(tmp_path: Path):
    with pytest.raises(InvalidInput) as info:
        choose_encoding(dbf(tmp_path, [b"\xff\xfe\xff\xfe"]), None, None, "ESRI Shapefile")
    assert info.value.message_zh == (
        ".dbf 文本既不是 UTF-8 也不是 GBK/GB18030，无法解码；请用 --encoding 指定编码"
    )
    assert info.value.message_en == (
        ".dbf text is neither UTF-8 nor GBK/GB18030 and cannot be decoded; pass --encoding"
    )


def test_order_override_then_cpg_then_ldid(tmp_path: Path):
    p = dbf(tmp_path, [GBK_ONLY.encode("gbk")], ldid=0x4D)
    cpg = tmp_path / "t.cpg"
    cpg.write_bytes(b" GB18030 \r\n")
    c = choose_encoding(p, cpg, "gbk", "ESRI Shapefile")
    assert (c.codec, c.method) == ("cp936", "--encoding 指定 / given with --encoding")
    c = choose_encoding(p, cpg, None, "ESRI Shapefile")
    assert (c.codec, c.method) == ("gb18030", ".cpg 文件声明 GB18030 / declared by the .cpg file")
    cpg.write_bytes(b"  \n")  # an empty .cpg declares nothing: the LDID byte decides
    c = choose_encoding(p, cpg, None, "ESRI Shapefile")
    assert (c.codec, c.method) == (
        "cp936",
        "DBF 语言驱动字节 0x4D / DBF language-driver byte 0x4D",
    )
    c = choose_encoding(dbf(tmp_path, [b"\xb5\xc4"], ldid=0x7B), None, None, "ESRI Shapefile")
    assert c.method == "DBF 语言驱动字节 0x7B / DBF language-driver byte 0x7B"
    assert c.codec == "cp949"


def test_a_cpg_with_non_ascii_bytes_is_refused_not_a_crash(tmp_path: Path):
    p = dbf(tmp_path, [b"a"])
    cpg = tmp_path / "t.cpg"
    cpg.write_bytes(b"GB\xff")
    with pytest.raises(InvalidInput) as info:
        choose_encoding(p, cpg, None, "ESRI Shapefile")
    assert info.value.message_en.startswith("unknown encoding: GB")


def test_declared_encoding_that_does_not_decode_names_the_row(tmp_path: Path):
    p = dbf(tmp_path, [b"ok", b"fine", GBK_ONLY.encode("gbk"), b"x"])
    cpg = tmp_path / "t.cpg"
    cpg.write_text("UTF-8")
    with pytest.raises(InvalidInput) as info:
        choose_encoding(p, cpg, None, "ESRI Shapefile")
    exc = info.value
    assert exc.message_zh == (
        ".dbf 文本无法按 UTF-8 解码（第 3 行；编码来源：.cpg 文件声明 UTF-8 / declared by the "
        ".cpg file）；请用 --encoding 指定正确的编码（如 GBK 或 UTF-8）"
    )
    assert exc.message_en == (
        ".dbf text does not decode as UTF-8 (at row 3; chosen by: .cpg 文件声明 UTF-8 / "
        "declared by the .cpg file); pass the right one with --encoding (e.g. GBK or UTF-8)"
    )
    assert exc.detail == {"row": 3, "encoding": "UTF-8"}


def test_rows_are_counted_across_chunks(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(enc, "_CHUNK_RECORDS", 2)
    values = [b"a"] * 5 + [GBK_ONLY.encode("gbk")] + [b"b"] * 3
    with pytest.raises(InvalidInput) as info:
        choose_encoding(dbf(tmp_path, values), None, "UTF-8", "ESRI Shapefile")
    assert info.value.detail["row"] == 6
    values = [GB18030_ONLY.encode("gb18030")] * 7
    c = choose_encoding(dbf(tmp_path, values), None, None, "ESRI Shapefile")
    assert c.codec == "gb18030"


def test_undecodable_field_name_is_row_zero(tmp_path: Path):
    p = dbf(tmp_path, [b"a"], name=b"\xff\xfe")
    with pytest.raises(InvalidInput) as info:
        choose_encoding(p, None, "UTF-8", "ESRI Shapefile")
    assert "（字段名；" in info.value.message_zh and "(at the field names;" in info.value.message_en
    assert info.value.detail == {"row": None, "encoding": "UTF-8"}


def test_names_cut_inside_a_character_are_repaired(tmp_path: Path):
    cut = "权属类型".encode()[:10]  # 12 bytes in UTF-8: the 10-byte limit cuts the 4th char
    assert len(cut) == 10
    p = write_dbf(tmp_path / "t.dbf", [(cut, 8), ("权利人".encode(), 8)],
                  [[b"a", b"b"]])  # fmt: skip
    assert enc._name_fix(cut, "utf-8") == "权属类".encode()
    assert enc._name_fix("权利人".encode(), "utf-8") is None  # decodes already
    assert enc._name_fix(b"\xff\xfe", "utf-8") is None  # too short to be a cut name
    assert enc._name_fix(b"\xff" * 10, "utf-8") is None  # not a cut: garbage
    assert enc._name_fix(b"abcdefgh\xe6\x9d", "utf-8") == b"abcdefgh"  # 2 bytes of 3 left
    assert enc._name_fix(b"abcdefghi\xe6", "utf-8") == b"abcdefghi"
    # GB18030 has 4-byte characters: three bytes of one may be left by the cut
    assert enc._name_fix(b"abcdefg" + "𠮷".encode("gb18030")[:3], "gb18030") == b"abcdefg"
    fixes = enc.field_name_fixes(p, "utf-8")
    assert fixes == {0: "权属类".encode()}
    c = choose_encoding(p, None, "UTF-8", "ESRI Shapefile")
    assert c.name_fixes == {0: "权属类".encode()}
    enc.repair_field_names(p, fixes)
    assert enc._dbf(p).names == ["权属类".encode(), "权利人".encode()]
    assert enc.field_name_fixes(p, "utf-8") == {}
    d = enc._dbf(p)
    assert p.read_bytes()[32:43] == "权属类".encode().ljust(11, b"\x00") and d.records == 1
    assert p.read_bytes()[43:44] == b"C"  # the field type byte after the name is untouched


def test_records_can_be_checked_later(tmp_path: Path):
    p = dbf(tmp_path, [b"a", GBK_ONLY.encode("gbk")])
    c = choose_encoding(p, None, "UTF-8", "ESRI Shapefile", check_rows=False)
    assert c.records_unchecked is True and c.codec == "utf-8"
    with pytest.raises(InvalidInput) as info:
        enc.check_records(p, c)
    assert info.value.detail["row"] == 2
    assert c.records_unchecked is True
    good = choose_encoding(p, None, "GBK", "ESRI Shapefile", check_rows=False)
    enc.check_records(p, good)
    assert good.records_unchecked is False
    # detection always reads every record, whatever check_rows says
    c = choose_encoding(p, None, None, "ESRI Shapefile", check_rows=False)
    assert c.codec == "cp936" and c.records_unchecked is False


def test_geopackage_and_geojson_are_utf8():
    c = choose_encoding(None, None, None, "GPKG")
    assert (c.codec, c.method) == ("utf-8", "GPKG 规范规定 UTF-8 / UTF-8 by the GPKG specification")
    assert choose_encoding(None, None, "utf8", "GeoJSON").codec == "utf-8"
    with pytest.raises(InvalidInput) as info:
        choose_encoding(None, None, "GBK", "GeoJSON")
    assert info.value.message_zh == "GeoJSON 按规范使用 UTF-8，不能指定 GBK"
    assert (
        info.value.message_en == "GeoJSON is UTF-8 by specification; --encoding GBK does not apply"
    )
