"""Rosters of grid officials: reading real files, refusing bad ones, assembling teams.

The checked-in files under ``fixtures/rosters/`` are what an office would send (a
hand-written UTF-8 CSV, the same roster saved as GBK with other headers, a CSV with one
fault per row); everything else is written by the tests into ``tmp_path``.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from geo.errors import FileFormatError
from geo.errors import RowError
from geo.errors import RowErrors
from geo.officials import Assignment
from geo.officials import Role
from geo.officials import UnitLevel
from geo.officials import generate_roster
from geo.officials import mask_phone
from geo.officials import normalise_phone
from geo.officials import parse_role
from geo.officials import read_roster
from geo.officials import team_for
from geo.officials import write_roster_csv
from tests.shared_data import shared_file

ROSTERS = Path(__file__).parent / "fixtures" / "rosters"
TOWN = "440605125"
COMMUNITY = "440605125001"
OTHER_COMMUNITY = "440605125002"
GRID = "440605125001001"
KNOWN = {
    TOWN: UnitLevel.TOWN,
    COMMUNITY: UnitLevel.COMMUNITY,
    OTHER_COMMUNITY: UnitLevel.COMMUNITY,
    GRID: UnitLevel.GRID,
    "440605125001002": UnitLevel.GRID,
    "440605125002001": UnitLevel.GRID,
}
D = datetime.date
HEADER = "姓名,电话,角色,单位编码,开始日期,结束日期,备注\n"

# What good_utf8.csv and good_gbk.csv hold.
GOOD = [
    Assignment("陈志强", "13800130001", Role.LEADER, TOWN, UnitLevel.TOWN, D(2024, 1, 1), None,
               "镇党委书记"),
    Assignment("李秀英", "13800130002", Role.DEPUTY_LEADER, COMMUNITY, UnitLevel.COMMUNITY,
               D(2024, 3, 1), None),
    Assignment("王建华", "0757-86337323", Role.INSTRUCTOR, GRID, UnitLevel.GRID, D(2024, 3, 1),
               D(2024, 12, 31)),
    Assignment("张丽", "13800130004", Role.GROUP_LEADER, GRID, UnitLevel.GRID, D(2024, 3, 1), None),
    Assignment("刘洋", "13800130005", Role.GRID_WORKER, GRID, UnitLevel.GRID, D(2024, 3, 1), None),
    Assignment("黄敏", "13800130006", Role.PART_TIME_WORKER, GRID, UnitLevel.GRID, D(2024, 3, 1),
               None, "8栋"),
]  # fmt: skip


def write_csv(tmp_path: Path, text: str, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def row_errors(path: Path, **kwargs) -> list[RowError]:
    with pytest.raises(RowErrors) as caught:
        read_roster(path, known_units=KNOWN, **kwargs)
    return caught.value.errors


# --- roles and units -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("组长", Role.LEADER),
        ("副组长", Role.DEPUTY_LEADER),
        ("指导员", Role.INSTRUCTOR),
        ("小红格格长", Role.INSTRUCTOR),
        ("格长", Role.INSTRUCTOR),
        ("指导员/小红格格长", Role.INSTRUCTOR),
        ("grid_chief", Role.INSTRUCTOR),
        (" 小红格组长 ", Role.GROUP_LEADER),
        ("网格员", Role.GRID_WORKER),
        ("专职网格员", Role.GRID_WORKER),
        ("兼职网格员", Role.PART_TIME_WORKER),
        ("楼长", Role.PART_TIME_WORKER),
        ("栋长", Role.PART_TIME_WORKER),
        ("Deputy Leader", Role.DEPUTY_LEADER),
        ("part_time_worker", Role.PART_TIME_WORKER),
    ],
)
def test_parse_role_accepts_chinese_labels_and_code_names(text: str, role: Role) -> None:
    assert parse_role(text) is role


def test_parse_role_names_the_allowed_values() -> None:
    with pytest.raises(ValueError) as caught:
        parse_role("主任")
    assert str(caught.value) == (
        "unknown role '主任'; allowed: 组长 (leader), 副组长 (deputy_leader), "
        "指导员/小红格格长 (instructor), 小红格组长 (group_leader), 网格员 (grid_worker), "
        "兼职网格员 (part_time_worker)"
    )


def test_roles_carry_levels_and_labels_top_down() -> None:
    assert [(r.value, r.level, r.label_zh) for r in Role] == [
        ("leader", 1, "组长"),
        ("deputy_leader", 2, "副组长"),
        ("instructor", 3, "指导员/小红格格长"),
        ("group_leader", 4, "小红格组长"),
        ("grid_worker", 5, "网格员"),
        ("part_time_worker", 5, "兼职网格员"),
    ]
    assert Role.GRID_CHIEF is Role.INSTRUCTOR
    assert Role.PART_TIME_WORKER.label_en == "Part-time grid worker"


@pytest.mark.parametrize(
    ("code", "level"),
    [(TOWN, UnitLevel.TOWN), (COMMUNITY, UnitLevel.COMMUNITY), (GRID, UnitLevel.GRID)],
)
def test_unit_level_follows_code_length(code: str, level: UnitLevel) -> None:
    assert UnitLevel.of_code(code) is level


def test_unit_level_refuses_other_lengths() -> None:
    with pytest.raises(ValueError, match=r"^'4406051250' is not a unit code: .* got 10 digits$"):
        UnitLevel.of_code("4406051250")


# --- reading good files ----------------------------------------------------


def test_reads_utf8_csv() -> None:
    assert read_roster(ROSTERS / "good_utf8.csv", known_units=KNOWN) == GOOD


def test_reads_utf8_csv_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (ROSTERS / "good_utf8.csv").read_bytes())
    assert path.read_bytes().startswith(b"\xef\xbb\xbf\xe5\xa7\x93")  # BOM, then 姓
    assert read_roster(path, known_units=KNOWN) == GOOD


def test_reads_gbk_csv_with_other_headers() -> None:
    data = (ROSTERS / "good_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the fixture really is GBK
    assert data.decode("gbk").startswith("姓名,手机,职务,网格编码,任职日期,离任日期,备注\r\n")
    assert read_roster(ROSTERS / "good_gbk.csv", known_units=KNOWN) == GOOD
    assert read_roster(ROSTERS / "good_gbk.csv", known_units=KNOWN, encoding="gbk") == GOOD


def test_gbk_is_tried_before_guessing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Guessing is slow on big files and can mistake short Chinese text for another encoding.
    def no_guessing(data: bytes) -> None:
        raise AssertionError("charset detection should not be needed for GBK")

    monkeypatch.setattr("geo.tabular.charset_normalizer.from_bytes", no_guessing)
    assert read_roster(ROSTERS / "good_gbk.csv", known_units=KNOWN) == GOOD


def test_forced_encoding_that_does_not_fit_is_a_file_error() -> None:
    with pytest.raises(FileFormatError, match=r"^roster good_gbk.csv: cannot read the file as utf-8: "):
        read_roster(ROSTERS / "good_gbk.csv", known_units=KNOWN, encoding="utf-8")


def test_falls_back_to_charset_detection(tmp_path: Path) -> None:
    path = tmp_path / "utf16.csv"
    path.write_text((ROSTERS / "good_utf8.csv").read_text(encoding="utf-8"), encoding="utf-16")
    assert read_roster(path, known_units=KNOWN) == GOOD


def test_english_headers_any_case_and_spacing(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        " Name ,PHONE,Role,Unit Code,start,END,Note,序号\n"
        "刘洋,13800130005,grid_worker,440605125001001,2024-03-01,,,7\n",
    )
    assert read_roster(path, known_units=KNOWN) == [GOOD[4]]


def test_reads_xlsx_with_numbers_for_codes_and_phones(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["大沥镇党建小红格人员名册"])  # a title row, as offices make them
    sheet.append([])
    sheet.append(["姓名", "电话", "角色", "单位编码", "开始日期", "结束日期", "备注"])
    sheet.append(["陈志强", 13800130001, "组长", 440605125, datetime.date(2024, 1, 1), None, "镇党委书记"])
    sheet.append(["李秀英", 13800130002, "副组长", 440605125001, datetime.datetime(2024, 3, 1)])
    sheet.append(
        ["王建华", "0757-86337323", "指导员", 440605125001001, "2024年3月1日", datetime.date(2024, 12, 31)]
    )
    sheet.append(["张丽", 13800130004.0, "小红格组长", 4.40605125001001e14, "2024-03-01"])
    sheet.append(["刘洋", 13800130005, "网格员", 440605125001001, "2024/03/01"])
    sheet.append(["黄敏", 13800130006, "楼长", 440605125001001, datetime.date(2024, 3, 1), None,
                  "8栋"])  # fmt: skip
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    assert isinstance(openpyxl.load_workbook(path).active["D4"].value, int)  # really a number
    assert read_roster(path, known_units=KNOWN) == GOOD


def test_xlsx_errors_use_the_sheet_row_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["名册"])
    sheet.append(["姓名", "电话", "角色", "单位编码", "开始日期"])
    sheet.append(["刘洋", 13800130005, "网格员", 440605125001001, datetime.date(2024, 3, 1)])
    sheet.append(["黄敏", 75786337323, "网格员", 440605125001099, 45352])
    path = tmp_path / "roster.xlsx"
    workbook.save(path)
    assert row_errors(path) == [
        RowError(4, "phone", "'75786337323' is not a phone number: expected a mobile like "
                 "13800138000 (+86, spaces and dashes allowed) or a landline with area code like "
                 "0757-86337323 (a landline stored as a number loses its leading 0; format the "
                 "column as text)"),
        RowError(4, "unit_code", "grid 440605125001099 is not in the grid set"),
        RowError(4, "start", "'45352' is not a date: expected YYYY-MM-DD, YYYY/MM/DD or "
                 "YYYY年M月D日"),
    ]  # fmt: skip


def test_xlsx_row_numbers_count_leading_empty_rows(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    header = ["姓名", "电话", "角色", "单位编码", "开始日期"]
    row = [None, 13800130005, "网格员", 440605125001001, "2024-03-01"]
    for column, title, value in zip("BCDEF", header, row, strict=True):
        sheet[f"{column}3"] = title  # the table starts at B3, as pasted from elsewhere
        sheet[f"{column}4"] = value
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    assert row_errors(path) == [RowError(4, "name", "empty name")]


def test_picks_an_excel_sheet_by_name_or_index(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["本表填写说明"])
    sheet = workbook.create_sheet("名册")
    sheet.append(["姓名", "电话", "角色", "单位编码", "开始日期"])
    sheet.append(["刘洋", 13800130005, "网格员", 440605125001001, datetime.date(2024, 3, 1)])
    path = tmp_path / "two.xlsx"
    workbook.save(path)
    assert read_roster(path, known_units=KNOWN, sheet="名册") == [GOOD[4]]
    assert read_roster(path, known_units=KNOWN, sheet=1) == [GOOD[4]]
    with pytest.raises(FileFormatError) as caught:
        read_roster(path, known_units=KNOWN, sheet="人员")
    assert str(caught.value) == "roster two.xlsx: no sheet '人员'; sheets: 说明, 名册"
    with pytest.raises(FileFormatError) as caught:
        read_roster(path, known_units=KNOWN, sheet=2)
    assert str(caught.value) == "roster two.xlsx: no sheet number 2 (0-based); sheets: 说明, 名册"


def test_an_excel_file_named_csv_is_read_as_excel(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["姓名", "电话", "角色", "单位编码", "开始日期"])
    workbook.active.append(["刘洋", "13800130005", "网格员", "440605125001001", "2024-03-01"])
    path = tmp_path / "renamed.csv"
    workbook.save(path)
    assert read_roster(path, known_units=KNOWN) == [GOOD[4]]


# --- refusing bad files ----------------------------------------------------


def test_every_fault_in_a_file_is_reported_together() -> None:
    with pytest.raises(RowErrors) as caught:
        read_roster(ROSTERS / "bad_rows.csv", known_units=KNOWN)
    phone_message = (
        "'12345' is not a phone number: expected a mobile like 13800138000 (+86, spaces and "
        "dashes allowed) or a landline with area code like 0757-86337323"
    )
    date_message = "is not a date: expected YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日"
    assert caught.value.errors == [
        RowError(2, "name", "empty name"),
        RowError(3, "phone", phone_message),
        RowError(4, "role", "unknown role '主任'; allowed: 组长 (leader), 副组长 (deputy_leader), "
                 "指导员/小红格格长 (instructor), 小红格组长 (group_leader), 网格员 (grid_worker), "
                 "兼职网格员 (part_time_worker)"),
        RowError(5, "unit_code", "grid 440605125001099 is not in the grid set"),
        RowError(6, "unit_code", "'4406051250010' is not a unit code: expected 9 digits (town), "
                 "12 (community) or 15 (grid), got 13 digits"),
        RowError(7, "start", f"'2024-02-30' {date_message}"),
        RowError(8, "end", "end 2024-02-01 is before start 2024-03-01"),
        RowError(10, "assignment", "same phone, role, unit_code and start as row 9"),
        RowError(12, "role", "empty role; allowed: 组长 (leader), 副组长 (deputy_leader), "
                 "指导员/小红格格长 (instructor), 小红格组长 (group_leader), 网格员 (grid_worker), "
                 "兼职网格员 (part_time_worker)"),
        RowError(12, "unit_code", "empty unit code"),
        RowError(12, "start", "empty start date"),
    ]  # fmt: skip
    assert str(caught.value).startswith(
        "roster bad_rows.csv: 11 problem(s), nothing imported\n"
        "  - row 2, field 'name': empty name\n"
        "  - row 3, field 'phone': '12345' is not a phone number"
    )


def test_a_roster_naming_an_unknown_grid(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        HEADER + "张丽,13800130004,小红格组长,440605125001099,2024-03-01,,\n",
        "unknown_grid.csv",
    )
    with pytest.raises(RowErrors) as caught:
        read_roster(path, known_units=KNOWN)
    assert str(caught.value) == (
        "roster unknown_grid.csv: 1 problem(s), nothing imported\n"
        "  - row 2, field 'unit_code': grid 440605125001099 is not in the grid set"
    )
    assert caught.value.code == "invalid_rows"


def test_a_known_code_of_another_level_is_still_checked_against_the_set(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER + "陈志强,13800130001,组长,440605126,2024-01-01,,\n")
    assert row_errors(path) == [RowError(2, "unit_code", "town 440605126 is not in the grid set")]


def test_leaders_may_sit_at_a_grid(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER + "陈志强,13800130001,组长,440605125001001,2024-01-01,,\n")
    [assignment] = read_roster(path, known_units=KNOWN)
    assert (assignment.role, assignment.unit_level) == (Role.LEADER, UnitLevel.GRID)


def test_scientific_notation_from_excel_gets_a_hint(tmp_path: Path) -> None:
    path = write_csv(tmp_path, HEADER + "刘洋,1.38001E+10,网格员,4.40605E+14,2024-03-01,,\n")
    errors = row_errors(path)
    assert [(e.row, e.field) for e in errors] == [(2, "phone"), (2, "unit_code")]
    hint = "(Excel shows long numbers in scientific notation and drops digits; format the column"
    assert all(hint in e.message for e in errors)


def test_missing_columns_are_named_with_the_accepted_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "姓名,角色,单位编码\n刘洋,网格员,440605125001001\n", "missing.csv")
    with pytest.raises(FileFormatError) as caught:
        read_roster(path, known_units=KNOWN)
    assert str(caught.value) == (
        "roster missing.csv: missing column(s) phone, start (header row 1 has: 姓名, 角色, "
        "单位编码); accepted headers: phone = 电话/手机/联系电话/手机号码/手机号/联系方式/phone/mobile; "
        "start = 开始日期/任职日期/开始/起始日期/任职开始/start/start_date"
    )
    assert caught.value.code == "file_format"


def test_two_columns_for_one_field_are_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "姓名,电话,手机,角色,单位编码,开始日期\n", "twice.csv")
    with pytest.raises(FileFormatError) as caught:
        read_roster(path, known_units=KNOWN)
    assert str(caught.value) == (
        "roster twice.csv: columns '电话' and '手机' in row 1 both mean phone; keep one"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "roster r.csv: the file is empty"),
        ("\n\n", "roster r.csv: the file is empty"),
        (HEADER, "roster r.csv: no data rows below the header in row 1"),
    ],
)
def test_files_without_rows_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FileFormatError) as caught:
        read_roster(write_csv(tmp_path, text, "r.csv"), known_units=KNOWN)
    assert str(caught.value) == message


def test_a_broken_excel_file_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(FileFormatError, match=r"^roster broken.xlsx: not a readable Excel file"):
        read_roster(path, known_units=KNOWN)


# --- fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("0086-13800138000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("0757-86337323", "0757-86337323"),
        ("(0757) 8633 7323", "0757-86337323"),
        ("075786337323", "0757-86337323"),
        ("+86 757 86337323", "0757-86337323"),
        ("020-83331234", "020-83331234"),
        ("010 6512345", "010-6512345"),
        ('="13800138000"', "13800138000"),
    ],
)
def test_phones_are_normalised(text: str, phone: str) -> None:
    assert normalise_phone(text) == phone


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("12345", ""),
        ("1380013800", ""),  # ten digits
        ("12800138000", ""),  # no mobile prefix 12
        ("0757-0633732", ""),  # a local number never starts with 0
        ("86337323", " (a landline needs its area code, e.g. 0757-)"),
    ],
)
def test_bad_phones_are_refused(text: str, hint: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalise_phone(text)
    assert str(caught.value) == (
        f"{text!r} is not a phone number: expected a mobile like 13800138000 (+86, spaces and "
        f"dashes allowed) or a landline with area code like 0757-86337323{hint}"
    )


@pytest.mark.parametrize(
    "cell", ["2024-03-01", "2024/3/1", "2024/03/01", "2024年3月1日", "2024-03-01 00:00:00"]
)
def test_date_formats(tmp_path: Path, cell: str) -> None:
    path = write_csv(tmp_path, HEADER + f"刘洋,13800130005,网格员,440605125001001,{cell},,\n")
    assert read_roster(path, known_units=KNOWN) == [GOOD[4]]


@pytest.mark.parametrize("cell", ["2024.03.01", "03/01/2024", "2024-3", "2024-03-01 08:30"])
def test_other_date_formats_are_refused(tmp_path: Path, cell: str) -> None:
    path = write_csv(tmp_path, HEADER + f"刘洋,13800130005,网格员,440605125001001,{cell},,\n")
    assert row_errors(path) == [
        RowError(2, "start", f"{cell!r} is not a date: expected YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日")
    ]


# --- teams -----------------------------------------------------------------


NEW_YEAR = D(2024, 1, 1)


def person(name: str, role: Role, code: str, start: D = NEW_YEAR, end: D | None = None):
    """An assignment with a placeholder phone; only role, unit and dates matter to teams."""
    return Assignment(name, "13800130000", role, code, UnitLevel.of_code(code), start, end)


def test_active_on_includes_first_and_last_day() -> None:
    a = person("刘洋", Role.GRID_WORKER, GRID, D(2024, 3, 1), D(2024, 3, 31))
    assert [a.active_on(d) for d in (D(2024, 2, 29), D(2024, 3, 1), D(2024, 3, 31), D(2024, 4, 1))] \
        == [False, True, True, False]  # fmt: skip
    assert person("刘洋", Role.GRID_WORKER, GRID, D(2024, 3, 1)).active_on(D(2099, 1, 1))


def test_team_for_inherits_orders_and_filters_by_date() -> None:
    day = D(2024, 6, 1)
    everyone = [
        person("王二", Role.GRID_WORKER, GRID),
        person("兼职甲", Role.PART_TIME_WORKER, GRID),
        person("王一", Role.GRID_WORKER, GRID),  # 一 U+4E00 sorts before 二 U+4E8C
        person("社区组长", Role.LEADER, COMMUNITY),
        person("镇副组长", Role.DEPUTY_LEADER, TOWN),
        person("指导员", Role.INSTRUCTOR, GRID),
        person("镇组长", Role.LEADER, TOWN),
        person("小红格组长", Role.GROUP_LEADER, GRID),
        person("社区副组长", Role.DEPUTY_LEADER, COMMUNITY),
        person("离任副组长", Role.DEPUTY_LEADER, TOWN, end=D(2024, 5, 31)),
        person("未到任指导员", Role.INSTRUCTOR, GRID, start=D(2024, 6, 2)),
        person("别格网格员", Role.GRID_WORKER, "440605125001002"),
        person("别社区组长", Role.LEADER, OTHER_COMMUNITY),
    ]
    team = team_for(GRID, COMMUNITY, TOWN, everyone, day)
    assert [a.name for a in team] == [
        "镇组长",
        "社区组长",
        "镇副组长",
        "社区副组长",
        "指导员",
        "小红格组长",
        "王一",
        "王二",
        "兼职甲",
    ]
    assert team_for(GRID, COMMUNITY, TOWN, everyone, D(2024, 5, 31))[2].name == "离任副组长"


def test_team_for_matches_level_and_code_together() -> None:
    # A grid's code given in the community slot does not pull that grid's people in.
    grid_worker = person("刘洋", Role.GRID_WORKER, GRID)
    assert team_for("440605125001002", GRID, TOWN, [grid_worker], D(2024, 6, 1)) == []


# --- masking ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 139-1234-5678", "139****5678"),
        ("0757-86337323", "0757-****7323"),
        ("075786337323", "0757-****7323"),
        ("010-6512345", "010-***2345"),
        ("12345", "*2345"),
        ("hotline 12345-678", "*************-678"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


# --- demo rosters ----------------------------------------------------------


@pytest.fixture(scope="module")
def dali() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dali's 43 real communities with 309 made-up grids spread over them."""
    communities = pd.read_csv(shared_file("data/dali_communities.csv"), dtype=str)
    communities = communities[communities["town_code"] == TOWN][["code", "name"]]
    community_codes = list(communities["code"])
    rows = []
    for n in range(309):
        community = community_codes[n % len(community_codes)]
        rows.append({"code": f"{community}{n // len(community_codes) + 1:03d}",
                     "community_code": community})  # fmt: skip
    return pd.DataFrame(rows), communities


def test_generate_roster_is_deterministic(dali) -> None:
    grids, communities = dali
    first = generate_roster(grids, communities, TOWN, start=D(2024, 3, 1), seed=7)
    assert first == generate_roster(grids, communities, TOWN, start=D(2024, 3, 1), seed=7)
    assert first != generate_roster(grids, communities, TOWN, start=D(2024, 3, 1), seed=8)


def test_generated_roster_gives_every_grid_a_five_level_team(dali) -> None:
    grids, communities = dali
    roster = generate_roster(grids, communities, TOWN, start=D(2024, 3, 1))
    assert len(communities) == 43
    assert all(re.fullmatch(r"1380013\d{4}", a.phone) for a in roster)
    assert len({a.phone for a in roster}) == len(roster)
    town = [a.role for a in roster if a.unit_code == TOWN]
    assert town == [Role.LEADER, Role.DEPUTY_LEADER, Role.DEPUTY_LEADER, Role.DEPUTY_LEADER]
    for code in communities["code"]:
        assert [a.role for a in roster if a.unit_code == code] == [Role.LEADER, Role.DEPUTY_LEADER]
    for grid, community in zip(grids["code"], grids["community_code"], strict=True):
        team = team_for(grid, community, TOWN, roster, D(2024, 3, 1))
        assert {a.role.level for a in team} == {1, 2, 3, 4, 5}
        own = [a.role for a in team if a.unit_code == grid]
        assert own.count(Role.INSTRUCTOR) == own.count(Role.GROUP_LEADER) == 1
        assert 1 <= own.count(Role.GRID_WORKER) <= 2
        assert 1 <= own.count(Role.PART_TIME_WORKER) <= 3
    assert team_for(grids["code"][0], grids["community_code"][0], TOWN, roster, D(2024, 2, 29)) == []


def test_generated_roster_round_trips_through_csv(dali, tmp_path: Path) -> None:
    grids, communities = dali
    roster = generate_roster(grids, communities, TOWN, start=D(2024, 3, 1), seed=3)
    known = {code: UnitLevel.of_code(code) for code in [TOWN, *communities["code"], *grids["code"]]}
    write_roster_csv(roster, tmp_path / "demo.csv")
    assert (
        (tmp_path / "demo.csv")
        .read_bytes()
        .startswith("\ufeff姓名,电话,角色,单位编码,开始日期,结束日期,备注\r\n".encode())
    )
    assert read_roster(tmp_path / "demo.csv", known_units=known) == roster
    write_roster_csv(roster, tmp_path / "demo_gb.csv", encoding="gb18030")
    assert read_roster(tmp_path / "demo_gb.csv", known_units=known) == roster


def test_generate_roster_takes_numeric_codes_and_refuses_stray_grids() -> None:
    communities = pd.DataFrame({"code": [440605125001], "name": ["沥苑社区居委会"]})
    grids = pd.DataFrame({"code": [440605125001001], "community_code": [440605125001]})
    roster = generate_roster(grids, communities, TOWN, start=D(2024, 3, 1))
    assert {a.unit_code for a in roster} == {TOWN, COMMUNITY, GRID}
    strays = pd.DataFrame({"code": ["440605125009001"], "community_code": ["440605125009"]})
    with pytest.raises(ValueError, match=r"^grids name communities missing from the table: "
                                         r"440605125009$"):  # fmt: skip
        generate_roster(strays, communities, TOWN, start=D(2024, 3, 1))
