"""The ``redgrid`` command line, run through click's runner on fresh SQLite databases."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from cli import main
from tests.apps import DEMO_COMMUNITIES
from tests.apps import DEMO_GRID_COUNT
from tests.apps import DEMO_GRIDS
from tests.apps import DEMO_OUTLINE
from tests.apps import cli_ok
from tests.apps import error_of
from tests.apps import inside_point
from tests.apps import point_where_versions_differ
from tests.apps import read_grids

MASKED = re.compile(r"^138\*{4}\d{4}$")
FULL = re.compile(r"^1380013\d{4}$")


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            out += _leaf_commands(command, (*prefix, name))
        elif command.callback is not None and command.callback.__module__.startswith("cli."):
            out.append((*prefix, name))  # flask's own run/shell/routes are not ours
    return out


OUR_COMMANDS = _leaf_commands(main)


def test_the_command_list_is_complete():
    assert {" ".join(c) for c in OUR_COMMANDS} >= {
        "db upgrade",
        "town set",
        "communities import",
        "grids validate",
        "grids import",
        "versions list",
        "versions show",
        "versions activate",
        "officials import",
        "locate",
        "locate-file",
        "generate grids",
        "generate roster",
        "demo load",
        "apikey create",
        "apikey revoke",
    }


@pytest.mark.parametrize("command", OUR_COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(empty_db, command):
    result = cli_ok(empty_db.cli(*command, "--help"))
    assert re.search(r"Example:?\s.*redgrid", result.stdout, re.S), result.stdout


def _store(db):
    return db.app().extensions["redgrid"].store


def _locate(db, lon: float, lat: float, *extra: str) -> dict:
    return json.loads(cli_ok(db.cli("locate", repr(lon), repr(lat), *extra)).stdout)


# --- demo ---------------------------------------------------------------------------------


def test_demo_load_is_idempotent(empty_db):
    first = cli_ok(empty_db.cli("demo", "load", "--complaints", "300")).stdout
    assert "grid version 1 created" in first
    assert "1813 rows: 1813 added, 0 updated, 0 unchanged" in first
    assert "300 demo complaints added, 0 already present" in first
    store = _store(empty_db)
    assert (len(store.versions()), len(store.assignments()), store.count_complaints()) == (1, 1813, 300)

    second = cli_ok(empty_db.cli("demo", "load", "--complaints", "300")).stdout
    assert "grid version 1 present" in second
    assert "1813 rows: 0 added, 0 updated, 1813 unchanged" in second
    assert "0 demo complaints added, 300 already present" in second
    assert (len(store.versions()), len(store.assignments()), store.count_complaints()) == (1, 1813, 300)
    assert store.active_version_id() == 1
    assert len(cli_ok(empty_db.cli("versions", "list")).stdout.splitlines()) == 1


# --- grids and versions -------------------------------------------------------------------


@pytest.fixture
def overlapping_file(demo_grids, tmp_path) -> tuple[Path, str, str]:
    """The demo grids with one grid grown 40 m into its neighbour (and nothing else changed)."""
    frame = demo_grids.copy()
    metric = frame.to_crs(32649)
    a = 0
    b = int(next(i for i in metric.sindex.query(metric.geometry[a], predicate="touches") if i != a))
    grown = metric.geometry[a].union(metric.geometry[b].intersection(metric.geometry[a].buffer(40)))
    frame.loc[a, "geometry"] = gpd.GeoSeries([grown], crs=32649).to_crs(4326).iloc[0]
    path = tmp_path / "overlap.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path, frame.loc[a, "code"], frame.loc[b, "code"]


def test_grids_validate_reports_an_overlap_and_exits_1(demo_db, overlapping_file):
    path, a, b = overlapping_file
    result = demo_db.cli("grids", "validate", str(path))
    assert result.exit_code == 1
    issue = rf"ERROR\s+overlap: grids {a} and {b} overlap by [0-9.]+ m²"
    assert re.search(issue, result.stdout), result.stdout
    report = json.loads(demo_db.cli("grids", "validate", str(path), "--json").stdout)
    assert report["ok"] is False
    assert any(i["kind"] == "overlap" and i["codes"] == [a, b] for i in report["issues"])


def test_grids_validate_passes_the_demo_file(demo_db):
    result = demo_db.cli("grids", "validate", str(DEMO_GRIDS))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("0 error(s)")


def test_grids_import_of_an_overlapping_file_is_refused_and_stores_nothing(demo_db, overlapping_file):
    path, a, b = overlapping_file
    before = cli_ok(demo_db.cli("versions", "list")).stdout
    result = demo_db.cli("grids", "import", str(path), "--activate")
    assert result.exit_code == 1
    assert "overlap.geojson: import refused, nothing stored" in result.stderr
    assert f"grids {a} and {b} overlap" in result.stderr
    assert cli_ok(demo_db.cli("versions", "list")).stdout == before
    assert len(_store(demo_db).versions()) == 1


def test_versions_activate_switches_what_locate_answers(
    demo_db, demo_grids, reseeded_grids, reseeded_grids_file
):
    lon, lat, old_code, new_code = point_where_versions_differ(demo_grids, reseeded_grids)
    imported = cli_ok(demo_db.cli("grids", "import", str(reseeded_grids_file), "--label", "seed 7")).stdout
    assert "version 2 created" in imported and "not active" in imported
    again = cli_ok(demo_db.cli("grids", "import", str(reseeded_grids_file))).stdout
    assert "already imported as" in again and "version 2" in again
    assert _locate(demo_db, lon, lat)["grid"]["code"] == old_code

    assert cli_ok(demo_db.cli("versions", "activate", "2")).stdout == "version 2 is active\n"
    now = _locate(demo_db, lon, lat)
    assert (now["version"]["id"], now["grid"]["code"]) == (2, new_code)
    assert _locate(demo_db, lon, lat, "--version", "1")["grid"]["code"] == old_code
    listing = cli_ok(demo_db.cli("versions", "list")).stdout.splitlines()
    assert [line[:6] for line in listing] == ["     1", "*    2"]

    cli_ok(demo_db.cli("versions", "activate", "1"))
    assert _locate(demo_db, lon, lat)["grid"]["code"] == old_code

    shown = json.loads(cli_ok(demo_db.cli("versions", "show", "2")).stdout)
    assert (shown["id"], shown["label"], shown["active"], shown["grids"]) == (
        2,
        "seed 7",
        False,
        DEMO_GRID_COUNT,
    )
    assert shown["report"]["ok"] is True


def test_unknown_versions_are_clear_errors(demo_db):
    for args in (("versions", "show", "9"), ("versions", "activate", "9")):
        result = demo_db.cli(*args)
        assert result.exit_code == 2
        assert result.stderr == "error: grid version 9 does not exist\n"


# --- officials ----------------------------------------------------------------------------


def _gbk_roster(path: Path, rows: list[tuple[str, ...]]) -> Path:
    lines = ["姓名,电话,角色,单位编码,开始日期"] + [",".join(r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def test_officials_import_of_a_gbk_file_with_an_unknown_grid_fails_whole(demo_db, tmp_path):
    path = _gbk_roster(
        tmp_path / "名册.csv",
        [
            ("欧阳娜", "13800139001", "网格员", "440605125001001", "2024-05-01"),
            ("司马光", "13800139002", "小红格组长", "440605125001002", "2024年5月1日"),
            ("诸葛亮", "13800139003", "网格员", "440605125001099", "2024-05-01"),
        ],
    )
    before = len(_store(demo_db).assignments())
    result = demo_db.cli("officials", "import", str(path))
    assert result.exit_code == 2
    assert result.stderr == (
        "error: roster 名册.csv: 1 problem(s), nothing imported\n"
        "  - row 4, field 'unit_code': grid 440605125001099 is not in the grid set\n"
    )
    assert len(_store(demo_db).assignments()) == before
    assert "欧阳娜" not in {a.name for a in _store(demo_db).assignments()}


def test_officials_import_of_a_good_gbk_file_adds_people_to_the_team(demo_db, demo_grids, tmp_path):
    path = _gbk_roster(
        tmp_path / "名册.csv",
        [
            ("欧阳娜", "13800139001", "网格员", "440605125001001", "2024-05-01"),
            ("司马光", "13800139002", "小红格组长", "440605125001001", "2024年5月1日"),
        ],
    )
    assert cli_ok(demo_db.cli("officials", "import", str(path))).stdout == (
        "2 rows: 2 added, 0 updated, 0 unchanged\n"
    )
    team = _locate(demo_db, *inside_point(demo_grids, "440605125001001"))["team"]
    assert {"欧阳娜", "司马光"} <= {m["name"] for m in team}
    again = cli_ok(demo_db.cli("officials", "import", str(path))).stdout
    assert again == "2 rows: 0 added, 0 updated, 2 unchanged\n"


def test_officials_import_preview_of_a_gbk_file_stores_nothing(demo_db, tmp_path):
    path = _gbk_roster(
        tmp_path / "名册.csv",
        [
            ("欧阳娜", "13800139001", "网格员", "440605125001001", "2024-05-01"),
            ("司马光", "13800139002", "小红格组长", "440605125001001", "2024年5月1日"),
        ],
    )
    before = _store(demo_db).assignments()
    in_community = sum(a.unit_code.startswith("440605125001") for a in before)
    preview = cli_ok(demo_db.cli("officials", "import", str(path), "--preview")).stdout
    lines = preview.splitlines()
    assert lines[0] == "名册.csv: 2 rows"
    assert lines[1].startswith("  encoding gb18030: ")
    # a roster speaks for the communities it names: the people of 001 it leaves out are listed
    assert lines[2] == (
        f"2 added, {in_community} removed, 0 changed, 0 unchanged (compared over 440605125001)"
    )
    assert "  + 欧阳娜 (网格员, 440605125001001) from 2024-05-01 [row 2]" in lines
    assert f"not ended automatically: {in_community} current row(s) stay in force" in preview
    assert lines[-1] == "nothing stored (preview); run the same command without --preview to apply"
    assert _store(demo_db).assignments() == before


# --- lookups ------------------------------------------------------------------------------


def test_locate_prints_json_with_masked_phones_or_full_ones_on_request(demo_template, demo_grids):
    lon, lat = inside_point(demo_grids, "440605125001001")
    masked = _locate(demo_template, lon, lat)
    assert masked["status"] == "ok" and masked["grid"]["code"] == "440605125001001"
    assert {m["level"] for m in masked["team"]} == {1, 2, 3, 4, 5}
    assert all(MASKED.fullmatch(m["phone"]) and m["phone_masked"] for m in masked["team"])
    full = _locate(demo_template, lon, lat, "--show-phones")
    assert all(FULL.fullmatch(m["phone"]) and not m["phone_masked"] for m in full["team"])
    assert [m["phone"][-4:] for m in full["team"]] == [m["phone"][-4:] for m in masked["team"]]


def test_locate_in_gcj02_and_bad_coordinate_systems(demo_template, demo_grids):
    from geo.crs import from_wgs84

    lon, lat = (float(v) for v in from_wgs84(*inside_point(demo_grids, "440605125001001"), "gcj02"))
    assert _locate(demo_template, lon, lat, "--coordsys", "gcj02")["grid"]["code"] == "440605125001001"
    result = demo_template.cli("locate", "113.1", "23.1", "--coordsys", "mars")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: unknown coordinate system 'mars'; expected one of wgs84, cgcs2000, gcj02, bd09\n"
    )


@pytest.fixture
def points_csv(demo_grids, tmp_path) -> Path:
    rows = [("a", *inside_point(demo_grids, code)) for code in demo_grids["code"][:12]]
    west = float(demo_grids.total_bounds[0]) - 0.01  # 1 km west of the grids: in none, but served
    rows += [("far", 116.397, 39.909), ("nan", float("nan"), 23.1), ("outside", west, 23.11)]
    path = tmp_path / "points.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "lon", "lat"])
        for i, (tag, lon, lat) in enumerate(rows):
            writer.writerow([f"{tag}{i}", "" if lon != lon else repr(lon), repr(lat)])
    return path


def test_locate_file_writes_a_csv_of_answers(demo_template, points_csv, demo_grids, tmp_path):
    dst = tmp_path / "answers.csv"
    result = cli_ok(demo_template.cli("locate-file", str(points_csv), str(dst), "--chunk", "5"))
    assert "15 rows → " in result.stderr
    assert not Path(str(dst) + ".partial").exists()
    answers = pd.read_csv(dst, dtype=str, keep_default_na=False)
    source = pd.read_csv(points_csv, dtype=str, keep_default_na=False)
    assert answers["row"].tolist() == [str(i) for i in range(15)]
    assert answers["id"].tolist() == source["id"].tolist()
    assert answers["grid_code"].tolist()[:12] == demo_grids["code"].tolist()[:12]
    assert answers["status"].tolist()[12:] == ["far_outside", "not_a_number", "outside"]
    assert (dst.read_text().count("row,id,lon,lat")) == 1


def _full_run(db, src: Path, tmp_path: Path) -> bytes:
    reference = tmp_path / "reference.csv"
    cli_ok(db.cli("locate-file", str(src), str(reference), "--chunk", "4"))
    return reference.read_bytes()


@pytest.mark.parametrize("keep_rows", [0, 3, 4, 14])
def test_locate_file_resume_finishes_an_interrupted_run_without_duplicates(
    demo_template, points_csv, tmp_path, keep_rows
):
    expected = _full_run(demo_template, points_csv, tmp_path)
    lines = expected.splitlines(keepends=True)
    dst = tmp_path / "answers.csv"
    Path(str(dst) + ".partial").write_bytes(b"".join(lines[: 1 + keep_rows]))  # header + N rows
    result = cli_ok(demo_template.cli("locate-file", str(points_csv), str(dst), "--resume", "--chunk", "4"))
    assert f"resuming after {keep_rows} rows" in result.stderr
    assert dst.read_bytes() == expected
    rows = [r["row"] for r in csv.DictReader(io.StringIO(dst.read_text()))]
    assert rows == [str(i) for i in range(15)]


def test_locate_file_resume_redoes_a_half_written_row(demo_template, points_csv, tmp_path):
    expected = _full_run(demo_template, points_csv, tmp_path)
    lines = expected.splitlines(keepends=True)
    dst = tmp_path / "answers.csv"
    torn = b"".join(lines[:6]) + lines[6][:10]  # header, 5 rows, and a row cut off mid-write
    Path(str(dst) + ".partial").write_bytes(torn)
    result = cli_ok(demo_template.cli("locate-file", str(points_csv), str(dst), "--resume"))
    assert "resuming after 5 rows" in result.stderr
    assert dst.read_bytes() == expected


def test_locate_file_without_resume_starts_over(demo_template, points_csv, tmp_path):
    expected = _full_run(demo_template, points_csv, tmp_path)
    dst = tmp_path / "answers.csv"
    Path(str(dst) + ".partial").write_bytes(expected.splitlines(keepends=True)[0] + b"stale,row\n")
    cli_ok(demo_template.cli("locate-file", str(points_csv), str(dst)))
    assert dst.read_bytes() == expected


def test_locate_file_names_a_missing_column(demo_template, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("id,east,north\n1,113.1,23.1\n")
    result = demo_template.cli("locate-file", str(src), str(tmp_path / "out.csv"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {src}: CSV rows need lon and lat columns")
    assert result.stderr.rstrip().endswith("found id, east, north")


# --- generation ---------------------------------------------------------------------------


def _generate(db, out: Path, seed: int, n: int = 60) -> str:
    return cli_ok(
        db.cli(
            "generate",
            "grids",
            "--communities",
            str(DEMO_COMMUNITIES),
            "--outline",
            str(DEMO_OUTLINE),
            "-n",
            str(n),
            "--seed",
            str(seed),
            "--out",
            str(out),
        )
    ).stdout


def test_generate_grids_is_deterministic_for_a_seed(empty_db, tmp_path):
    paths = {run: tmp_path / run / "grids.geojson" for run in ("a", "b", "c")}
    message = _generate(empty_db, paths["a"], 11)
    assert message.endswith(f"60 grids in 43 communities → {paths['a']}\n")
    _generate(empty_db, paths["b"], 11)
    _generate(empty_db, paths["c"], 12)
    a, b, c = (read_grids(paths[run]) for run in "abc")
    assert len(a) == 60
    assert a["code"].tolist() == b["code"].tolist()
    assert all(x.equals_exact(y, 0) for x, y in zip(a.geometry, b.geometry, strict=True))
    assert paths["a"].read_bytes() == paths["b"].read_bytes()
    assert not all(x.equals_exact(y, 1e-9) for x, y in zip(a.geometry, c.geometry, strict=True))


def test_generated_grids_cover_the_outline_and_validate(empty_db, reseeded_grids_file, reseeded_grids):
    outline = shapely.union_all(gpd.read_file(DEMO_OUTLINE).geometry.values)
    union = shapely.union_all(reseeded_grids.geometry.values)
    assert abs(union.area - outline.area) / outline.area < 1e-6
    cli_ok(empty_db.cli("demo", "load", "--complaints", "0"))
    assert empty_db.cli("grids", "validate", str(reseeded_grids_file)).exit_code == 0


# --- API keys -----------------------------------------------------------------------------


def test_apikey_create_then_revoke_makes_the_key_401(demo_db, fresh_client, demo_grids):
    created = cli_ok(demo_db.cli("apikey", "create", "hotline-12345", "--scope", "personal_data"))
    token = created.stdout.strip()
    assert re.fullmatch(r"rg_[A-Za-z0-9_-]{40,}", token)
    lon, lat = inside_point(demo_grids, "440605125001001")
    url = f"/api/v1/point/wgs84/{lon!r},{lat!r}"
    headers = {"Authorization": f"Bearer {token}"}
    response = fresh_client.get(url, headers=headers)
    assert response.status_code == 200
    assert all(FULL.fullmatch(m["phone"]) for m in response.get_json()["team"])

    assert cli_ok(demo_db.cli("apikey", "revoke", "hotline-12345")).stdout == "1 key(s) revoked\n"
    response = fresh_client.get(url, headers=headers)
    assert response.status_code == 401
    assert error_of(response.get_json()) == {
        "error": {"code": "invalid_api_key", "message": "API key not recognised or revoked"}
    }
    assert cli_ok(demo_db.cli("apikey", "revoke", "hotline-12345")).stdout == "0 key(s) revoked\n"


def test_apikey_create_refuses_an_unknown_scope(demo_db):
    result = demo_db.cli("apikey", "create", "x", "--scope", "everything")
    assert result.exit_code == 2
    assert "Invalid value for '--scope'" in result.stderr


# --- places -------------------------------------------------------------------------------


def test_communities_import_names_the_bad_row_and_field(empty_db, tmp_path):
    path = tmp_path / "communities.csv"
    path.write_text("code,name\n440605125001,沥苑社区居委会\n4406051250,短编码社区\n", encoding="utf-8")
    result = empty_db.cli("communities", "import", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: rows 3: field 'code' must be a 12-digit statistical code\n"
    good = tmp_path / "good.csv"
    good.write_text("code,name,kind\n440605125001,沥苑社区居委会,rural\n", encoding="utf-8")
    assert cli_ok(empty_db.cli("communities", "import", str(good))).stdout == "1 communities saved\n"
    assert _store(empty_db).communities().set_index("code").loc["440605125001", "kind"] == "rural"


def test_town_set_with_an_outline(empty_db):
    result = cli_ok(empty_db.cli("town", "set", "440605125", "大沥镇", "--outline", str(DEMO_OUTLINE)))
    assert result.stdout == "town 440605125 大沥镇 saved with its outline\n"
    town = _store(empty_db).town("440605125")
    outline = shapely.union_all(gpd.read_file(DEMO_OUTLINE).geometry.values)
    assert town.name == "大沥镇" and town.outline.equals_exact(outline, 1e-9)
