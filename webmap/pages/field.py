"""巡查上报 / The grid team's phone page: report what a patrol finds, with or without a signal.

A grid worker walks the grid with a phone; the signal comes and goes. So the report is
written first into the phone's own storage (IndexedDB, ``static/js/field.js``) under an id
made on the phone, and sent when there is a connection. The id becomes the case's
``external_id``, and filing the same source and external id again returns the first case
(``ComplaintService.file_as``), so a report sent twice — the answer lost on the way back,
the page reloaded mid-send — is one case. Photos follow the case; the service keeps one copy
of the same image per case, so they are idempotent too.

The page itself and its script are cached by a service worker (``/field/sw.js``, scope
``/field/``) so it opens without a connection. The service worker never caches API answers.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import current_app
from flask import jsonify
from flask import render_template
from flask import url_for
from flask_wtf.csrf import generate_csrf

from webmap import auth
from webmap.i18n import lang
from webmap.i18n import t
from webmap.pages import bp
from webmap.pages.queues import listed
from webmap.users import role_required

#: the files the page needs to open offline (the service worker caches them on install)
SHELL = ("css/redgrid.css", "css/field.css", "js/field.js", "favicon.svg")
#: page text the script shows (status lines, errors)
FIELD_STRINGS = (
    "field_online",
    "field_offline",
    "field_pending",
    "field_sent",
    "field_sent_case",
    "field_failed",
    "field_locating",
    "field_located",
    "field_locate_failed",
    "field_in_grid",
    "field_outside",
    "field_need_location",
    "field_saved",
    "field_login_again",
    "field_discard",
)


@bp.get("/field/")
@role_required("dispatcher", "grid")
def field():
    """巡查上报 (patrol report) for the grid team, made for a phone."""
    services = auth.services()
    categories = sorted(services.cases.catalog.categories.values(), key=lambda c: c.code)
    home = services.queues.field_home(auth.caller())
    response = current_app.make_response(
        render_template(
            "field.html",
            my_grids=home.grids,
            tasks=listed(home.tasks) if home.tasks is not None else None,
            categories=[(c.code, c.name_zh if lang() == "zh" else c.name_en) for c in categories],
            strings={key: t(key) for key in FIELD_STRINGS},
        )
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/field/session")
@role_required("dispatcher", "grid")
def field_session():
    """Still signed in, and the CSRF token to send with: asked before each round of sending,
    since a page kept open offline may outlive the session it was loaded in."""
    response = jsonify({"csrf": generate_csrf()})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/field/sw.js")
def field_worker():
    """The service worker that keeps the page usable offline (scope ``/field/``)."""
    shell = [url_for("pages.field"), *(url_for("static", filename=name) for name in SHELL)]
    body = render_template("field_sw.js", shell=shell, version=_shell_version(current_app.static_folder))
    response = current_app.make_response(body)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    return response


@functools.cache
def _shell_version(static_folder: str | None) -> str:
    """A digest of the cached files: a new release gets a new cache, and the old one is dropped."""
    digest = hashlib.sha256()
    for name in SHELL:
        digest.update((Path(static_folder or ".") / name).read_bytes())
    return digest.hexdigest()[:12]
