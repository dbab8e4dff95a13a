"""研判 / The planner's page: where complaints cluster, where they are rising, per grid and per month.

``/planner`` (planners, dispatchers, administrators) shows the complaints matching a date
range, categories, states and channels as switchable layers (``webmap.maps.planner_map``)
over the analysis of ``services.planner``. The per-grid table downloads as CSV (UTF-8 with
BOM, for Excel) and GeoJSON, the map as one HTML file. Rendered maps are cached beside the
analyses, under the analysis's key plus tiles, language and layer.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

import folium
import numpy as np
from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for

from complaints import intake
from complaints import workflow
from geo.timeutil import BEIJING
from services.caching import Memo
from services.planner import PlannerView
from services.planner import grid_table
from services.planner import table_csv
from services.planner import table_geojson
from webmap import auth
from webmap import maps
from webmap.auth import services
from webmap.i18n import has_text
from webmap.i18n import lang
from webmap.i18n import t
from webmap.maps import hotspots
from webmap.maps.planner_map import DEFAULT_LAYER
from webmap.maps.planner_map import LAYERS
from webmap.maps.planner_map import build_map
from webmap.users import role_required

bp = Blueprint("planner", __name__)
PAGE_CACHE = 16


@bp.record_once
def _init(state) -> None:
    state.app.extensions["redgrid.planner_pages"] = Memo(PAGE_CACHE)


def _pages() -> Memo:
    return current_app.extensions["redgrid.planner_pages"]


def _context() -> PlannerView:
    return services().planner.view(request.args)


def category_names() -> dict[str, str]:
    return services().planner.category_names(lang())


def _layer() -> str:
    chosen = request.args.get("layer", DEFAULT_LAYER)
    return chosen if chosen in LAYERS else DEFAULT_LAYER


def _map_for(
    ctx: PlannerView, layer: str, *, title: str | None = None, note: str | None = None
) -> folium.Map:
    return build_map(
        ctx.analysis,
        ctx.grid_set,
        tr=t,
        category_names=category_names(),
        tiles=current_app.config["MAP_TILES"],
        tianditu_key=current_app.config.get("TIANDITU_KEY"),
        layer=layer,
        title=title,
        note=note,
    )


# --------------------------------------------------------------------------- views


@bp.get("/planner")
@role_required("planner", "dispatcher")
def page():
    """研判 / The planner's map page."""
    ctx = _context()
    layer = _layer()
    tiles = current_app.config["MAP_TILES"]

    def render() -> tuple[maps.Embedded, str]:
        m = _map_for(ctx, layer)
        return maps.embed(m), m.planner_grid_data.get_name()

    embedded, grid_var = _pages().get((*ctx.key, tiles, lang(), layer), render)
    catalog = services().cases.catalog
    a = ctx.analysis
    names = category_names()
    top_grids = _top_grids(ctx)
    spots = a.gi["spot"].to_numpy(dtype=object)
    query = ctx.filters.query()
    return render_template(
        "planner.html",
        embed=embedded,
        grid_var=grid_var,
        analysis=a,
        filters=ctx.filters,
        problems=ctx.problems,
        layer=layer,
        layers=LAYERS,
        top_grids=top_grids,
        categories=catalog.categories,
        category_names=names,
        states=[s.value for s in workflow.State],
        channels=list(intake.CHANNELS),
        hot=int((spots == "hot").sum()),
        cold=int((spots == "cold").sum()),
        hot_nearby=int((spots == "hot_nearby").sum()),
        clusters=int(a.gi.attrs.get("n_clusters", 0)),
        gi_flag_note=t("pl_gi_flag_note", min_own=a.gi.attrs.get("min_own", 1)),
        version=ctx.grid_set.version,
        export_csv=url_for("planner.export", fmt="csv") + _qs(query),
        export_geojson=url_for("planner.export", fmt="geojson") + _qs(query),
        export_html=url_for("planner.export", fmt="html") + _qs([*query, ("layer", layer)]),
        static_root=request.url_root.rstrip("/") + current_app.static_url_path + "/",
    )


TOP_GRIDS = 10


def _top_grids(ctx: PlannerView) -> list[dict]:
    """The side table: the busiest grids and those with the highest Gi* z, each once (sortable on the page).

    Every row carries the grid's own count beside its Gi* verdict, worded as presented
    (热点 or 邻近热点, ``geo.hotspots``), and the hot cluster it belongs to.
    """
    a = ctx.analysis
    gi = a.gi
    z = gi["z"].to_numpy(dtype=float)
    by_count = [int(i) for i in np.argsort(-a.counts, kind="stable")[:TOP_GRIDS] if a.counts[i] > 0]
    ranked_z = np.where(np.isfinite(z), z, -np.inf)
    by_z = [
        int(i) for i in np.argsort(-ranked_z, kind="stable")[:TOP_GRIDS] if np.isfinite(z[i]) and z[i] > 0
    ]
    chosen = list(dict.fromkeys(by_count + by_z))
    rows = []
    for i in chosen:
        spot = str(gi["spot"].iat[i])
        rate = a.eb_rates[i]
        rows.append(
            {
                "i": i,
                "code": ctx.grid_set.index.codes[i],
                "name": ctx.grid_set.grids["name"].iat[i],
                "count": int(a.counts[i]),
                "rate": None if not np.isfinite(rate) else float(rate),
                "z": None if not np.isfinite(z[i]) else float(z[i]),
                "gi_bin": int(gi["gi_bin"].iat[i]),
                "spot": spot,
                "css": hotspots.spot_css(spot),
                "gi": hotspots.spot_label(spot, int(gi["gi_bin"].iat[i]), t),
                "cluster": int(gi["cluster"].iat[i]),
                "cluster_label": hotspots.cluster_label(gi, i, t),
            }
        )
    return rows


def _qs(pairs: list[tuple[str, str]]) -> str:
    return ("?" + urlencode(pairs)) if pairs else ""


@bp.get("/planner/export.<fmt>")
@role_required("planner", "dispatcher")
def export(fmt: str):
    """The per-grid table as CSV or GeoJSON, or the map as one HTML file."""
    if fmt not in ("csv", "geojson", "html"):
        abort(404)  # an HTML page for a browser, like every other error
    ctx = _context()
    stamp = datetime.datetime.now(BEIJING).strftime("%Y%m%d-%H%M")
    # every export is recorded: who took which table or map, with which filters, from where
    services().audit.record(
        auth.caller(), "export", f"planner:{fmt}", {"filters": dict(ctx.filters.query()), "layer": _layer()}
    )
    if fmt == "html":
        body = _standalone_html(ctx, _layer())
        return _download(body, "text/html; charset=utf-8", f"redgrid-planner-{stamp}.html")
    table = grid_table(ctx.analysis, ctx.grid_set, category_names())
    if fmt == "csv":
        # people open the CSV in Excel: its headers in the page's language (the GeoJSON, a
        # machine format, keeps the field names)
        headed = table.rename(
            columns={c: t("grid_col_" + c) for c in table.columns if has_text("grid_col_" + c)}
        )
        return _download(table_csv(headed), "text/csv; charset=utf-8", f"redgrid-grids-{stamp}.csv")
    return _download(
        table_geojson(table, ctx.grid_set, ctx.analysis, ctx.filters),
        "application/geo+json",
        f"redgrid-grids-{stamp}.geojson",
    )


def _standalone_html(ctx: PlannerView, layer: str) -> bytes:
    """The map as one HTML file; its scripts and styles load from this server's static files."""
    root = request.url_root.rstrip("/")
    static = current_app.static_url_path
    made = datetime.datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M")
    note = t("pl_export_note", when=made, n=f"{ctx.analysis.n_total:,}", host=root)
    m = _map_for(ctx, layer, title=f"{t('nav_planner')} · {t('app_name')}", note=note)
    html = m.get_root().render()
    html = html.replace(f'"{static}/', f'"{root}{static}/')
    style = (
        "<style>.planner-export-note{position:absolute;z-index:1000;left:50px;top:10px;max-width:60%;"
        "background:rgba(255,255,255,.92);padding:4px 8px;border-radius:4px;font:12px sans-serif;"
        "box-shadow:0 1px 4px rgba(0,0,0,.3)}</style>"
    )
    css = f'<link rel="stylesheet" href="{root}{static}/css/planner.css"/>'
    return html.replace("</head>", f"{css}{style}</head>", 1).encode("utf-8")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype.split(";")[0])
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
