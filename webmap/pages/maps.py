"""The map pages: the dispatcher's (``/``) and the grid overview (``/grids``)."""

from __future__ import annotations

from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from complaints import workflow
from geo.crs import COORDSYS_NAMES
from webmap import maps
from webmap.auth import caller
from webmap.auth import services
from webmap.i18n import lang
from webmap.i18n import t
from webmap.maps import gridmaps
from webmap.pages import bp
from webmap.pages import readable


@bp.get("/favicon.ico")
def favicon():
    return current_app.send_static_file("favicon.svg")


#: complaint states a dispatcher still has to care about (everything but the final ones)
OPEN_STATES = [
    s.value
    for s in workflow.State
    if s not in (workflow.State.CLOSED, workflow.State.REJECTED, workflow.State.DUPLICATE)
]
#: words the dispatcher's script shows, in the page's language
DISPATCHER_STRINGS = (
    "grid_card",
    "grid_code",
    "grid_name",
    "community",
    "kind",
    "kind_urban",
    "kind_rural",
    "version",
    "version_active",
    "population",
    "team",
    "team_none",
    "role",
    "name",
    "phone",
    "unit",
    "unit_town",
    "unit_community",
    "unit_grid",
    "phones_masked",
    "open_complaints",
    "open_complaints_none",
    "all_complaints_of_grid",
    "candidates",
    "not_found_address",
    "not_found_grid",
    "matched_address",
    "point_at",
    "outside_all",
    "warn_near_boundary",
    "warn_on_boundary",
    "warn_outside",
    "warn_datum_suspect",
    "warn_far_outside",
    "warn_other",
    "error",
    "searching",
    "no_results",
    "coordsys_saved",
    "coordsys_wgs84",
    "coordsys_cgcs2000",
    "coordsys_gcj02",
    "coordsys_bd09",
    "readings",
    "reading_chosen",
    "reading_other",
    "reading_use",
    "reading_apart",
    "reading_no_grid",
    "community_card",
    "community_code",
    "community_grids",
    "candidate_pin",
)


def _map_settings() -> tuple[str, str | None]:
    return current_app.config["MAP_TILES"], current_app.config.get("TIANDITU_KEY")


@bp.get("/")
def dispatcher():
    """调度 / Dispatcher page: address, coordinates, grid code or a map click → grid, team, complaints."""
    svc = services().grids
    tiles, key = _map_settings()
    version_id = svc.active_or_none()
    embedded = None
    if version_id is not None:
        embedded = gridmaps.cache_for(current_app).get(
            ("dispatcher", version_id, tiles),
            lambda: maps.embed(
                gridmaps.dispatcher_map(
                    gridmaps.version_shapes(svc, version_id), tiles=tiles, tianditu_key=key
                )
            ),
        )
    strings = {k: t(k) for k in DISPATCHER_STRINGS}
    strings.update(
        {
            f"role_{r}": t(f"role_{r}")
            for r in (
                "leader",
                "deputy_leader",
                "instructor",
                "group_leader",
                "grid_worker",
                "part_time_worker",
            )
        }
    )
    strings.update({f"state_{s.value}": t(f"state_{s.value}") for s in workflow.State})
    # a failed question on a Chinese page is named by its status (the service's message is English)
    strings.update({f"coordsys_{c}": t(f"coordsys_{c}") for c in COORDSYS_NAMES})
    strings["warn_datum_detail"] = t("warn_datum_detail")
    strings.update({k: t(k) for k in ("error_400", "error_404", "error_422", "error_429", "error_503")})
    strings["error_other"] = t("error_other")
    catalog = services().cases.catalog
    can_file = current_user.is_authenticated and current_user.role in ("dispatcher", "admin")
    who = caller()
    signed_in = who.kind == "user"
    settings = {
        # the datum pasted coordinates are read in: kept on the server for a signed-in person,
        # in the browser (localStorage) for anyone else; GCJ-02 until chosen otherwise
        "coordsys": services().accounts.preferences(who)["coordsys"],
        "keepsCoordsys": "server" if signed_in else "browser",
        "csrf": generate_csrf() if signed_in else None,
        "mapName": embedded.map_name if embedded else None,
        "overlay": maps.overlay_coordsys(tiles),
        "lang": lang(),
        "canFile": can_file,
        "openStates": OPEN_STATES,
        "strings": strings,
        "categories": {c.code: readable.category_name(catalog, c.code) for c in catalog.categories.values()},
        "urls": {
            "api": url_for("api.health").rsplit("/", 1)[0],
            "complaint": url_for("pages.complaint", complaint_id=0).rsplit("/", 1)[0],
            "complaints": url_for("pages.complaint_list"),
            "newComplaint": url_for("pages.new_complaint"),
            "preference": url_for("pages.set_preference", name="coordsys"),
        },
    }
    return render_template(
        "dispatcher.html", em=embedded, settings=settings, coordsys_names=COORDSYS_NAMES, signed_in=signed_in
    )


@bp.post("/preferences/<name>")
def set_preference(name: str):
    """Keep a setting of the signed-in person (the dispatcher's datum); the form's ``value``."""
    services().accounts.set_preference(caller(), name, request.form.get("value", ""))
    return jsonify({name: request.form.get("value", "")})


@bp.get("/grids")
def grids():
    """网格总览 / Every grid of a version, coloured by community; ``?version=N`` picks the version."""
    svc = services().grids
    tiles, key = _map_settings()
    versions = svc.versions()
    asked = request.args.get("version", "")
    version_id = int(asked) if asked.isdigit() else svc.active_or_none()
    if version_id is not None and all(v.id != version_id for v in versions):
        abort(404)
    embedded, rows = None, []
    if version_id is not None:
        names = {
            k: t(k)
            for k in (
                "layer_grids",
                "layer_communities",
                "layer_town",
                "tip_name",
                "tip_code",
                "tip_community",
                "tip_kind",
                "kind_urban",
                "kind_rural",
            )
        }

        def build():
            shapes = gridmaps.version_shapes(svc, version_id)
            colours = gridmaps.community_colours(shapes.community_codes, shapes.community_geoms)
            m = gridmaps.grids_map(shapes, colours, names, tiles=tiles, tianditu_key=key)
            return maps.embed(m), gridmaps.legend(shapes, colours)

        embedded, rows = gridmaps.cache_for(current_app).get(("grids", version_id, tiles, lang()), build)
    shown = next((v for v in versions if v.id == version_id), None)
    return render_template("grids.html", em=embedded, legend=rows, versions=versions, shown=shown)
