"""The JSON shapes of the API, in one place, shared by the API and the command line."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from geo.lookup import STATUS_MESSAGES
from geo.lookup import PointMatch
from geo.lookup import Status
from geo.officials import Assignment
from geo.officials import mask_phone
from store.base import VersionInfo
from webmap.grid_service import GridSet


def version_json(info: VersionInfo) -> dict:
    return {
        "id": info.id, "label": info.label, "active": info.active, "town_code": info.town_code,
        "grids": info.n_grids, "created_at": info.created_at.isoformat(),
        "created_by": info.created_by, "activated_at": info.activated_at.isoformat()
        if info.activated_at else None, "source": info.source, "source_crs": info.source_crs,
    }


def grid_brief(grid_set: GridSet, i: int) -> dict:
    return {"code": str(grid_set.index.codes[i]), "name": grid_set.grid_row(i)["name"]}


def grid_json(grid_set: GridSet, i: int) -> dict:
    row = grid_set.grid_row(i)
    community = grid_set.communities.get(row["community_code"], {"code": row["community_code"]})
    return {
        "code": row["code"], "name": row["name"],
        "community": {k: community.get(k) for k in ("code", "name", "kind")},
        "town": grid_set.town,
        "area_m2": round(float(row["area_m2"]), 1),
        "population": _int(row["population"]), "households": _int(row["households"]),
        "version": {"id": grid_set.version.id, "label": grid_set.version.label,
                    "active": grid_set.version.active},
    }


def official_json(a: Assignment, *, show_phone: bool) -> dict:
    return {
        "level": a.role.level, "role": str(a.role), "role_zh": a.role.label_zh, "name": a.name,
        "phone": a.phone if show_phone else mask_phone(a.phone), "phone_masked": not show_phone,
        "unit": str(a.unit_level), "unit_code": a.unit_code, "since": a.start.isoformat(),
        "until": a.end.isoformat() if a.end else None,
    }


def team_json(team: Iterable[Assignment], *, show_phone: bool) -> list[dict]:
    return [official_json(a, show_phone=show_phone) for a in team]


def point_json(grid_set: GridSet, match: PointMatch, *, given: dict, wgs84: tuple[float, float],
               team: list[Assignment] | None, show_phone: bool, near_m: float) -> dict:
    body: dict = {
        "input": given,
        "wgs84": {"lon": round(wgs84[0], 8), "lat": round(wgs84[1], 8)},
        "status": match.status.label,
        "version": {"id": grid_set.version.id, "label": grid_set.version.label,
                    "active": grid_set.version.active},
        "grid": None, "team": [], "near_boundary": None, "also_touches": [], "nearest": None,
        "warnings": [],
    }
    if match.status == Status.OK:
        body["grid"] = grid_json(grid_set, match.grid)
        body["team"] = team_json(team or [], show_phone=show_phone)
        body["also_touches"] = [grid_brief(grid_set, g) for g in match.also_touches]
        if match.near_boundary:
            body["near_boundary"] = {"grid": grid_brief(grid_set, match.runner_up),
                                     "distance_m": round(match.runner_up_m, 2),
                                     "threshold_m": near_m}
            body["warnings"].append({
                "code": "near_boundary",
                "message": f"within {near_m:g} m of grid {grid_set.index.codes[match.runner_up]} "
                           f"({match.runner_up_m:.1f} m): confirm the address"})
        if match.also_touches:
            body["warnings"].append({"code": "on_boundary",
                                     "message": "the point lies on a shared grid edge; it belongs "
                                                "to the grid with the lowest code"})
    elif match.status == Status.OUTSIDE:
        body["nearest"] = {"grid": grid_brief(grid_set, match.nearest),
                           "distance_m": round(match.nearest_m, 1)}
        body["warnings"].append({"code": "outside_grids",
                                 "message": f"the point is in no grid; the nearest is "
                                            f"{match.nearest_m:.0f} m away"})
    else:
        body["warnings"].append({"code": match.status.label, "message": STATUS_MESSAGES[match.status]})
    return body


def _int(value) -> int | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else int(value)
