"""Containers: zip safety (slip, absolute, symlink, bomb, members), parts, formats, layers."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pyogrio
import pytest
from ingest_files import parcels, write_shp, zip_shapefile

from spatial.errors import InvalidInput, TooLarge
from spatial.ingest import ingest
from spatial.settings import IngestSettings


def _settings(tmp_path: Path, **kw) -> IngestSettings:
    return IngestSettings(upload_dir=tmp_path / "uploads", **kw)


def _dry(path: Path, tmp_path: Path, **kw):
    settings = kw.pop("settings", None) or _settings(tmp_path)
    return ingest(path, "parcels", dry_run=True, settings=settings, **kw)


def _shp_zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    shp = write_shp(parcels(2), tmp_path / "src")
    z = tmp_path / "upload.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(shp.parent.glob("zongdi.*")):
            zf.write(part, part.name)
        for name, data in members.items():
            zf.writestr(name, data)
    return z


def _no_leftovers(tmp_path: Path) -> None:
    assert list((tmp_path / "uploads").iterdir()) == []


@pytest.mark.parametrize(
    ("member", "needle"),
    [("../../evil.txt", "zip-slip"), ("/tmp/evil.txt", "absolute"), ("C:/evil.txt", "absolute")],
)
def test_dangerous_paths_refuse_the_whole_zip(tmp_path: Path, member: str, needle: str) -> None:
    z = _shp_zip(tmp_path, {member: b"x"})
    with pytest.raises(InvalidInput) as info:
        _dry(z, tmp_path)
    assert needle in info.value.message_en
    assert not (tmp_path.parent / "evil.txt").exists()
    assert not Path("/tmp/evil.txt").exists()
    _no_leftovers(tmp_path)


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    shp = write_shp(parcels(2), tmp_path / "src")
    z = zip_shapefile(shp, tmp_path / "link.zip")
    with zipfile.ZipFile(z, "a") as zf:
        info = zipfile.ZipInfo("zongdi.prj")
        info.external_attr = (0o120777 << 16) | 0
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InvalidInput) as exc:
        _dry(z, tmp_path)
    assert "symbolic link" in exc.value.message_en


def test_zip_bomb_is_refused_by_ratio(tmp_path: Path) -> None:
    z = _shp_zip(tmp_path, {"padding.dbf": b"\0" * (32 << 20)})
    with pytest.raises(TooLarge) as info:
        _dry(z, tmp_path)
    assert "zip bomb" in info.value.message_en
    _no_leftovers(tmp_path)


def test_uncompressed_bytes_actually_read_are_limited(tmp_path: Path) -> None:
    shp = write_shp(parcels(2000), tmp_path / "src")
    z = zip_shapefile(shp, tmp_path / "big.zip")
    settings = _settings(tmp_path, max_uncompressed_bytes=150_000)
    # over the uncompressed budget (declared sizes; extraction also counts bytes read)
    with pytest.raises(TooLarge):
        _dry(z, tmp_path, settings=settings)


def test_too_many_members_and_too_large_file(tmp_path: Path) -> None:
    z = _shp_zip(tmp_path, {f"readme{i}.txt": b"x" for i in range(20)})
    with pytest.raises(TooLarge) as info:
        _dry(z, tmp_path, settings=_settings(tmp_path, max_zip_members=10))
    assert "too many zip members" in info.value.message_en
    with pytest.raises(TooLarge):
        _dry(z, tmp_path, settings=_settings(tmp_path, max_upload_bytes=100))


def test_truncated_shp_is_refused(tmp_path: Path) -> None:
    shp = write_shp(parcels(20), tmp_path)
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput) as info:
        _dry(shp, tmp_path)
    assert "truncated" in info.value.message_en


def test_mutated_shx_is_refused_cleanly(tmp_path: Path) -> None:
    shp = write_shp(parcels(5), tmp_path)
    shx = tmp_path / "zongdi.shx"
    data = bytearray(shx.read_bytes())
    data[100:140] = b"\xff" * 40
    shx.write_bytes(bytes(data))
    with pytest.raises(InvalidInput):
        _dry(shp, tmp_path)


@pytest.mark.parametrize("missing", [".shx", ".dbf"])
def test_missing_shx_or_dbf(tmp_path: Path, missing: str) -> None:
    shp = write_shp(parcels(2), tmp_path / "src")
    (tmp_path / "src" / f"zongdi{missing}").unlink()
    z = zip_shapefile(shp, tmp_path / "parts.zip")
    with pytest.raises(InvalidInput) as info:
        _dry(z, tmp_path)
    assert f"missing {missing}" in info.value.message_en


def test_two_shapefiles_need_a_choice(tmp_path: Path) -> None:
    a = write_shp(parcels(2), tmp_path / "src", name="一期")
    write_shp(parcels(3), tmp_path / "src", name="二期")
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for part in sorted(a.parent.iterdir()):
            zf.write(part, "成果/" + part.name)
    with pytest.raises(InvalidInput) as info:
        _dry(z, tmp_path)
    assert info.value.detail["candidates"] == ["成果/一期.shp", "成果/二期.shp"]
    assert "--source-layer" in info.value.message_en
    report = _dry(z, tmp_path, source_layer="二期")
    assert report.counts.read == 3


def test_gbk_member_names_without_utf8_flag(tmp_path: Path) -> None:
    shp = write_shp(parcels(2), tmp_path / "src")
    gbk = "宗地成果".encode("gbk")  # 8 bytes, zip stores them without the UTF-8 flag
    placeholder = b"ABCDEFGH"
    z = tmp_path / "gbk.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for part in sorted(shp.parent.iterdir()):
            zf.write(part, "dir/" + placeholder.decode() + part.suffix)
    z.write_bytes(z.read_bytes().replace(placeholder, gbk))
    with zipfile.ZipFile(z) as zf:
        assert all(not i.flag_bits & 0x800 for i in zf.infolist())
    assert _dry(z, tmp_path).source_layer == "dir/宗地成果.shp"


def test_geopackage_layers(tmp_path: Path) -> None:
    gpkg = tmp_path / "two.gpkg"
    pyogrio.write_dataframe(parcels(2), gpkg, layer="宗地")
    pyogrio.write_dataframe(parcels(3), gpkg, layer="other", append=False)
    with pytest.raises(InvalidInput) as info:
        _dry(gpkg, tmp_path)
    assert sorted(info.value.detail["candidates"]) == ["other", "宗地"]
    report = _dry(gpkg, tmp_path, source_layer="宗地")
    assert report.counts.read == 2 and report.source_layer == "宗地"
    assert report.format == "GPKG" and report.encoding == "UTF-8"


def test_geojson_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "zongdi.geojson"
    pyogrio.write_dataframe(parcels(3).to_crs(4326), path, driver="GeoJSON")
    report = _dry(path, tmp_path)
    assert report.format == "GeoJSON" and report.source_crs == "EPSG:4326"
    assert report.total_area_m2 == pytest.approx(7500.0, abs=0.5)


def test_pointer_and_xml_formats_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    vrt = tmp_path / "x.vrt"
    vrt.write_text(
        f"<OGRVRTDataSource><OGRVRTLayer name='x'><SrcDataSource>{secret}"
        "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>"
    )
    kml = tmp_path / "x.kml"
    kml.write_text(
        f'<?xml version="1.0"?><!DOCTYPE k [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        "<kml><Placemark><name>&xxe;</name></Placemark></kml>"
    )
    for path in (vrt, kml):
        with pytest.raises(InvalidInput) as info:
            _dry(path, tmp_path)
        assert "not accepted" in info.value.message_en
        assert "top secret" not in json.dumps(info.value.detail, ensure_ascii=False)
    # a VRT disguised as GeoJSON, or alone inside a zip
    fake = tmp_path / "fake.geojson"
    fake.write_text(vrt.read_text())
    with pytest.raises(InvalidInput):
        _dry(fake, tmp_path)
    z = tmp_path / "vrt.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(vrt, "x.vrt")
    with pytest.raises(InvalidInput) as info:
        _dry(z, tmp_path)
    assert ".vrt" in info.value.message_en


def test_nested_zip_is_refused(tmp_path: Path) -> None:
    z = _shp_zip(tmp_path, {"inner.zip": b"PK\x03\x04"})
    with pytest.raises(InvalidInput) as info:
        _dry(z, tmp_path)
    assert "nested" in info.value.message_en


def test_stale_temporary_directories_are_swept(tmp_path: Path) -> None:
    import os
    import time

    from spatial.ingest.pipeline import sweep_stale

    uploads = tmp_path / "uploads"
    old = uploads / "ingest-old"
    fresh = uploads / "upload-fresh"
    for d in (old, fresh):
        d.mkdir(parents=True)
        (d / "upload.shp").write_bytes(b"x")
    past = time.time() - 7 * 3600
    os.utime(old, (past, past))
    assert sweep_stale(uploads) == [old]
    assert not old.exists() and fresh.exists()


def test_mutated_files_fail_cleanly(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    shp = write_shp(parcels(30), tmp_path / "orig")
    originals = {p.suffix: p.read_bytes() for p in shp.parent.iterdir()}
    outcomes = set()
    for k in range(24):
        folder = tmp_path / f"m{k}"
        folder.mkdir()
        for suffix, data in originals.items():
            buf = bytearray(data)
            if suffix in (".shp", ".shx", ".dbf") and rng.random() < 0.6:
                for _ in range(rng.randint(1, 8)):
                    buf[rng.randrange(len(buf))] = rng.randrange(256)
            (folder / f"zongdi{suffix}").write_bytes(bytes(buf))
        try:
            _dry(folder / "zongdi.shp", tmp_path)
            outcomes.add("ok")
        except (InvalidInput, TooLarge):
            outcomes.add("refused")
    assert "refused" in outcomes
