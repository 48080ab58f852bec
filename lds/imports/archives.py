"""Zip archives (zipped Shapefiles, KMZ, a zipped CSV/GeoJSON/...) opened defensively.

Before anything is extracted, the whole directory is checked: at most ``max_members`` entries, no
absolute or ``..`` paths, no symlinks, no encryption, a declared total under ``max_bytes`` and no member
whose declared size exceeds ``max_ratio`` times its compressed size (zip bombs). While extracting, the
bytes really produced are counted too, since a zip's header may lie about its sizes. Only the members an
import needs are extracted, each into the staging folder under its bare name, never its archive path.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from lds.errors import BadRequest
from lds.imports.budget import Budget

_CHUNK = 1 << 20
_RATIO_FLOOR = 1 << 20  # members smaller than this (uncompressed) are not held to the ratio: tiny files compress oddly
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafeArchive(BadRequest):
    """A zip that may not be opened: a bomb, path traversal, too many members, ..."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 1000
    max_ratio: int = 100
    max_bytes: int = 4 * 1024**3

    @classmethod
    def from_settings(cls, settings: Any) -> ArchiveLimits:
        return cls(
            settings.import_archive_max_members, settings.import_archive_max_ratio, settings.import_archive_max_bytes
        )


def members(path: Path, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The archive's file entries, after every check that needs no extraction; :class:`UnsafeArchive` if any fails."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise BadRequest(f"the file is not a readable zip archive: {exc}") from None
    if len(infos) > limits.max_members:
        raise UnsafeArchive(
            f"the zip holds {len(infos)} entries, more than {limits.max_members} (LDS_IMPORT_ARCHIVE_MAX_MEMBERS)"
        )
    files, total = [], 0
    for info in infos:
        _check_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(f"the zip holds a symbolic link ({info.filename!r}): refused")
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"the zip member {info.filename!r} is encrypted")
        if info.is_dir():
            continue
        if info.file_size > _RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UnsafeArchive(
                f"the zip member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}"
                f" times (more than {limits.max_ratio}, LDS_IMPORT_ARCHIVE_MAX_RATIO): a zip bomb?"
            )
        total += info.file_size
        if total > limits.max_bytes:
            raise UnsafeArchive(f"the zip expands to more than {limits.max_bytes} bytes (LDS_IMPORT_ARCHIVE_MAX_BYTES)")
        files.append(info)
    return files


def _check_name(name: str) -> None:
    if "\x00" in name:
        raise UnsafeArchive("a zip member name holds a NUL byte")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix) or ".." in PurePosixPath(posix).parts:
        raise UnsafeArchive(f"the zip member {name!r} points outside the archive (path traversal): refused")


def bare_name(info: zipfile.ZipInfo) -> str:
    return PurePosixPath(info.filename.replace("\\", "/")).name


def extract(
    path: Path, chosen: list[zipfile.ZipInfo], dest: Path, limits: ArchiveLimits, budget: Budget | None = None
) -> list[Path]:
    """Extract ``chosen`` members (from :func:`members`) into ``dest`` under their bare names, counting real bytes."""
    budget = budget or Budget()
    out_paths, total = [], 0
    with zipfile.ZipFile(path) as zf:
        for info in chosen:
            target = dest / bare_name(info)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        total += len(chunk)
                        if written > info.file_size or total > limits.max_bytes:
                            raise UnsafeArchive(
                                f"the zip member {info.filename!r} expands beyond its declared size "
                                "or the extraction limit: refused"
                            )
                        out.write(chunk)
                        budget.check()
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
                raise BadRequest(f"cannot extract {info.filename!r} from the zip: {exc}") from None
            out_paths.append(target)
    return out_paths
