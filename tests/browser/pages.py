"""Page objects: RedGrid's pages as a user sees them, for the browser tests and the docs screenshots.

Each class wraps a Playwright ``Page`` and offers what a user does there (search an address,
click the map, log in, file a complaint, switch a planner layer, ...) and what a user reads
(the grid card, the team, the totals). Elements are found the way a user finds them: by ARIA
role and accessible name, by label, placeholder, title or text, in the page's own words
(``webmap.i18n``, so ``lang="en"`` works too). CSS remains only for what has no role or name:
the map widgets (Leaflet, folium, TimeDimension) and a few data attributes that carry the
machine-readable answer (a warning's code, a legend's layer key).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect

from webmap.i18n import translate

TIMEOUT = 15_000


def exactly(text: str) -> re.Pattern:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


class AppPage:
    """A page of the app: its address, its words and the header every page shares."""

    path = "/"

    def __init__(self, page: Page, base: str | None = None, lang: str = "zh"):
        self.page = page
        self.base = base or page.base
        self.lang = lang

    # --- words and addresses ---------------------------------------------------------------------

    def t(self, key: str, **values) -> str:
        """The page's text for ``key`` in this page object's language."""
        return translate(key, self.lang, **values)

    def url(self, query: str | dict = "") -> str:
        if isinstance(query, dict):
            query = "?" + urlencode(query) if query else ""
        return f"{self.base}{self.path}{query}"

    def goto(self, query: str | dict = ""):
        return self.page.goto(self.url(query))

    def settle(self) -> None:
        self.page.wait_for_load_state("networkidle")

    # --- the header ----------------------------------------------------------------------------------

    @property
    def nav(self) -> Locator:
        return self.page.get_by_role("navigation")

    def nav_link(self, key: str) -> Locator:
        return self.nav.get_by_role("link", name=self.t(key), exact=True)

    def go_to(self, key: str) -> None:
        """Follow a link of the navigation bar, e.g. ``go_to("nav_planner")``."""
        self.nav_link(key).click()

    @property
    def logout_button(self) -> Locator:
        return self.page.get_by_role("banner").get_by_role("button", name=self.t("logout"), exact=True)

    # --- reading a <dl> ----------------------------------------------------------------------------------

    @staticmethod
    def definition(scope: Locator | Page, term: str) -> Locator:
        """The value (``dd``) shown next to the label ``term`` (``dt``) of a description list."""
        return (
            scope.get_by_role("term").filter(has_text=exactly(term)).locator("xpath=following-sibling::dd[1]")
        )

    def html_lang(self) -> str | None:
        return self.page.locator("html").get_attribute("lang")


class LoginPage(AppPage):
    path = "/login"

    def open(self, next_path: str | None = None) -> LoginPage:
        self.goto({"next": next_path} if next_path else "")
        return self

    @property
    def username(self) -> Locator:
        return self.page.get_by_label(self.t("username"), exact=True)

    @property
    def password(self) -> Locator:
        return self.page.get_by_label(self.t("password"), exact=True)

    @property
    def submit(self) -> Locator:
        return self.page.get_by_role("main").get_by_role("button", name=self.t("login"), exact=True)

    @property
    def error(self) -> Locator:
        return self.page.get_by_role("alert")

    def log_in(self, username: str, password: str) -> None:
        """Fill in the form and send it (the page then goes where the login sends it)."""
        self.username.fill(username)
        self.password.fill(password)
        self.submit.click()
        self.settle()

    def login(self, username: str, password: str) -> None:
        """Open the login page and log in."""
        self.open()
        self.log_in(username, password)


class DispatcherPage(AppPage):
    """``/``: an address, "lon,lat", a grid code or a map click → the grid, its team, its complaints."""

    path = "/"

    def open(self, query: str | dict = "") -> DispatcherPage:
        self.goto(query)
        self.page.wait_for_function(
            "() => window.RedGridDispatcher && window.RedGridDispatcher.map", timeout=TIMEOUT
        )
        return self

    # --- the search form ---------------------------------------------------------------------------------

    @property
    def search_box(self) -> Locator:
        return self.page.get_by_role("searchbox", name=self.t("search_label"), exact=True)

    @property
    def search_button(self) -> Locator:
        return self.page.get_by_role("search").get_by_role("button", name=self.t("search"), exact=True)

    @property
    def coordsys(self) -> Locator:
        return self.page.get_by_role("search").get_by_label(self.t("coordsys"), exact=True)

    @property
    def status(self) -> Locator:
        return self.page.get_by_role("status")

    def search(self, text: str, coordsys: str = "wgs84") -> None:
        """Type a question, pick the coordinate system and press 查询."""
        self.coordsys.select_option(coordsys)
        self.search_box.fill(text)
        self.search_button.click()

    def query(self) -> str:
        return self.search_box.input_value()

    def chosen_coordsys(self) -> str:
        return self.coordsys.input_value()

    def wait_idle(self) -> None:
        self.page.wait_for_function("() => !document.body.dataset.busy", timeout=TIMEOUT)

    def wait_error(self) -> str:
        """Wait until the status line turns into an error; its text."""
        expect(self.status).to_have_class(re.compile(r"\berror\b"), timeout=TIMEOUT)
        return self.status.inner_text()

    # --- the answer -----------------------------------------------------------------------------------

    def _panel(self, key: str) -> Locator:
        # hidden ones too, so that "is hidden" asks about the panel and not about a missing one
        return self.page.get_by_role("region", name=self.t(key), exact=True, include_hidden=True)

    @property
    def grid_card(self) -> Locator:
        return self._panel("grid_card")

    @property
    def team(self) -> Locator:
        return self._panel("team")

    @property
    def open_complaints(self) -> Locator:
        return self._panel("open_complaints")

    @property
    def candidates(self) -> Locator:
        return self._panel("candidates")

    @property
    def warnings(self) -> Locator:
        return self.page.locator("#warnings")  # no role or name yet (see tests/browser/README.md)

    def warning(self, code: str) -> Locator:
        return self.warnings.locator(f".warning[data-code='{code}']")

    def warning_codes(self) -> list[str]:
        return self.warnings.locator(".warning").evaluate_all("ws => ws.map(w => w.dataset.code)")

    def wait_for_warning(self, code: str | None = None) -> Locator:
        warning = self.warning(code) if code else self.warnings.locator(".warning").first
        expect(warning).to_be_visible(timeout=TIMEOUT)
        return warning

    def card_value(self, key: str) -> Locator:
        """The grid card's value under the label ``t(key)``: grid_code, grid_name, community, kind, ..."""
        return self.definition(self.grid_card, self.t(key))

    def wait_located(self, code: str | None = None) -> None:
        """Wait until the grid card shows ``code`` (any grid if None) and its team and open complaints
        have arrived."""
        expect(self.grid_card).to_be_visible(timeout=TIMEOUT)
        if code is not None:
            expect(self.card_value("grid_code")).to_have_text(code, timeout=TIMEOUT)
        expect(self.team_rows().first).to_be_visible(timeout=TIMEOUT)
        expect(self.open_complaints).to_be_visible(timeout=TIMEOUT)
        self.wait_idle()

    def team_rows(self) -> Locator:
        """The team table's rows of people (not its header)."""
        return self.team.get_by_role("row").filter(has=self.page.get_by_role("cell"))

    def team_column(self, key: str) -> list[str]:
        """Every person's cell under the column header ``t(key)`` (role, name, phone, unit)."""
        headers = self.team.get_by_role("columnheader").all_inner_texts()
        column = [h.strip() for h in headers].index(self.t(key))
        return [row.get_by_role("cell").nth(column).inner_text() for row in self.team_rows().all()]

    def team_roles(self) -> list[str]:
        return self.team_column("role")

    def phones(self) -> list[str]:
        return self.team_column("phone")

    def phone_links(self) -> Locator:
        return self.team.get_by_role("link")

    def team_levels(self) -> list[int]:
        return [int(x) for x in self.team_rows().evaluate_all("rows => rows.map(r => r.dataset.level)")]

    @property
    def phones_masked_note(self) -> Locator:
        return self.page.get_by_text(self.t("phones_masked"), exact=True)

    @property
    def file_here(self) -> Locator:
        """The "file a complaint here" link (a link only once it has somewhere to go)."""
        return self.page.get_by_text(self.t("file_here"), exact=True)

    def file_complaint_here(self) -> NewComplaintPage:
        self.page.get_by_role("link", name=self.t("file_here"), exact=True).click()
        form = NewComplaintPage(self.page, self.base, self.lang)
        form.wait_loaded()
        return form

    def candidate_buttons(self) -> Locator:
        return self.candidates.get_by_role("button")

    def wait_for_candidates(self) -> Locator:
        expect(self.candidate_buttons().first).to_be_visible(timeout=TIMEOUT)
        return self.candidate_buttons()

    @staticmethod
    def candidate(button: Locator) -> dict:
        """What a candidate button offers: its address and where it is."""
        return {
            "text": button.locator(".text").inner_text(),
            "lon": button.get_attribute("data-lon"),
            "lat": button.get_attribute("data-lat"),
        }

    def open_complaint(self, complaint_id: int | str) -> Locator:
        """The open complaint ``complaint_id`` in the grid's list (found by its link "#id")."""
        link = self.page.get_by_role("link", name=f"#{complaint_id}", exact=True)
        return self.open_complaints.get_by_role("listitem").filter(has=link)

    def complaint_text(self, item: Locator) -> str:
        return item.get_by_role("paragraph").inner_text()

    def open_complaint_states(self) -> list[str]:
        return self.open_complaints.locator(".badge.state").all_inner_texts()

    # --- the datum kept per person, the two readings of a pasted pair ----------------------------------

    @property
    def coordsys_note(self) -> Locator:
        """The line under the datum picker saying where the choice is kept (and once saved, what)."""
        return self.page.locator("#coordsys-note")  # a paragraph with no role

    def choose_coordsys(self, coordsys: str) -> None:
        """Pick the datum pasted pairs are read in (the page keeps the choice) and wait until kept."""
        self.coordsys.select_option(coordsys)
        expect(self.coordsys_note).to_have_attribute("data-saved", coordsys, timeout=TIMEOUT)

    def paste(self, text: str) -> None:
        """Type a question and press 查询 with whatever datum is chosen (the person's kept one)."""
        self.search_box.fill(text)
        self.search_button.click()

    @property
    def readings(self) -> Locator:
        return self._panel("readings")

    def reading_items(self) -> Locator:
        return self.readings.get_by_role("listitem")

    def reading_grid_codes(self) -> list[str]:
        return self.readings.locator(".reading-grid").evaluate_all("ns => ns.map(n => n.dataset.code || '')")

    def read_instead(self, coordsys: str) -> None:
        name = self.t(f"coordsys_{coordsys}")
        self.readings.get_by_role("button", name=self.t("reading_use", name=name), exact=True).click()

    # --- a community asked by name -------------------------------------------------------------------

    @property
    def community_card(self) -> Locator:
        return self._panel("community_card")

    def community_value(self, key: str) -> Locator:
        return self.definition(self.community_card, self.t(key))

    def community_grid_buttons(self) -> Locator:
        return self.community_card.get_by_role(
            "list", name=self.t("community_grids"), exact=True
        ).get_by_role("button")

    # --- the call text --------------------------------------------------------------------------------

    @property
    def call_text(self) -> Locator:
        return self.page.get_by_label(self.t("call_text"), exact=True)

    # --- the map ----------------------------------------------------------------------------------

    @property
    def map(self) -> Locator:
        return self.page.locator(".folium-map")

    def markers(self) -> Locator:
        return self.map.get_by_role("img", name=self.t("map_marker"))

    def candidate_pins(self) -> Locator:
        """The numbered candidate pins on the map (buttons named 候选地点N：text)."""
        return self.map.get_by_role(
            "button",
            name=re.compile("^" + re.escape(self.t("candidate_pin", n=0, text="")).replace("0", r"\d+")),
        )

    def view(self) -> dict:
        """Where the map is: its centre and zoom."""
        return self.page.evaluate(
            "() => { const m = window.RedGridDispatcher.map; const c = m.getCenter();"
            " return {lat: c.lat, lon: c.lng, zoom: m.getZoom()}; }"
        )

    def click_map(self, lon: float, lat: float) -> None:
        """Centre the map on a point (in the map's own datum) at zoom 15 and click it."""
        x, y = self.page.evaluate(
            "([lat, lon]) => { const m = window.RedGridDispatcher.map; "
            "m.setView([lat, lon], 15, {animate: false}); "
            "const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
            [lat, lon],
        )
        box = self.map.bounding_box()
        self.page.mouse.click(box["x"] + x, box["y"] + y)

    def wgs84_to_gcj02(self, points: list[tuple[float, float]]) -> list[list[float]]:
        return self.page.evaluate(
            "ps => ps.map(p => window.RedGridDispatcher.wgs84ToGcj02(p[0], p[1]))", points
        )


class GridsPage(AppPage):
    """``/grids``: the grid overview with its legend, layer control, labels and version picker."""

    path = "/grids"

    def open(self, query: str | dict = "") -> GridsPage:
        self.goto(query)
        self.wait_for_map()
        return self

    def wait_for_map(self) -> None:
        self.page.wait_for_function("() => window.RedGridGrids && window.RedGridGrids.map", timeout=TIMEOUT)

    # --- the side panel ---------------------------------------------------------------------------

    @property
    def version_picker(self) -> Locator:
        return self.page.get_by_label(self.t("version"), exact=True)

    def version_options(self) -> Locator:
        return self.version_picker.get_by_role("option")

    def shown_version_option(self) -> Locator:
        return self.version_picker.get_by_role("option", selected=True)

    def choose_version(self, version_id: int | str) -> None:
        """Pick a version in the picker: the page reloads showing it."""
        self.version_picker.select_option(str(version_id))
        self.page.wait_for_url(f"**/grids?version={version_id}")
        self.wait_for_map()

    @property
    def version_summary(self) -> Locator:
        return self.page.locator("#version-summary")  # a paragraph with no role (see README)

    def shown_version(self) -> str | None:
        return self.version_summary.get_attribute("data-version")

    @property
    def legend(self) -> Locator:
        return self.page.get_by_role("region", name=self.t("legend"), exact=True)

    def legend_items(self) -> Locator:
        return self.legend.get_by_role("listitem")

    def legend_list(self) -> Locator:
        return self.legend.get_by_role("list")

    def kind_badges(self, kind: str) -> Locator:
        """The legend's 城/农 badges, found by their title (城市社区 / 农村社区)."""
        return self.legend.get_by_title(self.t(f"kind_{kind}"), exact=True)

    # --- the map ----------------------------------------------------------------------------------

    @property
    def map(self) -> Locator:
        return self.page.locator(".folium-map")

    def overlay_names(self) -> list[str]:
        """The names of the layer control's overlays, in order (Leaflet's control has no list role)."""
        labels = self.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        return [label.strip() for label in labels]

    def layer_checkbox(self, key: str) -> Locator:
        """The layer control's checkbox of a layer: grids, communities or town."""
        return self.page.get_by_role("checkbox", name=self.t(f"layer_{key}"), exact=True)

    def zoom(self) -> float:
        return self.page.evaluate("window.RedGridGrids.map.getZoom()")

    def zoom_to(self, lon: float, lat: float, zoom: int) -> None:
        self.page.evaluate(
            "([lat, lon, z]) => { window.RedGridGrids.map.setView([lat, lon], z, {animate: false}); }",
            [lat, lon, zoom],
        )

    def grid_labels(self) -> Locator:
        return self.page.locator(".grid-label span")

    def wait_for_grid_labels(self) -> list[str]:
        expect(self.grid_labels().first).to_be_visible(timeout=TIMEOUT)
        return self.grid_labels().all_inner_texts()

    def wait_without_grid_labels(self) -> None:
        self.page.wait_for_function(
            "() => document.querySelectorAll('.grid-label').length === 0", timeout=TIMEOUT
        )

    def hover(self, lon: float, lat: float) -> Locator:
        """Move the mouse onto a point of the map; the grid tooltip that opens there."""
        x, y = self.page.evaluate(
            "([lat, lon]) => { const m = window.RedGridGrids.map; "
            "const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
            [lat, lon],
        )
        box = self.map.bounding_box()
        self.page.mouse.move(box["x"] + x - 3, box["y"] + y - 3)
        self.page.mouse.move(box["x"] + x, box["y"] + y)
        tooltip = self.page.get_by_role("tooltip").filter(has=self.page.get_by_role("table"))
        expect(tooltip).to_be_visible(timeout=TIMEOUT)
        return tooltip


class PlannerPage(AppPage):
    """``/planner``: complaint layers (heat, animation, choropleths, Gi*, H3), filters, popups, exports."""

    path = "/planner"
    LAYER_KEYS = ("heat", "animation", "counts", "rates", "hotspots", "h3")

    def open(self, query: str | dict = "") -> PlannerPage:
        self.goto(query)
        self.wait_for_map()
        return self

    def wait_for_map(self, layer: str | None = None) -> None:
        legend = f".planner-legend[data-legend='{layer}']" if layer else ".planner-legend[data-legend]"
        self.page.wait_for_selector(legend, timeout=TIMEOUT)
        self.settle()

    # --- layers -------------------------------------------------------------------------------------

    def layer_radio(self, label: str) -> Locator:
        return self.page.get_by_role("radio", name=label, exact=True)

    def layer_radios(self) -> Locator:
        return self.page.locator(".leaflet-control-layers").get_by_role("radio")

    def choose_layer(self, key: str, label: str | None = None) -> None:
        """Switch the map to a layer through the layer control (its radio named ``label``)."""
        self.layer_radio(label or self.t(f"pl_layer_{key}")).click()
        self.page.wait_for_selector(f".planner-legend[data-legend='{key}']", timeout=TIMEOUT)

    def legends(self) -> list[str]:
        """The layer keys of the legends shown (one per visible layer)."""
        return self.page.eval_on_selector_all(".planner-legend", "els => els.map(e => e.dataset.legend)")

    def remembered_layer(self) -> str:
        """The layer the filter form will send (a hidden field)."""
        return self.page.locator("#planner-filters input[name=layer]").input_value()

    @property
    def time_control(self) -> Locator:
        return self.page.locator(".leaflet-bar-timecontrol").first

    @property
    def time_date(self) -> Locator:
        return self.time_control.locator(".timecontrol-date")

    def step_forward(self) -> None:
        self.time_control.get_by_title(self.t("map_player_forward"), exact=True).click()

    @property
    def heat_canvas(self) -> Locator:
        return self.page.locator("canvas.leaflet-heatmap-layer")

    # --- the summary and the busiest grids --------------------------------------------------------

    @property
    def side(self) -> Locator:
        return self.page.get_by_role("complementary")

    def summary_value(self, key: str) -> Locator:
        return self.definition(self.side, self.t(key))

    def total(self) -> int:
        """The number of complaints that match the filters (the exact number, not the formatted one)."""
        return int(self.summary_value("pl_total").get_attribute("data-value"))

    def months(self) -> str:
        return self.summary_value("pl_months").inner_text()

    def top_grid_rows(self) -> Locator:
        """The rows of the busiest-grids table (the table with a Gi* column), without its header."""
        table = self.side.get_by_role("table").filter(has=self.page.get_by_role("columnheader", name="Gi*"))
        return table.get_by_role("row").filter(has=self.page.get_by_role("cell"))

    def busiest_grid(self) -> tuple[int, str]:
        """(index in the map's grid arrays, code) of the first row of the busiest-grids table."""
        row = self.top_grid_rows().first
        return int(row.get_attribute("data-i")), row.get_attribute("data-code")

    # --- filters ---------------------------------------------------------------------------------

    @property
    def since(self) -> Locator:
        return self.page.get_by_label(self.t("pl_since"), exact=True)

    @property
    def until(self) -> Locator:
        return self.page.get_by_label(self.t("pl_until"), exact=True)

    @property
    def categories(self) -> Locator:
        return self.page.get_by_label(self.t("pl_categories"), exact=True)

    def selected_categories(self) -> list[str]:
        return sorted(
            self.categories.get_by_role("option", selected=True).evaluate_all("os => os.map(o => o.value)")
        )

    def apply_filters(
        self, since: str | None = None, until: str | None = None, categories: list[str] | None = None
    ) -> None:
        """Fill in the filters and apply them; waits for the page to come back."""
        if since is not None:
            self.since.fill(since)
        if until is not None:
            self.until.fill(until)
        if categories is not None:
            self.categories.select_option(categories)
        layer = self.remembered_layer()
        with self.page.expect_navigation():
            self.side.get_by_role("button", name=self.t("pl_apply"), exact=True).click()
        self.wait_for_map(layer=layer)

    # --- popups --------------------------------------------------------------------------------------

    @property
    def popup(self) -> Locator:
        return self.page.locator(".leaflet-popup .pl-pop")

    def open_popup_of(self, i: int) -> Locator:
        """Click the map where grid ``i`` lies (its point on surface), as a user would."""
        x, y = self.page.evaluate(
            """(i) => {
            const map = window.plannerMap, at = window.plannerGrids.points[i];
            map.closePopup();
            map.setView(at, 16, {animate: false});
            const p = map.latLngToContainerPoint(at), box = map.getContainer().getBoundingClientRect();
            return [box.left + p.x, box.top + p.y];
        }""",
            i,
        )
        self.page.wait_for_timeout(300)
        self.page.mouse.click(x, y)
        self.page.wait_for_selector(".leaflet-popup .pl-pop", timeout=TIMEOUT)
        return self.popup

    def sparkline_points(self) -> int:
        return len(self.popup.locator("svg.spark polyline").get_attribute("points").split())

    def frame_popup_for_picture(self, i: int) -> None:
        """The town around grid ``i`` with its popup settled and no tooltip in the way (docs picture)."""
        self.page.evaluate("(i) => { plannerMap.setView(plannerGrids.points[i], 14, {animate: false}); }", i)
        box = self.page.locator("#planner-map").bounding_box()
        self.page.mouse.move(box["x"] - 100, box["y"] + 20)  # over the side panel
        settled = "() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'"
        self.page.wait_for_function(settled, timeout=TIMEOUT)

    # --- exports ---------------------------------------------------------------------------------------

    def export_link(self, key: str) -> Locator:
        """An export link: pl_export_csv, pl_export_geojson or pl_export_html."""
        return self.side.get_by_role("link", name=self.t(key), exact=True)

    def download_map_html(self) -> str:
        """Download the map as an HTML file; its text."""
        from pathlib import Path

        with self.page.expect_download() as download:
            self.export_link("pl_export_html").click()
        return Path(download.value.path()).read_text(encoding="utf-8")

    def open_exported(self, body: str) -> None:
        """Show an exported map file as a page of its own, served under the app's address (a browser
        opening the file would fetch the same scripts from the app)."""
        target = f"{self.base}/__exported_planner_map.html"
        html = "text/html; charset=utf-8"
        self.page.route(target, lambda route: route.fulfill(status=200, content_type=html, body=body))
        self.page.goto(target)

    @property
    def export_note(self) -> Locator:
        """The note an exported map carries (where it came from)."""
        prefix = self.t("pl_export_note").split("{", 1)[0]
        return self.page.get_by_text(re.compile("^" + re.escape(prefix)))


class ComplaintListPage(AppPage):
    """``/complaints``: the list, filtered by state, category and grid."""

    path = "/complaints"

    def open(self, query: str | dict = "") -> ComplaintListPage:
        self.goto(query)
        return self

    @property
    def table(self) -> Locator:
        return self.page.get_by_role("main").get_by_role("table")

    def rows(self) -> Locator:
        """Every row of the list, its header row included."""
        return self.table.get_by_role("row")

    def complaint_rows(self) -> Locator:
        return self.rows().filter(has=self.page.get_by_role("cell"))

    def heading(self) -> str:
        return self.page.get_by_role("heading", level=1).inner_text()

    @property
    def grid_filter(self) -> Locator:
        return self.page.get_by_role("combobox", name=self.t("grid"), exact=True)

    @property
    def state_filter(self) -> Locator:
        return self.page.get_by_role("combobox", name=self.t("state"), exact=True)

    @property
    def category_filter(self) -> Locator:
        return self.page.get_by_role("combobox", name=self.t("category"), exact=True)

    def filter(self, state: str | None = None, category: str | None = None, grid: str | None = None) -> None:
        if state is not None:
            self.state_filter.select_option(state)
        if category is not None:
            self.category_filter.select_option(category)
        if grid is not None:
            self.grid_filter.select_option(grid)
        self.page.get_by_role("main").get_by_role("button", name=self.t("search"), exact=True).click()
        self.settle()

    def total(self) -> int:
        """The number of cases the heading says the list holds."""
        return int(re.search(r"\((\d+)\)", self.heading()).group(1))

    def sort_by(self, key: str) -> None:
        """Click a column's header (``reported_at``, ``deadline``, ``state``) to sort by it."""
        self.table.get_by_role("columnheader").get_by_role(
            "link", name=re.compile(re.escape(self.t(key)))
        ).click()
        self.settle()

    def open_complaint(self, complaint_id: int | str) -> ComplaintPage:
        self.table.get_by_role("link", name=str(complaint_id), exact=True).click()
        return ComplaintPage(self.page, self.base, self.lang)


class QueuePage(AppPage):
    """``/queue`` (我的待办): the caller's queues, each a region named by its heading, and the
    count in the header of every page."""

    path = "/queue"

    def open(self) -> QueuePage:
        self.goto()
        return self

    @property
    def header_count(self) -> Locator:
        return self.page.get_by_role("banner").get_by_role(
            "link", name=re.compile(re.escape(self.t("nav_queue")))
        )

    def badge(self) -> int:
        """The number in the header's 我的待办 link."""
        return int(re.search(r"(\d+)", self.header_count.inner_text()).group(1))

    def queue(self, name: str) -> Locator:
        return self.page.get_by_role("region", name=re.compile("^" + re.escape(self.t(f"queue_{name}"))))

    def queue_rows(self, name: str) -> Locator:
        return self.queue(name).get_by_role("row").filter(has=self.page.get_by_role("cell"))

    def counted_queues(self) -> list[str]:
        """The queues counted in the header, by name (``data-counted`` has no role or name)."""
        return [
            el.get_attribute("data-queue") or ""
            for el in self.page.locator("section[data-counted='yes']").all()
        ]


class ComplaintPage(AppPage):
    """``/complaints/<id>``: one complaint, its history and (for staff) the next action."""

    path = "/complaints"

    def open(self, complaint_id: int | str) -> ComplaintPage:
        self.goto(f"/{complaint_id}")
        return self

    def complaint_id(self) -> int:
        return int(re.search(r"/complaints/(\d+)", self.page.url).group(1))

    def heading(self) -> str:
        return self.page.get_by_role("heading", level=1).inner_text()

    def value(self, key: str) -> str:
        """The value under the label ``t(key)``: category, text, address, grid, channel, ..."""
        return self.definition(self.page.get_by_role("main"), self.t(key)).inner_text()

    def history_rows(self) -> Locator:
        return self.page.get_by_role("main").get_by_role("table").get_by_role("row")

    # --- the action forms (one per step the user may take now) ----------------------------------

    def action_label(self, action: str) -> str:
        """The step's name on its button: 派单, 退单, 延期申请…; a dispatch of a dispatched case is 改派."""
        if action == "dispatch" and self.t("state_dispatched") in self.heading():
            return self.t("act_redispatch")
        return self.t(f"action_{action}")

    def offered_actions(self) -> list[str]:
        """The names of the steps offered (each opens its own form)."""
        return [s.strip() for s in self.page.get_by_role("main").locator("summary").all_inner_texts()]

    def action_form(self, action: str) -> Locator:
        """The form of one step, opened (it sits in a disclosure the user opens by its name)."""
        label = self.action_label(action)
        form = self.page.get_by_role("main").get_by_role("form", name=label, exact=True)
        if not form.is_visible():
            self.page.get_by_role("main").locator("summary").filter(has_text=exactly(label)).click()
        expect(form).to_be_visible(timeout=TIMEOUT)
        return form

    def act(
        self,
        action: str,
        note: str = "",
        department: str | None = None,
        *,
        deadline: str | None = None,
        reason: str | None = None,
        satisfied: bool | None = None,
    ) -> None:
        """Take a step through its own form: ``deadline`` as the date-time field takes it
        (``2026-06-18T17:30``, Beijing time), ``department`` by its shown name or code."""
        label = self.action_label(action)
        form = self.action_form(action)
        if reason is not None:
            form.get_by_label(self.t("act_reason_dispatch"), exact=True).fill(reason)
        if department is not None:
            form.get_by_label(self.t("department"), exact=True).select_option(department)
        if deadline is not None:
            key = "act_field_extension_deadline" if action == "request_extension" else "act_field_deadline"
            form.get_by_label(self.t(key), exact=True).fill(deadline)
        if satisfied is not None:
            form.get_by_label(self.t("satisfied" if satisfied else "not_satisfied"), exact=True).check()
        if note:
            form.get_by_label(self.t(f"act_note_{action}"), exact=True).fill(note)
        form.get_by_role("button", name=label, exact=True).click()
        self.settle()

    def field(self, action: str, key: str) -> Locator:
        """A field of a step's form by its label key (e.g. ``department``, ``act_field_deadline``)."""
        return self.action_form(action).get_by_label(self.t(key), exact=True)

    def confirmation(self) -> str:
        """The message saying what the last step did (已派单至 …)."""
        return self.page.get_by_role("status").inner_text()

    def history_steps(self) -> list[str]:
        """Each history row's step, oldest first."""
        rows = self.history_rows()
        return [rows.nth(i).get_by_role("cell").nth(2).inner_text() for i in range(1, rows.count())]

    @property
    def after_photos_field(self) -> Locator:
        """The resolve form's file field for after photos (the work done)."""
        return self.action_form("resolve").get_by_label(self.t("after_photos"), exact=True)

    def resolve_with_after_photos(self, *files: str, note: str = "") -> None:
        """Choose after photos (file paths) and resolve (办结反馈) in one submit."""
        self.after_photos_field.set_input_files(list(files))
        self.act("resolve", note=note)

    def error(self) -> Locator:
        return self.page.get_by_role("main").get_by_role("alert")

    def print_link(self, kind: str) -> Locator:
        """A link of the print block under the title: ``order`` (打印派单单) or ``case`` (打印诉求单)."""
        block = self.page.get_by_role("navigation", name=self.t("print_links"), exact=True)
        return block.get_by_role("link", name=self.t(f"print_{kind}_link"), exact=True)

    def print_sheet(self, kind: str) -> bytes:
        """Click a print link: the PDF the browser was sent, then back to the case page.
        Chromium hands a PDF to its viewer, which keeps the bytes to itself, so they are asked
        again at the same address in the same session."""
        with self.page.expect_response(lambda r: "/print/" in r.url) as answer:
            self.print_link(kind).click()
        response = answer.value
        assert response.status == 200 and response.headers["content-type"] == "application/pdf", response
        body = self.page.request.get(response.url).body()
        self.page.go_back()
        self.settle()
        return body

    def original_link(self) -> Locator:
        """The link to the case this one duplicates (原诉求)."""
        return self.definition(self.page.get_by_role("main"), self.t("duplicate_of_case")).get_by_role("link")

    def duplicate_links(self) -> Locator:
        """The links to the cases marked as duplicates of this one (重复件)."""
        listed = self.page.get_by_role("main").get_by_role(
            "list", name=self.t("duplicates_of_case"), exact=True
        )
        return listed.get_by_role("link")

    def photos(self, kind: str) -> Locator:
        """The photo links (each wraps its thumbnail) in the list of ``kind``: before or after."""
        photo_list = self.page.get_by_role("main").get_by_role(
            "list", name=self.t(f"photo_{kind}"), exact=True
        )
        return photo_list.get_by_role("link")


class NewComplaintPage(AppPage):
    """``/complaints/new``: the intake form."""

    path = "/complaints/new"

    def open(self, query: str | dict = "") -> NewComplaintPage:
        self.goto(query)
        self.wait_loaded()
        return self

    def wait_loaded(self) -> None:
        expect(self.page.get_by_role("heading", name=self.t("nav_new_complaint"), level=1)).to_be_visible(
            timeout=TIMEOUT
        )

    def field(self, key: str) -> Locator:
        """A form field by its label: category, channel, text, address, lon, lat, coordsys, ..."""
        return self.page.get_by_role("main").get_by_label(self.t(key), exact=True)

    def value(self, key: str) -> str:
        return self.field(key).input_value()

    def chosen_category(self) -> str:
        """The text of the category chosen in the select (suggested or picked)."""
        return self.field("category").locator("option:checked").inner_text()

    @property
    def category_suggestion(self) -> Locator:
        return self.page.get_by_text(
            re.compile(re.escape(self.t("category_suggested", name="", words="")[:6]))
        )

    @property
    def duplicates(self) -> Locator:
        """The box of possible duplicates (可能重复的诉求), filled while the form is filled in."""
        return self.page.get_by_role("region", name=self.t("dup_heading"), exact=True)

    def duplicate_choice(self, complaint_id: int | str) -> Locator:
        """The choice to file this complaint as a duplicate of ``complaint_id``."""
        name = re.compile("^" + re.escape(self.t("dup_as_duplicate", id=complaint_id)))
        return self.duplicates.get_by_role("radio", name=name)

    @property
    def new_case_choice(self) -> Locator:
        return self.duplicates.get_by_role("radio", name=self.t("dup_as_new"), exact=True)

    def fill_in(self, text: str, category: str, **fields: str) -> None:
        """Write the text and fields (by key), then choose the category by its code, as a
        dispatcher does last once the place is known: the form then looks for duplicates."""
        self.field("text").fill(text)
        for key, value in fields.items():
            self.field(key).fill(value)
        self.field("category").select_option(category)

    def submit(self) -> ComplaintPage:
        self.page.get_by_role("main").get_by_role("button", name=self.t("submit"), exact=True).click()
        self.page.wait_for_url(re.compile(r"/complaints/\d+$"))
        return ComplaintPage(self.page, self.base, self.lang)

    def file(self, text: str, category_index: int = 1, **fields: str) -> ComplaintPage:
        """Choose a category, write the text (and any other field by key), submit; the complaint's page."""
        self.field("category").select_option(index=category_index)
        self.field("text").fill(text)
        for key, value in fields.items():
            self.field(key).fill(value)
        self.page.get_by_role("main").get_by_role("button", name=self.t("submit"), exact=True).click()
        self.page.wait_for_url(re.compile(r"/complaints/\d+$"))
        return ComplaintPage(self.page, self.base, self.lang)


class FieldPage(AppPage):
    """巡查上报, the grid team's phone page: reports wait on the phone until they can be sent."""

    path = "/field/"

    @property
    def status(self) -> Locator:
        return self.page.get_by_role("status")

    @property
    def outbox(self) -> Locator:
        return self.page.get_by_role("list", name=self.t("field_outbox")).get_by_role("listitem")

    @property
    def sent(self) -> Locator:
        return self.page.get_by_role("list", name=self.t("field_sent_list")).get_by_role("listitem")

    def wait_until_offline_ready(self) -> None:
        """The service worker controls the page, so it opens again without a connection."""
        self.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        if not self.page.evaluate("!!navigator.serviceWorker.controller"):
            self.page.reload()
        self.page.wait_for_function("!!navigator.serviceWorker.controller")

    def report(self, category_name: str, text: str, photo: tuple[str, bytes] | None = None) -> None:
        """Fill in a patrol report at the phone's location and send it (or keep it, offline)."""
        self.page.get_by_label(self.t("category"), exact=True).select_option(label=category_name)
        self.page.get_by_label(self.t("field_what"), exact=True).fill(text)
        self.page.get_by_role("button", name=self.t("field_use_location")).tap()
        expect(self.page.locator("#field-location")).to_contain_text(
            self.t("field_located", lon="", lat="", m="")[:2]
        )
        if photo is not None:
            name, data = photo
            self.page.get_by_label(self.t("field_photos"), exact=True).set_input_files(
                files=[{"name": name, "mimeType": "image/png", "buffer": data}]
            )
        self.page.get_by_role("button", name=self.t("field_submit"), exact=True).tap()


class UndeliveredPage(AppPage):
    """``/notifications/undelivered``: notifications not delivered, each with a retry button."""

    path = "/notifications/undelivered"

    def open(self, query: str | dict = "") -> UndeliveredPage:
        self.goto(query)
        return self

    @property
    def table(self) -> Locator:
        return self.page.get_by_role("table", name=self.t("notify_title"), exact=True)

    def rows(self) -> Locator:
        """The message rows (the header row left out)."""
        return self.table.get_by_role("row").filter(has=self.page.get_by_role("cell"))

    def row_about(self, text: str) -> Locator:
        return self.rows().filter(has_text=text)

    def retry(self, row: Locator) -> None:
        row.get_by_role("button", name=self.t("notify_retry"), exact=True).click()
        self.settle()

    def flash(self) -> str:
        return self.page.locator(".flash").inner_text()


class CaseWhistles(AppPage):
    """The 吹哨报到 section of a case page: blow the whistle, report in, respond, read the times."""

    path = "/complaints"

    def open(self, complaint_id: int | str) -> CaseWhistles:
        self.goto(f"/{complaint_id}")
        return self

    @property
    def region(self) -> Locator:
        return self.page.get_by_role("region", name=self.t("whistle_title"), exact=True)

    def blow(self, note: str = "") -> None:
        if note:
            self.region.get_by_label(self.t("whistle_note"), exact=True).fill(note)
        self.region.get_by_role("button", name=self.t("whistle_blow"), exact=True).click()
        self.settle()

    def summons(self, department_name: str) -> Locator:
        """The list item of one summoned department (by its name as shown)."""
        return self.region.get_by_role("listitem").filter(has_text=department_name)

    def report_in(self, department_name: str) -> None:
        self.summons(department_name).get_by_role(
            "button", name=self.t("whistle_report_in"), exact=True
        ).click()
        self.settle()

    def respond(self, department_name: str, text: str) -> None:
        item = self.summons(department_name)
        item.get_by_label(self.t("whistle_response"), exact=True).fill(text)
        item.get_by_role("button", name=self.t("whistle_respond"), exact=True).click()
        self.settle()

    def flash(self) -> str:
        return self.page.get_by_role("main").locator(".flash").first.inner_text()


class DeliberationFormPage(AppPage):
    """``/deliberations/new``: record a 多元议事 meeting, with repeated participant rows."""

    path = "/deliberations/new"

    def open(self, query: str | dict = "") -> DeliberationFormPage:
        self.goto(query)
        expect(
            self.page.get_by_role("heading", name=self.t("deliberation_new_title"), level=1)
        ).to_be_visible(timeout=TIMEOUT)
        return self

    def field(self, key: str) -> Locator:
        return self.page.get_by_role("main").get_by_label(self.t(key), exact=True)

    def rows(self) -> Locator:
        """The participant rows (groups named 参会人员 N)."""
        return self.page.get_by_role(
            "group", name=re.compile(re.escape(self.t("deliberation_participant_n", n="")) + r"\d+")
        )

    def participant(self, n: int, kind: str, name: str, affiliation: str = "") -> None:
        """Fill participant row ``n`` (from 1); ``kind`` is the kind's code, e.g. ``deputy``."""
        main = self.page.get_by_role("main")
        main.get_by_label(f"{self.t('deliberation_participant_kind')} {n}", exact=True).select_option(kind)
        main.get_by_label(f"{self.t('deliberation_participant_name')} {n}", exact=True).fill(name)
        main.get_by_label(f"{self.t('deliberation_participant_affiliation')} {n}", exact=True).fill(
            affiliation
        )

    def add_row(self) -> None:
        self.page.get_by_role("button", name=self.t("deliberation_add_row"), exact=True).click()
        self.settle()

    def save(self, *, settle: bool = False) -> None:
        if settle:
            self.page.get_by_role("checkbox", name=self.t("deliberation_settle"), exact=True).check()
        self.page.get_by_role("button", name=self.t("deliberation_save"), exact=True).click()
        self.settle()


class DeliberationPage(AppPage):
    """``/deliberations/<id>``: one record."""

    path = "/deliberations"

    def value(self, key: str) -> str:
        return self.definition(self.page.get_by_role("main"), self.t(key)).inner_text()

    def participant_names(self) -> list[str]:
        table = self.page.get_by_role("main").get_by_role("table")
        return [row.get_by_role("cell").nth(1).inner_text() for row in table.get_by_role("row").all()[1:]]


class AdminRostersPage(AppPage):
    """``/admin/rosters``: upload a roster, read the preview, apply it."""

    path = "/admin/rosters"

    def upload(self, name: str, data: bytes) -> None:
        self.page.get_by_label(self.t("admin_roster_file")).set_input_files(
            files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
        )
        self.page.get_by_role("button", name=self.t("admin_do_preview"), exact=True).click()
        self.settle()

    @property
    def preview(self) -> Locator:
        return self.page.get_by_role("region", name=self.t("admin_preview"))

    def apply(self) -> None:
        self.preview.get_by_role("button", name=self.t("admin_do_apply"), exact=True).click()
        self.settle()

    @property
    def status(self) -> Locator:
        return self.page.get_by_role("status")

    def open_audit(self) -> None:
        self.status.get_by_role("link", name=self.t("admin_audit_link"), exact=True).click()
        self.settle()
