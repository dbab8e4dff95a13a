"""The files offices really send (issue 12): each read back to the grids it was made from.

Every file is written here, from the bundled demo grids (``data/shapes/dali-demo-grids.geojson``,
309 made-up grids) or the 3 × 2 test cells, never from real boundaries: GBK shapefiles without
.cpg in CGCS2000 Gauss-Krüger zones (3- and 6-degree, with and without the zone number in the
easting), Xian 1980 and Beijing 1954 declared, no .prj at all, Big5, KML from 奥维互动地图 and
Google Earth, KMZ, DXF from CAD, Amap GCJ-02 and Baidu BD-09 GeoJSON. Each must come back with
the same codes, names and numbers, within 1 cm (Hausdorff distance in metres, UTM 49N), and say
which encoding and CRS it used and why. Rosters: an Excel workbook with a title row, merged
two-row headers and one sheet per community, and a GBK CSV, from ``generate_roster``.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from geo.chinese_crs import ZONES_3
from geo.chinese_crs import ZONES_6
from geo.chinese_crs import GKZone
from geo.chinese_crs import guess_crs
from geo.errors import FileFormatError
from geo.errors import MissingCRS
from geo.errors import RowErrors
from geo.gridfile import read_grid_file
from geo.officials import Role
from geo.officials import SheetRowError
from geo.officials import UnitLevel
from geo.officials import generate_roster
from geo.officials import read_roster
from geo.officials import read_roster_file
from geo.officials import roster_changes
from geo.officials import write_roster_csv
from geo.validate import IssueKind
from geo.validate import validate_grids
from tests.files_grids import hausdorff_m
from tests.files_grids import shapefile_parts
from tests.files_grids import shifted
from tests.files_grids import standard_grids
from tests.files_grids import write_dxf
from tests.files_grids import write_geojson
from tests.files_grids import write_kml
from tests.files_grids import write_kmz
from tests.files_grids import write_office_shapefile
from tests.files_grids import write_zip

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data/shapes/dali-demo-grids.geojson"
TOWN = "440605125"
NEAR = (113.15, 23.11)  # Dali's centre: what the service passes to name a CRS for bare coordinates
ATTRIBUTES = ["code", "name", "community_code", "population", "households"]


@pytest.fixture(scope="module")
def demo() -> gpd.GeoDataFrame:
    frame = gpd.read_file(DEMO, engine="pyogrio")
    return frame.sort_values("code").reset_index(drop=True)


@pytest.fixture(scope="module")
def outline(demo) -> shapely.Geometry:
    return shapely.union_all(np.asarray(demo.geometry.values, dtype=object))


@pytest.fixture
def files(tmp_path) -> Path:
    return tmp_path


def same_grids(got: gpd.GeoDataFrame, source: gpd.GeoDataFrame, columns=ATTRIBUTES) -> float:
    """Assert the grids, codes, names and numbers are the source's; return the max deviation (m)."""
    got = got.sort_values("code").reset_index(drop=True)
    source = source.sort_values("code").reset_index(drop=True)
    assert got["code"].tolist() == source["code"].tolist()
    for column in columns:
        assert got[column].astype(object).tolist() == source[column].astype(object).tolist(), column
    distance = hausdorff_m(got.geometry.values, source.geometry.values)
    assert distance.max() < 0.01, distance.max()
    return float(distance.max())


def clean_report(gridfile, outline):
    frame = gridfile.frame
    communities = {c: c for c in frame["community_code"].unique()}
    report = validate_grids(frame, communities=communities, outline=outline, source=gridfile.describe())
    assert report.ok and report.issues == [], report.format_text()
    return report


# --- shapefiles from surveying: GBK without .cpg, Gauss-Krüger zones --------------------------------


SHAPEFILES = {
    # name: (EPSG, .dbf language driver byte or None, expected encoding, words in encoding_reason)
    "cgcs2000-3deg-cm114e": (4547, None, "GB18030", "charset-normalizer finds GBK/GB18030"),
    "cgcs2000-3deg-cm114e-ldid936": (4547, 0x4D, "GBK", "language driver byte is 0x4D"),
    "cgcs2000-3deg-zone38": (4526, None, "GB18030", "charset-normalizer"),
    "cgcs2000-6deg-zone19": (4497, None, "GB18030", "charset-normalizer"),
    "cgcs2000-6deg-cm111e": (4508, None, "GB18030", "charset-normalizer"),
    "xian1980-3deg-cm114e": (2383, None, "GB18030", "charset-normalizer"),
    "beijing1954-3deg-zone38": (2414, None, "GB18030", "charset-normalizer"),
}


@pytest.mark.parametrize("name", list(SHAPEFILES))
def test_a_gbk_shapefile_without_cpg_in_a_chinese_projected_crs_reads_as_its_source(
    name, demo, outline, files
):
    epsg, ldid, encoding, why = SHAPEFILES[name]
    path = write_office_shapefile(demo, files / f"{name}.shp", crs=epsg)
    if ldid is not None:
        _set_ldid(path, ldid)
    assert not path.with_suffix(".cpg").exists()
    gridfile = read_grid_file(path)
    same_grids(gridfile.frame, demo)
    assert gridfile.source_crs == f"EPSG:{epsg}"
    assert (gridfile.encoding, gridfile.format) == (encoding, "ESRI Shapefile")
    assert why in gridfile.encoding_reason
    assert gridfile.columns == {
        "code": "网格编码",
        "name": "网格名称",
        "community_code": "社区编码",
        "population": "人口",
        "households": "户数",
    }
    assert gridfile.crs_reason.startswith(f"declared by its .prj: {CRS.from_epsg(epsg).name}")
    if epsg in (2383, 2414):  # PROJ has no datum shift for these around Foshan: say so
        assert "ignores the datum shift (ballpark)" in gridfile.crs_reason
    else:
        assert "CGCS2000 is taken as WGS 84" in gridfile.crs_reason
    report = clean_report(gridfile, outline)
    # the areas are right: measured in UTM after the round trip, as the source's
    areas = gpd.GeoSeries(gridfile.frame.sort_values("code").geometry.values, crs=4326).to_crs(32649).area
    expected = demo.to_crs(32649).area
    assert np.allclose(areas.to_numpy(), expected.to_numpy(), rtol=0, atol=0.01)
    assert report.source["encoding"] == encoding and report.source["crs"] == f"EPSG:{epsg}"


def _set_ldid(path: Path, ldid: int) -> None:
    dbf = path.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = ldid
    dbf.write_bytes(bytes(data))


def test_without_the_cpg_gdal_alone_garbles_the_names(demo, files):
    # guards the fixture: what makes these cases worth testing
    import pyogrio

    path = write_office_shapefile(demo, files / "garbled.shp", crs=4547)
    assert pyogrio.read_info(path)["fields"][0] == "Íø¸ñ±àÂë"  # 网格编码 read as ISO-8859-1


def test_a_zipped_gbk_shapefile_without_cpg(demo, outline, files):
    shp = write_office_shapefile(demo, files / "大沥网格.shp", crs=4547)
    path = write_zip(files / "大沥网格.zip", shapefile_parts(shp), folder="成果/")
    gridfile = read_grid_file(path)
    same_grids(gridfile.frame, demo)
    assert gridfile.encoding == "GB18030" and gridfile.source_crs == "EPSG:4547"
    clean_report(gridfile, outline)


def test_a_big5_shapefile_with_traditional_column_names(files):
    source = standard_grids()
    source["name"] = source["name"].str.translate(str.maketrans("沥区网", "瀝區網"))
    columns = {
        "code": "網格編碼",
        "name": "網格名稱",
        "community_code": "社區編碼",
        "population": "人口",
        "households": "戶數",
    }
    path = write_office_shapefile(source, files / "big5.shp", crs=4547, encoding="BIG5", columns=columns)
    gridfile = read_grid_file(path)
    assert gridfile.encoding == "BIG5" and "Big5" in gridfile.encoding_reason
    same_grids(gridfile.frame, source)


def test_the_user_names_the_encoding_and_chinese_columns_the_aliases_do_not_know(files):
    source = standard_grids()
    columns = {
        "code": "格网号",
        "name": "格网名",
        "community_code": "村居",
        "population": "人口",
        "households": "户数",
    }
    path = write_office_shapefile(source, files / "odd.shp", crs=4547, columns=columns)
    guessed = read_grid_file(path)  # the codes are found (the only column of 15-digit codes), the names not
    assert guessed.columns == {
        "code": "15-digit codes inside 格网号",
        "population": "人口",
        "households": "户数",
    }
    assert guessed.frame["name"].isna().all()
    gridfile = read_grid_file(
        path, encoding="gbk", fields={"code": "格网号", "name": "格网名", "community_code": "村居"}
    )
    assert (gridfile.encoding, gridfile.encoding_reason) == ("GBK", "named by the user (gbk)")
    assert gridfile.columns["code"] == "格网号"
    same_grids(gridfile.frame, source)


def test_a_utf8_shapefile_without_cpg_is_detected_as_utf8(files):
    source = standard_grids()
    columns = {
        "code": "code",
        "name": "网格名",
        "community_code": "社区",
        "population": "人口",
        "households": "户数",
    }  # names of at most 9 bytes in UTF-8
    path = write_office_shapefile(source, files / "u8.shp", crs=4547, encoding="UTF-8", columns=columns)
    gridfile = read_grid_file(path)
    assert gridfile.encoding == "UTF-8" and "valid UTF-8" in gridfile.encoding_reason
    same_grids(gridfile.frame, source)


# --- no .prj: the refusal names the CRS to pass ------------------------------------------------------


@pytest.mark.parametrize(
    "epsg, near, suggested",
    [
        (4547, NEAR, "EPSG:4547"),  # no zone number: the town tells the central meridian
        (4526, None, "EPSG:4526"),  # zone 38 in front of the easting says it all
        (4497, None, "EPSG:4497"),  # 6-degree zone 19
    ],
)
def test_a_shapefile_without_prj_gets_the_epsg_code_its_coordinates_point_to(
    epsg, near, suggested, demo, outline, files
):
    path = write_office_shapefile(demo, files / "noprj.shp", crs=epsg, prj=False)
    with pytest.raises(MissingCRS) as caught:
        read_grid_file(path, near=near)
    assert caught.value.code == "missing_crs"
    assert caught.value.suggested_crs == suggested
    assert f"pass --crs {suggested}" in str(caught.value)
    assert "Gauss-Krüger" in str(caught.value)
    gridfile = read_grid_file(path, crs=suggested)
    same_grids(gridfile.frame, demo)
    assert gridfile.crs_reason.startswith(f"named by the user ({suggested}); the file declares none")
    clean_report(gridfile, outline)


def test_without_a_zone_number_or_a_town_the_advice_says_what_is_missing(demo, files):
    path = write_office_shapefile(demo, files / "noprj.shp", crs=4547, prj=False)
    with pytest.raises(MissingCRS) as caught:
        read_grid_file(path)
    assert caught.value.suggested_crs is None
    assert "the central meridian cannot be read off them" in str(caught.value)


def test_utm_and_gauss_kruger_cm111e_are_named_as_the_two_they_could_be(demo, files):
    path = write_office_shapefile(demo, files / "utm.shp", crs=32649, prj=False)
    with pytest.raises(MissingCRS) as caught:
        read_grid_file(path, near=NEAR)
    text = str(caught.value)
    assert "EPSG:32649" in text and "EPSG:4546" in text and "cannot tell these apart" in text


def test_lonlat_without_crs_is_named_as_lonlat():
    guess = guess_crs((113.1, 23.0, 113.2, 23.2))
    assert guess is not None and guess.crs is None and "--crs gcj02" in guess.advice


def test_the_gauss_kruger_epsg_table_matches_proj():
    for datum in ("CGCS2000", "Xian 1980", "Beijing 1954"):
        for width, zones in ((3, ZONES_3), (6, ZONES_6)):
            for zone in zones:
                for prefixed in (True, False):
                    gk = GKZone(datum, width, zone, prefixed)
                    name = CRS.from_epsg(gk.epsg).name
                    assert datum in name and ("3-degree" in name) == (width == 3), (gk, name)
                    assert (f"zone {zone}" if prefixed else f"CM {gk.cm}E") in name, (gk, name)


# --- KML / KMZ / DXF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["ovital", "google"])
def test_kml_from_ovital_and_google_earth(style, demo, outline, files):
    path = write_kml(demo, files / f"{style}.kml", style=style)
    gridfile = read_grid_file(path)
    assert (gridfile.format, gridfile.source_crs) == ("KML", "EPSG:4326")
    columns = (
        ATTRIBUTES if style == "ovital" else ["code", "name", "community_code", "population", "households"]
    )
    same_grids(gridfile.frame, demo, columns)
    if style == "ovital":  # name from the Placemark, code and numbers from the description
        assert gridfile.columns == {
            "code": "网格编码",
            "name": "名称",
            "community_code": "所属社区编码",
            "population": "人口",
            "households": "户数",
        }
    else:  # code from SchemaData, population from Data, name from the description's table
        assert gridfile.columns == {
            "code": "网格编码",
            "name": "网格名称",
            "community_code": "社区编码",
            "population": "人口",
            "households": "户数",
        }
    assert "KML (always WGS 84 lon/lat)" in gridfile.crs_reason
    clean_report(gridfile, outline)


def test_kml_with_the_code_only_in_the_placemark_name(files):
    source = standard_grids()
    text = write_kml(source, files / "x.kml", style="google").read_text(encoding="utf-8")
    text = text.replace('<SimpleData name="网格编码">', '<SimpleData name="备注">x')
    text = text.replace("<td>网格名称</td>", "<td>说明</td>")
    path = files / "names.kml"
    path.write_text(text, encoding="utf-8")
    gridfile = read_grid_file(path)
    assert gridfile.columns["code"] == "15-digit codes inside 名称"
    same_grids(gridfile.frame, source)  # "440605125001001 沥苑社区第01网格" → code and name


def test_kmz(demo, outline, files):
    gridfile = read_grid_file(write_kmz(demo, files / "grids.kmz"))
    assert gridfile.format == "KMZ"
    same_grids(gridfile.frame, demo)
    clean_report(gridfile, outline)


def test_dxf_from_cad_in_gauss_kruger(demo, outline, files):
    path = write_dxf(demo, files / "网格.dxf", crs=4547)
    with pytest.raises(MissingCRS) as caught:
        read_grid_file(path, near=NEAR)
    assert caught.value.suggested_crs == "EPSG:4547"
    gridfile = read_grid_file(path, crs="EPSG:4547")
    assert (gridfile.format, gridfile.layer, gridfile.encoding) == ("DXF", "网格", "GB18030")
    assert "no $DWGCODEPAGE" in gridfile.encoding_reason
    same_grids(gridfile.frame, demo, ["code", "name"])
    clean_report(gridfile, outline)
    with pytest.raises(FileFormatError, match="no closed outlines on CAD layer '道路'"):
        read_grid_file(path, crs="EPSG:4547", layer="道路")


# --- Amap / Baidu ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "datum, label, low, high", [("gcj02", "GCJ-02", 400, 800), ("bd09", "BD-09", 900, 1600)]
)
def test_amap_and_baidu_exports_say_how_far_the_datum_moved_them(
    datum, label, low, high, demo, outline, files
):
    path = write_geojson(shifted(demo, datum), files / f"{datum}.geojson")
    gridfile = read_grid_file(path, crs=datum)
    assert gridfile.source_crs == label
    same_grids(gridfile.frame, demo)
    shift = gridfile.datum_shift_m
    assert low < shift["min"] <= shift["median"] <= shift["max"] < high, shift
    report = clean_report(gridfile, outline)
    text = report.format_text()
    assert f"datum shift removed: median {shift['median']} m, max {shift['max']} m" in text
    assert json.loads(json.dumps(report.to_dict()))["source"]["datum_shift_m"] == shift


def test_an_amap_export_without_crs_is_still_caught_as_datum_suspect(demo, outline, files):
    gridfile = read_grid_file(write_geojson(shifted(demo, "gcj02"), files / "amap.geojson"))
    report = validate_grids(
        gridfile.frame,
        communities={c: c for c in demo["community_code"]},
        outline=outline,
        source=gridfile.describe(),
    )
    [suspect] = [i for i in report.errors if i.kind == IssueKind.DATUM_SUSPECT]
    assert "re-import it with --crs gcj02" in suspect.message


# --- the report ---------------------------------------------------------------------------------------


def test_the_report_names_the_encoding_and_crs_it_used_and_why(demo, outline, files):
    gridfile = read_grid_file(write_office_shapefile(demo, files / "grids.shp", crs=4547))
    report = clean_report(gridfile, outline)
    lines = report.format_text().splitlines()
    assert lines[1] == "  read as ESRI Shapefile"
    assert lines[2].startswith(
        "  encoding GB18030: no .cpg and language driver byte 0x00; "
        "charset-normalizer finds GBK/GB18030 Chinese"
    )
    assert lines[3] == (
        "  CRS EPSG:4547: declared by its .prj: CGCS2000 / 3-degree Gauss-Kruger CM 114E; "
        "CGCS2000 is taken as WGS 84 (they differ by centimetres)"
    )
    assert lines[4].startswith("  columns: code ← 网格编码, name ← 网格名称")
    source = report.to_dict()["source"]
    assert {k: source[k] for k in ("file", "format", "encoding", "crs")} == {
        "file": "grids.shp",
        "format": "ESRI Shapefile",
        "encoding": "GB18030",
        "crs": "EPSG:4547",
    }


# --- rosters as offices keep them ---------------------------------------------------------------------

START = datetime.date(2026, 12, 1)


@pytest.fixture(scope="module")
def roster(demo):
    communities = pd.DataFrame({"code": sorted(demo["community_code"].unique())})
    return generate_roster(demo, communities, TOWN, start=START, seed=12)


@pytest.fixture(scope="module")
def known(demo):
    units = {TOWN: UnitLevel.TOWN}
    units |= dict.fromkeys(demo["community_code"], UnitLevel.COMMUNITY)
    units |= dict.fromkeys(demo["code"], UnitLevel.GRID)
    return units


HEAD_1 = ["序号", "姓名", "联系方式(手机/座机)", None, "角色", "单位编码", "任职时间", None, "备注"]
HEAD_2 = [None, None, "手机", "座机", None, None, "开始日期", "结束日期", None]


def write_office_workbook(assignments, path: Path, *, merge_units: bool = True) -> dict[str, list]:
    """One sheet per community (the town's own posts on 镇级), each with a merged title row, a
    two-row header with merged cells, landlines in their own column, and each grid's unit code
    merged down the rows of its people. Also an instructions sheet. Returns rows per sheet."""
    by_sheet: dict[str, list] = {}
    for a in assignments:
        sheet = "镇级" if a.unit_level is UnitLevel.TOWN else f"社区{a.unit_code[9:12]}"
        by_sheet.setdefault(sheet, []).append(a)
    workbook = openpyxl.Workbook()
    workbook.active.title = "填表说明"
    workbook.active.append(["本表由各社区填写，一社区一页"])
    for name, people in by_sheet.items():
        ws = workbook.create_sheet(name)
        ws.append([f"大沥镇网格员名册（2026年12月）{name}"])
        ws.merge_cells("A1:I1")
        ws.append(HEAD_1)
        ws.append(HEAD_2)
        for col in "ABEFI":
            ws.merge_cells(f"{col}2:{col}3")
        ws.merge_cells("C2:D2")
        ws.merge_cells("G2:H2")
        for k, a in enumerate(people, start=1):
            landline = a.phone.startswith("0")
            ws.append(
                [
                    k,
                    a.name,
                    None if landline else int(a.phone),
                    a.phone if landline else None,
                    a.role.label_zh,
                    a.unit_code,
                    a.start,
                    a.end,
                    a.note or None,
                ]
            )
        if merge_units:  # merge each unit's code cell down its consecutive rows, as offices do
            start_row, current = 4, ws.cell(4, 6).value
            for row in range(5, ws.max_row + 2):
                value = ws.cell(row, 6).value if row <= ws.max_row else None
                if value != current:
                    if row - 1 > start_row:
                        ws.merge_cells(start_row=start_row, start_column=6, end_row=row - 1, end_column=6)
                    start_row, current = row, value
    workbook.save(path)
    return by_sheet


def test_an_excel_roster_with_title_merged_headers_and_a_sheet_per_community(roster, known, files):
    people = list(roster)
    people[5] = replace(people[5], phone="0757-86337323")  # one with only a landline
    by_sheet = write_office_workbook(people, files / "名册.xlsx")
    result = read_roster_file(files / "名册.xlsx", known_units=known)
    assert result.assignments == [a for sheet in by_sheet.values() for a in sheet]
    assert sorted(result.assignments, key=lambda a: a.key) == sorted(people, key=lambda a: a.key)
    assert result.sheets == list(by_sheet) and result.skipped_sheets == ["填表说明"]
    first = by_sheet["社区001"][0]
    assert result.where[first.key] == "sheet '社区001', row 4"  # below the title and 2 header rows
    assert read_roster(files / "名册.xlsx", known_units=known, sheet="社区001") == by_sheet["社区001"]


def test_errors_in_a_workbook_name_the_sheet_and_the_row(roster, known, files):
    people = list(roster)
    path = files / "bad.xlsx"
    write_office_workbook(people, path, merge_units=False)
    workbook = openpyxl.load_workbook(path)
    workbook["社区002"].cell(5, 5).value = "主任"  # an unknown role
    workbook["社区003"].cell(4, 6).value = "440605125003099"  # a grid not in the set
    workbook.save(path)
    with pytest.raises(RowErrors) as caught:
        read_roster(path, known_units=known)
    errors = caught.value.errors
    assert [(e.sheet, e.row, e.field) for e in errors] == [
        ("社区002", 5, "role"),
        ("社区003", 4, "unit_code"),
    ]
    assert all(isinstance(e, SheetRowError) for e in errors)
    assert "sheet '社区002', row 5, field 'role': unknown role '主任'" in str(caught.value)


def test_a_gbk_csv_roster(roster, known, files):
    path = files / "名册_gbk.csv"
    write_roster_csv(roster, path, encoding="gbk")
    result = read_roster_file(path, known_units=known)
    assert result.assignments == list(roster)
    assert result.encoding == "gb18030" and "GBK" in result.encoding_reason
    assert result.where[roster[0].key] == "row 2"


def test_roster_changes_preview_what_an_import_would_do(roster, known, files):
    current = list(roster)
    grid_people = [
        k
        for k, a in enumerate(current)
        if a.unit_code.startswith("440605125001") and a.unit_level is UnitLevel.GRID
    ]
    new = list(current)
    i_phone, i_role, i_end, i_gone = grid_people[:4]
    new[i_phone] = replace(new[i_phone], phone="13800139999")
    new[i_role] = replace(new[i_role], role=Role.PART_TIME_WORKER, note="楼长")
    new[i_end] = replace(new[i_end], end=datetime.date(2027, 3, 31))
    gone = new.pop(i_gone)
    newcomer = replace(
        current[i_phone],
        name="测试新人",
        phone="13800138888",
        role=Role.GRID_WORKER,
        start=datetime.date(2027, 1, 1),
        note="",
    )
    new.append(newcomer)
    # the office sends only community 001's sheet: the others' people must not show as removed
    sheet = [a for a in new if a.unit_code.startswith("440605125001")]
    path = files / "社区001.xlsx"
    write_office_workbook(sheet, path)
    roster_file = read_roster_file(path, known_units=known)
    changes = roster_changes(current, roster_file.assignments, where=roster_file.where)
    assert changes.scope == ("440605125001",)
    assert [c.after for c in changes.added] == [newcomer]
    assert [c.before for c in changes.removed] == [gone]
    by_person = {c.before.phone: c for c in changes.changed}
    assert set(by_person) == {current[i_phone].phone, current[i_role].phone, current[i_end].phone}
    assert by_person[current[i_phone].phone].fields == ("phone",)
    assert by_person[current[i_phone].phone].rekeyed
    assert set(by_person[current[i_role].phone].fields) <= {"role", "note"}
    assert "role" in by_person[current[i_role].phone].fields
    assert by_person[current[i_end].phone].fields == ("end",)
    assert not by_person[current[i_end].phone].rekeyed
    in_scope = sum(a.unit_code.startswith("440605125001") for a in current)
    assert changes.unchanged == in_scope - 4
    text = changes.format_text()
    assert text.startswith("1 added, 1 removed, 3 changed")
    assert f"phone {current[i_phone].phone} → 13800139999 [sheet '社区001', row " in text
    json.dumps(changes.to_dict(), ensure_ascii=False)
    # the same roster again changes nothing
    assert roster_changes(roster_file.assignments, roster_file.assignments).empty


def test_roster_changes_leaves_ended_terms_out_when_given_a_day(roster):
    current = list(roster)
    ended = replace(current[10], end=datetime.date(2026, 12, 15))
    current[10] = ended
    new = [a for a in current if a is not ended]
    assert [c.before for c in roster_changes(current, new).removed] == [ended]
    assert roster_changes(current, new, day=datetime.date(2027, 1, 1)).empty
