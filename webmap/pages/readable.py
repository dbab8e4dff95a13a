"""What people read instead of what the system stores: names for account ids, grid and
community names for codes, catalogue names in the page's language, a 受理编号 for a ticket,
and refusals in the page's language (issue 9, item 10).

The records keep codes and account ids (they are stable and the API and exports carry them);
only the pages turn them into words. Every function here is for rendering, never raises on
an unknown code (it shows the code rather than break a page) and looks up through services.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import g

from complaints.catalog import Catalog
from webmap import auth
from webmap.i18n import has_text
from webmap.i18n import lang
from webmap.i18n import t

#: intake sources whose ticket number is the system's own (the case number is what residents get)
_OWN_SOURCES = ("form", "api")


def person(actor: str | None) -> str:
    """Who took a step, as people know them: a user's display name, else what kind of actor."""
    if not actor:
        return ""
    kind, _, name = actor.partition(":")
    if kind == "user" and name:
        return _display_name(name) or name
    if kind == "key":
        return t("actor_key", name=name)
    return t("actor_" + actor) if has_text("actor_" + actor) else t("actor_system")


def _display_name(username: str) -> str | None:
    if "display_names" not in g:  # one read per request, however many steps a history has
        g.display_names = auth.services().accounts.display_names()
    return g.display_names.get(username)


def role_name(role: str | None) -> str:
    return t("user_role_" + role) if role and has_text("user_role_" + role) else (role or "")


def category_name(catalog: Catalog, code: str | None) -> str:
    category = catalog.categories.get(code or "")
    if category is None:
        return code or ""
    return category.name_zh if lang() == "zh" else category.name_en


def department_name(catalog: Catalog, code: str | None) -> str:
    department = catalog.departments.get(code or "")
    if department is None:
        return code or ""
    return department.name_zh if lang() == "zh" else department.name_en


def received_via(channel: str | None) -> str:
    """How a case came in, for the first step of its history (intake notes channel and source)."""
    if channel and has_text("channel_" + channel):
        return t("received_via", channel=t("channel_" + channel))
    return t("received_via_unknown")


def ticket(body: dict[str, Any]) -> str:
    """The 受理编号 people quote: the source system's ticket number (12345 hotline, imports),
    or the case number for a case filed here, whose stored id is only a de-duplication key."""
    if not body.get("external_id") or body.get("source") in _OWN_SOURCES:
        return str(body["id"])
    return str(body["external_id"])


def place_names(version_id: int | None) -> dict[str, tuple[str, str]]:
    """grid code → (grid name, community name) in one version (codes where a name is missing)."""
    if version_id is None:
        return {}
    return _place_names(auth.services().grids, version_id)


@functools.lru_cache(maxsize=8)
def _place_names(grids: Any, version_id: int) -> dict[str, tuple[str, str]]:
    grid_set = grids.grid_set(version_id)
    communities = grid_set.communities
    out = {}
    for code, name, community in grid_set.grids[["code", "name", "community_code"]].itertuples(index=False):
        shown = (communities.get(str(community)) or {}).get("name") or str(community or "")
        out[str(code)] = (str(name or code), str(shown))
    return out


def grid_text(grid: dict[str, Any]) -> str:
    """A case's grid as people read it: 网格名（社区名）."""
    code = grid.get("code")
    if not code:
        return ""
    name, community = place_names(grid.get("version")).get(code, (code, grid.get("community_code") or ""))
    if not community:
        return name
    return f"{name}（{community}）" if lang() == "zh" else f"{name} ({community})"


def refusal(exc: Exception) -> str:
    """A domain or workflow refusal in the page's language: its code's catalogue text, else the
    status's general one (the English message stays in the API's answer)."""
    code = getattr(exc, "code", "") or ""
    if code and has_text("refused_" + code):
        return t("refused_" + code)
    return t("refused_other")


def field_error(field: str) -> str:
    """What a form field needs, in the page's language (intake's messages are English)."""
    return t("form_error_" + field) if has_text("form_error_" + field) else t("form_error_other")
