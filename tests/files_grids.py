"""Grid sets built in metres, and grid files written the way GIS officers hand them over.

Every shape is drawn in local metres in UTM 49N (EPSG:32649, the zone the validator
measures Dali in), with (0, 0) at ``ORIGIN`` and y pointing north, and only then
converted to WGS84 vertex by vertex. A vertex two grids share is therefore computed
once and stays bit-identical in lon/lat, and a fault drawn as "move this edge 2 m east"
is exactly 2 m wide where the validator measures it.

The standard set is 3 × 2 cells of 500 m (``cell(i, j)``, i west→east, j south→north),
numbered like ``tests.conftest.metric_box_grid``: the two western columns belong to
community A, the eastern one to B, each numbered north→south, west→east::

        j=1   A001 | A002 | B001
        j=0   A003 | A004 | B002
              i=0    i=1    i=2
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo import datums
from geo.crs import MetricFrame
from tests.conftest import COMM_A
from tests.conftest import COMM_B
from tests.conftest import ORIGIN

UTM49N = MetricFrame(CRS.from_epsg(32649))
X0, Y0 = UTM49N.forward_one(*ORIGIN)
SIZE = 500.0

A1, A2, A3, A4 = (f"{COMM_A}{k:03d}" for k in range(1, 5))
B1, B2 = f"{COMM_B}001", f"{COMM_B}002"
#: code → (i, j) of its cell in the standard set
CELLS: dict[str, tuple[int, int]] = {A1: (0, 1), A2: (1, 1), B1: (2, 1), A3: (0, 0), A4: (1, 0), B2: (2, 0)}
NAMES = {
    A1: "沥苑社区第01网格",
    A2: "沥苑社区第02网格",
    A3: "沥苑社区第03网格",
    A4: "沥苑社区第04网格",
    B1: "沥南社区第01网格",
    B2: "沥南社区第02网格",
}


# --- geometry in local metres ----------------------------------------------------------------


def cell(
    i: int, j: int, *, west: float = 0.0, east: float = 0.0, south: float = 0.0, north: float = 0.0
) -> shapely.Polygon:
    """The 500 m cell (i, j), its edges optionally pushed outwards (+) or inwards (−) in metres."""
    return shapely.box(i * SIZE - west, j * SIZE - south, (i + 1) * SIZE + east, (j + 1) * SIZE + north)


def to_lonlat(geom_m):
    """Local metres → WGS84 lon/lat (one geometry or an array)."""
    return shapely.transform(geom_m, lambda xy: np.column_stack(UTM49N.inverse(xy[:, 0] + X0, xy[:, 1] + Y0)))


def to_local(geom_ll):
    """WGS84 lon/lat → local metres (one geometry or an array)."""

    def fwd(xy):
        x, y = UTM49N.forward(xy[:, 0], xy[:, 1])
        return np.column_stack([x - X0, y - Y0])

    return shapely.transform(geom_ll, fwd)


def local_point(lon: float, lat: float) -> tuple[float, float]:
    x, y = UTM49N.forward_one(lon, lat)
    return x - X0, y - Y0


def lonlat_of(x: float, y: float) -> tuple[float, float]:
    lon, lat = UTM49N.inverse(x + X0, y + Y0)
    return float(lon), float(lat)


# --- grid sets --------------------------------------------------------------------------------


def grid_frame(
    shapes_m: dict[str, shapely.Geometry | None], *, communities: dict[str, str] | None = None
) -> gpd.GeoDataFrame:
    """A WGS84 grid set from code → shape in local metres (None: a feature without geometry).

    The community is the code's prefix unless ``communities`` says otherwise.
    """
    codes = list(shapes_m)
    geoms = [None if shapes_m[c] is None else to_lonlat(shapes_m[c]) for c in codes]
    frame = pd.DataFrame(
        {
            "code": codes,
            "name": [NAMES.get(c, f"测试网格{c[-3:]}") for c in codes],
            "community_code": [(communities or {}).get(c, c[:12]) for c in codes],
            "population": [3000 + 17 * k for k in range(len(codes))],
            "households": [1100 + 5 * k for k in range(len(codes))],
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def standard_shapes(**changes: shapely.Geometry | None) -> dict[str, shapely.Geometry | None]:
    """The 3 × 2 cells by code, with some replaced (keyword = code)."""
    shapes: dict[str, shapely.Geometry | None] = {code: cell(*ij) for code, ij in CELLS.items()}
    shapes.update(changes)
    return shapes


def standard_grids() -> gpd.GeoDataFrame:
    return grid_frame(standard_shapes())


def standard_outline() -> shapely.Geometry:
    """The town outline of the standard set: the union of its cells, in lon/lat."""
    return shapely.union_all(np.asarray(standard_grids().geometry.values, dtype=object))


def shifted(frame: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """The same grids with their lon/lat moved into GCJ-02 or BD-09, as Amap/Baidu tools export them."""
    fn = {"gcj02": datums.wgs84_to_gcj02, "bd09": datums.wgs84_to_bd09}[datum]
    out = frame.copy()
    out["geometry"] = gpd.GeoSeries(
        shapely.transform(
            np.asarray(frame.geometry.values, dtype=object),
            lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])),
        ),
        crs=4326,
        index=frame.index,
    )
    return out


def hausdorff_m(a: Sequence, b: Sequence) -> np.ndarray:
    """Hausdorff distance in metres (EPSG:32649) between two arrays of WGS84 geometries."""
    ua = gpd.GeoSeries(list(a), crs=4326).to_crs(32649).to_numpy()
    ub = gpd.GeoSeries(list(b), crs=4326).to_crs(32649).to_numpy()
    return shapely.hausdorff_distance(ua, ub)


# --- files ------------------------------------------------------------------------------------

#: The columns a Chinese GIS officer's shapefile has: Chinese field names (GBK, ≤ 10 bytes).
CHINESE_COLUMNS = {
    "code": "网格编码",
    "name": "网格名称",
    "community_code": "社区编码",
    "population": "人口",
    "households": "户数",
}


def write_shapefile(
    frame: gpd.GeoDataFrame, path: Path, *, crs: int = 32649, prj: bool = True, codes_as: str | None = "int64"
) -> Path:
    """A shapefile as ArcGIS exports it from an Excel sheet: GBK, Chinese field names, and grid and
    community codes stored as DBF numbers (``codes_as`` int64 or float64; None keeps text).

    ``prj=False`` deletes the .prj, as when only .shp/.shx/.dbf are mailed.
    """
    out = frame.to_crs(crs)
    if codes_as:
        out["code"] = out["code"].astype(codes_as)
        out["community_code"] = out["community_code"].astype(codes_as)
    out = out.rename(columns=CHINESE_COLUMNS)
    out.to_file(path, engine="pyogrio", encoding="GBK")
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.iterdir() if p.stem == shp.stem and p.suffix != ".zip")


def write_zip(path: Path, members: Sequence[Path], folder: str = "") -> Path:
    """A zip of the given files (under ``folder`` inside the archive)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member in members:
            zf.write(member, f"{folder}{member.name}")
    return path


def write_gpkg(frame: gpd.GeoDataFrame, path: Path, *, crs: int = 4490, layer: str = "网格") -> Path:
    """A GeoPackage layer in CGCS2000 (Tianditu's datum), with the Chinese column names."""
    frame.to_crs(crs).rename(columns=CHINESE_COLUMNS).to_file(path, layer=layer, engine="pyogrio")
    return path


def write_geojson(frame: gpd.GeoDataFrame, path: Path) -> Path:
    """A GeoJSON file; geopandas labels it CRS84, as Amap/Baidu converters do for shifted lon/lat."""
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


# --- files as Chinese offices send them (issue 12) ------------------------------------------------


def drop_cpg(shp: Path, *, ldid: int | None = None) -> Path:
    """Delete the .cpg, as when only .shp/.shx/.dbf/.prj are mailed; optionally set the .dbf's
    language driver byte (29), e.g. 0x4D for code page 936 as older Chinese ArcGIS wrote it."""
    shp.with_suffix(".cpg").unlink()
    if ldid is not None:
        dbf = shp.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[29] = ldid
        dbf.write_bytes(bytes(data))
    return shp


def write_office_shapefile(
    frame: gpd.GeoDataFrame,
    path: Path,
    *,
    crs: int,
    encoding: str = "GBK",
    columns: dict[str, str] | None = None,
    prj: bool = True,
) -> Path:
    """A surveying bureau's shapefile: projected, Chinese field names in ``encoding``, no .cpg."""
    out = frame.to_crs(crs).rename(columns=columns or CHINESE_COLUMNS)
    out.to_file(path, engine="pyogrio", encoding=encoding)
    if not prj:
        path.with_suffix(".prj").unlink()
    return drop_cpg(path)


def _kml_ring(ring) -> str:
    return " ".join(f"{float(x)!r},{float(y)!r},0" for x, y in shapely.get_coordinates(ring))


def _kml_polygon(poly: shapely.Polygon) -> str:
    inner = "".join(
        f"<innerBoundaryIs><LinearRing><coordinates>{_kml_ring(r)}</coordinates></LinearRing>"
        "</innerBoundaryIs>"
        for r in poly.interiors
    )
    return (
        f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{_kml_ring(poly.exterior)}</coordinates>"
        f"</LinearRing></outerBoundaryIs>{inner}</Polygon>"
    )


def _kml_geometry(geom) -> str:
    if geom.geom_type == "MultiPolygon":
        return "<MultiGeometry>" + "".join(_kml_polygon(p) for p in geom.geoms) + "</MultiGeometry>"
    return _kml_polygon(geom)


def kml_text(frame: gpd.GeoDataFrame, *, style: str = "ovital") -> str:
    """KML as 奥维互动地图 exports it (``ovital``: one Folder per community, the grid name as the
    Placemark name and the code in the description) or as Google Earth / ArcGIS "Layer to KML"
    does (``google``: the code in ExtendedData SchemaData, population in Data, an HTML table in
    the description, the Placemark named by its code and name)."""
    from xml.sax.saxutils import escape

    frame = frame.to_crs(4326)
    body = []
    for community, group in frame.groupby("community_code", sort=True):
        body.append(f"<Folder><name>{escape(str(community))}</name>")
        for row in group.itertuples():
            if style == "ovital":
                body.append(
                    f"<Placemark><name>{escape(row.name)}</name>"
                    f"<description>网格编码：{row.code}\n所属社区编码：{row.community_code}\n"
                    f"人口：{row.population}\n户数：{row.households}</description>"
                    f"<styleUrl>#polygon</styleUrl>{_kml_geometry(row.geometry)}</Placemark>"
                )
            else:
                table = (
                    f"<table><tr><td>网格名称</td><td>{escape(row.name)}</td></tr>"
                    f"<tr><td>户数</td><td>{row.households}</td></tr></table>"
                )
                body.append(
                    f"<Placemark><name>{row.code} {escape(row.name)}</name>"
                    f"<description><![CDATA[{table}]]></description>"
                    f'<ExtendedData><SchemaData schemaUrl="#grids">'
                    f'<SimpleData name="网格编码">{row.code}</SimpleData>'
                    f'<SimpleData name="社区编码">{row.community_code}</SimpleData></SchemaData>'
                    f'<Data name="人口"><value>{row.population}</value></Data></ExtendedData>'
                    f"{_kml_geometry(row.geometry)}</Placemark>"
                )
        body.append("</Folder>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><name>大沥镇网格</name>{''.join(body)}</Document></kml>\n"
    )


def write_kml(frame: gpd.GeoDataFrame, path: Path, *, style: str = "ovital") -> Path:
    path.write_text(kml_text(frame, style=style), encoding="utf-8")
    return path


def write_kmz(frame: gpd.GeoDataFrame, path: Path, *, style: str = "google") -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("doc.kml", kml_text(frame, style=style))
        zf.writestr("files/legend.png", b"\x89PNG\r\n\x1a\n")  # KMZ files carry icons beside doc.kml
    return path


def write_dxf(
    frame: gpd.GeoDataFrame, path: Path, *, crs: int, layer: str = "网格", encoding: str = "gbk"
) -> Path:
    """A CAD drawing (no header, as a minimal R12 exporter writes it): each grid a closed
    LWPOLYLINE on ``layer`` with its code and name as TEXT inside it, plus a road on another
    layer and a stray open line, all in projected metres; texts and layer names in ``encoding``."""
    out = frame.to_crs(crs)
    lines = ["0", "SECTION", "2", "ENTITIES"]
    for row in out.itertuples():
        xy = shapely.get_coordinates(row.geometry.exterior)[:-1]
        lines += [
            "0",
            "LWPOLYLINE",
            "8",
            layer,
            "100",
            "AcDbEntity",
            "100",
            "AcDbPolyline",
            "90",
            str(len(xy)),
            "70",
            "1",
        ]
        for x, y in xy:
            lines += ["10", repr(float(x)), "20", repr(float(y))]
        inside = shapely.point_on_surface(row.geometry)
        for dy, text in ((20.0, str(row.code)), (-20.0, row.name)):
            lines += [
                "0",
                "TEXT",
                "8",
                layer,
                "10",
                repr(float(inside.x)),
                "20",
                repr(float(inside.y + dy)),
                "30",
                "0.0",
                "40",
                "8.0",
                "1",
                text,
            ]
    x0, y0, x1, y1 = (float(v) for v in out.total_bounds)
    lines += [
        "0",
        "LWPOLYLINE",
        "8",
        "道路",
        "90",
        "2",
        "70",
        "0",
        "10",
        repr(x0),
        "20",
        repr(y0),
        "10",
        repr(x1),
        "20",
        repr(y1),
    ]
    lines += ["0", "ENDSEC", "0", "EOF"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path
