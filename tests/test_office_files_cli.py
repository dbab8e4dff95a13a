"""The files offices really send (issue 12), through ``redgrid`` as a district clerk runs it.

The geo layer reads them (``tests/test_office_files.py``); here the command line and the
grid service pass them through: ``grids validate`` / ``grids import`` with ``--encoding``,
the town's centre naming the CRS of a file without one, the report (text, ``--json`` and
the stored version) saying which encoding and CRS were used and why, and
``officials import --preview``. Every file is written in the test from the bundled demo
grids and the generated demo roster (made-up people, 1380013xxxx phones), never from real
boundaries, with the writers of ``tests/files_grids.py`` and ``tests/test_office_files.py``.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import replace

import pytest

from geo.officials import Assignment
from geo.officials import Role
from geo.officials import UnitLevel
from store import open_store
from tests.apps import DEMO_GRID_COUNT
from tests.apps import Db
from tests.apps import cli_ok
from tests.apps import inside_point
from tests.files_grids import shifted
from tests.files_grids import write_geojson
from tests.files_grids import write_kml
from tests.files_grids import write_office_shapefile
from tests.test_office_files import same_grids
from tests.test_office_files import write_office_workbook

GBK_REASON = "no .cpg and language driver byte 0x00; charset-normalizer finds GBK/GB18030 Chinese"
CRS_4547 = (
    "CRS EPSG:4547: declared by its .prj: CGCS2000 / 3-degree Gauss-Kruger CM 114E; "
    "CGCS2000 is taken as WGS 84 (they differ by centimetres)"
)


@pytest.fixture
def store(demo_db: Db):
    store = open_store(demo_db.url)
    yield store
    store.dispose()


def _show(db: Db, version: int) -> dict:
    return json.loads(cli_ok(db.cli("versions", "show", str(version))).stdout)


# --- grid files ---------------------------------------------------------------------------------


def test_a_gbk_shapefile_in_gauss_kruger_without_cpg_validates_and_imports_as_its_source(
    demo_db, store, demo_grids, tmp_path
):
    path = write_office_shapefile(demo_grids, tmp_path / "大沥网格.shp", crs=4547)
    assert not path.with_suffix(".cpg").exists()

    checked = cli_ok(demo_db.cli("grids", "validate", str(path)))
    lines = checked.stdout.splitlines()
    assert lines[0].startswith(f"0 error(s), 0 warning(s); grids={DEMO_GRID_COUNT}, communities=43")
    assert lines[1] == "  read as ESRI Shapefile"
    assert lines[2].startswith(f"  encoding GB18030: {GBK_REASON}")
    assert lines[3] == f"  {CRS_4547}"
    assert lines[4].startswith("  columns: code ← 网格编码, name ← 网格名称, community_code ← 社区编码")
    as_json = json.loads(cli_ok(demo_db.cli("grids", "validate", str(path), "--json")).stdout)
    assert as_json["ok"] is True
    assert {k: as_json["source"][k] for k in ("file", "format", "encoding", "crs")} == {
        "file": "大沥网格.shp",
        "format": "ESRI Shapefile",
        "encoding": "GB18030",
        "crs": "EPSG:4547",
    }
    assert "GBK/GB18030" in as_json["source"]["encoding_reason"]
    assert as_json["source"]["crs_reason"].startswith("declared by its .prj: CGCS2000 / 3-degree")

    imported = cli_ok(demo_db.cli("grids", "import", str(path), "--label", "测绘成果"))
    assert f"  encoding GB18030: {GBK_REASON}" in imported.stdout
    assert f"  {CRS_4547}\n" in imported.stdout
    assert imported.stdout.splitlines()[-1].startswith("version 2 created (EPSG:4547 → WGS84); 0 warning(s)")
    same_grids(store.grids(2), demo_grids)  # codes, names, communities, numbers; within 1 cm
    stored = _show(demo_db, 2)["report"]["source"]
    assert (stored["encoding"], stored["crs"]) == ("GB18030", "EPSG:4547")
    assert stored["columns"]["code"] == "网格编码"

    again = cli_ok(demo_db.cli("grids", "import", str(path)))
    assert "version 2 already imported as (EPSG:4547 → WGS84)" in again.stdout
    assert len(store.versions()) == 2


def test_a_shapefile_without_prj_is_refused_naming_the_epsg_code_to_pass(
    demo_db, store, demo_grids, tmp_path
):
    path = write_office_shapefile(demo_grids, tmp_path / "noprj.shp", crs=4547, prj=False)
    for command in ("validate", "import"):
        result = demo_db.cli("grids", command, str(path))
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)  # an error message, not a traceback
        assert result.stdout == ""
        assert result.stderr.startswith(
            "error: noprj.shp: the file declares no CRS (a shapefile without .prj?)"
        )
        # the registered town's centre tells the zone's central meridian: the code to pass is named
        assert "CGCS2000 3-degree Gauss-Krüger CM 114E" in result.stderr
        assert "pass --crs EPSG:4547" in result.stderr
        assert "Traceback" not in result.output
    assert len(store.versions()) == 1

    named = cli_ok(demo_db.cli("grids", "validate", str(path), "--crs", "EPSG:4547"))
    assert "  CRS EPSG:4547: named by the user (EPSG:4547); the file declares none" in named.stdout


def test_encoding_names_the_attribute_encoding_and_is_part_of_the_import(
    demo_db, store, demo_grids, tmp_path
):
    columns = {
        "code": "格网号",
        "name": "格网名",
        "community_code": "村居",
        "population": "人口",
        "households": "户数",
    }  # Chinese column names no alias knows: they must be named with --field, and read right to be
    path = write_office_shapefile(demo_grids, tmp_path / "odd.shp", crs=4547, columns=columns)
    fields = ("--field", "code=格网号", "--field", "name=格网名", "--field", "community_code=村居")

    wrong = demo_db.cli(
        "grids", "validate", str(path), "--encoding", "latin1", *fields
    )  # GBK read as Latin-1
    assert wrong.exit_code == 2
    assert wrong.stderr.startswith("error: odd.shp: column '格网号' named for code is not in the file")

    checked = cli_ok(demo_db.cli("grids", "validate", str(path), "--encoding", "gbk", *fields))
    assert "  encoding GBK: named by the user (gbk)\n" in checked.stdout
    assert (
        "  columns: code ← 格网号, name ← 格网名, community_code ← 村居, population ← 人口" in checked.stdout
    )

    first = cli_ok(demo_db.cli("grids", "import", str(path), "--encoding", "gbk", *fields))
    assert "version 2 created" in first.stdout
    same_grids(store.grids(2), demo_grids)
    assert _show(demo_db, 2)["report"]["source"]["encoding_reason"] == "named by the user (gbk)"
    again = cli_ok(demo_db.cli("grids", "import", str(path), "--encoding", "GBK", *fields))
    assert "version 2 already imported as" in again.stdout
    # another encoding can store other names: it is another import
    other = cli_ok(demo_db.cli("grids", "import", str(path), "--encoding", "gb18030", *fields))
    assert "version 3 created" in other.stdout
    assert len(store.versions()) == 3


def test_a_kml_from_ovital_imports_as_its_source(demo_db, store, demo_grids, tmp_path):
    path = write_kml(demo_grids, tmp_path / "大沥网格.kml", style="ovital")
    result = cli_ok(demo_db.cli("grids", "import", str(path), "--activate"))
    lines = result.stdout.splitlines()
    assert "  read as KML" in lines
    assert "  CRS EPSG:4326: declared by KML (always WGS 84 lon/lat): WGS 84" in lines
    assert (
        "  columns: code ← 网格编码, name ← 名称, community_code ← 所属社区编码, population ← 人口, households ← 户数"
        in lines
    )
    assert lines[-1].startswith("version 2 created (EPSG:4326 → WGS84); 0 warning(s); active")
    same_grids(store.grids(2), demo_grids)
    code = str(demo_grids["code"].iloc[100])
    lon, lat = inside_point(demo_grids, code)
    located = json.loads(cli_ok(demo_db.cli("locate", repr(lon), repr(lat))).stdout)
    assert (located["version"]["id"], located["grid"]["code"]) == (2, code)


def test_an_amap_gcj02_geojson_with_crs_gcj02_reports_the_datum_shift_in_metres(
    demo_db, store, demo_grids, tmp_path
):
    path = write_geojson(shifted(demo_grids, "gcj02"), tmp_path / "amap.geojson")
    suspect = demo_db.cli("grids", "validate", str(path))  # without --crs: caught, with the advice
    assert suspect.exit_code == 1 and "datum_suspect" in suspect.stdout and "--crs gcj02" in suspect.stdout

    report = json.loads(
        cli_ok(demo_db.cli("grids", "validate", str(path), "--crs", "gcj02", "--json")).stdout
    )
    shift = report["source"]["datum_shift_m"]
    assert 400 < shift["min"] <= shift["median"] <= shift["max"] < 800, shift  # Amap's offset in Foshan
    assert report["source"]["crs"] == "GCJ-02"
    assert report["source"]["crs_reason"].startswith(
        "named by the user (gcj02) over the GeoJSON's WGS 84 label"
    )

    imported = cli_ok(demo_db.cli("grids", "import", str(path), "--crs", "gcj02"))
    assert f"  datum shift removed: median {shift['median']} m, max {shift['max']} m\n" in imported.stdout
    assert "version 2 created (GCJ-02 → WGS84)" in imported.stdout
    assert _show(demo_db, 2)["report"]["source"]["datum_shift_m"] == shift
    same_grids(store.grids(2), demo_grids)  # the offset removed to within 1 cm


# --- rosters --------------------------------------------------------------------------------------

COMMUNITIES = ("440605125001", "440605125002")


def _people(store, communities=COMMUNITIES) -> list[Assignment]:
    """The demo roster's people of some communities (their grids' people included), as stored."""
    return [
        a
        for a in store.assignments()
        if a.unit_level is not UnitLevel.TOWN and a.unit_code[:12] in communities
    ]


def _sheet_row(by_sheet: dict[str, list], person: Assignment) -> str:
    """Where ``write_office_workbook`` put a person: below the title row and the two header rows."""
    for sheet, people in by_sheet.items():
        if person in people:
            return f"sheet {sheet!r}, row {people.index(person) + 4}"
    raise AssertionError(f"{person} is in no sheet")


def test_an_excel_roster_with_title_merged_headers_and_two_sheets_previewed_then_applied(
    demo_db, store, demo_grids, tmp_path
):
    current = _people(store)
    workers = [a for a in current if a.role is Role.GRID_WORKER]
    gone, ending = workers[0], workers[1]
    ended = replace(ending, end=datetime.date(2027, 6, 30))
    grid = str(demo_grids["code"][demo_grids["community_code"] == COMMUNITIES[1]].iloc[0])
    newcomer = Assignment(
        "测试新人", "13800139001", Role.GRID_WORKER, grid, UnitLevel.GRID, datetime.date(2025, 1, 1), None
    )
    people = [ended if a == ending else a for a in current if a != gone] + [newcomer]
    path = tmp_path / "大沥镇网格员名册.xlsx"
    by_sheet = write_office_workbook(people, path)
    assert list(by_sheet) == ["社区001", "社区002"]
    before = store.assignments()

    preview = cli_ok(demo_db.cli("officials", "import", str(path), "--preview"))
    text = preview.stdout
    n = len(people)
    assert text.startswith(
        f"大沥镇网格员名册.xlsx: {n} rows from sheet(s) 社区001, 社区002; "
        "skipped sheet(s) without a roster header: 填表说明\n"
        f"1 added, 1 removed, 1 changed, {n - 2} unchanged (compared over 440605125001, 440605125002)\n"
    )
    assert f"  + 测试新人 (网格员, {grid}) from 2025-01-01 [{_sheet_row(by_sheet, newcomer)}]" in text
    assert (
        f"  ~ {ending.name} (网格员, {ending.unit_code}): end — → 2027-06-30 [{_sheet_row(by_sheet, ended)}]"
        in text
    )
    assert f"  - {gone.name} (网格员, {gone.unit_code}): not in the new roster" in text
    assert "not ended automatically: 1 current row(s) stay in force after the import" in text
    assert (
        f"  {gone.name} (网格员, {gone.unit_code}) {gone.phone} from {gone.start}: not in the new roster"
        in text
    )
    assert text.endswith("nothing stored (preview); run the same command without --preview to apply\n")
    assert store.assignments() == before  # nothing stored

    applied = cli_ok(demo_db.cli("officials", "import", str(path)))
    assert applied.stdout == f"{n} rows: 1 added, 1 updated, {n - 2} unchanged\n"
    assert "1 added, 1 removed, 1 changed" in applied.stderr  # the change list, as previewed
    assert "not ended automatically: 1 current row(s)" in applied.stderr
    after = {a.key: a for a in store.assignments()}
    assert len(after) == len(before) + 1
    assert after[newcomer.key] == newcomer and after[ending.key].end == datetime.date(2027, 6, 30)
    assert after[gone.key] == gone  # not ended: the preview said so
    team = json.loads(cli_ok(demo_db.cli("locate", *map(repr, inside_point(demo_grids, grid)))).stdout)[
        "team"
    ]
    assert "测试新人" in {m["name"] for m in team}

    again = cli_ok(demo_db.cli("officials", "import", str(path), "--preview")).stdout
    assert f"0 added, 1 removed, 0 changed, {n} unchanged" in again


def test_a_changed_roster_preview_lists_the_phone_change(demo_db, store, tmp_path):
    current = _people(store, COMMUNITIES[:1])
    person = next(a for a in current if a.role is Role.GROUP_LEADER)
    moved = replace(person, phone="13800139999")
    people = [moved if a == person else a for a in current]
    path = tmp_path / "社区001.xlsx"
    by_sheet = write_office_workbook(people, path)
    before = store.assignments()

    text = cli_ok(demo_db.cli("officials", "import", str(path), "--sheet", "社区001", "--preview")).stdout
    assert f"0 added, 0 removed, 1 changed, {len(people) - 1} unchanged (compared over 440605125001)" in text
    row = _sheet_row(by_sheet, moved).removeprefix("sheet '社区001', ")  # one sheet read: its rows
    assert (
        f"  ~ {person.name} (小红格组长, {person.unit_code}): phone {person.phone} → 13800139999 [{row}]"
        in text
    )
    # matched on phone + role + unit + start, the old row would stay beside the new one: said, not hidden
    assert (
        f"  {person.name} (小红格组长, {person.unit_code}) {person.phone} from {person.start}: phone changed"
    ) in text
    assert store.assignments() == before
