"""Reading grid boundary files the way a GIS officer hands them over.

GeoJSON, GeoPackage, Shapefiles (loose or zipped), KML/KMZ (奥维互动地图, Google Earth)
and DXF from CAD, in whatever CRS the file declares. A file that declares none is
refused unless the user names one, because guessing wrong moves every grid by hundreds
of metres; the refusal names the CRS the coordinates look like (``geo.chinese_crs``).
GCJ-02 and BD-09 are not CRSs a file can declare, so they can only be named by the
user, and only over a file that is unlabelled or labelled as plain WGS84 lon/lat; the
result says how far removing the offset moved the grids.

A shapefile's attribute encoding comes from its .cpg, or is detected from the .dbf
(``geo.encodings``); Chinese column names are matched like the English ones. What was
used and why (encoding, CRS, columns) travels with the result, for the import report.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Hashable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Geod

from geo.chinese_crs import CRSGuess
from geo.chinese_crs import describe_transformation
from geo.chinese_crs import guess_crs
from geo.crs import WGS84
from geo.crs import SourceCRS
from geo.crs import geometries_to_wgs84
from geo.crs import parse_source_crs
from geo.encodings import EncodingChoice
from geo.encodings import dbf_encoding
from geo.encodings import gdal_encoding_name
from geo.encodings import read_dbf_sample
from geo.encodings import text_encoding
from geo.errors import FileFormatError
from geo.errors import MissingCRS
from geo.kml import read_kml
from geo.tabular import file_sha256
from geo.tabular import normalise_header

#: Accepted column names for each standard field, first match wins (case-, width- and
#: space-insensitive). Traditional spellings are for files from Big5 offices.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "code": (
        "code",
        "grid_code",
        "网格编码",
        "网格代码",
        "wgbm",
        "gridcode",
        "编码",
        "网格号",
        "網格編碼",
        "網格代碼",
    ),
    "name": ("name", "grid_name", "网格名称", "网格名", "名称", "wgmc", "網格名稱", "名稱"),
    # "community_" is community_code cut to a DBF's 10-character field names
    "community_code": (
        "community_code",
        "community_",
        "社区编码",
        "所属社区编码",
        "社区代码",
        "sqbm",
        "村居编码",
        "社區編碼",
    ),
    "population": ("population", "人口", "户籍人口", "常住人口", "总人口", "人口数", "rk"),
    "households": ("households", "户数", "总户数", "戶數", "hs"),
}
SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".kml", ".kmz", ".dxf")
_GRID_CODE = re.compile(r"(?<![0-9])[0-9]{15}(?![0-9])")
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class GridFile:
    """A grid file read into WGS84, with what is needed to trace it back and to report how."""

    frame: gpd.GeoDataFrame  # columns: code, name, community_code, population, households, geometry
    source: str
    source_crs: str  # "EPSG:4547", "GCJ-02", …
    sha256: str
    layer: str | None
    format: str = ""  # "ESRI Shapefile", "KML", "DXF", …
    encoding: str | None = None  # the attribute text encoding used (None: not a question for this format)
    encoding_reason: str = ""
    crs_reason: str = ""
    datum_shift_m: dict[str, float] | None = None  # {"median": …, "max": …} when GCJ-02/BD-09 was removed
    columns: dict[str, str] = dc_field(default_factory=dict)  # standard field → the file's column

    def describe(self) -> dict:
        """What the import report shows about how the file was read (JSON-ready)."""
        return {
            "file": Path(self.source).name,
            "format": self.format,
            "layer": self.layer,
            "encoding": self.encoding,
            "encoding_reason": self.encoding_reason,
            "crs": self.source_crs,
            "crs_reason": self.crs_reason,
            "datum_shift_m": self.datum_shift_m,
            "columns": dict(self.columns),
        }


def read_grid_file(
    path: str | Path,
    *,
    crs: str | None = None,
    layer: str | None = None,
    fields: Mapping[str, str] | None = None,
    encoding: str | None = None,
    near: tuple[float, float] | None = None,
) -> GridFile:
    """Read a grid boundary file and convert it to WGS84.

    Parameters
    ----------
    path : a .geojson/.json, .gpkg, .shp, .kml, .kmz, .dxf or .zip (holding one shapefile,
        GeoPackage or GeoJSON).
    crs : the CRS of the coordinates when the file does not declare one, or ``gcj02`` /
        ``bd09`` for files whose lon/lat carry those offsets.
    layer : the layer to read when the file holds several (for DXF: the CAD layer of the grids).
    fields : standard field → column name in the file, for columns the aliases do not cover
        (Chinese names allowed, e.g. ``{"code": "网格编码"}``).
    encoding : the attribute text encoding (shapefile .dbf, DXF), overriding the .cpg and the
        detection, e.g. ``gbk``, ``big5``, ``utf-8``.
    near : lon/lat where the grids should lie (the town's centre); only used to name the CRS
        that bare coordinates look like when the file declares none.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise FileFormatError(
            f"{path.name}: unsupported file type {path.suffix!r}; expected one of " + ", ".join(SUFFIXES)
        )
    if suffix in (".kml", ".kmz"):
        raw, fmt, choice = (
            _read_kml(path),
            "KMZ" if suffix == ".kmz" else "KML",
            EncodingChoice(
                "UTF-8" if not encoding else gdal_encoding_name(encoding),
                "KML is XML: its declaration names the encoding (UTF-8 when it says nothing)",
            ),
        )
    elif suffix == ".dxf":
        raw, fmt, choice, layer = _read_dxf(path, layer, encoding)
    else:
        raw, fmt, choice, layer = _read_ogr(path, layer, encoding)
    if raw.empty:
        raise FileFormatError(f"{path.name}: the file holds no features")
    source, crs_reason = _source_crs(path.name, raw, crs, near, fmt)
    frame, columns = _standard_columns(raw, path.name, fields or {})
    geoms = shapely.force_2d(np.asarray(frame.geometry.values, dtype=object))
    _check_geometry_types(geoms, path.name)
    converted = geometries_to_wgs84(geoms, source)
    shift = _datum_shift(geoms, converted) if source.datum else None
    if source.datum is None and not source.crs.equals(WGS84):
        bounds = shapely.total_bounds(converted[~shapely.is_empty(converted)])
        crs_reason += "; " + describe_transformation(
            source.crs, tuple(bounds) if np.isfinite(bounds).all() else None
        )
    frame = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=converted, crs=WGS84)
    return GridFile(
        frame,
        str(path),
        source.label,
        file_sha256(path),
        layer,
        fmt,
        choice.encoding,
        choice.reason,
        crs_reason,
        shift,
        columns,
    )


# --- formats ------------------------------------------------------------------------------


def _read_ogr(
    path: Path, layer: str | None, encoding: str | None
) -> tuple[gpd.GeoDataFrame, str, EncodingChoice, str | None]:
    uri = _zip_uri(path) if path.suffix.lower() == ".zip" else str(path)
    layer = layer or _single_layer(uri, path)
    is_shp = uri.lower().endswith(".shp")
    if is_shp:
        choice = _shapefile_encoding(path, uri, encoding)
    else:
        choice = EncodingChoice("UTF-8", "GeoJSON and GeoPackage text is UTF-8 by definition")
    kwargs = {"encoding": choice.encoding} if is_shp and choice.encoding else {}
    try:
        raw = gpd.read_file(uri, layer=layer, engine="pyogrio", **kwargs)
        fmt = pyogrio.read_info(uri, layer=layer).get("driver") or ""
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise FileFormatError(f"{path.name}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:  # e.g. UTF-8 field names cut mid-character at 10 bytes
        raise FileFormatError(
            f"{path.name}: cannot read: text that is not valid in the file's encoding ({exc}); "
            "save it again as GBK with a .cpg file, or with field names of at most 10 bytes"
        ) from exc
    return raw, fmt, choice, layer


def _shapefile_encoding(path: Path, uri: str, override: str | None) -> EncodingChoice:
    """The .dbf's encoding: the user's, the .cpg's, or detected from the .dbf's bytes."""
    if path.suffix.lower() == ".zip":
        inner = uri.split(f"{path.resolve()}/", 1)[1]
        stem = inner[: -len(".shp")]
        with zipfile.ZipFile(path) as zf:
            members = {n.lower(): n for n in zf.namelist()}
            dbf_name = members.get(f"{stem}.dbf".lower())
            cpg_name = members.get(f"{stem}.cpg".lower())
            dbf = zf.open(dbf_name).read(1 << 18) if dbf_name else b""
            cpg = zf.read(cpg_name).decode("ascii", "replace") if cpg_name else None
    else:
        siblings = {p.suffix.lower(): p for p in path.parent.iterdir() if p.stem == path.stem}
        dbf = read_dbf_sample(siblings[".dbf"]) if ".dbf" in siblings else b""
        cpg = siblings[".cpg"].read_text("ascii", "replace") if ".cpg" in siblings else None
    return dbf_encoding(dbf, cpg=cpg, override=override)


def _read_kml(path: Path) -> gpd.GeoDataFrame:
    rows, geoms = read_kml(path)
    frame = pd.DataFrame(rows, dtype=object)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84).values, crs=WGS84)


def _read_dxf(
    path: Path, layer: str | None, encoding: str | None
) -> tuple[gpd.GeoDataFrame, str, EncodingChoice, str]:
    """Closed polylines of one CAD layer become the grids; texts inside them give code and name.

    The convention (kept simple, and stated in the error when it is not met): the grids are
    closed LWPOLYLINE/POLYLINE outlines on one CAD layer (``layer``, or the only layer that
    has closed outlines); inside each, a TEXT/MTEXT of 15 digits is its code and any other
    text its name. DXF declares no CRS: CAD drawings are in surveyed metres, so ``--crs``
    is needed, and the refusal names the Gauss-Krüger zone the coordinates look like.
    """
    head = path.read_bytes()
    if b"$DWGCODEPAGE" in head[:200_000]:
        page = re.search(rb"\$DWGCODEPAGE\s*\r?\n\s*3\s*\r?\n\s*(\S+)", head)
        shown = page.group(1).decode("ascii", "replace") if page else "?"
        choice = EncodingChoice(None, f"the DXF header's $DWGCODEPAGE says {shown}")
        if encoding:
            choice = EncodingChoice(gdal_encoding_name(encoding), f"named by the user ({encoding})")
    else:
        sample = b"\n".join(line for line in head.splitlines() if not line.isascii())
        choice = (
            EncodingChoice(gdal_encoding_name(encoding), f"named by the user ({encoding})")
            if encoding
            else text_encoding(sample, what="the DXF's texts and layer names (no $DWGCODEPAGE in its header)")
        )
    try:
        raw = pyogrio.read_dataframe(str(path))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise FileFormatError(f"{path.name}: cannot read: {exc}") from exc
    codec = choice.encoding
    if codec is not None:  # GDAL read the bytes as ISO-8859-1: give them back and decode them properly
        for column in ("Layer", "Text"):
            raw[column] = raw[column].map(lambda v: _redecode(v, codec))
    geoms = np.asarray(raw.geometry.values, dtype=object)
    types = shapely.get_type_id(geoms)
    lines = np.isin(types, (1, 2)) & shapely.is_closed(geoms)
    polygons = np.isin(types, (3, 6)) | lines
    layers = sorted(set(raw.loc[polygons, "Layer"].astype(str)))
    if layer is None:
        if len(layers) != 1:
            raise FileFormatError(
                f"{path.name}: "
                + (
                    f"closed outlines on {len(layers)} CAD layers ({', '.join(layers)}); "
                    "choose the grids' layer with --layer"
                    if layers
                    else "no closed polylines: grids must be drawn as closed outlines"
                )
            )
        layer = layers[0]
    elif layer not in layers:
        raise FileFormatError(
            f"{path.name}: no closed outlines on CAD layer {layer!r}; layers with "
            f"outlines: {', '.join(layers) or 'none'}"
        )
    chosen = np.flatnonzero(polygons & (raw["Layer"].astype(str) == layer).to_numpy())
    outlines = [
        shapely.Polygon(shapely.get_coordinates(g)) if types[i] in (1, 2) else g
        for i, g in zip(chosen, geoms[chosen], strict=True)
    ]
    shapes = np.asarray(shapely.force_2d(np.asarray(outlines, dtype=object)), dtype=object)
    texts = raw[(types == 0) & raw["Text"].notna().to_numpy()]
    codes: list[str | None] = [None] * len(shapes)
    names: list[str | None] = [None] * len(shapes)
    if len(texts):
        points = shapely.force_2d(np.asarray(texts.geometry.values, dtype=object))
        tree = shapely.STRtree(points)
        for k, shape in enumerate(shapes):
            inside = sorted(tree.query(shape, predicate="contains"))
            words = [str(texts["Text"].iloc[i]).strip() for i in inside]
            codes[k] = next((w for w in words if _GRID_CODE.fullmatch(w)), None)
            names[k] = next((w for w in words if w and not _GRID_CODE.fullmatch(w)), None)
    frame = gpd.GeoDataFrame({"code": codes, "name": names}, geometry=list(shapes), crs=None)
    return frame, "DXF", choice, layer


def _redecode(value: object, codec: str) -> object:
    if not isinstance(value, str):
        return value
    try:
        return value.encode("latin-1").decode(codec)
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _zip_uri(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except zipfile.BadZipFile as exc:
        raise FileFormatError(f"{path.name}: not a valid zip archive") from exc
    inner = [n for n in names if n.lower().endswith((".shp", ".gpkg", ".geojson", ".json"))]
    if not inner:
        raise FileFormatError(f"{path.name}: the archive holds no .shp, .gpkg or .geojson file")
    if len(inner) > 1:
        raise FileFormatError(
            f"{path.name}: the archive holds several datasets ({', '.join(sorted(inner))}); "
            "unpack it and import one"
        )
    return f"/vsizip/{path.resolve()}/{inner[0]}"


def _single_layer(uri: str, path: Path) -> str | None:
    try:
        layers = pyogrio.list_layers(uri)
    except pyogrio.errors.DataSourceError as exc:
        raise FileFormatError(f"{path.name}: cannot read: {exc}") from exc
    if len(layers) > 1:
        names = ", ".join(str(n) for n in layers[:, 0])
        raise FileFormatError(f"{path.name}: holds {len(layers)} layers ({names}); choose one with --layer")
    return None


def _source_crs(
    filename: str, raw: gpd.GeoDataFrame, named: str | None, near: tuple[float, float] | None, fmt: str
) -> tuple[SourceCRS, str]:
    declared = raw.crs
    where = {
        "ESRI Shapefile": "its .prj",
        "GPKG": "the GeoPackage",
        "GeoJSON": "the GeoJSON",
        "KML": "KML (always WGS 84 lon/lat)",
        "KMZ": "KML (always WGS 84 lon/lat)",
    }.get(fmt, "the file")
    if named is None:
        if declared is None:
            guess = _guess(raw, near)
            error = MissingCRS(
                f"{filename}: the file declares no CRS (a shapefile without .prj?); "
                + (
                    guess.advice
                    if guess
                    else "name it with --crs, e.g. --crs EPSG:4490 (CGCS2000), "
                    "--crs EPSG:32649 (UTM 49N) or --crs gcj02"
                )
            )
            error.suggested_crs = guess.crs if guess else None
            raise error
        source = SourceCRS(declared)
        return source, f"declared by {where}: {declared.name}"
    source = parse_source_crs(named)
    if declared is None:
        return source, f"named by the user ({named}); the file declares none" + _datum_note(source)
    lonlat_label = declared.is_geographic and declared.equals(WGS84, ignore_axis_order=True)
    if source.datum and lonlat_label:  # GCJ-02/BD-09 files are labelled as plain WGS84 by every tool
        return source, f"named by the user ({named}) over {where}'s WGS 84 label" + _datum_note(source)
    if source.crs.equals(declared, ignore_axis_order=True) and not source.datum:
        return source, f"named by the user ({named}), and {where} declares the same: {declared.name}"
    declared_label = SourceCRS(declared).label
    raise MissingCRS(
        f"{filename}: the file declares {declared_label} but {source.label} was named; "
        "drop --crs to use the file's own CRS, or fix the file",
        code="crs_conflict",
    )


def _datum_note(source: SourceCRS) -> str:
    if source.datum == "gcj02":
        return (
            "; the lon/lat carry Amap/Tencent's GCJ-02 offset, removed by inverting the published "
            "formula iteratively (to 1e-9°)"
        )
    if source.datum == "bd09":
        return "; the lon/lat carry Baidu's BD-09 offset, removed iteratively (to 1e-9°)"
    return ""


def _guess(raw: gpd.GeoDataFrame, near: tuple[float, float] | None) -> CRSGuess | None:
    geoms = np.asarray(raw.geometry.values, dtype=object)
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if not len(present):
        return None
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(present))
    return guess_crs((xmin, ymin, xmax, ymax), near=near)


def _datum_shift(before: np.ndarray, after: np.ndarray) -> dict[str, float] | None:
    """How far removing GCJ-02/BD-09 moved the vertices, in metres on the WGS84 ellipsoid."""
    a = shapely.get_coordinates(before)
    b = shapely.get_coordinates(after)
    if not len(a) or len(a) != len(b):
        return None
    _, _, dist = _GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    dist = np.asarray(dist)
    return {
        "min": round(float(dist.min()), 1),
        "median": round(float(np.median(dist)), 1),
        "max": round(float(dist.max()), 1),
    }


def _standard_columns(
    raw: gpd.GeoDataFrame, filename: str, fields: Mapping[str, str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    present = [c for c in raw.columns if c != "geometry"]
    by_key: dict[str, Hashable] = {}
    for label in present:
        by_key.setdefault(normalise_header(str(label)), label)
    out = pd.DataFrame(index=raw.index)
    used: dict[str, str] = {}
    extracted_from: Hashable | None = None
    for field, aliases in FIELD_ALIASES.items():
        column: Hashable | None = fields.get(field)
        if column is not None:
            if column in raw.columns:
                pass
            elif normalise_header(str(column)) in by_key:
                column = by_key[normalise_header(str(column))]
            else:
                raise FileFormatError(
                    f"{filename}: column {column!r} named for {field} is not in the file "
                    f"(columns present: {', '.join(map(str, present)) or 'none'})"
                )
        if column is None:
            column = next((by_key[k] for k in map(normalise_header, aliases) if k in by_key), None)
        if column is None and field == "code":
            column, extracted = _code_inside(raw, present)
            if column is not None:
                out[field] = extracted
                used[field] = f"15-digit codes inside {column}"
                extracted_from = column
                continue
        if column is None:
            if field in ("code",):
                raise FileFormatError(
                    f"{filename}: no grid code column; expected one of {', '.join(aliases)} "
                    f"(columns present: {', '.join(map(str, present)) or 'none'})"
                )
            out[field] = pd.NA
            continue
        out[field] = raw[column]
        used[field] = str(column)
    out["code"] = out["code"].map(_code_text)
    if extracted_from is not None and used.get("name") == extracted_from:  # "440605125001001 沥苑…"
        out["name"] = [
            None if n is None or pd.isna(n) else _GRID_CODE.sub("", str(n)).strip(" -_:：,，") or None
            for n in out["name"]
        ]
    out["community_code"] = out["community_code"].map(_code_text)
    missing_community = out["community_code"].isna()
    out.loc[missing_community, "community_code"] = out.loc[missing_community, "code"].str[:12]
    out["name"] = out["name"].astype("string")
    for column in ("population", "households"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
    out["geometry"] = raw.geometry.values
    return out.reset_index(drop=True), used


def _code_inside(raw: gpd.GeoDataFrame, present: list) -> tuple[Hashable | None, list | None]:
    """A text column in which every feature has exactly one 15-digit grid code (KML names,
    descriptions): the column and the codes, or (None, None)."""
    for column in present:
        values = raw[column]
        if values.dtype.kind not in "OU" and str(values.dtype) != "string":
            continue
        found = [_GRID_CODE.findall(str(v)) if v is not None and not pd.isna(v) else [] for v in values]
        if found and all(len(f) == 1 for f in found):
            return column, [f[0] for f in found]
    return None, None


def _code_text(value: object) -> str | None:
    """Codes read from DBF/Excel may arrive as floats; give back their exact digits."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _check_geometry_types(geoms: np.ndarray, filename: str) -> None:
    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero(~np.isin(types, (-1, 3, 6)))  # missing, Polygon, MultiPolygon
    if len(bad):
        names = {
            0: "Point",
            1: "LineString",
            2: "LinearRing",
            4: "MultiPoint",
            5: "MultiLineString",
            7: "GeometryCollection",
        }
        shown = ", ".join(f"feature {i + 1} is a {names.get(int(types[i]), 'geometry')}" for i in bad[:5])
        raise FileFormatError(
            f"{filename}: grids must be polygons; {shown}"
            + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
        )
