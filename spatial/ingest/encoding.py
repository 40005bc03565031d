"""Which text encoding a shapefile's ``.dbf`` uses, and proof that it decodes cleanly.

Order: ``--encoding`` given by the user, then the ``.cpg`` file, then the DBF language-driver
byte (offset 29, e.g. 0x4D = code page 936, GBK), then detection: UTF-8 if every byte decodes
strictly as UTF-8, else GB18030 (a superset of GBK). Whatever is chosen, the field names and
every record are decoded strictly first, in one C-level pass; text that does not decode is
refused instead of being stored as mojibake. GeoPackage and GeoJSON are UTF-8 by their
specifications.
"""

from __future__ import annotations

import codecs
import struct
from dataclasses import dataclass
from pathlib import Path

from spatial.errors import InvalidInput

# DBF language-driver ids (byte 29) that name a code page unambiguously.
LDID_CODEPAGES: dict[int, str] = {
    0x01: "cp437",
    0x02: "cp850",
    0x03: "cp1252",
    0x4D: "cp936",
    0x4E: "cp949",
    0x4F: "cp950",
    0x7A: "cp936",
    0x7B: "cp949",
    0x7C: "cp874",
    0x7D: "cp1255",
    0x7E: "cp1256",
    0xC8: "cp1250",
    0xC9: "cp1251",
    0xCA: "cp1254",
    0xCB: "cp1253",
}

# Names found in .cpg files / given on the command line -> Python codec names.
_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "65001": "utf-8",
    "936": "cp936",
    "cp936": "cp936",
    "gbk": "cp936",
    "ansi 936": "cp936",
    "gb2312": "cp936",
    "gb18030": "gb18030",
    "54936": "gb18030",
    "big5": "cp950",
    "950": "cp950",
    "cp950": "cp950",
    "1252": "cp1252",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "88591": "latin-1",
    "8859_1": "latin-1",
    "ascii": "ascii",
}

# What we hand to GDAL (iconv names) for each Python codec.
GDAL_NAMES = {"cp936": "CP936", "gb18030": "GB18030", "utf-8": "UTF-8", "cp950": "CP950"}


@dataclass
class EncodingChoice:
    """The encoding chosen and how: ``codec`` is a Python codec name."""

    codec: str
    method: str
    name_fixes: dict[int, bytes] | None = None
    records_unchecked: bool = False

    @property
    def label(self) -> str:
        """A display name: GBK for cp936, else the upper-case codec name."""
        return {"cp936": "GBK", "utf-8": "UTF-8", "gb18030": "GB18030"}.get(
            self.codec, self.codec.upper()
        )

    @property
    def gdal_name(self) -> str:
        """The name GDAL/iconv understands."""
        return GDAL_NAMES.get(self.codec, self.codec.upper())


def normalise(name: str) -> str:
    """Map an encoding name from a .cpg or ``--encoding`` to a Python codec name.

    Raises
    ------
    InvalidInput
        the name is not a known encoding.
    """
    key = name.strip().lower().replace("_", "-")
    codec = _ALIASES.get(key) or _ALIASES.get(key.replace("-", ""))
    if codec is None:
        try:
            codec = codecs.lookup(key).name
        except LookupError as exc:
            raise InvalidInput(
                f"未知的字符编码：{name}（可用 UTF-8、GBK、GB18030）",
                f"unknown encoding: {name} (try UTF-8, GBK or GB18030)",
            ) from exc
    return codec


_CHUNK_RECORDS = 20000


@dataclass
class _Dbf:
    names: list[bytes]
    path: Path
    header_len: int
    record_len: int
    records: int
    ldid: int


def _dbf(dbf: Path) -> _Dbf:
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            raise InvalidInput(".dbf 文件被截断", ".dbf is truncated")
        nrec, hlen, rlen = struct.unpack("<IHH", head[4:12])
        desc = fh.read(max(hlen - 32, 0))
    names = []
    for off in range(0, len(desc) - 31, 32):
        if desc[off] == 0x0D:
            break
        names.append(desc[off : off + 11].split(b"\x00", 1)[0])
    return _Dbf(names, dbf, hlen, rlen, nrec, head[29])


def _name_fix(name: bytes, codec: str) -> bytes | None:
    """The name without a character cut by the 10-byte DBF limit; None if it decodes or can't.

    Returns the shortened bytes only when the name fills the 10 bytes and dropping at most
    three trailing bytes makes it decode: GDAL and ArcGIS cut UTF-8 names (3 bytes per
    Chinese character) in the middle of a character.
    """
    try:
        name.decode(codec)
        return None
    except UnicodeDecodeError:
        pass
    if len(name) < 10:
        return None
    for cut in (1, 2, 3):
        try:
            name[:-cut].decode(codec)
        except UnicodeDecodeError:
            continue
        return name[:-cut]
    return None


def field_name_fixes(dbf: Path, codec: str) -> dict[int, bytes]:
    """Field index → repaired name bytes, for names cut inside a character (see ``_name_fix``)."""
    out: dict[int, bytes] = {}
    for i, name in enumerate(_dbf(dbf).names):
        fixed = _name_fix(name, codec)
        if fixed is not None:
            out[i] = fixed
    return out


def repair_field_names(dbf: Path, fixes: dict[int, bytes]) -> None:
    """Rewrite cut field names in the .dbf header in place (NUL-padded); records untouched."""
    with open(dbf, "r+b") as fh:
        for i, name in fixes.items():
            fh.seek(32 + 32 * i)
            fh.write(name.ljust(11, b"\x00"))


def _first_bad_row(d: _Dbf, codec: str, records: bool = True) -> int | None:
    """0 if the field names do not decode, the 1-based row that does not, or None if all do.

    With ``records`` False only the field names are checked.

    Reads the records in chunks aligned on record boundaries (bounded memory); each record
    starts with an ASCII deletion flag, so a chunk boundary never splits a character.
    """
    for name in d.names:
        try:
            name.decode(codec)
        except UnicodeDecodeError:
            if _name_fix(name, codec) is None:
                return 0
    if not records:
        return None
    step = _CHUNK_RECORDS * max(d.record_len, 1)
    with open(d.path, "rb") as fh:
        fh.seek(d.header_len)
        done = 0
        while done < d.records:
            n = min(_CHUNK_RECORDS, d.records - done)
            chunk = fh.read(min(step, n * d.record_len))
            if not chunk.isascii():
                try:
                    chunk.decode(codec)
                except UnicodeDecodeError as exc:
                    return done + exc.start // max(d.record_len, 1) + 1
            done += n
    return None


def _all_ascii(d: _Dbf) -> bool:
    return _first_bad_row(d, "ascii") is None


def choose_encoding(
    dbf: Path | None,
    cpg: Path | None,
    override: str | None,
    fmt: str,
    *,
    check_rows: bool = True,
) -> EncodingChoice:
    """Choose and verify the encoding of a dataset's attribute text.

    Parameters
    ----------
    dbf, cpg
        The shapefile's ``.dbf`` and ``.cpg`` (None for GeoPackage/GeoJSON or when absent).
    override
        ``--encoding`` from the user, if any.
    fmt
        The GDAL driver name.
    check_rows
        Verify every record now. With False, an encoding declared by ``--encoding``, the
        ``.cpg`` or the language-driver byte is checked on the field names only, and the caller
        must run :func:`check_records` (e.g. while GDAL reads the file in other threads).
        Detection always reads every record.

    Raises
    ------
    InvalidInput
        the text does not decode in the chosen (or any detected) encoding.
    """
    if dbf is None:
        if override and normalise(override) != "utf-8":
            raise InvalidInput(
                f"{fmt} 按规范使用 UTF-8，不能指定 {override}",
                f"{fmt} is UTF-8 by specification; --encoding {override} does not apply",
            )
        return EncodingChoice("utf-8", f"{fmt} 规范规定 UTF-8 / UTF-8 by the {fmt} specification")
    d = _dbf(dbf)
    ldid = d.ldid
    if override:
        choice = EncodingChoice(normalise(override), "--encoding 指定 / given with --encoding")
    elif cpg is not None and cpg.read_bytes().strip():
        raw = cpg.read_bytes().decode("ascii", "replace").strip()
        choice = EncodingChoice(normalise(raw), f".cpg 文件声明 {raw} / declared by the .cpg file")
    elif ldid in LDID_CODEPAGES:
        choice = EncodingChoice(
            LDID_CODEPAGES[ldid],
            f"DBF 语言驱动字节 0x{ldid:02X} / DBF language-driver byte 0x{ldid:02X}",
        )
    else:
        choice = _detect(d)
        choice.name_fixes = field_name_fixes(dbf, choice.codec)
        return choice
    bad = _first_bad_row(d, choice.codec, records=check_rows)
    if bad is not None:
        raise _undecodable(choice, bad)
    choice.name_fixes = field_name_fixes(dbf, choice.codec)
    choice.records_unchecked = not check_rows
    return choice


def check_records(dbf: Path, choice: EncodingChoice) -> None:
    """Refuse (InvalidInput, with the first bad row) unless every record decodes as chosen."""
    bad = _first_bad_row(_dbf(dbf), choice.codec)
    if bad is not None:
        raise _undecodable(choice, bad)
    choice.records_unchecked = False


def _undecodable(choice: EncodingChoice, bad: int) -> InvalidInput:
    where_zh = f"第 {bad} 行" if bad else "字段名"
    where_en = f"row {bad}" if bad else "the field names"
    return InvalidInput(
        f".dbf 文本无法按 {choice.label} 解码（{where_zh}；编码来源：{choice.method}）；"
        "请用 --encoding 指定正确的编码（如 GBK 或 UTF-8）",
        f".dbf text does not decode as {choice.label} (at {where_en}; chosen by: "
        f"{choice.method}); pass the right one with --encoding (e.g. GBK or UTF-8)",
        row=bad or None,
        encoding=choice.label,
    )


def _detect(d: _Dbf) -> EncodingChoice:
    """ASCII, else UTF-8 if everything decodes strictly, else GBK, else GB18030, else refuse."""
    if _all_ascii(d):
        return EncodingChoice("utf-8", "全部为 ASCII 文本 / all text is ASCII")
    if _first_bad_row(d, "utf-8") is None:
        return EncodingChoice(
            "utf-8", "检测：可按 UTF-8 严格解码 / detected: decodes strictly as UTF-8"
        )
    if _first_bad_row(d, "cp936") is None:
        return EncodingChoice(
            "cp936", "检测：不是 UTF-8，可按 GBK 严格解码 / detected: not UTF-8, decodes as GBK"
        )
    if _first_bad_row(d, "gb18030") is None:
        return EncodingChoice(
            "gb18030", "检测：不是 UTF-8，可按 GB18030 严格解码 / detected: decodes as GB18030"
        )
    raise InvalidInput(
        ".dbf 文本既不是 UTF-8 也不是 GBK/GB18030，无法解码；请用 --encoding 指定编码",
        ".dbf text is neither UTF-8 nor GBK/GB18030 and cannot be decoded; pass --encoding",
    )
