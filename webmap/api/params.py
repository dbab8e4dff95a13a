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

#: the largest whole number a query value may be (ids, versions, limits, offsets): bigger ones
#: name nothing that exists and would overflow the database's integer binding
MAX_INT = 2**31 - 1
#: the years a date in a query may name (outside them a time has no UTC value)
YEARS = (1900, 2999)


def whole(name: str, value: str) -> int:
    """A whole number written in ASCII digits (``²`` and ``٣`` are digits to Python, not here)."""
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) > MAX_INT:
        raise Problem(
            f"{name}={value[:40]!r} must be a whole number from 0 to {MAX_INT}",
            code="bad_parameter",
            field=name,
        )
    return int(value)


def when_arg(name: str, text: str):
    """``parse_when`` bounded to the years a query may name, refusals naming the parameter."""
    when = parse_when(text, name=name)
    if not YEARS[0] <= when.year <= YEARS[1]:
        raise Problem(
            f"{name}={text[:40]!r} is outside {YEARS[0]}–{YEARS[1]}", code="bad_parameter", field=name
        )
    return when


def version_args() -> dict:
    """``version=N`` or ``at=DATE`` from the query string."""
    version = request.args.get("version")
    at = request.args.get("at")
    out: dict = {"version": None, "at": None}
    if version is not None:
        if not (version.isascii() and version.isdigit()):
            raise Problem(
                f"version={version[:40]!r} must be a version number", code="bad_parameter", field="version"
            )
        out["version"] = whole("version", version)
    if at:
        out["at"] = when_arg("at", at)
    return out


def parse_pair(coords: str) -> tuple[float, float]:
    parts = coords.split(",")
    if len(parts) != 2:
        raise Problem(
            f"coordinates {coords[:80]!r} must be 'lon,lat', e.g. 113.1457,23.1110",
            code="bad_coordinates",
            field="coords",
        )
    try:
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise Problem(
            f"coordinates {coords[:80]!r} are not numbers; expected 'lon,lat'",
            code="bad_coordinates",
            field="coords",
        ) from exc
    if math.isnan(lon) or math.isnan(lat):
        raise Problem(
            f"coordinates {coords[:80]!r}: {STATUS_MESSAGES[Status.NOT_A_NUMBER]}",
            code="not_a_number",
            field="coords",
        )
    return lon, lat


def int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        raise Problem(f"{name}={value[:40]!r} must be a whole number", code="bad_parameter", field=name)
    return whole(name, value)


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
