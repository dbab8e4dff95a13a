"""Parsing the query values the API's views share; a malformed one is a 400 naming it."""

from __future__ import annotations

import math

from flask import Response
from flask import jsonify
from flask import request

from geo.lookup import STATUS_MESSAGES
from geo.lookup import Status
from geo.timeutil import parse_when
from webmap.errors import Problem


def version_args() -> dict:
    """``version=N`` or ``at=DATE`` from the query string."""
    version = request.args.get("version")
    at = request.args.get("at")
    out: dict = {"version": None, "at": None}
    if version is not None:
        if not version.isdigit():
            raise Problem(f"version={version!r} must be a version number", code="bad_parameter")
        out["version"] = int(version)
    if at:
        out["at"] = parse_when(at)
    return out


def parse_pair(coords: str) -> tuple[float, float]:
    parts = coords.split(",")
    if len(parts) != 2:
        raise Problem(
            f"coordinates {coords!r} must be 'lon,lat', e.g. 113.1457,23.1110", code="bad_coordinates"
        )
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise Problem(
            f"coordinates {coords!r} are not numbers; expected 'lon,lat'", code="bad_coordinates"
        ) from exc
    if math.isnan(lon) or math.isnan(lat):
        raise Problem(f"coordinates {coords!r}: {STATUS_MESSAGES[Status.NOT_A_NUMBER]}", code="not_a_number")
    return lon, lat


def int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise Problem(f"{name}={value!r} must be a whole number", code="bad_parameter")
    return int(value)


def json_response(body: dict, *, cache: bool = True, mimetype: str | None = None) -> Response:
    response = jsonify(body)
    if mimetype:
        response.mimetype = mimetype
    response.headers["Access-Control-Allow-Origin"] = "*"
    # answers with people in them may change with the roster: never cache those
    response.headers["Cache-Control"] = "public, max-age=300" if cache else "no-store"
    return response


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
