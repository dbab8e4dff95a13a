"""The Gauss-Krüger zones Chinese surveying delivers in, and naming one from bare coordinates.

Why a module of its own: Chinese survey and CAD data are projected with Gauss-Krüger
(transverse Mercator, scale 1) in 3-degree zones (large scales, cadastral and grid
work) or 6-degree zones, on CGCS2000 (since 2008), or Xian 1980 / Beijing 1954 in older
deliveries. EPSG has four codes per zone and datum: 3- or 6-degree, and with or without
the zone number in front of the easting (38 407 795 m in "zone 38" vs 407 795 m in
"CM 114E"). A file that declares its CRS needs nothing from here: PROJ knows them all.

A shapefile mailed without its .prj, or a DXF from CAD, declares nothing. Guessing
silently would be wrong (one zone off is 300 km; UTM 49N and Gauss-Krüger CM 111E
differ by 1 km in northing), so the import is still refused, but with the EPSG code
the coordinates point to: an easting with a zone prefix names its zone exactly; one
without needs to know roughly where the data should be (the town), and the zone whose
inverse lands there is named. CGCS2000 is named because it is the legal datum; the
Xian 1980 and Beijing 1954 codes of the same zone are given beside it, since their
coordinates look the same (tens of metres apart).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyproj import CRS
from pyproj import Transformer
from pyproj.transformer import AreaOfInterest  # pyproj.aoi's class, by the name the stubs use

from geo.crs import transformer

#: (3-degree zone, 3-degree CM, 6-degree zone, 6-degree CM): first EPSG code of each series
_SERIES: dict[str, tuple[int, int, int, int]] = {
    "CGCS2000": (4513, 4534, 4491, 4502),
    "Xian 1980": (2349, 2370, 2327, 2338),
    "Beijing 1954": (2401, 2422, 21413, 21453),
}
ZONES_3 = range(25, 46)  # CM 75E … 135E
ZONES_6 = range(13, 24)  # CM 75E … 135E


@dataclass(frozen=True)
class GKZone:
    datum: str  # CGCS2000, Xian 1980, Beijing 1954
    width: int  # 3 or 6 degrees
    zone: int  # the zone number (CM = 3·zone or 6·zone − 3)
    prefixed: bool  # whether the zone number stands in front of the easting

    @property
    def cm(self) -> int:
        return self.zone * 3 if self.width == 3 else self.zone * 6 - 3

    @property
    def epsg(self) -> int:
        z3, cm3, z6, cm6 = _SERIES[self.datum]
        if self.width == 3:
            return (z3 + self.zone - ZONES_3[0]) if self.prefixed else (cm3 + self.zone - ZONES_3[0])
        return (z6 + self.zone - ZONES_6[0]) if self.prefixed else (cm6 + self.zone - ZONES_6[0])

    @property
    def name(self) -> str:
        width = "3-degree Gauss-Krüger" if self.width == 3 else "6-degree Gauss-Krüger"
        where = f"zone {self.zone} (CM {self.cm}E)" if self.prefixed else f"CM {self.cm}E"
        return f"{self.datum} {width} {where}"

    def same_zone_in(self, datum: str) -> GKZone:
        return GKZone(datum, self.width, self.zone, self.prefixed)


def zone_for_lon(lon: float, width: int, *, prefixed: bool = False, datum: str = "CGCS2000") -> GKZone:
    """The zone holding a longitude (3-degree zones are centred on multiples of 3°)."""
    zone = math.floor(lon / 3.0 + 0.5) if width == 3 else math.floor(lon / 6.0) + 1
    zones = ZONES_3 if width == 3 else ZONES_6
    return GKZone(datum, width, min(max(zone, zones[0]), zones[-1]), prefixed)


@dataclass(frozen=True)
class CRSGuess:
    """What a file's bare coordinates look like, as advice (never applied on its own)."""

    crs: str | None  # "EPSG:4547", or None when the coordinates narrow it down but not to one code
    description: str
    note: str = ""  # the same zone on the older datums

    @property
    def advice(self) -> str:
        if self.crs is None:
            return self.description
        return f"{self.description}: pass --crs {self.crs}{self.note}"


def guess_crs(
    bounds: tuple[float, float, float, float], *, near: tuple[float, float] | None = None
) -> CRSGuess | None:
    """Name the CRS that bare coordinates with these bounds (xmin, ymin, xmax, ymax) look like.

    ``near`` is the lon/lat where the data should lie (e.g. the town's centre); without it
    an easting without a zone number cannot be tied to a central meridian.
    """
    xmin, ymin, xmax, ymax = bounds
    if not all(math.isfinite(v) for v in bounds):
        return None
    if -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90:
        return CRSGuess(
            None,
            f"coordinates look like longitude/latitude ({xmin:.4f}…{xmax:.4f}, "
            f"{ymin:.4f}…{ymax:.4f}): pass --crs EPSG:4490 (CGCS2000, Tianditu), "
            "--crs wgs84 (GPS), or --crs gcj02 / bd09 for Amap / Baidu exports",
        )
    if not (0 < ymin <= ymax < 6_300_000):  # the equator to the north of Heilongjiang
        return None
    zone = int(xmin // 1_000_000)
    if zone >= 13:  # a zone number in front of the easting
        if int(xmax // 1_000_000) != zone or not _plausible_easting(xmin - zone * 1e6, xmax - zone * 1e6):
            return None
        width = 3 if zone in ZONES_3 else 6 if zone in ZONES_6 else None
        if width is None:
            return None
        found = GKZone("CGCS2000", width, zone, True)
        where = ""
        if near is not None:
            where = f"; they land {_distance_km(found, bounds, near):.1f} km from the town"
        return CRSGuess(
            f"EPSG:{found.epsg}",
            f"coordinates look like {found.name} (easting "
            f"{xmin:.0f}…{xmax:.0f} starts with zone number {zone}){where}",
            _other_datums(found),
        )
    if not _plausible_easting(xmin, xmax):
        return None
    if near is None:
        wide = max(abs(xmin - 500_000), abs(xmax - 500_000)) > 175_000  # beyond a 3-degree zone's ±1.5°
        kind = (
            "a 6-degree Gauss-Krüger or UTM zone (too far from the central meridian for a 3-degree zone)"
            if wide
            else "a Gauss-Krüger or UTM zone"
        )
        examples = (
            "EPSG:4508 for CGCS2000 6-degree Gauss-Krüger CM 111E or EPSG:32649 for UTM 49N"
            if wide
            else "EPSG:4547 for CGCS2000 3-degree Gauss-Krüger CM 114E (CM nE: "
            "EPSG 4534 + (n − 75)/3) or EPSG:32649 for UTM 49N"
        )
        return CRSGuess(
            None,
            (
                f"coordinates look like {kind} without a zone number in the easting ({xmin:.0f}…{xmax:.0f} m "
                f"east, {ymin:.0f}…{ymax:.0f} m north), so the central meridian cannot be read off them; "
                f"name the CRS with --crs, e.g. {examples}"
            ),
        )
    candidates: list[tuple[float, str, str, GKZone | None]] = []
    for width in (3, 6):
        centre = zone_for_lon(near[0], width)
        for dz in (-1, 0, 1):
            zones = ZONES_3 if width == 3 else ZONES_6
            if centre.zone + dz in zones:
                z = GKZone("CGCS2000", width, centre.zone + dz, False)
                candidates.append((_distance_km(z, bounds, near), f"EPSG:{z.epsg}", z.name, z))
    utm_zone = min(int((near[0] + 180.0) // 6.0) + 1, 60)
    utm = CRS.from_epsg(32600 + utm_zone)
    candidates.append(
        (_distance_km(utm, bounds, near), f"EPSG:{utm.to_epsg()}", f"WGS 84 / UTM zone {utm_zone}N", None)
    )
    distance, code, name, gk = min(candidates, key=lambda c: c[0])
    if distance > 50:
        return CRSGuess(
            None,
            (
                f"coordinates look like projected metres ({xmin:.0f}…{xmax:.0f} E, {ymin:.0f}…{ymax:.0f} N) "
                f"but no Gauss-Krüger or UTM zone puts them within 50 km of the town (nearest: {name}, "
                f"{distance:.0f} km); name the CRS with --crs"
            ),
        )
    second = sorted(candidates, key=lambda c: c[0])[1]
    if second[0] < 2 * distance + 2:  # e.g. UTM 49N and GK CM 111E: 1 km apart in northing
        return CRSGuess(
            code,
            f"coordinates look like {name} (they land {distance:.1f} km from the town "
            f"centre) or {second[2]} ({second[0]:.1f} km, --crs {second[1]}): the town "
            "alone cannot tell these apart, check the survey's papers",
            _other_datums(gk) if gk else "",
        )
    return CRSGuess(
        code,
        f"coordinates look like {name} (they land {distance:.1f} km from the town "
        f"centre, the next best zone {second[0]:.0f} km)",
        _other_datums(gk) if gk else "",
    )


def describe_transformation(crs: CRS, lonlat_bounds: tuple[float, float, float, float] | None = None) -> str:
    """How PROJ takes a CRS to WGS84 over the data's area, and how much to trust it, in one phrase."""
    aoi = AreaOfInterest(*lonlat_bounds) if lonlat_bounds else None
    try:
        op = Transformer.from_crs(crs, 4326, always_xy=True, area_of_interest=aoi)
    except Exception:  # a description must never fail an import
        return "PROJ transformation"
    text = op.description or ""
    geodetic = crs.geodetic_crs
    if "Ballpark" in text and (geodetic is None or not geodetic.equals(CRS.from_epsg(4490))):
        datum = geodetic.name if geodetic is not None else crs.name
        return (
            f"PROJ has no {datum} → WGS 84 transformation for this area and ignores the datum "
            f"shift (ballpark); {datum} coordinates can then be off by tens of metres"
        )
    if "Ballpark" in text:
        return "CGCS2000 is taken as WGS 84 (they differ by centimetres)"
    return f"PROJ: {text}" if text else "PROJ transformation"


def _plausible_easting(xmin: float, xmax: float) -> bool:
    # a 6-degree zone reaches 3° of longitude from its CM: ±330 km at the equator
    return 150_000 <= xmin <= xmax <= 850_000


def _distance_km(
    crs: GKZone | CRS, bounds: tuple[float, float, float, float], near: tuple[float, float]
) -> float:
    src = CRS.from_epsg(crs.epsg) if isinstance(crs, GKZone) else crs
    x = (bounds[0] + bounds[2]) / 2
    y = (bounds[1] + bounds[3]) / 2
    lon, lat = transformer(src, 4326).transform(x, y)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return math.inf
    dlat = math.radians(lat - near[1])
    dlon = math.radians(lon - near[0]) * math.cos(math.radians((lat + near[1]) / 2))
    return 6371.0 * math.hypot(dlat, dlon)


def _other_datums(zone: GKZone) -> str:
    xian, beijing = zone.same_zone_in("Xian 1980"), zone.same_zone_in("Beijing 1954")
    return (
        f" (if the survey says Xian 1980 or Beijing 1954, the same zone is EPSG:{xian.epsg} or "
        f"EPSG:{beijing.epsg})"
    )
