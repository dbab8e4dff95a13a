"""One coordinate policy for the whole service.

Everything is stored in WGS84 lon/lat (EPSG:4326). Input may arrive in any CRS
PROJ knows, or in the two Chinese datums PROJ does not know (GCJ-02, BD-09, see
``geo.datums``); both kinds are converted here, at the edge, so the rest of the
code only ever sees WGS84. Distances and areas are computed in a metric CRS
chosen for the data (a UTM zone), never in degrees.

Transformers are cached: building one costs milliseconds, using one microseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import ArrayLike
from numpy.typing import NDArray
from pyproj import CRS
from pyproj import Transformer
from pyproj.exceptions import CRSError

from geo import datums
from geo.errors import UnknownCoordSys

WGS84 = CRS.from_epsg(4326)

#: Coordinate systems an API caller may name for a point, with their aliases.
COORDSYS_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "4326": "wgs84",
    "epsg:4326": "wgs84",
    "crs84": "wgs84",
    "gps": "wgs84",
    "cgcs2000": "cgcs2000",
    "4490": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "amap": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}
COORDSYS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")


def normalise_coordsys(name: str) -> str:
    """The canonical name of a point coordinate system, or a clear error listing the choices."""
    key = str(name).strip().lower()
    if key not in COORDSYS_ALIASES:
        raise UnknownCoordSys(
            f"unknown coordinate system {name!r}; expected one of {', '.join(COORDSYS_NAMES)}"
        )
    return COORDSYS_ALIASES[key]


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coordsys: str) -> tuple[NDArray, NDArray]:
    """Convert points given in a named coordinate system to WGS84 (vectorised)."""
    return _convert(lon, lat, normalise_coordsys(coordsys), inbound=True)


def from_wgs84(lon: ArrayLike, lat: ArrayLike, coordsys: str) -> tuple[NDArray, NDArray]:
    """Convert WGS84 points to a named coordinate system (used to draw on Chinese basemaps)."""
    return _convert(lon, lat, normalise_coordsys(coordsys), inbound=False)


# (to WGS84, from WGS84) for each named system. CGCS2000 and WGS84 differ by centimetres
# and PROJ's transform says so; going through it keeps the policy in one place.
_CONVERTERS = {
    "cgcs2000": (lambda x, y: _transform(4490, 4326, x, y), lambda x, y: _transform(4326, 4490, x, y)),
    "gcj02": (datums.gcj02_to_wgs84, datums.wgs84_to_gcj02),
    "bd09": (datums.bd09_to_wgs84, datums.wgs84_to_bd09),
}


def _convert(lon: ArrayLike, lat: ArrayLike, name: str, *, inbound: bool) -> tuple[NDArray, NDArray]:
    x = np.asarray(lon, dtype="float64")
    y = np.asarray(lat, dtype="float64")
    if name == "wgs84":
        return x, y
    a, b = _CONVERTERS[name][0 if inbound else 1](x, y)
    return np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")


@dataclass(frozen=True)
class SourceCRS:
    """What a file's coordinates are in: a PROJ CRS, or a named Chinese datum on WGS84 axes."""

    crs: CRS
    datum: str | None = None  # "gcj02" / "bd09" when the coordinates carry that offset

    @property
    def label(self) -> str:
        if self.datum:
            return self.datum.upper().replace("GCJ02", "GCJ-02").replace("BD09", "BD-09")
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else self.crs.name


def parse_source_crs(text: str) -> SourceCRS:
    """Parse a user-named CRS: ``gcj02``, ``bd09``, ``cgcs2000``, ``EPSG:32649``, WKT, PROJ string."""
    key = str(text).strip()
    alias = COORDSYS_ALIASES.get(key.lower())
    if alias in ("gcj02", "bd09"):
        return SourceCRS(WGS84, alias)
    if alias == "cgcs2000":
        return SourceCRS(CRS.from_epsg(4490))
    if alias == "wgs84":
        return SourceCRS(WGS84)
    try:
        return SourceCRS(CRS.from_user_input(key))
    except CRSError as exc:
        raise UnknownCoordSys(
            f"cannot understand CRS {text!r}: {exc}. Use gcj02, bd09, cgcs2000, wgs84 "
            "or an EPSG code such as EPSG:32649"
        ) from exc


def geometries_to_wgs84(geoms: NDArray, source: SourceCRS) -> NDArray:
    """Reproject an array of shapely geometries to WGS84 lon/lat."""
    geoms = np.asarray(geoms, dtype=object)
    if source.datum:
        fn = datums.gcj02_to_wgs84 if source.datum == "gcj02" else datums.bd09_to_wgs84
        return shapely.transform(geoms, lambda xy: np.column_stack(fn(xy[:, 0], xy[:, 1])))
    if source.crs.equals(WGS84):
        return geoms
    return shapely.transform(geoms, lambda xy: transform_xy(xy, source.crs, WGS84))


def geometries_from_wgs84(geoms: NDArray, coordsys: str) -> NDArray:
    """Shift WGS84 geometries into a named coordinate system (GCJ-02 overlays for Amap tiles)."""
    name = normalise_coordsys(coordsys)
    if name == "wgs84":
        return np.asarray(geoms, dtype=object)
    return shapely.transform(
        np.asarray(geoms, dtype=object),
        lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], name)),
    )


class MetricFrame:
    """A metric CRS for one area (a UTM zone), with fast cached transforms to and from WGS84."""

    def __init__(self, crs: CRS) -> None:
        self.crs = crs
        self._fwd = transformer(WGS84, crs)
        self._inv = transformer(crs, WGS84)

    @classmethod
    def for_lonlat(cls, lon: float, lat: float) -> MetricFrame:
        return cls(utm_crs_for(lon, lat))

    def forward(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
        x, y = self._fwd.transform(np.asarray(lon, "float64"), np.asarray(lat, "float64"))
        return np.asarray(x), np.asarray(y)

    def forward_one(self, lon: float, lat: float) -> tuple[float, float]:
        """Scalar fast path for single lookups (no array round trip)."""
        return self._fwd.transform(lon, lat)

    def inverse(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
        lon, lat = self._inv.transform(np.asarray(x, "float64"), np.asarray(y, "float64"))
        return np.asarray(lon), np.asarray(lat)

    def project(self, geoms: NDArray) -> NDArray:
        """WGS84 geometries → metric geometries."""
        return shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda xy: np.column_stack(self.forward(xy[:, 0], xy[:, 1])),
        )

    def unproject(self, geoms: NDArray) -> NDArray:
        """Metric geometries → WGS84 geometries."""
        return shapely.transform(
            np.asarray(geoms, dtype=object),
            lambda xy: np.column_stack(self.inverse(xy[:, 0], xy[:, 1])),
        )


@lru_cache(maxsize=64)
def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS84 UTM zone holding a point (EPSG:32649 for Foshan).

    From the zone formula rather than a PROJ database query: instant, and the same
    on every machine.
    """
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise UnknownCoordSys(f"no UTM zone for lon={lon}, lat={lat}")
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


@lru_cache(maxsize=64)
def transformer(src: CRS | str | int, dst: CRS | str | int) -> Transformer:
    """A cached lon/lat-ordered Transformer (building one costs milliseconds)."""
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_xy(xy: NDArray, src: CRS | str | int, dst: CRS | str | int) -> NDArray:
    """An (N, 2) coordinate array from one CRS to another."""
    x, y = transformer(src, dst).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _transform(src_epsg: int, dst_epsg: int, x: ArrayLike, y: ArrayLike) -> tuple[NDArray, NDArray]:
    a, b = transformer(src_epsg, dst_epsg).transform(x, y)
    return np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
