"""Tiny synthetic OSM XML extracts for tests (a top-level helper module, like authfixtures)."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr


def write_osm(path: Path, nodes: list[tuple], ways: list[tuple], relations: list[tuple] = ()) -> Path:
    """A tiny OSM XML file: nodes (id, lat, lon, tags), ways (id, [node ids], tags),
    relations (id, [(type, ref, role)], tags)."""

    def tags_xml(tags: dict) -> str:
        return "".join(f"<tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in tags.items())

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="lds-tests">']
    for nid, lat, lon, tags in nodes:
        lines.append(f'<node id="{nid}" version="1" lat="{lat}" lon="{lon}">{tags_xml(tags)}</node>')
    for wid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        lines.append(f'<way id="{wid}" version="1">{nds}{tags_xml(tags)}</way>')
    for rid, members, tags in relations:
        ms = "".join(f'<member type="{t}" ref="{r}" role="{role}"/>' for t, r, role in members)
        lines.append(f'<relation id="{rid}" version="1">{ms}{tags_xml(tags)}</relation>')
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path
