"""The complaint service: intake, placement in a grid, the workflow, and leaders' views.

It joins the pure cores (``complaints.*`` for rules, ``geo.*`` for places) with the
store. Placement is decided once, when a complaint is filed: the grid and the grid
version in force at the time it was reported are stored with it and never rewritten;
re-aggregation onto newer grids is kept beside the records, not in them.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from complaints import intake
from complaints import workflow
from complaints.catalog import Catalog
from complaints.intake import ComplaintInput
from complaints.workdays import WorkCalendar
from complaints.workflow import DeadlineStatus
from complaints.workflow import State
from geo import crs as crs_mod
from geo.errors import RowError
from geo.errors import RowErrors
from geo.lookup import Status
from geo.tabular import file_sha256
from store.complaints_sql import ConcurrentUpdate
from webmap.grid_service import GridService
from webmap.grid_service import ServiceError

Clock = Callable[[], datetime.datetime]
PHOTO_TYPES = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
               b"RIFF": ("image/webp", ".webp")}
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 6


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Placement:
    version_id: int
    grid_code: str
    community_code: str
    whistle_group: str
    lon: float
    lat: float
    geocode: dict | None


@dataclass(frozen=True)
class ImportReport:
    rows: int
    added: int
    skipped: int
    import_id: int | None


class ComplaintService:
    def __init__(self, store, grids: GridService, catalog: Catalog, calendar: WorkCalendar, *,
                 geocoder=None, photo_dir: Path | None = None, clock: Clock = _utcnow) -> None:
        self.store = store
        self.grids = grids
        self.catalog = catalog
        self.calendar = calendar
        self.geocoder = geocoder
        self.photo_dir = photo_dir
        self.now = clock

    # --- placement --------------------------------------------------------------------------

    def _version_for(self, when: datetime.datetime) -> int:
        """The grid version in force when the complaint was reported (else the active one)."""
        return self._version_at(when, self._activation_log())

    def place(self, item: ComplaintInput, row: int = 1, errors: list[RowError] | None = None
              ) -> Placement | None:
        own = errors is None
        errors = [] if own else errors
        version = self._version_for(item.reported_at)
        grid_set = self.grids.grid_set(version)
        geocode = None
        if item.lon is not None:
            lon, lat = (float(v) for v in crs_mod.to_wgs84(item.lon, item.lat, item.coordsys))
        else:
            found = self._geocode(item.address or "", row, errors)
            if found is None:
                return self._fail(own, errors)
            lon, lat, geocode = found
        match = grid_set.index.locate(lon, lat)
        if match.status != Status.OK:
            where = "lon" if item.lon is not None else "address"
            detail = (f"; the nearest grid is {grid_set.index.codes[match.nearest]} "
                      f"{match.nearest_m:.0f} m away" if match.nearest >= 0 else "")
            errors.append(RowError(row, where, f"the point ({lon:.6f}, {lat:.6f}) is in no grid "
                                               f"({match.status.label}){detail}"))
            return self._fail(own, errors)
        code = str(grid_set.index.codes[match.grid])
        community = grid_set.grid_row(match.grid)["community_code"]
        kind = grid_set.communities.get(community, {}).get("kind") or "urban"
        group = self.catalog.whistle_groups[kind].code
        return Placement(version, code, community, group, lon, lat, geocode)

    def _geocode(self, address: str, row: int, errors: list[RowError]):
        if self.geocoder is None:
            errors.append(RowError(row, "address", "no geocoder is configured; give lon/lat"))
            return None
        result = self.geocoder.geocode(address)
        if result.status == "matched":
            best = result.best
            return best.lon, best.lat, {"status": "matched", "confidence": round(best.score, 3),
                                        "address_id": best.id, "matched": best.text}
        if result.status == "ambiguous":
            shown = "; ".join(f"{c.text} ({c.score:.2f})" for c in result.candidates[:5])
            errors.append(RowError(row, "address", f"{address!r} is ambiguous; candidates: {shown}"))
        else:
            errors.append(RowError(row, "address", f"{address!r} was not found in the gazetteer"))
        return None

    @staticmethod
    def _fail(own: bool, errors: list[RowError]) -> None:
        if own:
            raise RowErrors("complaint", errors)
        return None

    # --- intake -----------------------------------------------------------------------------

    def _record(self, item: ComplaintInput, where: Placement, now: datetime.datetime | None = None
                ) -> tuple[dict, dict]:
        now = now or self.now()
        row = {
            "source": item.source, "external_id": item.external_id, "channel": item.channel,
            "category_code": item.category_code, "text": item.text, "address": item.address,
            "lon": where.lon, "lat": where.lat, "input_coordsys": item.coordsys if item.lon is not None
            else None, "input_lon": item.lon, "input_lat": item.lat, "geocode": where.geocode,
            "reporter_name": item.reporter_name, "reporter_phone": item.reporter_phone,
            "reported_at": item.reported_at, "grid_version_id": where.version_id,
            "grid_code": where.grid_code, "community_code": where.community_code,
            "whistle_group": where.whistle_group, "state": State.COLLECTED.value, "point": None,
        }
        event = {"at": now, "actor": "intake", "action": "collect", "from_state": None,
                 "to_state": State.COLLECTED.value, "note": f"{item.channel}: {item.source}",
                 "department_code": None, "deadline": None, "satisfied": None, "duplicate_of": None}
        return row, event

    def file(self, item: ComplaintInput, *, actor: str) -> dict:
        """File one complaint (form or API); filing the same source id again returns the first."""
        existing = self.store.complaint_by_external(item.source, item.external_id)
        if existing is not None:
            return existing
        where = self.place(item)
        row, event = self._record(item, where)
        event["actor"] = actor
        result = self.store.add_complaints([row], [[event]])
        return self.store.complaint(result.added[0]) if result.added else \
            self.store.complaint_by_external(item.source, item.external_id)

    def import_file(self, path: str | Path, *, source: str, actor: str, encoding: str | None = None,
                    sheet: str | int | None = None, progress=None) -> ImportReport:
        """Import a hotline export: every row checked, placed and stored, or none (RowErrors).

        The file is read, checked and stored chunk by chunk inside one transaction, so a
        million-row export needs no million-row list in memory and a fault in its last
        row still leaves nothing stored.
        """
        path = Path(path)
        errors: list[RowError] = []
        log = self._activation_log()
        counted = {"rows": 0}

        def chunks():
            for batch in intake.iter_file(path, catalog=self.catalog, source=source, errors=errors,
                                          encoding=encoding, sheet=sheet):
                counted["rows"] += len(batch)
                items = [item for _, item in batch]
                placements = self.place_many(items, rows=[row for row, _ in batch], errors=errors, log=log)
                if progress:
                    progress("rows checked", counted["rows"], counted["rows"])
                if errors:
                    continue  # keep checking the rest so the report lists every fault
                rows, events = [], []
                now = self.now()
                for item, where in zip(items, placements, strict=True):
                    row, event = self._record(item, where, now)
                    event["actor"] = actor
                    rows.append(row)
                    events.append([event])
                yield rows, events
            if errors:
                raise RowErrors(f"complaints {path.name}", sorted(errors, key=lambda e: e.row))

        result = self.store.add_complaint_chunks(chunks(), import_meta={
            "filename": path.name, "sha256": file_sha256(path), "imported_by": actor})
        if progress:
            progress("stored", len(result.added), len(result.added))
        return ImportReport(counted["rows"], len(result.added), len(result.skipped), result.import_id)

    def _activation_log(self) -> tuple[list[datetime.datetime], list[int]]:
        pairs = self.store.activations()
        return [when for when, _ in pairs], [version for _, version in pairs]

    def _version_at(self, when: datetime.datetime, log) -> int:
        times, versions = log
        k = bisect.bisect_right(times, when)
        return versions[k - 1] if k else self.grids.active_version_id()

    def place_many(self, items: Sequence[ComplaintInput], *, rows: Sequence[int] | None = None,
                   errors: list[RowError] | None = None, log=None) -> list[Placement | None]:
        """Placement for many complaints: vectorised for points, one by one for addresses.

        Faults go to ``errors`` when given (else they are raised); ``rows`` are the file's row
        numbers for the messages.
        """
        own = errors is None
        errors = [] if own else errors
        rows = list(rows) if rows is not None else list(range(1, len(items) + 1))
        log = log or self._activation_log()
        out: list[Placement | None] = [None] * len(items)
        frame = pd.DataFrame({
            "i": np.arange(len(items)),
            "version": [self._version_at(it.reported_at, log) for it in items],
            "coordsys": [it.coordsys for it in items],
            "has_point": [it.lon is not None for it in items],
        })
        for (version, coordsys), group in frame[frame["has_point"]].groupby(["version", "coordsys"]):
            idx = group["i"].to_numpy()
            lon = np.array([items[i].lon for i in idx], dtype=float)
            lat = np.array([items[i].lat for i in idx], dtype=float)
            grid_set, match, wlon, wlat = self.grids.locate_many(
                lon, lat, coordsys=coordsys, version=int(version), annotate=False)
            communities = grid_set.grids["community_code"].to_numpy(dtype=object)
            groups = {code: self.catalog.whistle_groups[info.get("kind") or "urban"].code
                      for code, info in grid_set.communities.items()}
            for k, i in enumerate(idx):
                g = int(match.grid[k])
                if match.status[k] != Status.OK or g < 0:
                    errors.append(RowError(rows[i], "lon", f"the point ({lon[k]}, {lat[k]}) is in no "
                                                           f"grid ({Status(int(match.status[k])).label})"))
                    continue
                community = communities[g]
                group = groups.get(community, self.catalog.whistle_groups["urban"].code)
                out[i] = Placement(int(version), str(grid_set.index.codes[g]), community, group,
                                   float(wlon[k]), float(wlat[k]), None)
        for i in frame.loc[~frame["has_point"], "i"]:
            out[i] = self.place(items[i], row=rows[i], errors=errors)
        if own and errors:
            raise RowErrors("complaints", sorted(errors, key=lambda e: e.row))
        return out

    # --- workflow ---------------------------------------------------------------------------

    def transition(self, complaint_id: int, action: str, *, expected_version: int, actor: str,
                   note: str | None = None, department: str | None = None,
                   deadline: datetime.datetime | None = None, satisfied: bool | None = None,
                   duplicate_of: str | None = None, department_scope: str | None = None) -> dict:
        """Apply a workflow action; the caller names the version it saw (optimistic locking).

        ``department_scope`` limits a department's staff to complaints dispatched to it.
        """
        current = self.store.complaint(complaint_id)
        if current is None:
            raise ServiceError(f"complaint {complaint_id} does not exist", code="not_found", status=404)
        if department_scope is not None and current["department_code"] != department_scope:
            raise ServiceError(f"complaint {complaint_id} is not with department {department_scope!r}",
                               code="forbidden", status=403)
        now = self.now()
        fields: dict = {"note": note}
        if action == workflow.Action.DISPATCH:
            routing = self.catalog.route(current["category_code"], self._kind(current))
            department = department or routing.department.code
            if department not in self.catalog.departments:
                raise ServiceError(f"unknown department {department!r}", code="unknown_department")
            fields.update(department=department,
                          deadline=deadline or self.calendar.add_workdays(now, routing.deadline_days))
        elif action == workflow.Action.FOLLOW_UP:
            fields["satisfied"] = satisfied
        elif action == workflow.Action.MARK_DUPLICATE:
            fields["duplicate_of"] = duplicate_of
        step = workflow.apply(current["state"], action, who=actor, when=now, **fields)
        event = step.event
        values: dict = {"state": step.state.value}
        if event.action == workflow.Action.DISPATCH:
            values.update(department_code=event.department, dispatched_at=now, deadline=event.deadline)
        if step.state in (State.RESOLVED, State.RESOLVED_ON_SITE):
            values["resolved_at"] = now
        if event.action == workflow.Action.FOLLOW_UP:
            values["satisfied"] = event.satisfied
        if step.state == State.CLOSED:
            values["closed_at"] = now
        if event.duplicate_of:
            values["duplicate_of"] = event.duplicate_of
        try:
            self.store.update_complaint(complaint_id, expected_version, values, event_row(event))
        except ConcurrentUpdate as exc:
            raise ServiceError(str(exc), code="conflict", status=409) from exc
        return self.store.complaint(complaint_id)

    def _kind(self, complaint: dict) -> str:
        community = self.store.communities()
        kinds = dict(zip(community["code"], community["kind"], strict=True))
        return kinds.get(complaint.get("community_code"), "urban")

    def deadline_status(self, complaint: dict, now: datetime.datetime | None = None) -> DeadlineStatus:
        return workflow.deadline_status(complaint["state"], complaint.get("dispatched_at"),
                                        complaint.get("deadline"), now or self.now(), self.calendar)

    # --- photos -----------------------------------------------------------------------------

    def save_photo(self, complaint_id: int, filename: str, data: bytes) -> dict:
        if self.photo_dir is None:
            raise ServiceError("photo storage is not configured", code="no_photo_storage", status=503)
        if self.store.complaint(complaint_id) is None:
            raise ServiceError(f"complaint {complaint_id} does not exist", code="not_found", status=404)
        if len(data) > MAX_PHOTO_BYTES:
            raise ServiceError(f"photo {filename!r} is {len(data) / 1e6:.1f} MB; at most "
                               f"{MAX_PHOTO_BYTES // 1024 // 1024} MB", code="photo_too_large", status=413)
        kind = next((v for magic, v in PHOTO_TYPES.items() if data.startswith(magic)), None)
        if kind is None or (kind[0] == "image/webp" and data[8:12] != b"WEBP"):
            raise ServiceError(f"photo {filename!r} is not a JPEG, PNG or WebP image",
                               code="photo_type", status=415)
        if len(self.store.photos(complaint_id)) >= MAX_PHOTOS:
            raise ServiceError(f"a complaint holds at most {MAX_PHOTOS} photos", code="too_many_photos")
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest}{kind[1]}"  # content-addressed: the user's file name never reaches the disk
        self.photo_dir.mkdir(parents=True, exist_ok=True)
        (self.photo_dir / name).write_bytes(data)
        photo_id = self.store.add_photo(complaint_id, filename=Path(filename).name[:200],
                                        content_type=kind[0], size=len(data), sha256=digest, stored_as=name)
        return {"id": photo_id, "content_type": kind[0], "size": len(data)}

    # --- re-aggregation ---------------------------------------------------------------------

    def reaggregate(self, version_id: int, progress=None) -> int:
        """Map every complaint onto another grid version for analysis; records stay as filed."""
        frame = self.store.complaints_frame(["id", "lon", "lat"])
        frame = frame.dropna(subset=["lon", "lat"])
        grid_set, match, _, _ = self.grids.locate_many(frame["lon"].to_numpy(float),
                                                       frame["lat"].to_numpy(float),
                                                       version=version_id, annotate=False)
        codes = np.append(grid_set.index.codes, None)[match.grid]
        pairs = list(zip(frame["id"].astype(int).tolist(), codes.tolist(), strict=True))
        count = self.store.put_regrid(version_id, pairs)
        if progress:
            progress("reaggregated", count, count)
        return count


def event_row(event: workflow.Event) -> dict:
    """A workflow event as the store keeps it."""
    return {"at": event.when, "actor": event.who, "action": event.action.value,
            "from_state": event.from_state.value, "to_state": event.to_state.value, "note": event.note,
            "department_code": event.department, "deadline": event.deadline,
            "satisfied": event.satisfied, "duplicate_of": event.duplicate_of}


def store_generated(service: ComplaintService, generated: Sequence, *, progress=None,
                    batch: int = 10_000) -> tuple[int, int]:
    """Store generated complaints (``complaints.demo``) with their histories; safe to re-run."""
    added = skipped = 0
    for start in range(0, len(generated), batch):
        part = generated[start:start + batch]
        items = [ComplaintInput(**{k: g.row[k] for k in (
            "source", "external_id", "reported_at", "channel", "category_code", "text", "address",
            "lon", "lat", "coordsys", "reporter_name", "reporter_phone")}) for g in part]
        placements = service.place_many(items)
        rows, events = [], []
        for item, where, g in zip(items, placements, part, strict=True):
            row, intake_event = service._record(item, where)
            row.update(g.final)
            intake_event.update(at=item.reported_at, actor="intake")
            rows.append(row)
            events.append([intake_event, *(event_row(e) for e in g.events)])
        result = service.store.add_complaints(rows, events)
        added += len(result.added)
        skipped += len(result.skipped)
        if progress:
            progress("complaints", start + len(part), len(generated))
    return added, skipped


def stored_calendar(store) -> WorkCalendar:
    """The working-day calendar: the library's years plus schedules loaded into the store."""
    from complaints.workdays import ScheduledDay
    from complaints.workdays import YearSchedule

    by_year: dict[int, dict] = {}
    for row in store.calendar_days():
        day = row["day"]
        by_year.setdefault(day.year, {})[day] = ScheduledDay(day, row["kind"], row["name"] or "")
    # A notice may move a day at the end of the previous December (see read_schedule): such a
    # day belongs to the next year's schedule. Standing alone it would make a schedule for its
    # own year and hide that year's holidays (the library's National Day, say).
    for year in sorted(by_year):
        if year + 1 in by_year and all(day.month == 12 for day in by_year[year]):
            by_year[year + 1].update(by_year.pop(year))
    return WorkCalendar([YearSchedule(year, days, "store") for year, days in sorted(by_year.items())])
