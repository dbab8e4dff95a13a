"""巡查上报 on a phone (390×844, touch): a report made without a connection waits on the phone,
survives a reload, and is sent exactly once when the connection returns (issue 10, item 1)."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.conftest import assert_clean
from tests.browser.conftest import serve_copy_of_demo
from tests.browser.harness import new_recorded_page
from tests.browser.pages import FieldPage
from tests.browser.pages import LoginPage

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "geolocation": {"longitude": 113.1457, "latitude": 23.1110, "accuracy": 12},
    "permissions": ["geolocation"],
}
# a 1×1 PNG: what the phone's camera gives, as far as the server can tell
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def patrol_cases(app) -> list[dict]:
    store = app.extensions["redgrid"].store
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select c.id, c.external_id, c.channel, c.grid_code, c.category_code,"
                " (select count(*) from complaint_photos p where p.complaint_id = c.id) as photos"
                " from complaints c where c.external_id like 'field-%'"
            )
        )
        return [dict(r._mapping) for r in rows]


def test_a_report_made_offline_is_sent_once_when_back_online(browser, demo_template, tmp_path):
    server, url, app = serve_copy_of_demo(demo_template, tmp_path)
    context, page = new_recorded_page(browser, url, **PHONE)
    try:
        LoginPage(page).login("dispatcher", "dispatcher-pass-123")
        field = FieldPage(page)
        field.goto()
        field.wait_until_offline_ready()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        context.set_offline(True)
        field.report("路灯不亮、损坏", "沥南路口路灯不亮", photo=("lamp.png", PNG))
        expect(field.outbox).to_have_count(1)
        expect(field.status).to_contain_text(field.t("field_pending", n=1))
        assert patrol_cases(app) == []

        page.reload()  # no connection: the service worker serves the page, IndexedDB kept the report
        expect(field.outbox).to_have_count(1)
        expect(field.status).to_contain_text(field.t("field_offline")[:2])

        context.set_offline(False)
        expect(field.outbox).to_have_count(0, timeout=20_000)
        expect(field.sent).to_have_count(1)
        cases = patrol_cases(app)
        assert len(cases) == 1
        case = cases[0]
        assert (case["channel"], case["category_code"], case["grid_code"], case["photos"]) == (
            "patrol",
            "street_light",
            "440605125002005",
            1,
        )
        expect(field.sent.first).to_contain_text(field.t("field_sent_case", id=case["id"]))

        # the answer lost on the way back: the phone sends the same report again, whole
        page.evaluate(
            """(png) => new Promise((done) => {
                const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
                const photo = {name: "lamp.png", blob: new Blob([bytes], {type: "image/png"}), sent: false};
                const open = indexedDB.open("redgrid-field", 1);
                open.onsuccess = () => {
                  const db = open.result;
                  db.transaction("sent").objectStore("sent").getAll().onsuccess = (e) => {
                    const sent = e.target.result[0];
                    const tx = db.transaction("outbox", "readwrite");
                    tx.objectStore("outbox").put({id: sent.id, label: sent.label, photos: [photo],
                      complaint: {external_id: "field-" + sent.id, channel: "patrol", category: "street_light",
                                  text: "沥南路口路灯不亮", lon: 113.1457, lat: 23.1110, coordsys: "wgs84",
                                  reported_at: new Date().toISOString()}});
                    tx.oncomplete = () => done(true);
                  };
                };
              })""",
            base64.b64encode(PNG).decode(),
        )
        page.reload()  # sends what waits as it opens; the count is written once the round is done
        expect(page.locator("#field-status")).to_have_attribute("data-pending", "0", timeout=20_000)
        expect(field.sent).to_have_count(1)
        assert patrol_cases(app) == cases  # still one case, one photo
        assert_clean(page)
    finally:
        context.close()
        server.shutdown()
