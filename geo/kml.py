"""KML and KMZ as 奥维互动地图 (Ovital) and Google Earth export them, read with the standard library.

Why not GDAL: its LIBKML driver turns every Chinese ExtendedData name into underscores
(网格编码 → ``____________``), drops ``SchemaData`` whose schema is not in the file, and
makes each Folder a separate layer; the KML driver keeps even less. A grid's code and
name are exactly what lives there, so the file is parsed here with ``xml.etree``.

Each Placemark with a Polygon (or a MultiGeometry of them) becomes one feature, with:
``名称`` (the Placemark's name), ``描述`` (its description as plain text), ``文件夹`` (the
Folder path), every ExtendedData ``Data``/``SimpleData`` field under its own name, and
``key：value`` pairs found in the description (plain lines or an HTML table, as ArcGIS's
"Layer to KML" writes it) when no ExtendedData field has that name. Placemarks holding
points or lines are kept too, so the caller can refuse them with the feature's number.
KML coordinates are WGS84 lon/lat by definition.
"""

from __future__ import annotations

import html
import re
import zipfile
from io import BytesIO
from pathlib import Path
from xml.etree import ElementTree

import shapely

from geo.errors import FileFormatError

NAME, DESCRIPTION, FOLDER = "名称", "描述", "文件夹"
_PAIR = re.compile(r"^\s*([^:：=\s][^:：=]{0,30}?)\s*[:：=]\s*(.+?)\s*$")
_CELLS = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.I | re.S)
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def read_kml(path: Path) -> tuple[list[dict[str, str]], list[shapely.Geometry | None]]:
    """(attributes, geometries) of every Placemark in a .kml or .kmz file, in file order."""
    data = _kml_bytes(path)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise FileFormatError(f"{path.name}: not a readable KML file ({exc})") from exc
    rows: list[dict[str, str]] = []
    geoms: list[shapely.Geometry | None] = []
    _walk(root, [], rows, geoms)
    return rows, geoms


def _kml_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(b"PK\x03\x04"):
        return data
    try:
        with zipfile.ZipFile(BytesIO(data)) as zf:
            kmls = [n for n in zf.namelist() if n.lower().endswith(".kml")]
            if not kmls:
                raise FileFormatError(f"{path.name}: the KMZ holds no .kml file")
            # Google Earth names the main document doc.kml; other .kml files are linked overlays
            main = next((n for n in kmls if n.rsplit("/", 1)[-1].lower() == "doc.kml"), kmls[0])
            return zf.read(main)
    except zipfile.BadZipFile as exc:
        raise FileFormatError(f"{path.name}: not a valid KMZ (zip) archive") from exc


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: ElementTree.Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _walk(element: ElementTree.Element, folders: list[str], rows: list, geoms: list) -> None:
    for child in element:
        kind = _local(child.tag)
        if kind in ("Folder", "Document"):
            name = _text(_child(child, "name"))
            _walk(child, [*folders, name] if kind == "Folder" and name else folders, rows, geoms)
        elif kind == "Placemark":
            rows.append(_attributes(child, folders))
            geoms.append(_geometry(child))


def _attributes(placemark: ElementTree.Element, folders: list[str]) -> dict[str, str]:
    row = {NAME: _text(_child(placemark, "name")), FOLDER: "/".join(folders)}
    description = _text(_child(placemark, "description"))
    row[DESCRIPTION] = _plain(description)
    extended = _child(placemark, "ExtendedData")
    if extended is not None:
        for item in extended.iter():
            kind = _local(item.tag)
            if kind == "Data" and item.get("name"):
                row[item.get("name", "").strip()] = _text(_child(item, "value"))
            elif kind == "SimpleData" and item.get("name"):
                row[item.get("name", "").strip()] = (item.text or "").strip()
    for key, value in _description_pairs(description):
        row.setdefault(key, value)
    return row


def _plain(text: str) -> str:
    text = re.sub(r"<br\s*/?>|</tr>|</p>|</div>", "\n", text, flags=re.I)
    return html.unescape(_TAG.sub(" ", text)).strip()


def _description_pairs(description: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for row in _ROW.findall(description):
        cells = [_plain(c) for c in _CELLS.findall(row)]
        if len(cells) == 2 and cells[0]:
            pairs.append((cells[0], cells[1]))
    if pairs:
        return pairs
    for line in _plain(description).splitlines():
        if match := _PAIR.match(line):
            pairs.append((match.group(1).strip(), match.group(2).strip()))
    return pairs


def _coords(element: ElementTree.Element | None) -> list[tuple[float, float]]:
    text = _text(_child(element, "coordinates")) if element is not None else ""
    out = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) >= 2:
            out.append((float(parts[0]), float(parts[1])))
    return out


def _ring(boundary: ElementTree.Element | None) -> list[tuple[float, float]]:
    return _coords(_child(boundary, "LinearRing")) if boundary is not None else []


def _geometry(placemark: ElementTree.Element) -> shapely.Geometry | None:
    parts = [_one(g) for g in placemark if _local(g.tag) in _KINDS]
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else _collect(parts)


def _one(element: ElementTree.Element) -> shapely.Geometry | None:
    kind = _local(element.tag)
    try:
        if kind == "Polygon":
            shell = _ring(_child(element, "outerBoundaryIs"))
            holes = [_ring(b) for b in element if _local(b.tag) == "innerBoundaryIs"]
            return shapely.Polygon(shell, [h for h in holes if h]) if shell else None
        if kind == "LineString":
            return shapely.LineString(_coords(element))
        if kind == "LinearRing":
            return shapely.LinearRing(_coords(element))
        if kind == "Point":
            return shapely.Point(_coords(element)[0])
        if kind == "MultiGeometry":
            parts = [_one(g) for g in element if _local(g.tag) in _KINDS]
            parts = [p for p in parts if p is not None]
            return _collect(parts) if parts else None
    except (ValueError, IndexError, shapely.errors.GEOSException) as exc:
        raise FileFormatError(f"bad {kind} coordinates in a KML Placemark ({exc})") from exc
    return None


def _collect(parts: list[shapely.Geometry]) -> shapely.Geometry:
    if all(p.geom_type in ("Polygon", "MultiPolygon") for p in parts):
        return shapely.MultiPolygon([q for p in parts for q in shapely.get_parts(p)])
    return shapely.GeometryCollection(parts)


_KINDS = ("Polygon", "LineString", "LinearRing", "Point", "MultiGeometry")
