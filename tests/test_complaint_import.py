"""Bulk import of hotline exports (12345热线) with Chinese headers: CSV in UTF-8 and GBK, Excel.

Each file is written to tmp_path from one table (``_good_table``): points inside demo grids
(one given in GCJ-02), addresses from the demo gazetteer, times written the ways hotline
systems write them. The grid each complaint must land in comes from the demo grid file and
the gazetteer file. A file with faults is refused whole, every fault named by its row (as
Excel numbers it) and field, and nothing is stored; importing the same file again adds nothing.
"""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import openpyxl
import pytest

from geo.datums import wgs84_to_gcj02
from services.callers import system
from tests.apps import cli_ok
from tests.apps import inside_point
from tests.test_complaints_service import api_key
from tests.test_complaints_service import gazetteer_rows
from tests.test_complaints_service import t

API = "/api/v1"
SOURCE = "12345热线"
HEADER = [
    "序号",
    "工单编号",
    "受理时间",
    "来源渠道",
    "诉求类别",
    "诉求内容",
    "事发地址",
    "经度",
    "纬度",
    "坐标系",
    "联系人",
    "联系电话",
]
TITLE = "大沥镇12345热线工单导出（2025年10月）"


def _good_table(grids) -> tuple[list[list], list[dict]]:
    """Six rows of an export and what each must become (with its grid, from the files)."""
    codes = sorted(grids["code"])
    a, b, c = codes[3], codes[150], codes[300]
    lon_a, lat_a = inside_point(grids, a)
    lon_b, lat_b = (float(v) for v in wgs84_to_gcj02(*inside_point(grids, b)))
    lon_c, lat_c = inside_point(grids, c)
    addresses = gazetteer_rows()
    # 序号, 工单编号, 受理时间, 来源渠道, 诉求类别, 诉求内容, 事发地址, 经度, 纬度, 坐标系, 联系人, 联系电话
    rows = [
        [
            1,
            "HL-0001",
            "2025-10-01 09:30",
            "12345热线",
            "生活噪音扰民",
            "楼上夜间装修噪音",
            "",
            lon_a,
            lat_a,
            "",
            "陈女士",
            "13800138000",
        ],
        [
            2,
            "HL-0002",
            "2025/10/2 10:05:00",
            "微信",
            "rubbish",
            "垃圾堆放三天无人清运",
            "振兴路80号",
            "",
            "",
            "",
            "李先生",
            "0757-86337323",
        ],
        [
            3,
            "HL-0003",
            "2025年10月3日 8时15分",
            "网格员巡查",
            "路灯不亮、损坏",
            "路灯不亮",
            "",
            lon_b,
            lat_b,
            "gcj02",
            "",
            "",
        ],
        [
            4,
            "HL-0004",
            "2025-10-04T11:00:00+08:00",
            "来访",
            "餐饮油烟扰民",
            "油烟直排",
            "奇槎大道1号",
            "",
            "",
            "",
            "",
            "",
        ],
        [
            5,
            "HL-0005",
            "2025-10-05 14:00",
            "热线",
            "Illegal parking",
            "车辆占用消防通道旁车位",
            "",
            lon_c,
            lat_c,
            "wgs84",
            "王",
            "+86 139-2345-6789",
        ],
        [
            6,
            "HL-0006",
            "2025-10-06 16:20",
            "系统",
            "other",
            "其他诉求",
            "南海区大沥镇振兴路八十号",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
    expected = [
        {
            "external_id": "HL-0001",
            "reported_at": t("2025-10-01T09:30"),
            "channel": "hotline",
            "category_code": "noise",
            "grid_code": a,
            "reporter_phone": "13800138000",
        },
        {
            "external_id": "HL-0002",
            "reported_at": t("2025-10-02T10:05"),
            "channel": "wechat",
            "category_code": "rubbish",
            "grid_code": addresses["振兴路80号"]["grid_code"],
            "reporter_phone": "0757-86337323",
        },
        {
            "external_id": "HL-0003",
            "reported_at": t("2025-10-03T08:15"),
            "channel": "patrol",
            "category_code": "street_light",
            "grid_code": b,
            "reporter_phone": None,
        },
        {
            "external_id": "HL-0004",
            "reported_at": t("2025-10-04T11:00"),
            "channel": "walk_in",
            "category_code": "cooking_fumes",
            "grid_code": addresses["奇槎大道1号"]["grid_code"],
            "reporter_phone": None,
        },
        {
            "external_id": "HL-0005",
            "reported_at": t("2025-10-05T14:00"),
            "channel": "hotline",
            "category_code": "illegal_parking",
            "grid_code": c,
            "reporter_phone": "13923456789",
        },
        {
            "external_id": "HL-0006",
            "reported_at": t("2025-10-06T16:20"),
            "channel": "system",
            "category_code": "other",
            "grid_code": addresses["振兴路80号"]["grid_code"],
            "reporter_phone": None,
        },
    ]
    return rows, expected


def _write_csv(path: Path, rows: list[list], encoding: str, title: bool = True) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if title:
        writer.writerow([TITLE])
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _write_xlsx(path: Path, rows: list[list], title: bool = True) -> Path:
    """As the hotline's Excel export keeps them: ids and phones as numbers, times as date cells."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "工单"
    if title:
        sheet.append([TITLE])
    sheet.append(HEADER)
    for row in rows:
        cells = list(row)
        external_id = str(cells[1])
        if external_id.startswith("HL-"):
            cells[1] = 20251000000 + int(external_id[3:])  # a numeric ticket number
        phone = str(cells[11])
        if phone.isdigit():
            cells[11] = int(phone)
        try:
            cells[2] = datetime.datetime.strptime(str(cells[2]), "%Y-%m-%d %H:%M")
        except ValueError:
            pass  # kept as the text typed into the cell
        sheet.append(cells)
    book.save(path)
    return path


def _write(kind: str, path: Path, rows: list[list]) -> Path:
    if kind == "xlsx":
        return _write_xlsx(path.with_suffix(".xlsx"), rows)
    return _write_csv(path.with_suffix(".csv"), rows, "gbk" if kind == "gbk" else "utf-8-sig")


def _expected_ids(kind: str, expected: list[dict]) -> list[str]:
    if kind == "xlsx":
        return [str(20251000000 + int(e["external_id"][3:])) for e in expected]
    return [e["external_id"] for e in expected]


def _stored(store, source: str = SOURCE) -> list:
    rows = store.list_complaints(filters={"source": source}, limit=1000, newest_first=False)
    return sorted(rows, key=lambda r: r.reported_at)


def _check_stored(store, kind: str, expected: list[dict]) -> None:
    stored = _stored(store)
    assert [r.external_id for r in stored] == _expected_ids(kind, expected)
    for row, want in zip(stored, expected, strict=True):
        got = {k: getattr(row, k) for k in want if k != "external_id"}
        assert got == {k: v for k, v in want.items() if k != "external_id"}, row.external_id
        assert row.state == "collected" and row.import_id is not None
        events = store.complaint_events(row.id)
        assert [(e.action, e.actor) for e in events] == [("collect", "cli")]


# --- good files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["utf8", "gbk", "xlsx"])
def test_a_hotline_export_is_imported_through_the_cli_and_again_adds_nothing(
    demo_db, demo_grids, tmp_path, kind
):
    rows, expected = _good_table(demo_grids)
    path = _write(kind, tmp_path / f"hotline-{kind}", rows)
    store = demo_db.app().extensions["redgrid"].store
    before = store.count_complaints()

    result = cli_ok(demo_db.cli("complaints", "import", str(path), "--source", SOURCE))
    assert result.stdout.strip() == "6 rows: 6 added, 0 already present"
    assert store.count_complaints() == before + 6
    _check_stored(store, kind, expected)

    again = cli_ok(demo_db.cli("complaints", "import", str(path), "--source", SOURCE))
    assert again.stdout.strip() == "6 rows: 0 added, 6 already present"
    assert store.count_complaints() == before + 6


def test_the_same_tickets_from_another_source_are_other_complaints(demo_db, demo_grids, tmp_path):
    rows, _ = _good_table(demo_grids)
    path = _write("utf8", tmp_path / "hotline", rows)
    cli_ok(demo_db.cli("complaints", "import", str(path), "--source", SOURCE))
    result = cli_ok(demo_db.cli("complaints", "import", str(path), "--source", "微信小程序"))
    assert result.stdout.strip() == "6 rows: 6 added, 0 already present"


@pytest.mark.parametrize("kind", ["gbk", "xlsx"])
def test_a_hotline_export_through_the_multipart_api(fresh_app, fresh_client, demo_grids, tmp_path, kind):
    rows, expected = _good_table(demo_grids)
    path = _write(kind, tmp_path / f"hotline-{kind}", rows)
    name, header = api_key(fresh_app, "write")
    # only a key granted the source imports under it (issue 8: sources are owned)
    fresh_app.extensions["redgrid"].grants.grant(system(), f"api_key:{name}", "source", SOURCE)
    store = fresh_app.extensions["redgrid"].store
    before = store.count_complaints()

    def post():
        with path.open("rb") as fh:
            response = fresh_client.post(
                f"{API}/complaints/import",
                headers={"Authorization": header},
                data={"file": (fh, path.name), "source": SOURCE},
            )
        return response.status_code, response.get_json()

    status, body = post()
    assert status == 201 and (body["rows"], body["added"], body["skipped"]) == (6, 6, 0)
    assert isinstance(body["import_id"], int)
    stored = _stored(store)
    assert [r.external_id for r in stored] == _expected_ids(kind, expected)
    assert [r.grid_code for r in stored] == [e["grid_code"] for e in expected]
    assert {e.actor for r in stored for e in store.complaint_events(r.id)} == {f"api_key:{name}"}

    status, body = post()
    assert status == 200 and (body["rows"], body["added"], body["skipped"]) == (6, 0, 6)
    assert store.count_complaints() == before + 6


def test_the_import_endpoint_needs_a_file_a_source_and_the_write_scope(fresh_app, fresh_client, tmp_path):
    _, header = api_key(fresh_app, "write")
    auth = {"Authorization": header}
    response = fresh_client.post(f"{API}/complaints/import", headers=auth, data={"source": SOURCE})
    assert (response.status_code, response.get_json()["error"]) == (
        400,
        {"code": "missing_file", "message": "send the export as multipart field 'file'"},
    )
    response = fresh_client.post(
        f"{API}/complaints/import", headers=auth, data={"file": (io.BytesIO(b"a,b\n"), "x.csv")}
    )
    assert (response.status_code, response.get_json()["error"]) == (
        400,
        {"code": "missing_source", "message": "name the source system (form field 'source', e.g. 12345热线)"},
    )
    response = fresh_client.post(
        f"{API}/complaints/import", data={"source": SOURCE, "file": (io.BytesIO(b"a,b\n"), "x.csv")}
    )
    assert response.status_code == 401


# --- bad files ----------------------------------------------------------------------------------


def _bad_table(grids) -> tuple[list[list], list[tuple[int, str, str]]]:
    """Rows with one fault each (data rows from spreadsheet row 3, under the title and header)."""
    good, _ = _good_table(grids)
    lon, lat = inside_point(grids, sorted(grids["code"])[7])

    def row(n, ext, when="2025-10-01 09:30", category="noise", address="", lon_=lon, lat_=lat, phone=""):
        return [n, ext, when, "热线", category, "噪音", address, lon_, lat_, "", "", phone]

    rows = [
        good[0],  # row 3: good
        row(2, ""),  # row 4
        row(3, "HL-0103", when="2025-13-45 25:00"),  # row 5
        row(4, "HL-0104", category="飞碟降落"),  # row 6
        row(5, "HL-0105", phone="12345"),  # row 7
        row(6, "HL-0106", lon_="", lat_=""),  # row 8
        row(7, "HL-0107", lon_=113.30, lat_=23.30),  # row 9: in no grid
        row(8, "HL-0108", address="沥苑路", lon_="", lat_=""),  # row 10: ambiguous
        row(9, "HL-0001"),  # row 11: repeats row 3
        good[1],  # row 12: good
    ]
    faults = [
        (4, "external_id", "missing: every complaint needs the id it has in its source system"),
        (5, "reported_at", "'2025-13-45 25:00': month must be in 1..12"),
        (
            6,
            "category",
            "'飞碟降落' is not in the category list (codes like power_supply, sidewalk_damage, "
            "water_body, or their Chinese names)",
        ),
        (
            7,
            "reporter_phone",
            "'12345' is not a phone number: expected a mobile like 13800138000 (+86, "
            "spaces and dashes allowed) or a landline with area code like 0757-86337323",
        ),
        (8, "address", "missing: give an address or lon/lat"),
        (9, "lon", "the point (113.3, 23.3) is in no grid (far_outside)"),
        (10, "address", "'沥苑路' is ambiguous; candidates: "),
        (11, "external_id", "'HL-0001' repeats row 3"),
    ]
    return rows, faults


def _assert_faults(reported: list[tuple[int, str, str]], faults: list[tuple[int, str, str]]) -> None:
    assert [(r, f) for r, f, _ in reported] == [(r, f) for r, f, _ in faults]
    for (_, _, got), (row, _, want) in zip(reported, faults, strict=True):
        if row == 10:
            assert got.startswith(want) and "沥苑路1号 (" in got
        else:
            assert got == want


def test_a_file_with_faulty_rows_is_refused_whole_through_the_cli(demo_db, demo_grids, tmp_path):
    rows, faults = _bad_table(demo_grids)
    path = _write_csv(tmp_path / "hotline-bad.csv", rows, "utf-8")
    store = demo_db.app().extensions["redgrid"].store
    before = store.count_complaints()

    result = demo_db.cli("complaints", "import", str(path), "--source", SOURCE)
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    lines = lines[
        next(i for i, line in enumerate(lines) if line.startswith("error:")) :
    ]  # after the progress
    assert lines[0] == "error: complaints hotline-bad.csv: 8 problem(s), nothing imported"
    reported = []
    for line in lines[1:]:
        head, message = line.split(": ", 1)
        number, field = head.removeprefix("  - row ").split(", field ")
        reported.append((int(number), field.strip("'"), message))
    _assert_faults(reported, faults)
    assert store.count_complaints() == before and _stored(store) == []


def test_an_excel_file_with_faulty_rows_is_refused_whole_through_the_api(
    fresh_app, fresh_client, demo_grids, tmp_path
):
    rows, faults = _bad_table(demo_grids)
    path = _write_xlsx(tmp_path / "hotline-bad.xlsx", rows)
    name, header = api_key(fresh_app, "write")
    # only a key granted the source imports under it (issue 8: sources are owned)
    fresh_app.extensions["redgrid"].grants.grant(system(), f"api_key:{name}", "source", SOURCE)
    store = fresh_app.extensions["redgrid"].store
    before = store.count_complaints()
    with path.open("rb") as fh:
        response = fresh_client.post(
            f"{API}/complaints/import",
            headers={"Authorization": header},
            data={"file": (fh, path.name), "source": SOURCE},
        )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["message"]) == (
        "invalid_rows",
        "complaints hotline-bad.xlsx: 8 problem(s), nothing imported",
    )
    # in Excel the ticket numbers are numbers: the repeated one is 20251000001
    faults = [(r, f, m.replace("'HL-0001'", "'20251000001'")) for r, f, m in faults]
    _assert_faults([(e["row"], e["field"], e["message"]) for e in error["rows"]], faults)
    assert store.count_complaints() == before and _stored(store) == []


def test_a_file_without_the_required_columns_names_them(demo_db, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("编号,内容\nX1,噪音\n", encoding="utf-8")
    result = demo_db.cli("complaints", "import", str(path), "--source", SOURCE)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: complaints wrong.csv: missing column(s) reported_at, category "
        "(header row 1 has: 编号, 内容); accepted headers: reported_at = 受理时间/"
    )
