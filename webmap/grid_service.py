"""The grid service: store + spatial core, shared by the web app and the command line.

It owns the in-memory state that must be built once, not per request: one
``GridIndex`` per grid version (and a lookup table for the active one, cached
on disk), and the roster. Everything else it fetches from the store.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import crs as crs_mod
from geo.codes import community_of
from geo.codes import town_of
from geo.errors import GeoError
from geo.gridfile import GridFile
from geo.gridfile import read_grid_file
from geo.gridset import community_outlines
from geo.gridset import with_areas
from geo.lookup import DEFAULT_NEAR_M
from geo.lookup import BatchMatch
from geo.lookup import GridIndex
from geo.lookup import PointMatch
from geo.lut import LookupTable
from geo.officials import Assignment
from geo.officials import team_for
from geo.validate import Settings
from geo.validate import ValidationReport
from geo.validate import repair_grids
from geo.validate import validate_grids
from store.base import Store
from store.base import VersionInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")
Progress = Callable[[str, int, int], None]


class ServiceError(GeoError):
    """A request the service cannot serve; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, *, code: str, status: int = 400) -> None:
        super().__init__(message, code=code)
        self.status = status


class ImportRefused(ServiceError):
    """A grid file with validation errors: nothing was stored."""

    def __init__(self, report: ValidationReport, source: str) -> None:
        super().__init__(f"{source}: import refused, nothing stored\n{report.format_text()}",
                         code="import_refused", status=422)
        self.report = report


@dataclass(frozen=True)
class GridSet:
    """One version's grids with their index; row i of ``grids`` is grid i of ``index``."""

    version: VersionInfo
    index: GridIndex
    grids: pd.DataFrame  # code, name, community_code, area_m2, population, households
    communities: Mapping[str, dict]  # code -> name, short_name, kind
    town: dict  # code, name

    def grid_row(self, i: int) -> dict:
        row = self.grids.iloc[i]
        return {k: (None if pd.isna(v) else v) for k, v in row.items()}


@dataclass(frozen=True)
class ImportOutcome:
    version_id: int
    created: bool  # False when the same file was already imported as that version
    activated: bool
    report: ValidationReport
    repairs: list[str]
    source_crs: str


class GridService:
    def __init__(self, store: Store, *, near_m: float = DEFAULT_NEAR_M,
                 cache_dir: Path | None = None, use_lut: bool = True,
                 active_ttl_s: float = 2.0, max_cached_versions: int = 4,
                 settings: Settings | None = None) -> None:
        self.store = store
        self.near_m = near_m
        self.cache_dir = cache_dir
        self.use_lut = use_lut
        self.settings = settings or Settings()
        self._active_ttl = active_ttl_s
        self._active: tuple[float, int | None] = (0.0, None)
        self._sets: OrderedDict[int, GridSet] = OrderedDict()
        self._max_sets = max_cached_versions
        self._lock = threading.RLock()
        self._roster: tuple[float, dict[str, list[Assignment]]] = (0.0, {})

    # --- versions -------------------------------------------------------------------------

    def active_version_id(self) -> int:
        stamp, version = self._active
        now = time.monotonic()
        if now - stamp > self._active_ttl:
            version = self.store.active_version_id()
            self._active = (now, version)
        if version is None:
            raise ServiceError("no grid version is active yet; import grids and activate one "
                               "(redgrid grids import FILE --activate)", code="no_active_version",
                               status=503)
        return version

    def resolve_version(self, version: int | None = None,
                        at: datetime.datetime | None = None) -> int:
        """The version asked for: by number, by the date it was in force, or the active one."""
        if version is not None and at is not None:
            raise ServiceError("give either version or at, not both", code="bad_parameter")
        if version is not None:
            if self.store.version(version) is None:
                raise ServiceError(f"grid version {version} does not exist", code="unknown_version",
                                   status=404)
            return version
        if at is not None:
            found = self.store.version_at(at)
            if found is None:
                raise ServiceError(f"no grid version was active at {at.isoformat()}",
                                   code="no_version_at", status=404)
            return found
        return self.active_version_id()

    def grid_set(self, version_id: int) -> GridSet:
        with self._lock:
            cached = self._sets.get(version_id)
            if cached is not None:
                self._sets.move_to_end(version_id)
        if cached is not None:
            return self._with_current_flag(cached)
        built = self._build_set(version_id)
        with self._lock:
            self._sets[version_id] = built
            while len(self._sets) > self._max_sets:
                self._sets.popitem(last=False)
        return built

    def _with_current_flag(self, grid_set: GridSet) -> GridSet:
        """A cached set whose ``version.active`` says whether it is active now, not when it was built."""
        try:
            active = self.active_version_id() == grid_set.version.id
        except ServiceError:  # no version active at all
            active = False
        if active == grid_set.version.active:
            return grid_set
        return dataclasses.replace(grid_set, version=dataclasses.replace(grid_set.version, active=active))

    def _build_set(self, version_id: int) -> GridSet:
        info = self.store.version(version_id)
        if info is None:
            raise ServiceError(f"grid version {version_id} does not exist", code="unknown_version",
                               status=404)
        frame = self.store.grids(version_id)
        index = GridIndex(frame["code"].tolist(), frame.geometry.values, near_m=self.near_m)
        order = frame.set_index("code").loc[list(index.codes)].reset_index()
        if self.use_lut:
            index.attach_lut(self._lut(info, index))
        communities = {
            r.code: {"code": r.code, "name": r.name, "short_name": r.short_name, "kind": r.kind}
            for r in self.store.communities().itertuples(index=False)
        }
        town = self.store.town(info.town_code)
        return GridSet(info, index, order.drop(columns="geometry"), communities,
                       {"code": info.town_code, "name": town.name if town else None})

    def _lut(self, info: VersionInfo, index: GridIndex) -> LookupTable:
        path = None
        if self.cache_dir is not None:
            key = f"v{info.id}-{(info.sha256 or 'nosha')[:16]}-n{len(index)}-near{self.near_m:g}"
            path = Path(self.cache_dir) / f"lut-{key}.npz"
            cached = LookupTable.load(path)
            if cached is not None and cached.n_grids == len(index) and cached.near_m == index.near_m:
                return cached
        lut = LookupTable.build(index)
        if path is not None:
            lut.save(path)
        return lut

    def activate(self, version_id: int, by: str | None = None) -> None:
        self.store.activate(version_id, by)
        self._active = (0.0, None)

    # --- import ---------------------------------------------------------------------------

    def check_file(self, path: str | Path, *, crs: str | None = None, layer: str | None = None,
                   fields: Mapping[str, str] | None = None, town_code: str | None = None,
                   repair: bool = False, progress: Progress | None = None,
                   ) -> tuple[GridFile, gpd.GeoDataFrame, ValidationReport, list[str]]:
        """Read and validate (and optionally repair) a grid file without storing anything."""
        step = progress or (lambda stage, done, total: None)
        step("read", 0, 1)
        gridfile = read_grid_file(path, crs=crs, layer=layer, fields=fields)
        frame = gridfile.frame
        town_code = town_code or _single_town(frame)
        town = self.store.town(town_code)
        if town is None:
            raise ServiceError(f"town {town_code} is not registered; add it with "
                               "`redgrid town set CODE NAME --outline FILE`", code="unknown_town")
        registry = self.store.communities()
        known = dict(zip(registry["code"], registry["name"], strict=True))
        outline = town.outline
        report = validate_grids(frame, communities=known, outline=outline, settings=self.settings,
                                progress=progress)
        changes: list[str] = []
        if repair and not report.ok:
            result = repair_grids(frame, outline=outline, settings=self.settings)
            frame, changes = result.grids, result.changes
            report = validate_grids(frame, communities=known, outline=outline,
                                    settings=self.settings, progress=progress)
        return gridfile, frame, report, changes

    def import_file(self, path: str | Path, *, crs: str | None = None, layer: str | None = None,
                    fields: Mapping[str, str] | None = None, town_code: str | None = None,
                    repair: bool = False, activate: bool = False, label: str | None = None,
                    by: str | None = None, note: str | None = None,
                    progress: Progress | None = None) -> ImportOutcome:
        """Validate and store a grid file as a new version; all or nothing."""
        gridfile, frame, report, changes = self.check_file(
            path, crs=crs, layer=layer, fields=fields, town_code=town_code, repair=repair,
            progress=progress)
        if not report.ok:
            raise ImportRefused(report, Path(path).name)
        fingerprint = _fingerprint(gridfile.sha256, crs, layer, fields, repair)
        previous = self.store.version_by_sha256(fingerprint)
        if previous is not None:  # a re-run of the same import: safe, adds nothing
            if activate and not previous.active:
                self.activate(previous.id, by)
            return ImportOutcome(previous.id, False, activate or previous.active, report,
                                 changes, gridfile.source_crs)
        grids = with_areas(frame)
        version_id = self.store.add_version(
            grids[["code", "name", "community_code", "area_m2", "population", "households",
                   "geometry"]],
            community_outlines(grids),
            label=label or Path(path).stem, town_code=town_code or _single_town(frame),
            created_by=by, source=Path(path).name, source_crs=gridfile.source_crs,
            sha256=fingerprint, report=report.to_dict(), repairs=changes, note=note,
            activate=activate)
        if activate:
            self._active = (0.0, None)
        return ImportOutcome(version_id, True, activate, report, changes, gridfile.source_crs)

    # --- lookup ---------------------------------------------------------------------------

    def locate(self, lon: float, lat: float, *, coordsys: str = "wgs84", version: int | None = None,
               at: datetime.datetime | None = None) -> tuple[GridSet, PointMatch, tuple[float, float]]:
        """Locate one point given in any supported coordinate system."""
        grid_set = self.grid_set(self.resolve_version(version, at))
        wlon, wlat = crs_mod.to_wgs84(lon, lat, coordsys)
        wlon, wlat = float(wlon), float(wlat)
        return grid_set, grid_set.index.locate(wlon, wlat), (wlon, wlat)

    def locate_many(self, lon: np.ndarray, lat: np.ndarray, *, coordsys: str = "wgs84",
                    version: int | None = None, at: datetime.datetime | None = None,
                    annotate: bool = True) -> tuple[GridSet, BatchMatch, np.ndarray, np.ndarray]:
        grid_set = self.grid_set(self.resolve_version(version, at))
        wlon, wlat = crs_mod.to_wgs84(lon, lat, coordsys)
        return grid_set, grid_set.index.locate_many(wlon, wlat, annotate=annotate), wlon, wlat

    # --- officials ------------------------------------------------------------------------

    def roster(self) -> dict[str, list[Assignment]]:
        """All assignments by unit code, cached briefly (rosters change a few times a year)."""
        stamp, by_unit = self._roster
        if time.monotonic() - stamp > self._active_ttl:
            by_unit = {}
            for a in self.store.assignments():
                by_unit.setdefault(a.unit_code, []).append(a)
            self._roster = (time.monotonic(), by_unit)
        return by_unit

    def forget_roster(self) -> None:
        self._roster = (0.0, {})

    def team(self, grid_code: str, day: datetime.date | None = None) -> list[Assignment]:
        day = day or today()
        roster = self.roster()
        people = [*roster.get(grid_code, ()), *roster.get(community_of(grid_code), ()),
                  *roster.get(town_of(grid_code), ())]
        return team_for(grid_code, community_of(grid_code), town_of(grid_code), people, day)

    def unit_codes(self, version_id: int) -> dict[str, str]:
        """Codes a roster may name for a version: its grids, communities and town."""
        grid_set = self.grid_set(version_id)
        units = dict.fromkeys(grid_set.index.codes, "grid")
        units.update(dict.fromkeys(grid_set.communities, "community"))
        units[grid_set.town["code"]] = "town"
        return units


def today() -> datetime.date:
    return datetime.datetime.now(CHINA_TZ).date()


def parse_when(text: str) -> datetime.datetime:
    """``at=`` values: a date means the end of that day in China time; times may carry a zone."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = datetime.date.fromisoformat(text)
            return datetime.datetime.combine(day, datetime.time.max, CHINA_TZ)
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ServiceError(f"at={text!r} is not an ISO date or date-time (e.g. 2025-06-30 or "
                           "2025-06-30T09:00+08:00)", code="bad_parameter") from exc
    return when if when.tzinfo else when.replace(tzinfo=CHINA_TZ)


def _single_town(frame: gpd.GeoDataFrame) -> str:
    towns = sorted({str(c)[:9] for c in frame["code"].dropna()})
    if len(towns) != 1:
        raise ServiceError(f"grid codes span {len(towns)} towns ({', '.join(towns[:5])}); import one "
                           "town at a time or name it with --town", code="ambiguous_town")
    return towns[0]


def _fingerprint(sha256: str, crs, layer, fields, repair) -> str:
    """The file hash, extended by the options that change what gets stored."""
    extra = repr((crs, layer, sorted((fields or {}).items()), bool(repair)))
    return hashlib.sha256(f"{sha256}:{extra}".encode()).hexdigest()
