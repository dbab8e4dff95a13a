"""The whole service on its production backend: PostGIS, through the same commands and API."""

from __future__ import annotations

import shapely
import sqlalchemy as sa

from tests.apps import cli_ok
from tests.apps import run_cli
from webmap import create_app


def test_demo_on_postgis_answers_points_files_complaints_and_keeps_real_geometry(postgis, tmp_path):
    url = postgis("app")
    config = {
        "TESTING": True,
        "DATABASE_URL": url,
        "CACHE_DIR": str(tmp_path / "cache"),
        "SECRET_KEY": "test",
        "ACTIVE_TTL_S": 0.0,
    }
    out = cli_ok(run_cli(config, ["demo", "load", "--complaints", "200"])).stdout
    assert "grid version 1 created" in out and "200 demo complaints added" in out
    app = create_app(config)
    client = app.test_client()

    body = client.get("/api/v1/point/wgs84/113.1457,23.1110").get_json()
    assert body["status"] == "ok" and body["grid"]["code"].startswith("440605125")
    assert sorted({m["level"] for m in body["team"]}) == [1, 2, 3, 4, 5]

    token = cli_ok(run_cli(config, ["apikey", "create", "pg-test", "--scope", "write"])).stdout.strip()
    filed = client.post(
        "/api/v1/complaints",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "external_id": "pg-1",
            "category": "rubbish",
            "text": "垃圾未清运",
            "lon": 113.1457,
            "lat": 23.1110,
        },
    )
    assert filed.status_code == 201
    assert filed.get_json()["grid"]["code"] == body["grid"]["code"]
    counts = client.get("/api/v1/stats/counts?by=state").get_json()["rows"]
    assert sum(r["count"] for r in counts) == 201

    # the geometry columns are real PostGIS geometries a GIS client can query
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        kind = conn.execute(sa.text("SELECT GeometryType(geometry) FROM grids LIMIT 1")).scalar()
        inside = (
            conn.execute(
                sa.text(
                    "SELECT code FROM grids WHERE version_id = 1 AND "
                    "ST_Covers(geometry, ST_SetSRID(ST_MakePoint(113.1457, 23.1110), 4326))"
                )
            )
            .scalars()
            .all()
        )
        area = conn.execute(
            sa.text("SELECT ST_Area(geometry::geography) FROM grids WHERE code = :c"),
            {"c": body["grid"]["code"]},
        ).scalar()
    engine.dispose()
    assert kind == "POLYGON"
    assert inside == [body["grid"]["code"]]
    assert abs(area - body["grid"]["area_m2"]) / area < 0.005  # geodesic vs UTM 49N
    assert shapely.is_valid(app.extensions["redgrid"].store.grids(1).geometry.iloc[0])
