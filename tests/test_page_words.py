"""Every page speaks its reader's language (issue 9, item 10): no Latin word on a Chinese page
outside an allow list, no Chinese on an English page outside the data.

The pages are found in the app's ``url_map``, so a new page is covered as soon as it exists:
a page route this module does not know how to fill in fails ``test_every_page_route_is_known``.
Machine routes (the API, Open311, OGC API, static files, photos, downloads) are skipped by
prefix or endpoint; the downloads people take from pages are checked for their headers instead.

Each page is rendered through the test client as every role that may see it, in zh-CN and
with ``?lang=en``. What a person reads is taken from the HTML the way a browser shows it:
text outside ``script``/``style``, plus ``title``, ``placeholder``, ``aria-label``, ``alt``
and the ``value`` of buttons. Data (people's, places' and grids' names, a complaint's text,
address and notes, ticket numbers) may be in either script on either page; categories and
departments are not data here: they have English names and the English page must use them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from tests.apps import create_user
from tests.apps import inside_point

pytest_plugins = ["tests.apps"]

PASSWORD = "correct horse battery"
ROLES = ("anonymous", "dispatcher", "department", "planner", "admin")
STAFF = ("dispatcher", "department", "planner", "admin")

#: routes that are not pages people read (machine formats, files, downloads, actions)
SKIPPED_PREFIXES = ("/api/", "/open311/", "/ogcapi", "/static/")
SKIPPED_ENDPOINTS = {
    "pages.favicon": "an icon",
    "pages.complaint_photo": "a photo file",
    "users.logout": "an action (POST), answered by a redirect",
    "pages.dashboard_xlsx": "a download: its headers are checked by test_exports_speak_the_page_language",
    "planner.export": "a download: its headers are checked by test_exports_speak_the_page_language",
    "pages.print_sheet": "a PDF (its words are the printing tests' to check)",
    "pages.field_session": "JSON for the field page's script (a fresh CSRF token)",
    "pages.field_worker": "the field page's service worker (a script)",
    "pages.deliberation_photo": "a photo file",
}

#: Latin words a Chinese page may show: brand and product names, file formats, units, the
#: letters of formulas and the name of the other language on the language switch (coordinate
#: systems are codes: upper case with digits, WGS84, GCJ-02, see ``_CODE``)
ALLOWED_LATIN = {
    "amap",
    "shapefile",
    "geopackage",
    "openstreetmap",
    "osm",
    "leaflet",
    "tianditu",
    "excel",
    "csv",
    "geojson",
    "html",
    "kml",
    "english",
    "gps",
    # the names of the statistical methods the planner names (people and places)
    "fisher",
    "jenks",
    "getis",
    "ord",
    "queen",
    "fdr",
    "mann",
    "kendall",
    "moran",
    "km",
    "m",
    "z",
    "gi",
}
#: what an English page may show in Chinese besides the data: the other language's name, and
#: the example of an address in the search box (what people type is Chinese)
ALLOWED_CJK = ("中文", "奇槎大道1号")

_LATIN_WORD = re.compile(r"[A-Za-z]+")
#: codes: upper-case letters with digits (WGS84, GCJ-02, H3, CGCS2000)
_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Z][A-Z0-9]*-?\d[A-Z0-9-]*(?![A-Za-z0-9])")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]")
_URL = re.compile(r"https?://\S+")
_VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")


def visible_texts(page_html: str) -> list[str]:
    """The pieces of text a person reads on the page (each a text node or an attribute)."""
    soup = BeautifulSoup(page_html, "lxml")
    for hidden in soup(["script", "style", "template", "noscript"]):
        hidden.decompose()
    # raw recorded values marked as not to be translated (the audit log's parameters)
    for raw in soup.select('[translate="no"]'):
        raw.decompose()
    texts = [s.strip() for s in soup.find_all(string=True) if s.strip()]
    for tag in soup.find_all(True):
        texts += [str(tag[a]).strip() for a in _VISIBLE_ATTRIBUTES if tag.get(a)]
        if tag.name == "button" or (tag.name == "input" and tag.get("type") in ("submit", "button", "reset")):
            if tag.get("value") and tag.name == "input":
                texts.append(str(tag["value"]))
    return [t for t in texts if t]


def _without_data(text: str, data: list[str]) -> str:
    for item in data:  # longest first
        if item in text:
            if item.isascii():  # a Latin name or number: only as a whole word, never inside one
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(item)}(?![A-Za-z0-9])", " ", text)
            else:
                text = text.replace(item, " ")
    return text


def latin_leaks(texts: list[str], data: list[str], data_set: set[str]) -> list[str]:
    """The pieces of a Chinese page that carry a Latin word outside the data and the allow list."""
    leaks = []
    for text in texts:
        if text in data_set or not _LATIN_WORD.search(text):
            continue
        rest = _CODE.sub(" ", _without_data(_URL.sub(" ", text), data))
        if any(w.lower() not in ALLOWED_LATIN for w in _LATIN_WORD.findall(rest)):
            leaks.append(text)
    return leaks


def cjk_leaks(texts: list[str], data: list[str], data_set: set[str]) -> list[str]:
    """The pieces of an English page that carry Chinese outside the data."""
    leaks = []
    for text in texts:
        if text in data_set or text in ALLOWED_CJK or not _CJK.search(text):
            continue
        if _CJK.search(_without_data(_without_data(text, data), list(ALLOWED_CJK))):
            leaks.append(text)
    return leaks


#: the notes typed into the action forms below (what people write is data)
TYPED_NOTES = ("请尽快处理", "已清理", "满意")


# --- the app, its people and its cases ------------------------------------------------------------


@dataclass
class Site:
    app: Flask
    clients: dict[str, FlaskClient]
    cases: dict[str, int]  # a case in each state worth seeing, by name
    data: list[str] = field(default_factory=list)
    data_set: set[str] = field(default_factory=set)


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _logged_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def _act(client: FlaskClient, case_id: int, action: str, **fields) -> None:
    page = client.get(f"/complaints/{case_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    response = client.post(
        f"/complaints/{case_id}",
        data={"csrf_token": _token(page), "version": version, "action": action, **fields},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:800]


def _data_strings(app: Flask) -> list[str]:
    """Everything on the pages that is data: names of people, places and grids, what residents
    wrote, ticket numbers and version labels (not categories or departments)."""
    # notes are not read from the database: the system writes some (intake's "hotline: form"),
    # and those must be words; the notes people typed in this module are data
    found = _sql_strings(app.extensions["redgrid"].store) | set(TYPED_NOTES)
    return sorted((s for s in found if s and s.strip()), key=len, reverse=True)


def _sql_strings(store) -> set[str]:
    """The free-text and name columns of the database (read directly: the truth, not the pages)."""
    from sqlalchemy import inspect
    from sqlalchemy import text

    engine = store.engine
    wanted = {
        "name",
        "short_name",
        "display_name",
        "text",
        "address",
        "reporter_name",
        "external_id",
        "label",
        "unit",
        "unit_name",
        "filename",
        # 多元议事 records: where, what, the outcome, the minutes, who came from where
        "place",
        "matter",
        "outcome",
        "minutes",
        "affiliation",
        # what an administrator manages: login names, where a grid version came from, and who made it
        "username",
        "source",
        "created_by",
    }
    out: set[str] = set()
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            columns = [c["name"] for c in inspect(engine).get_columns(table) if c["name"] in wanted]
            for column in columns:
                for (value,) in conn.execute(text(f'SELECT DISTINCT "{column}" FROM "{table}"')):
                    if isinstance(value, str):
                        out.add(value)
        # what people wrote on a case's steps (the demo's staff notes); the system's own notes are
        # not data and must be words of the page's language
        for (value,) in conn.execute(
            text("SELECT DISTINCT note FROM complaint_events WHERE actor <> 'system'")
        ):
            if isinstance(value, str):
                out.add(value)
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_template) -> Site:
    import contextlib
    import sqlite3

    from tests.apps import DEMO_GRIDS
    from tests.apps import Db
    from tests.apps import read_grids

    db = Db(tmp_path_factory.mktemp("words") / "redgrid.db", demo_template.cache_dir)
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db.path)) as dst,
    ):
        src.backup(dst)
    app = db.app(PHOTO_DIR=str(tmp_path_factory.mktemp("photos")))
    store = app.extensions["redgrid"].store
    create_user(store, "wang", "王调度", PASSWORD, "dispatcher")
    create_user(store, "zhou", "周科员", PASSWORD, "department", "urban_management")
    create_user(store, "li", "李研判", PASSWORD, "planner")
    create_user(store, "chen", "陈管理", PASSWORD, "admin")
    clients = {"anonymous": app.test_client()}
    clients.update(
        {role: _logged_in(app, u) for role, u in zip(STAFF, ("wang", "zhou", "li", "chen"), strict=True)}
    )
    wang = clients["dispatcher"]

    grids = read_grids(DEMO_GRIDS)
    lon, lat = inside_point(grids, grids["code"].iloc[10])
    cases: dict[str, int] = {}

    def file(text: str) -> int:
        page = wang.get("/complaints/new").get_data(as_text=True)
        response = wang.post(
            "/complaints/new",
            data={
                "csrf_token": _token(page),
                "category": "illegal_parking",
                "channel": "hotline",
                "reported_at": "2026-12-01T09:30",
                "text": text,
                "lon": f"{lon:.6f}",
                "lat": f"{lat:.6f}",
                "coordsys": "wgs84",
                "reporter_name": "张三",
                "reporter_phone": "13800138000",
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:800]
        return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    cases["collected"] = file("门口长期有车乱停")
    cases["dispatched"] = file("小区门口违停堵路")
    _act(wang, cases["dispatched"], "dispatch", department="urban_management", note="请尽快处理")
    cases["closed"] = file("路口违停已处理")
    _act(wang, cases["closed"], "dispatch", department="urban_management")
    _act(wang, cases["closed"], "resolve", note="已清理")
    _act(wang, cases["closed"], "start_follow_up")
    _act(wang, cases["closed"], "follow_up", satisfied="yes", note="满意")
    services = app.extensions["redgrid"]
    centre = services.accounts.user_by_id(services.accounts.user_id("wang"))
    meeting = services.deliberations.record(
        centre,
        {
            "held_at": "2026-12-02T19:00",
            "place": "沥苑社区议事厅",
            "matter": "门口违停",
            "outcome": "划定临时停车位",
            "minutes": "居民代表发言",
            "complaint_id": str(cases["collected"]),
        },
        [
            {"kind": "resident", "name": "陈大妈", "affiliation": "3栋"},
            {"kind": "grid_team", "name": "周网格员"},
        ],
    )
    cases["deliberation"] = meeting.id
    site = Site(app, clients, cases)
    site.data = _data_strings(app)
    site.data_set = set(site.data)
    return site


# --- which pages, as whom, with what ------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    role: str
    path: str
    status: int = 200
    form: dict | None = None  # posted (with the page's CSRF token) instead of fetched
    html_accept: bool = True


def _everyone(path: str, roles=ROLES) -> Callable[[Site], list[Visit]]:
    return lambda s: [Visit(r, path) for r in roles]


def _case_pages(s: Site) -> list[Visit]:
    visits = [Visit(r, f"/complaints/{cid}") for cid in s.cases.values() for r in ROLES]
    # a refused action: its message shown on the page in the page's language
    visits.append(
        Visit(
            "dispatcher", f"/complaints/{s.cases['dispatched']}", 422, {"action": "follow_up", "version": "?"}
        )
    )
    return visits


def _progress(s: Site) -> list[Visit]:
    return [
        Visit("anonymous", "/progress"),
        Visit("anonymous", "/progress", 200, {"ticket": str(s.cases["dispatched"]), "phone_last4": "8000"}),
        Visit("anonymous", "/progress", 404, {"ticket": "999999", "phone_last4": "0000"}),
    ]


def _new_complaint(s: Site) -> list[Visit]:
    return [Visit(r, "/complaints/new") for r in ("dispatcher", "admin")] + [
        Visit("dispatcher", "/complaints/new", 422, {"category": "", "text": "", "lon": "abc", "lat": "91"})
    ]


FILLERS: dict[str, Callable[[Site], list[Visit]]] = {
    "pages.dispatcher": _everyone("/"),
    "pages.grids": _everyone("/grids"),
    "pages.complaint_list": lambda s: (
        [Visit(r, "/complaints") for r in ROLES] + [Visit("dispatcher", "/complaints?state=closed")]
    ),
    "pages.complaint": _case_pages,
    "pages.new_complaint": _new_complaint,
    "pages.dashboard": _everyone("/dashboard", ("dispatcher", "planner", "admin")),
    "planner.page": _everyone("/planner", ("dispatcher", "planner", "admin")),
    "pages.audit_log": _everyone("/admin/audit", ("admin",)),
    "pages.progress": _progress,
    "users.login": lambda s: [Visit("anonymous", "/login")],
    "pages.field": _everyone("/field/", ("dispatcher", "admin")),
    "pages.undelivered": _everyone("/notifications/undelivered", ("dispatcher", "admin")),
    "pages.queue_page": _everyone("/queue", ("dispatcher", "department", "admin")),
    "pages.queue_one": lambda s: [Visit("dispatcher", "/queue/new"), Visit("department", "/queue/open")],
    "pages.deliberation_list": _everyone("/deliberations", STAFF),
    "pages.deliberation_new": _everyone("/deliberations/new", ("dispatcher", "admin")),
    "pages.deliberation_page": lambda s: [
        Visit(r, f"/deliberations/{s.cases['deliberation']}") for r in STAFF
    ],
    "pages.admin_users": _everyone("/admin/users", ("admin",)),
    "pages.admin_catalog": _everyone("/admin/catalog", ("admin",)),
    "pages.admin_rosters": _everyone("/admin/rosters", ("admin",)),
    "pages.admin_grids": _everyone("/admin/grids", ("admin",)),
    "pages.admin_grids_compare": lambda s: [Visit("admin", "/admin/grids/compare?a=1&b=1")],
}

#: error pages a browser may meet
ERRORS = [
    Visit("anonymous", "/no-such-page", 404),
    Visit("dispatcher", "/complaints/99999999", 404),
    Visit("department", "/admin/audit", 403),
    Visit("planner", "/complaints/new", 403),
    Visit("anonymous", "/grids?version=99999", 404),
    Visit("anonymous", "/progress", 400, {"ticket": "1", "phone_last4": "1234", "csrf_token": "forged"}),
    Visit("planner", "/planner/export.doc", 404),
    # an API address opened in a browser: a page, not problem details
    Visit("anonymous", "/api/v1/complaints/99999999", 404),
    Visit("anonymous", "/api/v1/grids/440605125999999", 404),
]


def _page_rules(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(SKIPPED_PREFIXES) or rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        if "GET" in (rule.methods or ()):
            yield rule


def test_every_page_route_is_known(site):
    unknown = sorted(f"{r.rule} ({r.endpoint})" for r in _page_rules(site.app) if r.endpoint not in FILLERS)
    assert not unknown, f"page routes this test cannot fill in (add them to FILLERS): {unknown}"


def _render(site: Site, visit: Visit, language: str) -> str:
    client = site.clients[visit.role]
    sep = "&" if "?" in visit.path else "?"
    url = visit.path + (f"{sep}lang={language}" if language == "en" else f"{sep}lang=zh")
    headers = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"} if visit.html_accept else {}
    if visit.form is None:
        response = client.get(url, headers=headers)
    else:
        form = dict(visit.form)
        if "csrf_token" not in form:
            form["csrf_token"] = _token(client.get(url, headers=headers).get_data(as_text=True))
        response = client.post(url, data=form, headers=headers)
    body = response.get_data(as_text=True)
    assert response.status_code == visit.status, (
        f"{visit} in {language}: {response.status_code}\n{body[:600]}"
    )
    assert response.mimetype == "text/html", f"{visit} in {language}: answered {response.mimetype}"
    return body


def _all_visits(site: Site) -> list[Visit]:
    visits = [
        v for rule in _page_rules(site.app) if rule.endpoint in FILLERS for v in FILLERS[rule.endpoint](site)
    ]
    return list({repr(v): v for v in visits}.values()) + ERRORS


def _check(site: Site, language: str) -> dict[str, list[str]]:
    finder = latin_leaks if language == "zh" else cjk_leaks
    found: dict[str, list[str]] = {}
    for visit in _all_visits(site):
        leaks = finder(visible_texts(_render(site, visit, language)), site.data, site.data_set)
        if leaks:
            found[f"{visit.role} {'POST' if visit.form else 'GET'} {visit.path}"] = sorted(set(leaks))[:12]
    return found


def test_chinese_pages_show_no_latin_words_outside_the_allow_list(site):
    leaks = _check(site, "zh")
    assert not leaks, "Latin words on Chinese pages:\n" + "\n".join(f"{k}: {v}" for k, v in leaks.items())


def test_english_pages_show_no_chinese_outside_the_data(site):
    leaks = _check(site, "en")
    assert not leaks, "Chinese on English pages:\n" + "\n".join(f"{k}: {v}" for k, v in leaks.items())


def test_the_checks_find_what_they_look_for():
    """The detectors themselves: they fail on a leak and pass on data and allowed words."""
    page = (
        '<html><head><title>调度</title><script>var x = "secret";</script></head><body>'
        '<p>王调度 (dispatcher)</p><input placeholder="Search"><img alt="张三"><p>WGS84 坐标</p>'
        "<p>GCJ-02 · Amap</p><p>位置为GCJ-02）</p><td>form / form-78b8c</td></body></html>"
    )
    texts = visible_texts(page)
    assert "secret" not in " ".join(texts)
    assert sorted(latin_leaks(texts, ["王调度"], {"王调度"})) == [
        "Search",
        "form / form-78b8c",
        "王调度 (dispatcher)",
    ]
    assert cjk_leaks(["Grid 大沥网格", "王调度", "Case 12"], ["大沥网格", "王调度"], {"王调度"}) == []
    assert cjk_leaks(["Category 噪音扰民"], [], set()) == ["Category 噪音扰民"]


# --- downloads from pages -------------------------------------------------------------------------


def test_exports_speak_the_page_language(site):
    """The planner's CSV and the dashboard's workbook: Chinese headers from a Chinese page,
    English ones from an English page (the GeoJSON keeps its field names: a machine format)."""
    from openpyxl import load_workbook

    client = site.clients["planner"]
    for language, check in (("zh", lambda h: _CJK.search(h)), ("en", lambda h: not _CJK.search(h))):
        client.get(f"/planner?lang={language}")
        body = client.get("/planner/export.csv").get_data(as_text=True).lstrip("\ufeff")
        header = next(csv.reader(io.StringIO(body)))
        named = [h for h in header if not re.fullmatch(r"\d{4}-\d{2}", h)]  # months are dates
        assert named and all(check(h) for h in named), f"{language}: {named}"
        book = load_workbook(io.BytesIO(client.get(f"/dashboard.xlsx?lang={language}").data))
        for sheet in book.worksheets:
            words = [c.value for c in next(sheet.iter_rows(max_row=1)) if isinstance(c.value, str)]
            assert check(sheet.title) and all(check(w) for w in words), f"{language}: {sheet.title} {words}"
