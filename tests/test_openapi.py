"""The OpenAPI document (/api/openapi.json), the models it is made from, the docs page, the
GeoJSON files GIS tools open by URL (Range, ETag, 304), and schemathesis over the document.

Apps here run with ``VALIDATE_ANSWERS``: every documented view's answer is validated against its
pydantic model before it leaves (a mismatch is a 500 problem, which the checks below catch).
"""

from __future__ import annotations

import collections
import contextlib
import json
import re
import sqlite3
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.apps import DEMO_COMMUNITY_COUNT
from tests.apps import DEMO_GRID_COUNT
from tests.apps import Db
from webmap.api import models
from webmap.api import openapi

REPO = Path(__file__).resolve().parents[1]
#: what the issue asks the document to cover, at the least
REQUIRED = {
    ("get", "/api/v1/point/{coordsys}/{coords}"),
    ("post", "/api/v1/points"),
    ("get", "/api/v1/grids"),
    ("get", "/api/v1/grids.geojson"),
    ("get", "/api/v1/grids/{code}"),
    ("get", "/api/v1/grids/{code}.geojson"),
    ("get", "/api/v1/communities.geojson"),
    ("get", "/api/v1/versions"),
    ("get", "/api/v1/versions/{version_id}"),
    ("get", "/api/v1/complaints"),
    ("post", "/api/v1/complaints"),
    ("get", "/api/v1/complaints/{complaint_id}"),
    ("post", "/api/v1/complaints/{complaint_id}/actions"),
    ("get", "/api/v1/stats/counts"),
    ("get", "/api/v1/stats/departments"),
    ("get", "/api/v1/stats/satisfaction"),
    ("get", "/api/v1/stats/overdue"),
    ("get", "/api/v1/geocode"),
}


@pytest.fixture(scope="module")
def checked_db(demo_template: Db, tmp_path_factory) -> Db:
    """A private copy of the demo (keys are made in it), answers validated against the models."""
    db = Db(tmp_path_factory.mktemp("openapi") / "redgrid.db", demo_template.cache_dir)
    with (
        contextlib.closing(sqlite3.connect(demo_template.path)) as src,
        contextlib.closing(sqlite3.connect(db.path)) as dst,
    ):
        src.backup(dst)
    return db


@pytest.fixture(scope="module")
def checked_app(checked_db: Db):
    return checked_db.app(VALIDATE_ANSWERS=True)


@pytest.fixture(scope="module")
def reader_headers(checked_app) -> dict:
    """A key that may read personal data, so the complaint reads answer in full."""
    token = checked_app.extensions["redgrid"].accounts.create_key("openapi-reader", ["personal_data"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(checked_app):
    return checked_app.test_client()


@pytest.fixture(scope="module")
def document(checked_app) -> dict:
    response = checked_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


# --- the document ------------------------------------------------------------------------------


def test_the_document_is_openapi_3_1_and_covers_the_api(document):
    assert document["openapi"] == "3.1.0"
    operations = {(method, path) for path, item in document["paths"].items() for method in item}
    assert REQUIRED <= operations, sorted(REQUIRED - operations)
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["responses"]["default"]["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/ProblemDetails"
            }, (method, path)
            names = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert names == set(re.findall(r"{([^}]+)}", path)), (method, path)
    point = document["paths"]["/api/v1/point/{coordsys}/{coords}"]["get"]
    assert point["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PointAnswer"
    }
    assert {p["name"] for p in point["parameters"]} == {"coordsys", "coords", "version", "at"}
    batch = document["paths"]["/api/v1/points"]["post"]
    assert {
        "application/json",
        "application/geo+json",
        "text/csv",
        "application/vnd.apache.arrow.stream",
    } <= set(batch["requestBody"]["content"])
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert {"type", "title", "status", "detail", "code", "error"} <= set(problem["required"])


def test_the_document_is_made_from_the_models_the_views_are_wrapped_with(checked_app, document):
    """Not a hand-kept file: every listed operation is in the URL map and its view is wrapped."""
    for op in openapi.OPERATIONS:
        assert getattr(checked_app.view_functions[op.endpoint], "__wrapped_by_openapi__", False), op.endpoint
    schemas = document["components"]["schemas"]
    for name in (
        "PointAnswer",
        "Grid",
        "Official",
        "Complaint",
        "ComplaintPage",
        "GridCollection",
        "Geocoded",
    ):
        assert schemas[name] == _component(name), name


def _component(name: str) -> dict:
    from pydantic.json_schema import models_json_schema

    _, defs = models_json_schema([(getattr(models, name), "validation")], ref_template=openapi.REF)
    return defs["$defs"][name]


def test_requests_are_checked_with_the_models_and_refused_as_problems(client):
    for url, code, words in [
        ("/api/v1/grids?version=first", "bad_parameter", "version='first' must be a version number"),
        ("/api/v1/grids.geojson?simplify=lots", "bad_parameter", "simplify='lots' must be a tolerance"),
        ("/api/v1/complaints?limit=many", "bad_parameter", "limit='many' must be a whole number"),
        ("/api/v1/complaints?deadline=someday", "bad_parameter", "deadline= is on_time, due_soon or overdue"),
        ("/api/v1/stats/counts?since=yesterday", "bad_parameter", "since='yesterday' is not an ISO date"),
        ("/api/v1/reverse/utm49/113.1,23.1", "unknown_coordsys", "unknown coordinate system 'utm49'"),
        ("/api/v1/geocode?q=", "bad_parameter", "q= is the address to find"),
        ("/api/v1/geocode", "bad_parameter", "q= is the address to find"),
    ]:
        # the same refusal the view or service gives: the models check with the views' own parsers
        response = client.get(url)
        body = response.get_json()
        assert response.status_code == 400 and response.mimetype == "application/problem+json", url
        assert body["code"] == body["error"]["code"] == code, (url, body)
        assert words in body["detail"], (url, body["detail"])


def test_a_json_body_is_checked_with_its_model(client, reader_headers):
    response = client.post(
        "/api/v1/complaints/1/actions", json={"action": "close", "satisfied": "maybe"}, headers=reader_headers
    )
    body = response.get_json()
    assert response.status_code == 400 and body["code"] == "bad_json", body
    assert "satisfied" in body["detail"]


def test_answers_are_validated_against_their_models(checked_app, client, reader_headers):
    """The answers of the main reads pass (VALIDATE_ANSWERS is on), and a broken one would be a 500."""
    for url in (
        "/api/v1/point/wgs84/113.1457,23.1110?version=1",
        "/api/v1/point/gcj02/113.1503,23.1085",
        "/api/v1/point/wgs84/113.0,23.0",
        "/api/v1/grids",
        "/api/v1/grids/440605125001001",
        "/api/v1/grids/440605125001001.geojson",
        "/api/v1/communities/440605125001.geojson",
        "/api/v1/versions",
        "/api/v1/versions/1",
        "/api/v1/complaints?limit=5",
        "/api/v1/complaints/1",
        "/api/v1/stats/counts?by=grid_code",
        "/api/v1/stats/departments",
        "/api/v1/stats/overdue",
        "/api/v1/geocode?q=大沥镇沥东社区",
        "/api/v1/reverse/wgs84/113.1457,23.1110",
        "/api/v1/catalog",
        "/api/v1/health",
    ):
        response = client.get(url, headers=reader_headers)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
    # the anonymous fast path (LeanPoint, in front of Flask) answers the same documented shape
    anonymous = client.get("/api/v1/point/wgs84/113.1457,23.1110")
    assert anonymous.status_code == 200
    answer = models.PointAnswer.model_validate_json(anonymous.data, strict=True)
    assert answer.grid is not None and all(o.phone_masked for o in answer.team)
    op = openapi.BY_ENDPOINT["api.versions"]
    with checked_app.test_request_context("/api/v1/versions"):
        broken = checked_app.response_class(
            json.dumps({"versions": [{"id": "one"}]}), mimetype="application/json"
        )
        assert "VersionList" in openapi.answer_fault(op, broken)


def test_the_docs_page_is_served_offline(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources  # nothing from another host
    for source in sources:
        with client.get(source) as asset:  # a file response: closed when read
            assert asset.status_code == 200 and asset.data, source
    assert 'data-spec="/api/openapi.json"' in html
    manifest = json.loads((REPO / "webmap/static/vendor/manifest.json").read_text())
    assert manifest["swagger-ui-dist"] == (REPO / "webmap/static/vendor/swagger-ui-dist/.version").read_text()


# --- GeoJSON files by URL: ETag, If-None-Match, Range -------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/grids.geojson", "/api/v1/communities.geojson"])
def test_geojson_files_have_strong_etags_ranges_and_304(client, path):
    whole = client.get(path)
    assert whole.status_code == 200 and whole.mimetype == "application/geo+json"
    etag = whole.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/
    assert whole.headers["Accept-Ranges"] == "bytes"
    data = whole.data
    assert int(whole.headers["Content-Length"]) == len(data)
    expected = DEMO_GRID_COUNT if "grids" in path else DEMO_COMMUNITY_COUNT
    assert len(json.loads(data)["features"]) == expected

    assert client.get(path).headers["ETag"] == etag  # the same version and parameters: the same tag
    assert client.get(f"{path}?version=1").headers["ETag"] == etag  # the active version named
    assert client.get(f"{path}?simplify=5").headers["ETag"] != etag

    not_modified = client.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200

    part = client.get(path, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert part.data == data[100:1100]
    tail = client.get(path, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.data == data[-500:]
    stale = client.get(path, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.data == data  # If-Range with another tag: the whole file
    fresh = client.get(path, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.data == data[:10]
    beyond = client.get(path, headers={"Range": f"bytes={len(data) + 10}-"})
    assert beyond.status_code == 416
    head = client.head(path)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))


def test_activating_another_version_changes_the_etag(demo_db, reseeded_grids_file):
    app = demo_db.app(VALIDATE_ANSWERS=True)
    client = app.test_client()
    before = client.get("/api/v1/grids.geojson").headers["ETag"]
    from tests.apps import cli_ok

    cli_ok(demo_db.cli("grids", "import", str(reseeded_grids_file), "--activate"))
    after = client.get("/api/v1/grids.geojson")
    assert after.headers["ETag"] != before
    assert client.get("/api/v1/grids.geojson", headers={"If-None-Match": before}).status_code == 200
    old = client.get("/api/v1/grids.geojson?version=1")
    assert old.headers["ETag"] not in (before, after.headers["ETag"])  # version 1, no longer active


# --- schemathesis over the document --------------------------------------------------------------

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]


def test_schemathesis_over_the_reads(checked_app, reader_headers, capsys):
    """Every GET of the document (the point lookup and the complaint reads among them), a few
    generated cases each: no 5xx, and every answer (problems too) conforms to the document."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", checked_app)
    seen: collections.Counter = collections.Counter()
    server_errors: list[str] = []
    failures: list[str] = []
    operations = [
        r.ok() for r in schema.include(method="GET").exclude(path_regex=r"/photos/").get_all_operations()
    ]
    assert len(operations) >= 18

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            response = case.call(headers=reader_headers)
            seen["requests"] += 1
            seen[f"{response.status_code // 100}xx"] += 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} {case.query}: {response.text[:300]}"
                )
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:  # collected: one list of every fault, not the first only
                failures.append(f"{case.method} {case.formatted_path} {case.query}: {exc}")

        run()
    with capsys.disabled():
        print(
            f"\nschemathesis over /api/openapi.json: {len(operations)} GET operations, {dict(sorted(seen.items()))}"
        )
    assert not server_errors, server_errors
    assert not failures, failures[:5]
    assert seen["requests"] >= 5 * len(operations) and seen["2xx"] > 0
