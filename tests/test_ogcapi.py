"""OGC API – Features at /ogcapi, read the way GIS tools read it: OWSLib (QGIS's Python side) and
GDAL's OAPIF driver through pyogrio (what QGIS and ogr2ogr use), against a live server; and
GDAL reading /api/v1/grids.geojson by URL. The details (paging, CRS, bbox, datetime, versions,
errors) through the test client.

The live server runs in a child process: GDAL holds the GIL while it waits for an answer,
so a server thread in the test's own process would never get to send it.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features

from tests.apps import DEMO_COMMUNITY_COUNT
from tests.apps import DEMO_GRID_COUNT
from tests.apps import Db
from webmap.ogcapi import CONFORMANCE

REPO = Path(__file__).resolve().parents[1]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
SERVE = """
import json, sys
from werkzeug.serving import make_server
from webmap import create_app
server = make_server("127.0.0.1", 0, create_app(json.loads(sys.argv[1])), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""
COUNT_FIELDS = {
    "code",
    "name",
    "community_code",
    "community_name",
    "complaints",
    "population",
    "per_1000_residents",
    "reported_since",
    "reported_until",
    "version_id",
}


@pytest.fixture(scope="module")
def ogc_db(demo_template: Db, tmp_path_factory) -> Db:
    db = Db(tmp_path_factory.mktemp("ogcapi") / "redgrid.db", demo_template.cache_dir)
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db.path)) as dst,
    ):
        src.backup(dst)
    return db


@pytest.fixture(scope="module")
def ogc_app(ogc_db: Db):
    return ogc_db.app(VALIDATE_ANSWERS=True)


@pytest.fixture
def client(ogc_app):
    return ogc_app.test_client()


@pytest.fixture(scope="module")
def live_url(ogc_db: Db):
    """The app on a free loopback port (werkzeug's make_server, in a child process)."""
    config = ogc_db.config(VALIDATE_ANSWERS=True)
    child = subprocess.Popen(
        [sys.executable, "-c", SERVE, json.dumps(config)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = int(child.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=10)
        child.stdout.close()


@pytest.fixture(scope="module")
def complaints(ogc_app) -> pd.DataFrame:
    """Every complaint's grid and report time, straight from the store (the truth for the counts)."""
    return ogc_app.extensions["redgrid"].cases.store.complaints_frame(["grid_code", "reported_at"], {})


def _get(client, url: str):
    response = client.get(url)
    return response, response.get_json()


# --- as GIS tools read it -----------------------------------------------------------------------


def test_owslib_reads_the_collections(live_url, demo_grids):
    api = Features(f"{live_url}/ogcapi")
    assert set(CONFORMANCE) <= set(api.conformance()["conformsTo"])
    ids = [c["id"] for c in api.collections()["collections"]]
    assert ids == ["grids", "communities", "grid_complaint_counts"]
    grids = api.collection("grids")
    assert grids["itemType"] == "feature" and EPSG4490 in grids["crs"]
    west, south, east, north = grids["extent"]["spatial"]["bbox"][0]
    assert np.allclose([west, south, east, north], demo_grids.total_bounds, atol=1e-5)

    page = api.collection_items("grids", limit=50)
    assert page["numberMatched"] == DEMO_GRID_COUNT and page["numberReturned"] == 50
    assert [f["id"] for f in page["features"]] == list(demo_grids["code"][:50])
    assert any(link["rel"] == "next" for link in page["links"])
    one = api.collection_item("grids", "440605125001001")
    assert one["properties"]["code"] == "440605125001001"
    communities = api.collection_items("communities", limit=100)
    assert communities["numberMatched"] == communities["numberReturned"] == DEMO_COMMUNITY_COUNT
    counts = api.collection_items("grid_complaint_counts", limit=1000)
    assert counts["numberReturned"] == DEMO_GRID_COUNT
    assert {k for f in counts["features"] for k in f["properties"]} == COUNT_FIELDS  # no personal data
    assert api.api()["openapi"].startswith("3.0")  # the service-desc link (oas30)


def test_gdal_oapif_reads_every_layer(live_url, demo_grids, complaints):
    """GDAL's OAPIF driver (QGIS's provider is the same protocol) follows the next links to the end."""
    source = f"OAPIF:{live_url}/ogcapi"
    layers = pyogrio.list_layers(source)
    assert [str(name) for name in layers[:, 0]] == ["grids", "communities", "grid_complaint_counts"]

    grids = pyogrio.read_dataframe(source, layer="grids")
    assert len(grids) == DEMO_GRID_COUNT
    assert grids.crs.to_string() == "OGC:CRS84"
    grids = grids.sort_values("code").reset_index(drop=True)
    assert list(grids["code"]) == list(demo_grids["code"])
    assert shapely.equals_exact(grids.geometry.values, demo_grids.geometry.values, tolerance=1e-9).all()

    communities = pyogrio.read_dataframe(source, layer="communities")
    assert len(communities) == DEMO_COMMUNITY_COUNT

    counts = pyogrio.read_dataframe(source, layer="grid_complaint_counts")
    assert len(counts) == DEMO_GRID_COUNT
    truth = complaints["grid_code"].value_counts()
    got = counts.set_index("code")["complaints"]
    assert int(got.sum()) == int(truth.sum()) == len(complaints)
    assert (got[truth.index] == truth).all()

    # a spatial filter is sent to the server as bbox=
    box = (113.13, 23.10, 113.15, 23.12)
    part = pyogrio.read_dataframe(source, layer="grids", bbox=box)
    expected = demo_grids[demo_grids.intersects(shapely.box(*box))]
    assert sorted(part["code"]) == sorted(expected["code"]) and 0 < len(part) < DEMO_GRID_COUNT


def test_gdal_reads_cgcs2000_from_the_server(live_url, demo_grids):
    """Part 2: GDAL asks for EPSG:4490 (crs=) and gets CGCS2000 in lat/lon order, which it swaps back."""
    source = f"OAPIF:{live_url}/ogcapi"
    grids = pyogrio.read_dataframe(source, layer="grids", CRS="EPSG:4490")
    assert grids.crs.to_epsg() == 4490 and len(grids) == DEMO_GRID_COUNT
    # CGCS2000 and WGS84 differ by centimetres: the same place, in the same x=lon order
    assert np.allclose(grids.total_bounds, demo_grids.total_bounds, atol=1e-6)


def test_gdal_opens_the_grids_geojson_by_url(live_url, demo_grids):
    """GDAL's network reader needs byte ranges ("Range downloading not supported" otherwise)."""
    grids = pyogrio.read_dataframe(f"{live_url}/api/v1/grids.geojson")
    assert len(grids) == DEMO_GRID_COUNT
    assert sorted(grids["code"]) == list(demo_grids["code"])
    communities = pyogrio.read_dataframe(f"{live_url}/api/v1/communities.geojson")
    assert len(communities) == DEMO_COMMUNITY_COUNT


# --- the resources ------------------------------------------------------------------------------


def test_landing_page_and_conformance(client):
    for url in ("/ogcapi", "/ogcapi/", "/ogcapi?f=json"):
        response, body = _get(client, url)
        assert response.status_code == 200 and response.mimetype == "application/json", url
        rels = {link["rel"]: link for link in body["links"]}
        assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
        assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
        assert rels["data"]["href"].endswith("/ogcapi/collections")
    _, body = _get(client, "/ogcapi/conformance")
    assert body["conformsTo"] == CONFORMANCE
    api = client.get("/ogcapi/api")
    assert api.status_code == 200 and api.headers["Content-Type"].startswith(
        "application/vnd.oai.openapi+json"
    )
    document = json.loads(api.data)
    assert document["openapi"] == "3.0.3"
    assert "/collections/{collectionId}/items" in document["paths"]


def test_collections_describe_extent_crs_and_links(client, complaints):
    _, body = _get(client, "/ogcapi/collections")
    assert [c["id"] for c in body["collections"]] == ["grids", "communities", "grid_complaint_counts"]
    for c in body["collections"]:
        _, one = _get(client, f"/ogcapi/collections/{c['id']}")
        assert one == c
        assert c["crs"][0] == CRS84 and EPSG4490 in c["crs"] and c["storageCrs"] == CRS84
        assert {link["rel"] for link in c["links"]} >= {"self", "items"}
        assert len(c["extent"]["spatial"]["bbox"][0]) == 4
    start, end = body["collections"][2]["extent"]["temporal"]["interval"][0]
    times = pd.to_datetime(complaints["reported_at"], utc=True)
    assert pd.Timestamp(start) == times.min() and pd.Timestamp(end) == times.max()


def test_items_page_with_limit_offset_and_next_links(client, demo_grids):
    response, body = _get(client, "/ogcapi/collections/grids/items")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert response.headers["Content-Crs"] == f"<{CRS84}>"
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == 10 and body["numberMatched"] == DEMO_GRID_COUNT  # default limit 10
    datetime.datetime.strptime(body["timeStamp"], "%Y-%m-%dT%H:%M:%SZ")

    seen, url, pages = [], "/ogcapi/collections/grids/items?limit=100", 0
    while url:
        _, page = _get(client, url)
        seen += [f["id"] for f in page["features"]]
        pages += 1
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else None
    assert pages == 4 and seen == list(demo_grids["code"])

    _, clamped = _get(client, "/ogcapi/collections/grids/items?limit=50000")
    assert clamped["numberReturned"] == DEMO_GRID_COUNT  # over the maximum: clamped, not refused
    _, past = _get(client, "/ogcapi/collections/grids/items?offset=400")
    assert past["numberReturned"] == 0 and not [lk for lk in past["links"] if lk["rel"] == "next"]
    _, last = _get(client, "/ogcapi/collections/grids/items?offset=300&limit=100")
    assert last["numberReturned"] == 9 and [lk for lk in last["links"] if lk["rel"] == "prev"]


def test_single_items_by_code(client, demo_grids):
    code = demo_grids["code"].iloc[5]
    response, feature = _get(client, f"/ogcapi/collections/grids/items/{code}")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert feature["type"] == "Feature" and feature["id"] == code
    assert shapely.equals_exact(
        shapely.geometry.shape(feature["geometry"]), demo_grids.geometry.iloc[5], tolerance=1e-9
    )
    _, community = _get(client, "/ogcapi/collections/communities/items/440605125001")
    assert community["properties"]["grids"] == int((demo_grids["community_code"] == "440605125001").sum())
    _, counted = _get(client, f"/ogcapi/collections/grid_complaint_counts/items/{code}")
    assert set(counted["properties"]) == COUNT_FIELDS


def test_cgcs2000_output_and_bbox_in_epsg_4490(client, demo_grids):
    code = demo_grids["code"].iloc[0]
    response, feature = _get(client, f"/ogcapi/collections/grids/items/{code}?crs={EPSG4490}")
    assert response.headers["Content-Crs"] == f"<{EPSG4490}>"
    ring = np.asarray(feature["geometry"]["coordinates"][0])
    expected = np.asarray(demo_grids.geometry.iloc[0].exterior.coords)
    assert np.allclose(ring[:, ::-1], expected, atol=1e-6)  # EPSG:4490 is lat, lon

    box = (113.13, 23.10, 113.15, 23.12)
    _, by_crs84 = _get(client, "/ogcapi/collections/grids/items?limit=1000&bbox=" + ",".join(map(str, box)))
    lat_lon = (box[1], box[0], box[3], box[2])
    _, by_4490 = _get(
        client,
        f"/ogcapi/collections/grids/items?limit=1000&bbox-crs={EPSG4490}&bbox=" + ",".join(map(str, lat_lon)),
    )
    expected_codes = sorted(demo_grids[demo_grids.intersects(shapely.box(*box))]["code"])
    assert sorted(f["id"] for f in by_crs84["features"]) == expected_codes
    assert sorted(f["id"] for f in by_4490["features"]) == expected_codes
    assert by_crs84["numberMatched"] == len(expected_codes)


def test_datetime_is_the_report_window_of_the_counts(client, complaints):
    times = pd.to_datetime(complaints["reported_at"], utc=True)
    since, until = pd.Timestamp("2026-03-01T00:00:00Z"), pd.Timestamp("2026-05-31T12:00:00Z")
    window = complaints[(times >= since) & (times <= until)]
    assert 0 < len(window) < len(complaints)
    url = "/ogcapi/collections/grid_complaint_counts/items?limit=1000&datetime="
    _, body = _get(client, url + "2026-03-01T00:00:00Z/2026-05-31T12:00:00Z")
    got = {f["id"]: f["properties"]["complaints"] for f in body["features"]}
    assert sum(got.values()) == len(window)
    for code, n in window["grid_code"].value_counts().items():
        assert got[code] == n
    _, open_end = _get(client, url + "2026-03-01T00:00:00Z/..")
    assert sum(f["properties"]["complaints"] for f in open_end["features"]) == int((times >= since).sum())
    _, everything = _get(client, url.removesuffix("&datetime="))
    assert sum(f["properties"]["complaints"] for f in everything["features"]) == len(complaints)


def test_versions_and_datetime_on_the_grid_layers(client):
    _, body = _get(client, "/ogcapi/collections/grids/items?version=1&limit=1")
    assert body["features"][0]["properties"]["version_id"] == 1
    response, body = _get(client, "/ogcapi/collections/grids/items?version=99")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert body["code"] == "unknown_version"
    _, before = _get(client, "/ogcapi/collections/grids/items?datetime=2000-01-01T00:00:00Z")
    assert before["numberMatched"] == 0 and before["features"] == []  # no version was in force then
    _, now = _get(client, "/ogcapi/collections/grids/items?datetime=../2100-01-01")
    assert now["numberMatched"] == DEMO_GRID_COUNT
    response, _ = _get(client, "/ogcapi/collections/grids/items?version=1&datetime=2026-01-01")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/ogcapi/collections/grids/items?colour=red", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/grids/items?limit=ten", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/grids/items?bbox=1,2,3", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/grids/items?bbox=113,23,114,nan", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/grids/items?crs=EPSG:3857", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/grids/items?datetime=soon", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/grids/items?datetime=2026-05-01/2026-01-01", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/grids/items?f=html", 400, "InvalidParameterValue"),
        ("/ogcapi/collections/people/items", 404, "not_found"),
        ("/ogcapi/collections/people", 404, "not_found"),
        ("/ogcapi/collections/grids/items/440605125999999", 404, "not_found"),
        ("/ogcapi/conformance?x=1", 400, "InvalidParameterValue"),
    ],
)
def test_bad_requests_are_json_problems(client, url, status, code):
    """Unknown parameters are refused (/req/core/query-param-unknown), as JSON whatever Accept says."""
    response = client.get(url, headers={"Accept": "text/html"})
    body = response.get_json()
    assert response.status_code == status and response.mimetype == "application/problem+json", url
    assert body["code"] == body["error"]["code"] == code
