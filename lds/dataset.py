"""The built data directory: its metadata and where each part lives.

Layout written by ``lds build`` (see graph_data/README.md)::

    <dir>/meta.json          data_version, source hash, build time, bbox, counts
    <dir>/graph/<mode>/*.npy road graph arrays of one mode (memory-mapped at load)
    <dir>/geocoder/          address index
    <dir>/tables/            the LDS tables: GeoParquet files and lds_tables.duckdb (carto_dw's lds.*)

or, once built into again, those parts in ``<dir>/versions/<data_version>/`` and ``<dir>/current`` naming the one
served (lds.versions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lds.errors import Unavailable
from lds.formats import DATA_FORMAT
from lds.versions import current_name, current_path, holds_build

MODES = ("car", "walk", "bike")


@dataclass
class DataDir:
    path: Path  # the version's own directory
    meta: dict[str, Any]
    root: Path | None = None  # the data dir as configured (whose `current` pointer named ``path``)

    @classmethod
    def open(cls, path: str | Path, follow: bool = True) -> DataDir:
        """The build in ``path``, or with ``follow`` the version its ``current`` pointer names (if it has one)."""
        root = Path(path)
        path = current_path(root) if follow else root
        meta_file = path / "meta.json"
        if not meta_file.is_file():
            raise Unavailable(f"no built data in {path} (run `lds build <extract> --out {path}`)", 503)
        meta = json.loads(meta_file.read_text())
        if meta.get("data_format") != DATA_FORMAT:
            raise Unavailable(f"{path} was built by another lds version (data format {meta.get('data_format')}, "
                              f"this lds reads {DATA_FORMAT}); rebuild it with `lds build`", 503)
        return cls(path, meta, root if follow else None)

    @property
    def data_version(self) -> str:
        return self.meta["data_version"]

    @property
    def version_name(self) -> str | None:
        """The name the root's ``current`` pointer had when this was opened (None: a flat build)."""
        return self.path.name if self.root is not None and self.path != self.root else None

    def outdated(self) -> bool:
        """Whether the root's pointer now names another version than the one opened (a readlink)."""
        return self.root is not None and current_name(self.root) != self.version_name

    def graph_dir(self, mode: str) -> Path:
        return self.path / "graph" / mode

    @property
    def geocoder_dir(self) -> Path:
        return self.path / "geocoder"


def default_data_dir(root: str | Path = "graph_data") -> Path | None:
    """The only built data dir under ``root``, so ``lds serve`` works without --data after one build."""
    root = Path(root)
    if not root.is_dir():
        return None
    built = sorted(p for p in root.iterdir() if holds_build(p))
    return built[0] if len(built) == 1 else None
