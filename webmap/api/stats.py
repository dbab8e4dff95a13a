"""Leaders' views (counts, departments, satisfaction, overdue), geocoding and the catalogue.

Tables are JSON by default and CSV with ``format=csv`` (UTF-8 with a BOM, so Excel opens
the Chinese text). Their headers are the field names in every language: scripts read them by
name (the downloads of the pages, for people, are headed in the page's language).
"""

from __future__ import annotations

import pandas as pd
from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from geo.crs import to_wgs84
from services.cases import case_filters
from services.csvsafe import safe_csv
from services.shapes import catalog_json
from services.shapes import table_rows
from webmap import auth
from webmap.api.params import int_arg
from webmap.api.params import no_store
from webmap.api.params import parse_pair
from webmap.errors import Problem

bp = Blueprint("stats_api", __name__)
bp.before_request(auth.check_request)


def _filters() -> dict:
    return case_filters(request.args, now=auth.services().cases.now())


def _table(frame: pd.DataFrame, name: str) -> Response:
    if request.args.get("format") == "csv":
        # cells like "=cmd|..." are neutralised: a clerk opens this in Excel (CSV injection)
        response = Response("\ufeff" + safe_csv(frame, index=False), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        # an export is recorded (who took which table with which filters, from where)
        auth.services().audit.record(
            auth.caller(), "export", f"stats:{name}", {"format": "csv", "rows": len(frame), **request.args}
        )
        return no_store(response)
    return no_store(jsonify({"rows": table_rows(frame)}))


@bp.get("/stats/counts")
def stat_counts():
    """Counts by grid × category × state × month (``by=`` picks the columns)."""
    by = (request.args.get("by") or "grid_code,category_code,state,month").split(",")
    return _table(auth.services().cases.stat_counts(_filters(), by), "complaint-counts")


@bp.get("/stats/departments")
def stat_departments():
    """On-time resolution rate per department."""
    return _table(auth.services().cases.stat_departments(_filters()), "department-performance")


@bp.get("/stats/satisfaction")
def stat_satisfaction():
    return _table(auth.services().cases.stat_satisfaction(_filters(), request.args.get("by")), "satisfaction")


@bp.get("/stats/overdue")
def stat_overdue():
    return _table(auth.services().cases.stat_overdue(_filters()), "overdue")


@bp.get("/geocode")
def geocode():
    """A Chinese address → point and grid, or candidates when unsure."""
    text = request.args.get("q", "").strip()
    if not text:
        raise Problem("q= is the address to find", code="bad_parameter")
    geocoder = auth.services().cases.geocoder
    if geocoder is None:
        raise Problem("no geocoder is configured", code="no_geocoder", status=503)
    return jsonify(geocoder.geocode(text).to_dict())


@bp.get("/reverse/<coordsys>/<coords>")
def reverse(coordsys: str, coords: str):
    """The standard addresses nearest a point."""
    lon, lat = parse_pair(coords)
    wlon, wlat = to_wgs84(lon, lat, coordsys)
    geocoder = auth.services().cases.geocoder
    local = getattr(geocoder, "local", geocoder)
    if local is None or not hasattr(local, "reverse"):
        raise Problem("no gazetteer is configured", code="no_geocoder", status=503)
    k = min(int_arg("k", 5), 50)
    hits = local.reverse(float(wlon), float(wlat), k=k)
    return jsonify(
        {
            "addresses": [
                {
                    "id": h.id,
                    "text": h.text,
                    "distance_m": round(h.distance_m, 1),
                    "lon": h.lon,
                    "lat": h.lat,
                    "grid_code": h.grid_code,
                }
                for h in hits
            ]
        }
    )


@bp.get("/catalog")
def catalog():
    return jsonify(catalog_json(auth.services().cases.catalog))
