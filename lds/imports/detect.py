"""Tell an import's format from its bytes, never from the URL's extension or the declared Content-Type.

Binary formats are known by their signatures (zip ``PK\\x03\\x04``, Parquet ``PAR1`` at both ends,
GeoPackage's SQLite header); text is decoded (BOM, UTF-8, else charset-normalizer's guess on a sample)
and read as GeoJSON (a JSON object with a GeoJSON ``type``), KML (an XML document with ``<kml``) or
delimited text (delimiter sniffed among ``, ; TAB |``). A zip is opened with :mod:`archives`' checks and
resolves to the Shapefile, KML (KMZ) or single data file inside it. Anything else is refused with what it
looks like (an HTML page, gzip, JSON that is not GeoJSON, binary data).
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from lds.errors import BadRequest
from lds.imports import archives
from lds.imports.budget import Budget

SAMPLE = 64 * 1024
FORMATS = ("csv", "geojson", "geoparquet", "parquet", "shapefile", "gpkg", "kml", "kmz")
_SHP_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".geojson", ".parquet", ".geoparquet", ".gpkg", ".kml")
_GEOJSON_TYPE = re.compile(
    r'"type"\s*:\s*"(FeatureCollection|Feature|Point|MultiPoint|LineString|MultiLineString|Polygon|MultiPolygon'
    r'|GeometryCollection)"'
)
_DELIMITERS = ",;\t|"
# Legacy encodings a non-UTF-8 file is judged among (charset-normalizer picks by how readable each decoding is).
_LEGACY = [
    "cp1252",
    "cp1250",
    "cp1251",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1257",
    "iso8859_15",
    "shift_jis",
    "euc_jp",
    "gb18030",
    "big5",
    "euc_kr",
    "utf_16",
]


class UnsupportedFormat(BadRequest):
    """The bytes are no format an import reads."""


@dataclass
class Detected:
    """What to read: the format, the file (extracted from a zip when needed) and how to decode text."""

    format: str
    path: Path
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)


def detect(
    path: Path,
    staging: Path,
    limits: archives.ArchiveLimits,
    budget: Budget | None = None,
    declared_type: str | None = None,
    truncated: bool = False,
) -> Detected:
    """The format of the file at ``path``; a zip's content is extracted into ``staging``."""
    head, tail = _ends(path)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if truncated:
            raise UnsupportedFormat("a zip archive must be read whole; it is larger than the preview limit")
        found = _from_zip(path, staging, limits, budget)
    elif head.startswith(b"PAR1"):
        if tail != b"PAR1":
            raise UnsupportedFormat("the file starts like Parquet but is cut short (no PAR1 footer)")
        found = Detected("parquet", path)
    elif head.startswith(b"SQLite format 3\x00"):
        found = Detected("gpkg", path)
    else:
        found = _text(path, head)
    if declared_type:
        found.notes.insert(
            0,
            f"declared Content-Type {declared_type.split(';')[0].strip()!r}; detected {found.format} from the content",
        )
    return found


def _ends(path: Path) -> tuple[bytes, bytes]:
    with open(path, "rb") as f:
        head = f.read(SAMPLE)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 4))
        tail = f.read(4)
    if not head:
        raise UnsupportedFormat("the file is empty")
    return head, tail


def _from_zip(path: Path, staging: Path, limits: archives.ArchiveLimits, budget: Budget | None) -> Detected:
    infos = [
        i
        for i in archives.members(path, limits)
        if not i.filename.startswith("__MACOSX/") and not archives.bare_name(i).startswith(".")
    ]
    by_suffix: dict[str, list] = {}
    for info in infos:
        by_suffix.setdefault(Path(archives.bare_name(info)).suffix.lower(), []).append(info)
    notes = []
    if by_suffix.get(".shp"):
        shp = by_suffix[".shp"][0]
        if len(by_suffix[".shp"]) > 1:
            notes.append(f"the zip holds {len(by_suffix['.shp'])} Shapefiles; importing {shp.filename}")
        stem = Path(archives.bare_name(shp)).stem
        chosen = [
            i
            for i in infos
            if Path(archives.bare_name(i)).stem == stem and Path(archives.bare_name(i)).suffix.lower() in _SHP_SIDECARS
        ]
        if not any(Path(archives.bare_name(i)).suffix.lower() == ".dbf" for i in chosen):
            notes.append("the Shapefile has no .dbf: geometries only")
        paths = archives.extract(path, chosen, staging, limits, budget)
        return Detected("shapefile", next(p for p in paths if p.suffix.lower() == ".shp"), notes=notes)
    if by_suffix.get(".kml"):
        kml = next((i for i in by_suffix[".kml"] if archives.bare_name(i).lower() == "doc.kml"), by_suffix[".kml"][0])
        (out,) = archives.extract(path, [kml], staging, limits, budget)
        return Detected("kmz", out, notes=notes)
    data = [i for i in infos if Path(archives.bare_name(i)).suffix.lower() in _DATA_SUFFIXES] or infos
    if len(data) != 1:
        raise UnsupportedFormat(
            f"the zip holds {len(data)} candidate files: expected a Shapefile, a KML (KMZ) or exactly one data file"
        )
    (inner,) = archives.extract(path, data, staging, limits, budget)
    if _ends(inner)[0].startswith(b"PK"):
        raise UnsupportedFormat("nested zip archives are not imported")
    found = detect(inner, staging, limits, budget)
    found.notes.insert(0, f"read {data[0].filename} from the zip")
    return found


def sniff_encoding(head: bytes) -> str:
    """The text encoding of a file from its first bytes: a BOM, else UTF-8 if it decodes, else a guess."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    results = list(from_bytes(head, cp_isolation=_LEGACY))
    if not results:
        return "cp1252"
    best = results[0]
    western = head.decode("cp1252", errors="replace")
    for r in results:  # short samples are ambiguous: on a tie, or when it reads the same, take Windows-1252
        if r.encoding == "cp1252" and r.chaos <= best.chaos and r.coherence >= best.coherence:
            return "cp1252"
    if str(best) == western:
        return "cp1252"
    return best.encoding


def _text(path: Path, head: bytes) -> Detected:
    if head.startswith(b"\x1f\x8b"):
        raise UnsupportedFormat("gzip-compressed files are not imported: send the file itself, or zip it")
    encoding = sniff_encoding(head)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    if "\x00" in text or sum(not (c.isprintable() or c.isspace()) for c in text[:4096]) > len(text[:4096]) // 20:
        raise UnsupportedFormat(
            "the file is binary data of no supported format (CSV, GeoJSON, GeoParquet, zipped "
            "Shapefile, GeoPackage, KML/KMZ)"
        )
    start = text.lstrip("\ufeff \t\r\n")
    if start.startswith(("{", "[")):
        if not _GEOJSON_TYPE.search(start):
            raise UnsupportedFormat("the file is JSON but not GeoJSON (no FeatureCollection, Feature or geometry type)")
        return Detected("geojson", path, encoding=encoding)
    if start.startswith("<"):
        lowered = start[:SAMPLE].lower()
        if "<kml" in lowered:
            return Detected("kml", path, encoding=encoding)
        what = "an HTML page" if "<html" in lowered or "<!doctype html" in lowered else "XML that is not KML"
        raise UnsupportedFormat(f"the file is {what}, not a data file")
    return Detected("csv", path, encoding=encoding, delimiter=sniff_delimiter(start))


def sniff_delimiter(text: str) -> str:
    """The delimiter of delimited text: csv.Sniffer over whole lines of the sample, else the most frequent one."""
    lines = text.splitlines()[:200]
    sample = "\n".join(lines[:-1] if len(lines) > 1 else lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = lines[0] if lines else ""
        return max(_DELIMITERS, key=first.count)
