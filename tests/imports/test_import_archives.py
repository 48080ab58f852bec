"""Zip handling and format detection of imports: zip bombs (ratio, declared and real sizes), too many members,
path traversal, symlinks, and detection from bytes (not names or declared types)."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from importfixtures import csv_bytes, gdal_bytes, zip_bytes

from lds.errors import BadRequest
from lds.imports.archives import ArchiveLimits, UnsafeArchive, extract, members
from lds.imports.detect import UnsupportedFormat, detect, sniff_delimiter

LIMITS = ArchiveLimits(max_members=50, max_ratio=100, max_bytes=50 * 1024 * 1024)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_zip_bomb_by_ratio_is_refused_before_extraction(tmp_path):
    bomb = write(tmp_path, "bomb.zip", zip_bytes({"data.csv": b"0" * (20 * 1024 * 1024)}))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(UnsafeArchive, match="zip bomb"):
        members(bomb, LIMITS)
    with pytest.raises(UnsafeArchive, match="zip bomb"):
        detect(bomb, tmp_path, LIMITS)
    assert not (tmp_path / "data.csv").exists()


def test_total_size_and_member_count_limits(tmp_path):
    many = write(tmp_path, "many.zip", zip_bytes({f"f{i}.txt": b"x" for i in range(51)}))
    with pytest.raises(UnsafeArchive, match="51 entries"):
        members(many, LIMITS)
    big = write(tmp_path, "big.zip", zip_bytes({"a.bin": bytes(range(256)) * 4096}, zipfile.ZIP_STORED))
    with pytest.raises(UnsafeArchive, match="LDS_IMPORT_ARCHIVE_MAX_BYTES"):
        members(big, ArchiveLimits(max_members=50, max_ratio=100, max_bytes=1000))


def test_a_member_that_lies_about_its_size_is_stopped(tmp_path):
    payload = b"a,b\n" + b"1,2\n" * 50_000
    data = bytearray(zip_bytes({"x.csv": payload}))
    # shrink the declared size in the central directory (and local header) so the header check passes
    zf = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = zf.infolist()[0]
    declared = info.file_size.to_bytes(4, "little")
    data = bytearray(bytes(data).replace(declared, (100).to_bytes(4, "little")))
    path = write(tmp_path, "liar.zip", bytes(data))
    infos = members(path, LIMITS)
    assert infos[0].file_size == 100
    with pytest.raises(BadRequest, match="declared size|Bad CRC"):  # zipfile reads no more than declared
        extract(path, infos, tmp_path, LIMITS)
    assert (tmp_path / "x.csv").stat().st_size <= 100


@pytest.mark.parametrize(
    "name", ["../../evil.shp", "/etc/evil.shp", "a/../../evil.csv", "C:/evil.csv", "..\\..\\evil.csv"]
)
def test_path_traversal_is_refused(tmp_path, name):
    path = write(tmp_path, "trav.zip", zip_bytes({name: b"x"}))
    with pytest.raises(UnsafeArchive, match="path traversal"):
        detect(path, tmp_path / "staging", LIMITS)


def test_symlinks_in_zips_are_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.csv")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        members(write(tmp_path, "link.zip", buf.getvalue()), LIMITS)


def test_detection_reads_bytes_not_names(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    geojson = gdal_bytes(tmp_path, "GeoJSON", ".geojson")
    assert detect(write(tmp_path, "x.csv", geojson), staging, LIMITS).format == "geojson"
    assert detect(write(tmp_path, "x.geojson", csv_bytes("wkt")), staging, LIMITS).delimiter == "\t"
    kml = gdal_bytes(tmp_path, "KML", ".kml")
    assert detect(write(tmp_path, "x.json", kml), staging, LIMITS).format == "kml"
    inner = detect(write(tmp_path, "x.bin", zip_bytes({"dir/places.csv": csv_bytes("latlon")})), staging, LIMITS)
    assert inner.format == "csv" and inner.delimiter == ";" and inner.notes[0].startswith("read dir/places.csv")
    refusals = {
        b"\x1f\x8b\x08\x00rest": "gzip",
        b'{"rows": [1, 2]}': "not GeoJSON",
        b"<html><body>login</body></html>": "HTML page",
        b"<?xml version='1.0'?><gpx></gpx>": "XML that is not KML",
        bytes(range(256)) * 10: "binary data",
        b"": "empty",
        zip_bytes({"a.zip": zip_bytes({"b.csv": b"a\n1\n"})}): "nested zip",
        zip_bytes({"a.csv": b"a\n1\n", "b.csv": b"b\n2\n"}): "2 candidate files",
    }
    for body, reason in refusals.items():
        with pytest.raises(UnsupportedFormat, match=reason):
            detect(write(tmp_path, "y.csv", body), staging, LIMITS)
    assert detect(write(tmp_path, "d", b"PAR1" + b"\0" * 8 + b"PAR1"), staging, LIMITS).format == "parquet"
    with pytest.raises(UnsupportedFormat, match="cut short"):
        detect(write(tmp_path, "e", b"PAR1" + b"\0" * 8), staging, LIMITS)


def test_delimiters():
    assert sniff_delimiter("a;b;c\n1;2;3\n") == ";"
    assert sniff_delimiter("a|b\n1|2\n") == "|"
    assert sniff_delimiter("a\tb\n1\t2\n") == "\t"
    assert sniff_delimiter('name,desc\nx,"a;b;c"\n') == ","
