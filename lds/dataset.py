"""The built data directory: its metadata and where each part lives.

Layout written by ``lds build`` (see graph_data/README.md)::

    <dir>/meta.json          data_version, source hash, build time, bbox, counts
    <dir>/graph/<mode>/*.npy road graph arrays of one mode (memory-mapped at load)
    <dir>/geocoder/          address index
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lds.errors import Unavailable
from lds.formats import DATA_FORMAT

MODES = ("car", "walk", "bike")


@dataclass
class DataDir:
    path: Path
    meta: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> DataDir:
        path = Path(path)
        meta_file = path / "meta.json"
        if not meta_file.is_file():
            raise Unavailable(f"no built data in {path} (run `lds build <extract> --out {path}`)", 503)
        meta = json.loads(meta_file.read_text())
        if meta.get("data_format") != DATA_FORMAT:
            raise Unavailable(f"{path} was built by another lds version (data format {meta.get('data_format')}, "
                              f"this lds reads {DATA_FORMAT}); rebuild it with `lds build`", 503)
        return cls(path, meta)

    @property
    def data_version(self) -> str:
        return self.meta["data_version"]

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
    built = sorted(p for p in root.iterdir() if (p / "meta.json").is_file())
    return built[0] if len(built) == 1 else None
