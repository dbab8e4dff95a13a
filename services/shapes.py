"""The JSON shapes of answers, in one place, shared by the API, the pages' scripts and the command line."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import SupportsInt

import numpy as np
import pandas as pd

from complaints.catalog import Catalog
from geo.lookup import STATUS_MESSAGES
from geo.lookup import PointMatch
from geo.lookup import Status
from geo.officials import Assignment
from geo.officials import mask_phone
from geo.timeutil import to_beijing
from services.cases import CaseView
from services.duplicates import DuplicateCandidate
from services.grids import CommunityAnswer
from services.grids import GridSet
from services.grids import PointAnswer
from services.permissions import Visibility
from store.base import VersionInfo


def version_json(info: VersionInfo) -> dict:
    return {
        "id": info.id,
        "label": info.label,
        "active": info.active,
        "town_code": info.town_code,
        "grids": info.n_grids,
        "created_at": info.created_at.isoformat(),
        "created_by": info.created_by,
        "activated_at": info.activated_at.isoformat() if info.activated_at else None,
        "source": info.source,
        "source_crs": info.source_crs,
    }


def version_ref(grid_set: GridSet) -> dict:
    """The version an answer comes from, as a grid or community carries it."""
    return {"id": grid_set.version.id, "label": grid_set.version.label, "active": grid_set.version.active}


def grid_brief(grid_set: GridSet, i: int) -> dict:
    return {"code": str(grid_set.index.codes[i]), "name": grid_set.grid_row(i)["name"]}


def grid_json(grid_set: GridSet, i: int) -> dict:
    row = grid_set.grid_row(i)
    community = grid_set.communities.get(row["community_code"], {"code": row["community_code"]})
    return {
        "code": row["code"],
        "name": row["name"],
        "community": {k: community.get(k) for k in ("code", "name", "kind")},
        "town": grid_set.town,
        "area_m2": round(float(row["area_m2"]), 1),
        "population": _int(row["population"]),
        "households": _int(row["households"]),
        "version": version_ref(grid_set),
    }


def community_json(answer: CommunityAnswer, *, show_phone: bool) -> dict:
    """A community with its grids (code and name) and its community- and town-level team."""
    grid_set = answer.grid_set
    info = grid_set.communities.get(answer.code, {"code": answer.code})
    return {
        "code": answer.code,
        "name": info.get("name"),
        "kind": info.get("kind"),
        "grids": [grid_brief(grid_set, i) for i in answer.grids],
        "team": team_json(answer.team, show_phone=show_phone),
        "version": version_ref(grid_set),
    }


def official_json(a: Assignment, *, show_phone: bool) -> dict:
    return {
        "level": a.role.level,
        "role": str(a.role),
        "role_zh": a.role.label_zh,
        "name": a.name,
        "phone": a.phone if show_phone else mask_phone(a.phone),
        "phone_masked": not show_phone,
        "unit": str(a.unit_level),
        "unit_code": a.unit_code,
        "since": a.start.isoformat(),
        "until": a.end.isoformat() if a.end else None,
    }


def team_json(team: Iterable[Assignment], *, show_phone: bool) -> list[dict]:
    return [official_json(a, show_phone=show_phone) for a in team]


def point_answer_json(answer: PointAnswer, *, show_phone: bool, near_m: float) -> dict:
    """The lookup answer with the datum hints a point in no grid gets."""
    body = point_json(
        answer.grid_set,
        answer.match,
        given=answer.given,
        wgs84=answer.wgs84,
        team=answer.team,
        show_phone=show_phone,
        near_m=near_m,
    )
    for other, code in answer.datum_hints:
        body["warnings"].append(
            {
                "code": "datum_suspect",
                "message": f"read as {other}, the point falls in grid {code}: check the "
                f"coordinate system (coordsys={other}?)",
                # the same as members, so a page can say it in its own language
                "coordsys": other,
                "grid_code": code,
            }
        )
    return body


def point_json(
    grid_set: GridSet,
    match: PointMatch,
    *,
    given: dict,
    wgs84: tuple[float, float],
    team: list[Assignment] | None,
    show_phone: bool,
    near_m: float,
) -> dict:
    body: dict = {
        "input": given,
        "wgs84": {"lon": round(wgs84[0], 8), "lat": round(wgs84[1], 8)},
        "status": match.status.label,
        "version": version_ref(grid_set),
        "grid": None,
        "team": [],
        "near_boundary": None,
        "also_touches": [],
        "nearest": None,
        "warnings": [],
    }
    if match.status == Status.OK:
        body["grid"] = grid_json(grid_set, match.grid)
        body["team"] = team_json(team or [], show_phone=show_phone)
        body["also_touches"] = [grid_brief(grid_set, g) for g in match.also_touches]
        if match.near_boundary:
            body["near_boundary"] = {
                "grid": grid_brief(grid_set, match.runner_up),
                "distance_m": round(match.runner_up_m, 2),
                "threshold_m": near_m,
            }
            body["warnings"].append(
                {
                    "code": "near_boundary",
                    "message": f"within {near_m:g} m of grid {grid_set.index.codes[match.runner_up]} "
                    f"({match.runner_up_m:.1f} m): confirm the address",
                }
            )
        if match.also_touches:
            body["warnings"].append(
                {
                    "code": "on_boundary",
                    "message": "the point lies on a shared grid edge; it belongs "
                    "to the grid with the lowest code",
                }
            )
    elif match.status == Status.OUTSIDE:
        body["nearest"] = {
            "grid": grid_brief(grid_set, match.nearest),
            "distance_m": round(match.nearest_m, 1),
        }
        body["warnings"].append(
            {
                "code": "outside_grids",
                "message": f"the point is in no grid; the nearest is {match.nearest_m:.0f} m away",
            }
        )
    else:
        body["warnings"].append({"code": match.status.label, "message": STATUS_MESSAGES[match.status]})
    return body


def _int(value: SupportsInt | None) -> int | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else int(value)


def iso(value: datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_json(view: CaseView, catalog: Catalog) -> dict:
    """A case as the API and pages show it, to the caller's ``view.visibility``: the public
    fields for everyone; text, place, notes and staff names from ``details``; reporter
    contacts, unmasked numbers and photos only at ``contacts`` (``services.permissions``)."""
    c = view.case
    level = view.visibility
    details = level >= Visibility.DETAILS
    contacts = level >= Visibility.CONTACTS
    category = catalog.categories.get(c.category_code)
    department = catalog.departments.get(c.department_code or "")
    body = {
        "id": c.id,
        "visibility": level.label,
        "source": c.source if details else None,
        "external_id": c.external_id if details else None,
        "channel": c.channel if details else None,
        "text": c.text if details else None,
        "category": {"code": c.category_code, "name": category.name_zh if category else None},
        "address": c.address if details else None,
        "location": {"lon": c.lon, "lat": c.lat, "coordsys": "wgs84"}
        if details and c.lon is not None
        else None,
        "input": {"coordsys": c.input_coordsys, "lon": c.input_lon, "lat": c.input_lat}
        if details and c.input_coordsys
        else None,
        "geocode": c.geocode if details else None,
        "reported_at": iso(c.reported_at),
        "grid": {"code": c.grid_code, "version": c.grid_version_id, "community_code": c.community_code},
        "whistle_group": c.whistle_group,
        "state": c.state,
        "department": {"code": department.code, "name": department.name_zh} if department else None,
        "dispatched_at": iso(c.dispatched_at),
        "deadline": iso(c.deadline),
        "deadline_status": view.deadline_status.value,
        "extension_requested": iso(c.extension_deadline),
        "resolved_at": iso(c.resolved_at),
        "closed_at": iso(c.closed_at),
        "satisfied": c.satisfied if details else None,
        "duplicate_of": c.duplicate_of if details else None,
        "version": c.row_version,
        "reporter": None
        if not details
        else {"name": c.reporter_name, "phone": c.reporter_phone}
        if contacts
        else {"name": None, "phone": c.reporter_phone},  # masked by the cases service
    }
    if view.events is not None:
        body["events"] = [
            {
                "at": iso(e.at),
                "actor": e.actor if details else None,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "note": e.note if details else None,
                "department": e.department_code,
                "deadline": iso(e.deadline),
                "satisfied": e.satisfied if details else None,
            }
            for e in view.events
        ]
        # an original's duplicates (who duplicates whom is shown from ``details``)
        body["duplicates"] = (
            None
            if view.duplicates is None
            else [{"id": d.id, "reported_at": iso(d.reported_at), "state": d.state} for d in view.duplicates]
        )
    if view.photos is not None and contacts:
        body["photos"] = [{"id": p.id, "content_type": p.content_type, "size": p.size} for p in view.photos]
    return body


def duplicate_candidate_json(candidate: DuplicateCandidate, catalog: Catalog) -> dict:
    """A candidate original of a complaint being filed: where and when, its state and a short
    text, at the caller's level (``services.duplicates``)."""
    c = candidate.view.case
    details = candidate.view.visibility >= Visibility.DETAILS
    category = catalog.categories.get(c.category_code)
    return {
        "id": c.id,
        "distance_m": None if candidate.distance_m is None else round(candidate.distance_m, 1),
        "same_address": candidate.same_address,
        "address": c.address if details else None,
        "reported_at": iso(c.reported_at),
        "reported_at_beijing": to_beijing(c.reported_at).strftime("%Y-%m-%d %H:%M"),
        "state": c.state,
        "category": {"code": c.category_code, "name": category.name_zh if category else None},
        "text": candidate.short_text if details else None,
    }


def table_rows(frame: pd.DataFrame) -> list[dict]:
    """A statistics table as JSON rows, times in ISO 8601 like every other time in the API."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        {k: v.isoformat() if isinstance(v, datetime.datetime) else v for k, v in r.items()} for r in records
    ]


def catalog_json(catalog: Catalog) -> dict:
    return {
        "categories": [
            {
                "code": c.code,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "class": c.gb_class,
                "department": c.department,
                "deadline_days": c.deadline_days,
            }
            for c in catalog.categories.values()
        ],
        "departments": [
            {"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en} for d in catalog.departments.values()
        ],
    }
