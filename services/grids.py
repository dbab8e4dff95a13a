"""Grids and lookups: versions, imports, the point-in-grid answer and the team that answers for it.

It owns the in-memory state that must be built once, not per request: one
``GridIndex`` per grid version (and its lookup table, cached on disk), and the roster.
Everything else it fetches from the store.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from geo import crs as crs_mod
from geo.codes import community_of
from geo.codes import town_of
from geo.crs import COORDSYS_NAMES
from geo.gridfile import GridFile
from geo.gridfile import read_grid_file
from geo.gridset import community_outlines
from geo.gridset import with_areas
from geo.lookup import DEFAULT_NEAR_M
from geo.lookup import STATUS_MESSAGES
from geo.lookup import BatchMatch
from geo.lookup import GridIndex
from geo.lookup import PointMatch
from geo.lookup import Status
from geo.lut import LookupTable
from geo.lut import ShiftField
from geo.officials import Assignment
from geo.officials import RosterChanges
from geo.officials import RosterFile
from geo.officials import UnitLevel
from geo.officials import read_roster_file
from geo.officials import roster_changes
from geo.officials import team_for
from geo.parallel import ordered_map
from geo.tabular import file_sha256
from geo.timeutil import beijing_today
from geo.validate import Settings
from geo.validate import ValidationReport
from geo.validate import repair_grids
from geo.validate import validate_grids
from services.caching import Memo
from services.errors import Invalid
from services.errors import NotFound
from services.errors import Refused
from services.errors import Unavailable
from store.base import ImportSummary
from store.base import Store
from store.base import VersionInfo

Progress = Callable[[str, int, int], None]
_R = TypeVar("_R")
_log = logging.getLogger(__name__)


def _locate_in(
    grid_set: GridSet, lon: np.ndarray, lat: np.ndarray, coordsys: str, annotate: bool
) -> tuple[BatchMatch, np.ndarray, np.ndarray]:
    """Points read as ``coordsys``, located in one version: (match, WGS84 lon, WGS84 lat)."""
    wlon, wlat = crs_mod.to_wgs84(lon, lat, coordsys)
    return grid_set.index.locate_many(wlon, wlat, annotate=annotate), wlon, wlat


@dataclass(frozen=True)
class _Seen:
    """What the store said of the active version and the roster, and when it was asked."""

    checked: float  # time.monotonic()
    active: int | None
    roster_stamp: int | None
    roster: dict[str, list[Assignment]]  # by unit code


class _Points(Protocol):
    """A chunk of a batch: its points' coordinates as given."""

    lon: np.ndarray
    lat: np.ndarray


C = TypeVar("C", bound=_Points)


class ImportRefused(Refused):
    """A grid file with validation errors: nothing was stored."""

    code = "import_refused"

    def __init__(self, report: ValidationReport, source: str) -> None:
        super().__init__(
            f"{source}: import refused, nothing stored\n{report.format_text()}",
            details={"report": report.to_dict()},
        )
        self.report = report


class InvalidPoint(Invalid):
    """Coordinates that cannot be located at all (NaN, out of range, swapped)."""


@dataclass(frozen=True)
class GridSet:
    """One version's grids with their index; row i of ``grids`` is grid i of ``index``."""

    version: VersionInfo
    index: GridIndex
    grids: pd.DataFrame  # code, name, community_code, area_m2, population, households
    communities: Mapping[str, dict]  # code -> name, short_name, kind
    town: dict  # code, name

    def grid_row(self, i: int) -> dict:
        return dict(self._rows[i])

    @cached_property
    def _rows(self) -> list[dict]:
        """Every grid's row as a dict (NaN as None), made once: a pandas row read costs ~0.2 ms."""
        rows = []
        for i in range(len(self.grids)):
            row = self.grids.iloc[i]
            rows.append({k: (None if pd.isna(v) else v) for k, v in row.items()})
        return rows


@dataclass(frozen=True)
class PointAnswer:
    """The answer to "which grid is this point in, and who answers for it"."""

    grid_set: GridSet
    match: PointMatch
    given: dict
    wgs84: tuple[float, float]
    team: list[Assignment] | None
    #: other coordinate systems in which a point that is in no grid would land in one
    datum_hints: list[tuple[str, str]]


@dataclass(frozen=True)
class CommunityAnswer:
    """A community asked by name or code: its grids (positions in the set) and its team."""

    grid_set: GridSet
    code: str
    grids: list[int]
    team: list[Assignment]


@dataclass(frozen=True)
class ImportOutcome:
    version_id: int
    created: bool  # False when the same file was already imported as that version
    activated: bool
    report: ValidationReport
    repairs: list[str]
    source_crs: str


class GridService:
    def __init__(
        self,
        store: Store,
        *,
        near_m: float = DEFAULT_NEAR_M,
        cache_dir: Path | None = None,
        use_lut: bool = True,
        active_ttl_s: float = 2.0,
        max_cached_versions: int = 4,
        settings: Settings | None = None,
    ) -> None:
        self.store = store
        self.near_m = near_m
        self.cache_dir = cache_dir
        self.use_lut = use_lut
        self.settings = settings or Settings()
        self._active_ttl = active_ttl_s
        self._seen: _Seen | None = None  # what the store said last, and when
        self._watch_lock = threading.Lock()
        # a child forked while the watcher ran would find its lock held for ever
        reset = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (m := reset()) and m())
        self._sets: Memo[GridSet] = Memo(max_cached_versions)
        # per (version, active): the set as it stands now, pieces of rendered answers, datum fields
        self._flagged: dict[tuple[int, bool], GridSet] = {}
        self._fragments: Memo[dict] = Memo(2 * max_cached_versions)
        self._shift_fields: Memo[dict] = Memo(max_cached_versions)
        # (roster it was computed from, day, {key: value}): teams and their rendered answers
        self._teams: tuple[dict | None, datetime.date | None, dict] = (None, None, {})
        self._build_lock = threading.Lock()

    # --- versions -------------------------------------------------------------------------

    def active_version_id(self) -> int:
        """The active version, as this process last saw it (``_current``)."""
        version = self._current().active
        if version is None:
            raise Unavailable(
                "no grid version is active yet; import grids and activate one "
                "(redgrid grids import FILE --activate)",
                code="no_active_version",
            )
        return version

    def _current(self) -> _Seen:
        """The active version and the roster, without a database call on the request's path.

        The store is asked again every ``active_ttl_s``, by one background thread while requests
        go on with what they have; it reads two stamps (``place_stamps``: the active version and
        the last roster import) and reloads the roster only when its stamp moved. So another
        worker's activation reaches this one within a few seconds, and a request never waits on
        the database for it. Before the first look, with a TTL of 0 (the tests), and right after
        this process changes either itself, the look is made in the caller's thread.
        """
        seen = self._seen
        if seen is None or self._active_ttl <= 0:
            return self._look()
        if time.monotonic() - seen.checked > self._active_ttl and self._watch_lock.acquire(blocking=False):
            threading.Thread(target=self._look, args=(True,), name="redgrid-watch", daemon=True).start()
        return seen

    def _after_fork(self) -> None:
        self._watch_lock = threading.Lock()

    def warm(self) -> None:
        """Build what the first lookup would otherwise wait for: the active version's index,
        lookup table and far cells (read from the cache when another worker made them), the
        roster, and the rendered teams (a worker calls this before it takes requests; with
        nothing active yet there is nothing to build)."""
        version = self.active_or_none()
        if version is None:
            return
        grid_set = self.grid_set(version)
        index = grid_set.index
        self._fill_far(grid_set)
        for code in index.codes:
            self.team_fragment(str(code), "team", lambda team: team)
        lon, lat = index.geoms[0].representative_point().coords[0]
        self.point(lon, lat)
        self.point(index.bounds[2] + 0.01, lat)  # outside: the datum fields too

    def _fill_far(self, grid_set: GridSet) -> None:
        """Every far cell of a version's edges (``EdgeIndex.fill_far``), kept beside its lookup
        table in the cache, so one process computes them and the others read them."""
        if self.use_lut:
            grid_set.index.edges.fill_far(self._cache_path("far", grid_set.version, grid_set.index))

    def refresh(self) -> None:
        """Read the active version and the roster's stamp now (after a change made here, or
        behind this service's back, straight in the store)."""
        self._look()

    def _look(self, locked: bool = False) -> _Seen:
        try:
            active, roster_stamp = self.store.place_stamps()
            seen = self._seen
            built = None
            if active is not None and locked and (seen is None or seen.active != active):
                # another worker activated a version: build it here, off the requests, before
                # they are sent to it (the server's event loop must never wait on a build)
                built = self._built_set(active)
            if seen is not None and seen.roster_stamp == roster_stamp:
                roster = seen.roster
            else:
                roster = {}
                for a in self.store.assignments():
                    roster.setdefault(a.unit_code, []).append(a)
            self._seen = seen = _Seen(time.monotonic(), active, roster_stamp, roster)
            if built is not None:  # then its far cells, while requests already use it
                self._fill_far(built)
            return seen
        except Exception:
            if not locked or self._seen is None:
                raise
            # the watcher's look failed (the database away a moment): keep what is known, say so,
            # and look again after the next TTL
            _log.warning("could not read the active version and roster; keeping the last ones", exc_info=True)
            return self._seen
        finally:
            if locked:
                self._watch_lock.release()

    def active_or_none(self) -> int | None:
        """The active version, or None before any is active (pages show an empty map then)."""
        try:
            return self.active_version_id()
        except Unavailable:
            return None

    def resolve_version(self, version: int | None = None, at: datetime.datetime | None = None) -> int:
        """The version asked for: by number, by the date it was in force, or the active one."""
        if version is not None and at is not None:
            raise Invalid("give either version or at, not both", field="version")
        if version is not None:
            if self._sets.peek(version) is not None:  # built, so it exists (versions are never deleted)
                return version
            if self.store.version(version) is None:
                raise NotFound(f"grid version {version} does not exist", code="unknown_version")
            return version
        if at is not None:
            found = self.store.version_at(at)
            if found is None:
                raise NotFound(f"no grid version was active at {at.isoformat()}", code="no_version_at")
            return found
        return self.active_version_id()

    def grid_set(self, version_id: int) -> GridSet:
        return self._with_current_flag(self._built_set(version_id))

    def _built_set(self, version_id: int) -> GridSet:
        cached = self._sets.peek(version_id)
        if cached is not None:
            hit: GridSet = cached  # never reassigned: the lambda below keeps its type
            return self._sets.get(version_id, lambda: hit)
        with self._build_lock:  # one build per process: the other requests wait for it, not redo it
            cached = self._sets.peek(version_id)
            if cached is not None:
                return cached
            return self._sets.get(version_id, lambda: self._build_set(version_id))

    def _with_current_flag(self, grid_set: GridSet) -> GridSet:
        """A cached set whose ``version.active`` says whether it is active now, not when it was built."""
        try:
            active = self.active_version_id() == grid_set.version.id
        except Unavailable:  # no version active at all
            active = False
        if active == grid_set.version.active:
            return grid_set
        key = (grid_set.version.id, active)
        flagged = self._flagged.get(key)
        if flagged is None or flagged.index is not grid_set.index:
            if len(self._flagged) > 16:
                self._flagged.clear()
            version = dataclasses.replace(grid_set.version, active=active)
            flagged = dataclasses.replace(grid_set, version=version)
            self._flagged[key] = flagged  # one object per state, so its caches are kept
        return flagged

    def fragment(self, grid_set: GridSet, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """A rendered piece of an answer for one version as it stands (active or not), made once.

        Activating another version changes ``version.active`` and so the key: nothing stale
        is served after an activation.
        """
        slots = self._fragments.get((grid_set.version.id, grid_set.version.active), dict)
        value = slots.get(key)
        if value is None:
            value = slots[key] = render()
        return value

    def _build_set(self, version_id: int) -> GridSet:
        info = self.store.version(version_id)
        if info is None:
            raise NotFound(f"grid version {version_id} does not exist", code="unknown_version")
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
        return GridSet(
            info,
            index,
            order.drop(columns="geometry"),
            communities,
            {"code": info.town_code, "name": town.name if town else None},
        )

    def _cache_path(self, kind: str, info: VersionInfo, index: GridIndex) -> Path | None:
        if self.cache_dir is None:
            return None
        key = f"v{info.id}-{(info.sha256 or 'nosha')[:16]}-n{len(index)}-near{self.near_m:g}"
        return Path(self.cache_dir) / f"{kind}-{key}.npz"

    def _lut(self, info: VersionInfo, index: GridIndex) -> LookupTable:
        path = self._cache_path("lut", info, index)
        if path is not None:
            cached = LookupTable.load(path)
            if cached is not None and cached.n_grids == len(index) and cached.near_m == index.near_m:
                return cached
        lut = LookupTable.build(index)
        if path is not None:
            try:
                lut.save(path)
            except OSError:  # the cache is a convenience: a full or read-only disk is no error
                pass
        return lut

    def activate(self, version_id: int, by: str | None = None) -> None:
        if self.store.version(version_id) is None:
            raise NotFound(f"grid version {version_id} does not exist", code="unknown_version")
        # its lookup table and far cells built and cached before any worker needs them
        self._fill_far(self.grid_set(version_id))
        self.store.activate(version_id, by)
        self.refresh()

    def versions(self) -> list[VersionInfo]:
        return self.store.versions()

    def version(self, version_id: int) -> VersionInfo:
        info = self.store.version(version_id)
        if info is None:
            raise NotFound(f"grid version {version_id} does not exist")
        return info

    def health(self) -> dict:
        active = self.store.active_version_id()
        return {"status": "ok" if active else "no_active_version", "active_version": active}

    def grid_index(self, grid_set: GridSet, code: str) -> int:
        """The position of a grid in a version, by its code."""
        i = grid_set.index.position.get(code)
        if i is None:
            raise NotFound(f"grid {code} is not in version {grid_set.version.id}")
        return i

    def community(self, grid_set: GridSet, code: str) -> CommunityAnswer:
        """A community of a version: its grids and the people answering for it (community and
        town posts; each grid's own workers come with the grid)."""
        members = [i for i in range(len(grid_set.index)) if grid_set.grid_row(i)["community_code"] == code]
        if not members:
            raise NotFound(f"community {code} has no grids in version {grid_set.version.id}")
        first = str(grid_set.index.codes[members[0]])
        team = [a for a in self.team(first) if a.unit_level is not UnitLevel.GRID]
        return CommunityAnswer(grid_set, code, members, team)

    def community_shapes(self, version_id: int) -> gpd.GeoDataFrame:
        return self.store.community_shapes(version_id)

    def town_outline(self, code: str) -> BaseGeometry | None:
        town = self.store.town(code)
        return town.outline if town is not None else None

    # --- import ---------------------------------------------------------------------------

    def check_file(
        self,
        path: str | Path,
        *,
        crs: str | None = None,
        layer: str | None = None,
        fields: Mapping[str, str] | None = None,
        town_code: str | None = None,
        repair: bool = False,
        encoding: str | None = None,
        progress: Progress | None = None,
    ) -> tuple[GridFile, gpd.GeoDataFrame, ValidationReport, list[str]]:
        """Read and validate (and optionally repair) a grid file without storing anything.

        ``encoding`` overrides the attribute encoding (a shapefile's .cpg or the detected one).
        The registered town's centre (of ``town_code``, or of the only town registered) goes
        with the file, so that a file without a CRS is refused naming the EPSG code to pass.
        The report carries how the file was read (format, encoding, CRS, columns, and why).
        """
        step = progress or (lambda stage, done, total: None)
        step("read", 0, 1)
        towns = [self.store.town(town_code)] if town_code else self.store.towns()
        shape = towns[0].outline if len(towns) == 1 and towns[0] is not None else None
        centre = shape.centroid if shape is not None and not shape.is_empty else None
        near = (float(centre.x), float(centre.y)) if centre is not None else None
        gridfile = read_grid_file(path, crs=crs, layer=layer, fields=fields, encoding=encoding, near=near)
        source = gridfile.describe()
        frame = gridfile.frame
        town_code = town_code or _single_town(frame)
        town = self.store.town(town_code)
        if town is None:
            raise Refused(
                f"town {town_code} is not registered; add it with "
                "`redgrid town set CODE NAME --outline FILE`",
                code="unknown_town",
            )
        registry = self.store.communities()
        known = dict(zip(registry["code"], registry["name"], strict=True))
        outline = town.outline
        report = validate_grids(
            frame,
            communities=known,
            outline=outline,
            settings=self.settings,
            progress=progress,
            source=source,
        )
        changes: list[str] = []
        if repair and not report.ok:
            result = repair_grids(frame, outline=outline, settings=self.settings)
            frame, changes = result.grids, result.changes
            report = validate_grids(
                frame,
                communities=known,
                outline=outline,
                settings=self.settings,
                progress=progress,
                source=source,
            )
        return gridfile, frame, report, changes

    def import_file(
        self,
        path: str | Path,
        *,
        crs: str | None = None,
        layer: str | None = None,
        fields: Mapping[str, str] | None = None,
        town_code: str | None = None,
        repair: bool = False,
        activate: bool = False,
        label: str | None = None,
        by: str | None = None,
        note: str | None = None,
        encoding: str | None = None,
        progress: Progress | None = None,
    ) -> ImportOutcome:
        """Validate and store a grid file as a new version; all or nothing."""
        gridfile, frame, report, changes = self.check_file(
            path,
            crs=crs,
            layer=layer,
            fields=fields,
            town_code=town_code,
            repair=repair,
            encoding=encoding,
            progress=progress,
        )
        if not report.ok:
            raise ImportRefused(report, Path(path).name)
        fingerprint = _fingerprint(gridfile.sha256, crs, layer, fields, repair, encoding)
        previous = self.store.version_by_sha256(fingerprint)
        if previous is not None:  # a re-run of the same import: safe, adds nothing
            if activate and not previous.active:
                self.activate(previous.id, by)
            return ImportOutcome(
                previous.id, False, activate or previous.active, report, changes, gridfile.source_crs
            )
        grids = with_areas(frame)
        version_id = self.store.add_version(
            grids[["code", "name", "community_code", "area_m2", "population", "households", "geometry"]],
            community_outlines(grids),
            label=label or Path(path).stem,
            town_code=town_code or _single_town(frame),
            created_by=by,
            source=Path(path).name,
            source_crs=gridfile.source_crs,
            sha256=fingerprint,
            report=report.to_dict(),
            repairs=changes,
            note=note,
        )
        if activate:  # its tables built and cached first, so every worker switches at once
            self.activate(version_id, by)
        return ImportOutcome(version_id, True, activate, report, changes, gridfile.source_crs)

    # --- lookup ---------------------------------------------------------------------------

    def locate(
        self,
        lon: float,
        lat: float,
        *,
        coordsys: str = "wgs84",
        version: int | None = None,
        at: datetime.datetime | None = None,
    ) -> tuple[GridSet, PointMatch, tuple[float, float]]:
        """Locate one point given in any supported coordinate system."""
        grid_set = self.grid_set(self.resolve_version(version, at))
        x, y = crs_mod.to_wgs84(lon, lat, coordsys)
        wlon, wlat = float(x), float(y)
        return grid_set, grid_set.index.locate(wlon, wlat), (wlon, wlat)

    def point(
        self,
        lon: float,
        lat: float,
        *,
        coordsys: str = "wgs84",
        version: int | None = None,
        at: datetime.datetime | None = None,
        strict: bool = True,
    ) -> PointAnswer:
        """The full answer for one point: its grid, team, warnings and datum hints.

        With ``strict``, coordinates that cannot be located at all (NaN, out of range, swapped)
        are refused with a message naming the fault instead of answered with a status.
        """
        name = crs_mod.normalise_coordsys(coordsys)
        grid_set, match, wgs84 = self.locate(lon, lat, coordsys=name, version=version, at=at)
        if strict and match.status in (Status.NOT_A_NUMBER, Status.OUT_OF_RANGE, Status.SWAPPED):
            message = f"{STATUS_MESSAGES[match.status]} (lon={lon}, lat={lat})"
            if match.status == Status.SWAPPED:
                message += f"; did you mean /point/{name}/{lat},{lon}?"
            raise InvalidPoint(message, code=match.status.label)
        team = self.team(str(grid_set.index.codes[match.grid])) if match.status == Status.OK else None
        hints = []
        if match.status in (Status.OUTSIDE, Status.FAR_OUTSIDE):
            hints = self._datum_hints(lon, lat, name, grid_set)
        return PointAnswer(grid_set, match, {"coordsys": name, "lon": lon, "lat": lat}, wgs84, team, hints)

    def _datum_hints(self, lon: float, lat: float, given: str, grid_set: GridSet) -> list[tuple[str, str]]:
        """A point in no grid that would land in one if read in another datum was probably mislabelled.

        As cheap as a lookup: a point farther from the grids than any datum shift is done after a
        bounds check; otherwise the shift is interpolated from a per-version lattice and the
        lookup table says whether every point within the interpolation error is in no grid (or
        in one grid). Only near a boundary is the exact, iterated conversion run.
        """
        index = grid_set.index
        hints = []
        grid: int | None
        for other in COORDSYS_NAMES:
            if other in (given, "cgcs2000") or (given == "cgcs2000" and other == "wgs84"):
                continue
            if other == "wgs84":  # the same numbers read as WGS84: no conversion
                grid = index.grid_at(lon, lat)
            else:
                field = self._shift_field(grid_set, other)
                if not field.covers(lon, lat):
                    continue  # beyond the largest shift: cannot land in a grid
                alon, alat = field.approx(lon, lat)
                grid = index.settled_at(alon, alat, field.error_deg, field.error_deg)
                if grid is None:
                    wlon, wlat = crs_mod.to_wgs84(lon, lat, other)
                    grid = index.grid_at(float(wlon), float(wlat))
            if grid >= 0:
                hints.append((other, str(index.codes[grid])))
        return hints

    def _shift_field(self, grid_set: GridSet, coordsys: str) -> ShiftField:
        """Where points read as ``coordsys`` land in WGS84, tabulated around one version's grids."""
        fields = self._shift_fields.get(grid_set.version.id, dict)
        field = fields.get(coordsys)
        if field is None:
            x0, y0, x1, y1 = grid_set.index.bounds
            # the Chinese datums shift by well under 0.02 degrees; the lattice reaches past that
            margin = _DATUM_SHIFT_MAX_DEG
            span = max(x1 - x0, y1 - y0) + 2 * margin
            step = max(_SHIFT_STEP_DEG, span / 2000)
            fields[coordsys] = field = ShiftField(
                lambda x, y: crs_mod.to_wgs84(x, y, coordsys),
                (x0 - margin, y0 - margin, x1 + margin, y1 + margin),
                step,
            )
        return field

    def locate_many(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        *,
        coordsys: str = "wgs84",
        version: int | None = None,
        at: datetime.datetime | None = None,
        annotate: bool = True,
    ) -> tuple[GridSet, BatchMatch, np.ndarray, np.ndarray]:
        grid_set = self.grid_set(self.resolve_version(version, at))
        return grid_set, *_locate_in(grid_set, lon, lat, coordsys, annotate)

    def locate_chunks(
        self,
        chunks: Iterable[C],
        *,
        coordsys: str = "wgs84",
        version: int | None = None,
        annotate: bool = True,
    ) -> Iterator[tuple[C, GridSet, BatchMatch, np.ndarray, np.ndarray]]:
        """``locate_many`` of each chunk of a streamed batch, several chunks at once on the batch
        threads (``geo.parallel``), in the chunks' order; the version is resolved once, so every
        chunk of one answer comes from the same grid set."""
        grid_set = self.grid_set(self.resolve_version(version))

        def locate(chunk: C) -> tuple[C, GridSet, BatchMatch, np.ndarray, np.ndarray]:
            return chunk, grid_set, *_locate_in(grid_set, chunk.lon, chunk.lat, coordsys, annotate)

        return ordered_map(locate, chunks)

    # --- officials ------------------------------------------------------------------------

    def roster(self) -> dict[str, list[Assignment]]:
        """All assignments by unit code, as this process last saw them (``_current``)."""
        return self._current().roster

    def team(self, grid_code: str, day: datetime.date | None = None) -> list[Assignment]:
        """The people answering for a grid on ``day`` (default today in China); cached until the
        roster changes or the day does."""
        if day is None:
            return list(self.team_fragment(grid_code, "team", lambda team: team))
        return self._team_on(grid_code, day, self.roster())

    def team_fragment(self, grid_code: str, key: Hashable, render: Callable[[list[Assignment]], _R]) -> _R:
        """``render(today's team)`` for a grid, made once per roster and day (rendered answers)."""
        day = beijing_today()
        roster = self.roster()
        cached, cached_day, slots = self._teams
        if cached is not roster or cached_day != day:
            slots = {}
            self._teams = (roster, day, slots)
        value = slots.get((grid_code, key))
        if value is None:
            value = slots[(grid_code, key)] = render(self._team_on(grid_code, day, roster))
        return value

    def _team_on(
        self, grid_code: str, day: datetime.date, roster: dict[str, list[Assignment]]
    ) -> list[Assignment]:
        people = [
            *roster.get(grid_code, ()),
            *roster.get(community_of(grid_code), ()),
            *roster.get(town_of(grid_code), ()),
        ]
        return team_for(grid_code, community_of(grid_code), town_of(grid_code), people, day)

    def import_roster(
        self,
        path: str | Path,
        *,
        version_id: int | None = None,
        encoding: str | None = None,
        sheet: str | int | None = None,
        by: str = "cli",
    ) -> ImportSummary:
        """A roster file (CSV UTF-8/GBK or Excel), checked against a version's units; all or nothing.

        Rows are upserted by phone + role + unit + start: people missing from the file, and the
        old rows of people whose phone, role, unit or start changed, are left as they are
        (``preview_roster`` lists them).
        """
        version = self.resolve_version(version_id)
        known = {code: UnitLevel(level) for code, level in self.unit_codes(version).items()}
        rows = read_roster_file(path, known_units=known, encoding=encoding, sheet=sheet).assignments
        summary = self.store.import_assignments(
            rows, filename=Path(path).name, sha256=file_sha256(Path(path)), by=by
        )
        self.refresh()
        return summary

    def preview_roster(
        self,
        path: str | Path,
        *,
        version_id: int | None = None,
        encoding: str | None = None,
        sheet: str | int | None = None,
        day: datetime.date | None = None,
    ) -> tuple[RosterFile, RosterChanges]:
        """What importing a roster would change, against the assignments in force on ``day``
        (default: today in China); stores nothing.

        The roster speaks for the communities (and town posts) it names: people elsewhere are
        never listed as removed. The file is checked as ``import_roster`` checks it.
        """
        version = self.resolve_version(version_id)
        known = {code: UnitLevel(level) for code, level in self.unit_codes(version).items()}
        roster_file = read_roster_file(path, known_units=known, encoding=encoding, sheet=sheet)
        changes = roster_changes(
            self.store.assignments(),
            roster_file.assignments,
            where=roster_file.where,
            day=day or beijing_today(),
        )
        return roster_file, changes

    def unit_codes(self, version_id: int) -> dict[str, str]:
        """Codes a roster may name for a version: its grids, communities and town."""
        grid_set = self.grid_set(version_id)
        units = dict.fromkeys(grid_set.index.codes, "grid")
        units.update(dict.fromkeys(grid_set.communities, "community"))
        units[grid_set.town["code"]] = "town"
        return units


_DATUM_SHIFT_MAX_DEG = 0.05
_SHIFT_STEP_DEG = 0.002  # about 200 m: interpolation errors of centimetres


def _single_town(frame: gpd.GeoDataFrame) -> str:
    towns = sorted({str(c)[:9] for c in frame["code"].dropna()})
    if len(towns) != 1:
        raise Refused(
            f"grid codes span {len(towns)} towns ({', '.join(towns[:5])}); import one "
            "town at a time or name it with --town",
            code="ambiguous_town",
        )
    return towns[0]


def _fingerprint(
    sha256: str,
    crs: str | None,
    layer: str | None,
    fields: Mapping[str, str] | None,
    repair: bool,
    encoding: str | None = None,
) -> str:
    """The file hash, extended by the options that change what gets stored.

    The encoding is added only when named, so imports made before it was an option keep
    their fingerprints (and re-running one still finds its version).
    """
    options: tuple = (crs, layer, sorted((fields or {}).items()), bool(repair))
    if encoding:
        options += (str(encoding).strip().lower(),)
    extra = repr(options)
    return hashlib.sha256(f"{sha256}:{extra}".encode()).hexdigest()
