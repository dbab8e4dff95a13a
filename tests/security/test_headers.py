"""10. At rest and on the wire: private files, keys out of logs, security headers.

Failed before, passes now: the database, its WAL and the photos were world-readable; an
Open311 key in the query string landed in the access log; no ``frame-ancestors``, and the
CSP allowed inline scripts.
"""

from __future__ import annotations

import logging
import re
import stat
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from tests.security.accounts_helpers import fresh
from webmap import redact

pytest_plugins = ["tests.apps"]


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}


def _check_headers(response) -> None:
    csp = _csp(response)
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "default-src" in csp and "object-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/grids",
        "/login",
        "/complaints",
        "/api/v1/health",
        "/api/v1/nothing-here",
        "/static/favicon.svg",
        "/open311/v2/services.json",
        "/planner",
    ],
)
def test_every_response_has_the_security_headers(demo_client, path):
    response = demo_client.get(path)
    response.close()
    _check_headers(response)


def test_map_pages_run_no_inline_script_without_this_responses_nonce(demo_client):
    seen = set()
    for path in ("/", "/grids", "/", "/grids"):
        response = demo_client.get(path)
        html = response.get_data(as_text=True)
        nonce = re.search(r"'nonce-([^']+)'", _csp(response)["script-src"]).group(1)
        seen.add(nonce)
        scripts = re.findall(r"<script\b([^>]*)>", html, flags=re.IGNORECASE)
        assert scripts
        for attrs in scripts:
            if "src=" in attrs or 'type="application/json"' in attrs:
                continue
            assert f'nonce="{nonce}"' in attrs, attrs  # every inline script carries it
        assert " on" not in re.sub(r"\s+", " ", "".join(re.findall(r"<[a-z]+\s[^>]*\son\w+=", html)))
    assert len(seen) == 4  # a new nonce for every response


def test_pages_without_maps_name_no_nonce(demo_client):
    response = demo_client.get("/login")
    assert _csp(response)["script-src"] == "script-src 'self'"
    assert "<script>" not in response.get_data(as_text=True)


def test_the_instance_folder_database_and_photos_are_private(demo_db, tmp_path):
    photos = tmp_path / "photos"
    app = demo_db.app(PHOTO_DIR=str(photos))
    svc = app.extensions["redgrid"]
    token = svc.accounts.create_key("writer", ["write", "personal_data"])
    client = app.test_client()
    headers = {"X-API-Key": token}
    filed = client.post(
        "/api/v1/complaints",
        json={
            "category": "noise",
            "text": "楼下夜间噪音",
            "lon": 113.1457,
            "lat": 23.1110,
            "channel": "hotline",
        },
        headers=headers,
    )
    assert filed.status_code in (200, 201), filed.get_data(as_text=True)
    case_id = filed.json["id"]
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
        b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    up = client.post(
        f"/api/v1/complaints/{case_id}/photos",
        data={"photo": (__import__("io").BytesIO(png), "p.png", "image/png")},
        headers=headers,
    )
    assert up.status_code in (200, 201), up.get_data(as_text=True)
    files = [p for p in photos.iterdir() if p.is_file()]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(photos.stat().st_mode) == 0o700
    for path in (demo_db.path, demo_db.path.with_name(demo_db.path.name + "-wal")):
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_an_existing_world_readable_install_is_made_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    monkeypatch.setenv("REDGRID_INSTANCE_PATH", str(instance))
    (instance / "secret_key").write_text("0" * 64)
    (instance / "secret_key").chmod(0o644)
    app = fresh(tmp_path, DATABASE_URL=f"sqlite:///{instance / 'redgrid.db'}", SECRET_KEY=None)
    app.extensions["redgrid"].store.dispose()
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    for name in ("secret_key", "redgrid.db"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name
    for path in instance.glob("redgrid.db-*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_new_secret_key_file_is_never_readable_by_others(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("REDGRID_INSTANCE_PATH", str(instance))
    fresh(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", SECRET_KEY=None)
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600


def test_redact_takes_keys_out_of_logged_urls():
    line = '127.0.0.1 - - "POST /open311/v2/requests.json?api_key=rg_SECRET&lat=1 HTTP/1.1" 201'
    assert "rg_SECRET" not in redact(line) and "api_key=[redacted]&lat=1" in redact(line)
    assert redact("/x?token=abc") == "/x?token=[redacted]"


def test_the_development_server_logs_no_keys_and_no_version(tmp_path, caplog):
    app = fresh(tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            url = f"http://127.0.0.1:{server.port}/open311/v2/services.json?api_key=rg_LEAKME"
            with urllib.request.urlopen(url) as r:
                server_header = r.headers["Server"]
                _check_headers(r)
    finally:
        server.shutdown()
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "services.json" in logged and "rg_LEAKME" not in logged
    assert server_header == "RedGrid"
