"""Unpack an upload into one vector dataset that a known GDAL driver will open.

Accepted: a ``.zip`` holding a shapefile (``.shp .shx .dbf``, optional ``.prj .cpg``), a
GeoPackage or a GeoJSON file; a bare ``.shp`` with its siblings; a ``.gpkg``; a ``.geojson``.
Anything else (VRT and other "pointer" formats, KML/GML and other XML, nested archives) is
refused before GDAL sees it, and so are GeoJSON files whose ``crs`` member is a link or URL
(GDAL would download it: :mod:`spatial.ingest.geojson_crs`) and GeoPackages with views
(reading them runs the file's own SQL: :mod:`spatial.ingest.gpkg_safety`). Zip members are
checked for zip-slip paths, absolute paths, symlinks, encryption, member count, declared and
*actually read* uncompressed bytes and the compression ratio, and only the members we need are
extracted, under generated names, into a private temporary directory.
"""

from __future__ import annotations

import re
import shutil
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from spatial.errors import InvalidInput, TooLarge
from spatial.ingest.geojson_crs import check_crs_members
from spatial.ingest.gpkg_safety import check_geopackage
from spatial.settings import IngestSettings

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
DATASET_EXTS = {
    ".shp": "ESRI Shapefile",
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
}
ARCHIVE_EXTS = {".zip", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".xz"}
EXPECTED_DRIVERS = {"ESRI Shapefile", "GPKG", "GeoJSON"}
_CHUNK = 1 << 20


@dataclass
class Source:
    """An unpacked upload: the file GDAL should open and what it is."""

    path: Path
    driver: str
    display_name: str
    members: list[str] = field(default_factory=list)
    cpg: Path | None = None
    prj: Path | None = None
    dbf: Path | None = None
    shx: Path | None = None

    def localise(self, workdir: Path) -> None:
        """Copy a shapefile's parts into ``workdir`` (before repairing its header there)."""
        if self.dbf is None or self.dbf.parent == workdir:
            return
        parts = {".shp": self.path, ".shx": self.shx, ".dbf": self.dbf, ".prj": self.prj}
        parts[".cpg"] = self.cpg
        for ext, src in parts.items():
            if src is not None:
                target = workdir / f"upload{ext}"
                shutil.copyfile(src, target)
                setattr(self, "path" if ext == ".shp" else ext[1:], target)


def _refuse(zh: str, en: str, **detail: object) -> InvalidInput:
    return InvalidInput(zh, en, **detail)


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member name as the user wrote it (Windows zips store GBK names without a flag)."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("gb18030")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def _safe_parts(name: str) -> PurePosixPath:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or re.match(r"^[A-Za-z]:", norm):
        raise _refuse(
            f"压缩包内含绝对路径：{name}，整个上传已拒绝",
            f"zip member has an absolute path: {name}; the whole upload is refused",
            member=name,
        )
    p = PurePosixPath(norm)
    if any(part == ".." for part in p.parts):
        raise _refuse(
            f"压缩包内含越界路径（zip-slip）：{name}，整个上传已拒绝",
            f"zip member escapes the archive (zip-slip): {name}; the whole upload is refused",
            member=name,
        )
    return p


def check_size(path: Path, settings: IngestSettings) -> int:
    """Refuse files over ``settings.max_upload_bytes`` (TooLarge); return the size in bytes."""
    size = path.stat().st_size
    if size > settings.max_upload_bytes:
        raise TooLarge(
            f"文件过大：{size} 字节，上限 {settings.max_upload_bytes} 字节",
            f"file too large: {size} bytes, limit {settings.max_upload_bytes} bytes",
        )
    return size


def _choose(candidates: dict[str, list[str]], source_layer: str | None, what: str) -> str:
    keys = sorted(candidates)
    if source_layer is not None:
        for k in keys:
            if source_layer in (k, PurePosixPath(k).name, PurePosixPath(k).stem):
                return k
        raise _refuse(
            f"找不到 --source-layer {source_layer}；可选：{', '.join(keys)}",
            f"--source-layer {source_layer} not found; choose one of: {', '.join(keys)}",
            candidates=keys,
        )
    if len(keys) > 1:
        raise _refuse(
            f"{what}中有多个数据集：{', '.join(keys)}；请用 --source-layer 指定其一",
            f"the {what} holds several datasets: {', '.join(keys)}; choose one with --source-layer",
            candidates=keys,
        )
    return keys[0]


def unpack_zip(
    path: Path, workdir: Path, settings: IngestSettings, source_layer: str | None
) -> Source:
    """Check every member of the zip at ``path`` and extract the chosen dataset to ``workdir``.

    Raises
    ------
    InvalidInput
        zip-slip or absolute paths, symlinks, encrypted members, nested archives, several
        datasets and no ``source_layer``, no dataset, missing ``.shx``/``.dbf``.
    TooLarge
        too many members, too many uncompressed bytes (declared or actually read), or a
        compression ratio above ``settings.max_zip_ratio``.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse("压缩包损坏或不是 zip 文件", f"corrupt or not a zip file: {exc}") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > settings.max_zip_members:
            raise TooLarge(
                f"压缩包成员过多：{len(infos)}，上限 {settings.max_zip_members}",
                f"too many zip members: {len(infos)}, limit {settings.max_zip_members}",
            )
        declared = 0
        groups: dict[str, dict[str, zipfile.ZipInfo]] = {}
        names: list[str] = []
        for info in infos:
            name = _member_name(info)
            names.append(name)
            p = _safe_parts(name)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise _refuse(
                    f"压缩包内含符号链接：{name}，整个上传已拒绝",
                    f"zip member is a symbolic link: {name}; the whole upload is refused",
                    member=name,
                )
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                raise _refuse(f"压缩包成员已加密：{name}", f"zip member is encrypted: {name}")
            declared += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _CHUNK and ratio > settings.max_zip_ratio:
                raise TooLarge(
                    f"压缩比异常（{ratio:.0f}:1），疑似压缩炸弹：{name}",
                    f"compression ratio {ratio:.0f}:1 suggests a zip bomb: {name}",
                )
            ext = p.suffix.lower()
            if ext in ARCHIVE_EXTS:
                raise _refuse(
                    f"不接受嵌套压缩包：{name}", f"nested archives are not accepted: {name}"
                )
            if ext in SHAPEFILE_PARTS or ext in DATASET_EXTS:
                key_ext = ext if ext not in SHAPEFILE_PARTS else ".shp"
                key = str(p.with_suffix(key_ext)) if ext in SHAPEFILE_PARTS else str(p)
                groups.setdefault(key, {})[ext] = info
        if declared > settings.max_uncompressed_bytes:
            raise TooLarge(
                f"解压后过大：{declared} 字节，上限 {settings.max_uncompressed_bytes}",
                f"uncompressed size {declared} bytes exceeds {settings.max_uncompressed_bytes}",
            )
        datasets = {
            k: v
            for k, v in groups.items()
            if PurePosixPath(k).suffix.lower() != ".shp" or ".shp" in v
        }
        if not datasets:
            exts = sorted({PurePosixPath(n).suffix.lower() or n for n in names})
            raise _refuse(
                f"压缩包中没有可接受的数据（shp/gpkg/geojson）；找到：{', '.join(exts)}",
                "the zip holds no accepted dataset (shapefile, GeoPackage, GeoJSON); "
                f"found: {', '.join(exts)}",
            )
        chosen = _choose(
            {k: [] for k in datasets}, source_layer if len(datasets) > 1 else None, "压缩包/zip"
        )
        parts = datasets[chosen]
        ext = PurePosixPath(chosen).suffix.lower()
        budget = [settings.max_uncompressed_bytes]
        out: dict[str, Path] = {}
        for part_ext, info in parts.items():
            target = workdir / f"upload{part_ext}"
            _extract_limited(zf, info, target, budget, settings)
            out[part_ext] = target
    if ext == ".shp":
        return _shapefile_source(out, chosen, [str(n) for n in names])
    return _single_source(out[ext], DATASET_EXTS[ext], chosen, names)


def _extract_limited(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    budget: list[int],
    settings: IngestSettings,
) -> None:
    """Copy one member, counting the bytes actually decompressed against the budget."""
    read = 0
    compressed = max(info.compress_size, 1)
    with zf.open(info) as src, open(target, "wb") as dst:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0 or (read > _CHUNK and read / compressed > settings.max_zip_ratio):
                raise TooLarge(
                    f"解压数据超过上限或压缩比异常，疑似压缩炸弹：{info.filename}",
                    f"decompressed data exceed the limit or ratio (zip bomb?): {info.filename}",
                )
            dst.write(chunk)


def _shapefile_source(parts: dict[str, Path], display: str, members: list[str]) -> Source:
    missing = [e for e in (".shx", ".dbf") if e not in parts]
    if missing:
        raise _refuse(
            f"shapefile {display} 缺少 {'、'.join(missing)} 文件；"
            "请一并上传 .shp .shx .dbf（及 .prj .cpg）",
            f"shapefile {display} is missing {', '.join(missing)}; upload .shp, .shx and .dbf "
            "(and .prj, .cpg) together",
            missing=missing,
        )
    _check_shapefile_lengths(parts)
    return Source(
        path=parts[".shp"],
        driver="ESRI Shapefile",
        display_name=display,
        members=members,
        cpg=parts.get(".cpg"),
        prj=parts.get(".prj"),
        dbf=parts[".dbf"],
        shx=parts[".shx"],
    )


def _check_shapefile_lengths(parts: dict[str, Path]) -> None:
    """Refuse truncated .shp/.shx/.dbf by comparing their headers with their sizes."""
    for ext in (".shp", ".shx"):
        p = parts[ext]
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(100)
        if len(head) < 100 or struct.unpack(">i", head[:4])[0] != 9994:
            raise _refuse(
                f"{ext} 文件头无效（不是 shapefile 或已损坏）",
                f"invalid {ext} header (not a shapefile, or corrupt)",
            )
        declared = struct.unpack(">i", head[24:28])[0] * 2
        if size < declared:
            raise _refuse(
                f"{ext} 文件被截断：应为 {declared} 字节，实际 {size} 字节",
                f"{ext} is truncated: header says {declared} bytes, file has {size}",
            )
    dbf = parts[".dbf"]
    with open(dbf, "rb") as fh:
        head = fh.read(32)
    if len(head) < 32:
        raise _refuse(".dbf 文件被截断", ".dbf is truncated")
    nrec, hlen, rlen = struct.unpack("<IHH", head[4:12])
    if dbf.stat().st_size < hlen + nrec * rlen:
        raise _refuse(
            f".dbf 文件被截断：应有 {nrec} 条记录",
            f".dbf is truncated: its header declares {nrec} records",
        )
    shx_records = (parts[".shx"].stat().st_size - 100) // 8
    if shx_records != nrec:
        raise _refuse(
            f".shx 记录数 {shx_records} 与 .dbf 记录数 {nrec} 不一致",
            f".shx has {shx_records} records but .dbf has {nrec}",
        )


def _single_source(path: Path, driver: str, display: str, members: list[str]) -> Source:
    with open(path, "rb") as fh:
        head = fh.read(100)
    if driver == "GPKG":
        if not head.startswith(b"SQLite format 3\x00"):
            raise _refuse(f"{display} 不是 GeoPackage 文件", f"{display} is not a GeoPackage")
        check_geopackage(path, display)
    elif driver == "GeoJSON":
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not stripped.startswith(b"{"):
            raise _refuse(f"{display} 不是 GeoJSON 文件", f"{display} is not a GeoJSON file")
        check_crs_members(path, display)
    return Source(path=path, driver=driver, display_name=display, members=members)


def shapefile_parts(shp: Path) -> dict[str, Path]:
    """The parts present beside a bare ``.shp`` (extension → file), in :data:`SHAPEFILE_PARTS`
    order."""
    found = {
        p.suffix.lower(): p
        for p in shp.parent.iterdir()
        if p.stem == shp.stem and p.suffix.lower() in SHAPEFILE_PARTS and p.is_file()
    }
    found[".shp"] = shp
    return {ext: found[ext] for ext in SHAPEFILE_PARTS if ext in found}


def open_source(
    path: Path, workdir: Path, settings: IngestSettings, source_layer: str | None = None
) -> Source:
    """Resolve ``path`` (zip, shp, gpkg, geojson) to a :class:`Source` under ``workdir``.

    ``workdir`` must be a private, empty temporary directory; the caller removes it.
    """
    path = Path(path)
    if not path.is_file():
        raise _refuse(f"文件不存在：{path}", f"no such file: {path}")
    check_size(path, settings)
    ext = path.suffix.lower()
    if ext == ".zip":
        return unpack_zip(path, workdir, settings, source_layer)
    if ext == ".shp":
        parts = shapefile_parts(path)
        total = sum(p.stat().st_size for p in parts.values())
        if total > settings.max_uncompressed_bytes:
            raise TooLarge(f"文件过大：{total} 字节", f"files too large: {total} bytes in total")
        return _shapefile_source(parts, path.name, [p.name for p in parts.values()])
    if ext in DATASET_EXTS:
        target = workdir / f"upload{ext}"
        shutil.copyfile(path, target)
        return _single_source(target, DATASET_EXTS[ext], path.name, [path.name])
    raise _refuse(
        f"不接受的文件类型：{ext or path.name}（只接受 .zip、.shp、.gpkg、.geojson）",
        f"file type {ext or path.name} is not accepted (only .zip, .shp, .gpkg, .geojson); "
        "VRT, KML, GML and other formats are refused",
    )
