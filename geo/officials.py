"""The people of each grid: rosters of the five-level team and who serves a grid on a day.

A roster is the spreadsheet a town office keeps: one row per person per post, naming the
unit (town, community or grid) by its statistical code. Offices save it as UTF-8 or GBK
CSV or as Excel, with Chinese or English headers and often with a title row on top, so
the reader accepts all of these; it refuses a file as a whole, listing every faulty row,
because a half-imported roster would silently leave grids without their people.

Row numbers in errors are the spreadsheet's own row numbers, as the user sees them in
Excel: the header is row 1 (or wherever it actually is, below a title row) and the first
data row under a header in row 1 is row 2.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import random
import re
import unicodedata
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import pandas as pd
from faker import Faker

from geo.errors import FileFormatError
from geo.errors import RowError
from geo.errors import RowErrors
from geo.tabular import find_header
from geo.tabular import read_cells

_T = TypeVar("_T")

# ---------------------------------------------------------------------------
# Roles and units


class Role(StrEnum):
    """A post in the five-level team 组长 → 副组长 → 指导员/小红格格长 → 小红格组长 → 网格员.

    Members are listed top to bottom; part-time grid workers (兼职网格员: party members,
    building heads, volunteers) share level 5 with the full-time workers but rank after them.
    """

    LEADER = "leader"
    DEPUTY_LEADER = "deputy_leader"
    INSTRUCTOR = "instructor"
    GRID_CHIEF = "instructor"  # the same post: 小红格格长 is what residents call the 指导员
    GROUP_LEADER = "group_leader"
    GRID_WORKER = "grid_worker"
    PART_TIME_WORKER = "part_time_worker"

    @property
    def label_zh(self) -> str:
        return _ROLE_LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _ROLE_LABELS[self][1]

    @property
    def level(self) -> int:
        return _ROLE_LABELS[self][2]


_ROLE_LABELS: dict[Role, tuple[str, str, int]] = {
    Role.LEADER: ("组长", "Leader", 1),
    Role.DEPUTY_LEADER: ("副组长", "Deputy leader", 2),
    Role.INSTRUCTOR: ("指导员/小红格格长", "Instructor (grid chief)", 3),
    Role.GROUP_LEADER: ("小红格组长", "Group leader", 4),
    Role.GRID_WORKER: ("网格员", "Grid worker", 5),
    Role.PART_TIME_WORKER: ("兼职网格员", "Part-time grid worker", 5),
}
_ROLE_RANK = {role: rank for rank, role in enumerate(Role)}


def _role_key(text: str) -> str:
    """Spelling-insensitive: 'Deputy leader', 'deputy-leader' and 'deputy_leader' are one."""
    return re.sub(r"[\s_\-]", "", unicodedata.normalize("NFKC", text)).casefold()


_ROLE_ALIASES: dict[str, Role] = {
    "组长": Role.LEADER,
    "副组长": Role.DEPUTY_LEADER,
    "指导员": Role.INSTRUCTOR,
    "小红格格长": Role.INSTRUCTOR,
    "格长": Role.INSTRUCTOR,
    "网格长": Role.INSTRUCTOR,
    "指导员/小红格格长": Role.INSTRUCTOR,
    "grid_chief": Role.INSTRUCTOR,
    "小红格组长": Role.GROUP_LEADER,
    "网格员": Role.GRID_WORKER,
    "专职网格员": Role.GRID_WORKER,
    "全职网格员": Role.GRID_WORKER,
    "兼职网格员": Role.PART_TIME_WORKER,
    "楼长": Role.PART_TIME_WORKER,
    "栋长": Role.PART_TIME_WORKER,
    "楼长栋长": Role.PART_TIME_WORKER,
    "楼长/栋长": Role.PART_TIME_WORKER,
    "楼栋长": Role.PART_TIME_WORKER,
    "经济社社长": Role.PART_TIME_WORKER,
    "志愿者": Role.PART_TIME_WORKER,
} | {role.value: role for role in Role}
_ROLE_ALIASES = {_role_key(alias): role for alias, role in _ROLE_ALIASES.items()}

_ALLOWED_ROLES = ", ".join(f"{role.label_zh} ({role.value})" for role in Role)


def parse_role(text: str) -> Role:
    """The post named in a roster cell, in Chinese as offices write it or as a code name."""
    key = _role_key(text).replace("、", "/")
    role = _ROLE_ALIASES.get(key)
    if role is None:
        shown = f"unknown role {text.strip()!r}" if text.strip() else "empty role"
        raise ValueError(f"{shown}; allowed: {_ALLOWED_ROLES}")
    return role


class UnitLevel(StrEnum):
    """Where a post sits; the level is read off the code's length (9, 12 or 15 digits)."""

    TOWN = "town"
    COMMUNITY = "community"
    GRID = "grid"

    @classmethod
    def of_code(cls, code: str) -> UnitLevel:
        """The level of a town (9 digits), community (12) or grid (15) code."""
        level = _LEVEL_BY_LENGTH.get(len(code)) if re.fullmatch(r"[0-9]+", code) else None
        if level is None:
            got = f", got {len(code)} digits" if re.fullmatch(r"[0-9]+", code) else ""
            raise ValueError(
                f"{code!r} is not a unit code: expected 9 digits (town), "
                f"12 (community) or 15 (grid){got}{_scientific_hint(code)}"
            )
        return level


_LEVEL_BY_LENGTH = {9: UnitLevel.TOWN, 12: UnitLevel.COMMUNITY, 15: UnitLevel.GRID}
_LEVEL_RANK = {level: rank for rank, level in enumerate(UnitLevel)}


@dataclass(frozen=True)
class Assignment:
    """One person in one post at one unit for a period; ``end`` is the last day served."""

    name: str
    phone: str
    role: Role
    unit_code: str
    unit_level: UnitLevel
    start: datetime.date
    end: datetime.date | None
    note: str = ""

    def active_on(self, day: datetime.date) -> bool:
        """Whether the person holds the post on ``day`` (start and end days included)."""
        return self.start <= day and (self.end is None or day <= self.end)

    @property
    def key(self) -> tuple[str, Role, str, datetime.date]:
        """Identity for re-importing a roster: the same row twice updates, never duplicates.

        Names are left out because offices fix their spelling; a new start date is a new term.
        """
        return (self.phone, self.role, self.unit_code, self.start)


# ---------------------------------------------------------------------------
# Phones


_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9][0-9]{9})")
_LANDLINE = re.compile(r"0[0-9]{9,11}")


def normalise_phone(text: str) -> str:
    """The phone as stored: 11 mobile digits, or ``area-local`` for a landline.

    One spelling per number, so that the same person typed two ways is still one key.
    """
    raw = _unwrap(unicodedata.normalize("NFKC", text).strip())
    if not raw:
        raise ValueError("empty phone")
    compact = re.sub(r"[\s\-().]", "", raw)
    if mobile := _MOBILE.fullmatch(compact):
        return mobile.group(1)
    if landline := _landline(compact):
        return landline
    hint = _scientific_hint(raw)
    if compact.isascii() and compact.isdigit() and compact[0] not in "01":
        if _landline("0" + compact):
            hint = " (a landline stored as a number loses its leading 0; format the column as text)"
        elif len(compact) in (7, 8) and compact[0] not in "01":
            hint = " (a landline needs its area code, e.g. 0757-)"
    raise ValueError(
        f"{raw!r} is not a phone number: expected a mobile like 13800138000 (+86, spaces and "
        f"dashes allowed) or a landline with area code like 0757-86337323{hint}"
    )


def _landline(compact: str) -> str | None:
    for prefix in ("+86", "0086"):
        if compact.startswith(prefix):
            compact = compact.removeprefix(prefix)
            compact = compact if compact.startswith("0") else "0" + compact
    if not _LANDLINE.fullmatch(compact) or compact.startswith("00"):
        return None
    # 010 and 02x are the only three-digit area codes; all others have four digits.
    area_length = 3 if compact[1] in "12" else 4
    area, local = compact[:area_length], compact[area_length:]
    if len(local) not in (7, 8) or local[0] in "01":
        return None
    return f"{area}-{local}"


def mask_phone(phone: str) -> str:
    """The phone as shown to people who may see that a contact exists but not dial it.

    Mobiles keep the carrier prefix and last four (138****5678), landlines the area code
    and last four (0757-****7323); anything unrecognised keeps only its last four, or
    nothing at all when it is that short.
    """
    try:
        number = normalise_phone(phone)
    except ValueError:
        text = phone.strip()
        return "*" * len(text) if len(text) <= 4 else "*" * (len(text) - 4) + text[-4:]
    if "-" in number:
        area, local = number.split("-")
        return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
    return f"{number[:3]}****{number[-4:]}"


# ---------------------------------------------------------------------------
# Reading a roster

_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "phone": ("电话", "手机", "联系电话", "手机号码", "phone", "mobile"),
    "role": ("角色", "职务", "岗位", "role"),
    "unit_code": ("单位编码", "网格编码", "编码", "unit_code", "code"),
    "start": ("开始日期", "任职日期", "start", "start_date"),
    "end": ("结束日期", "离任日期", "end", "end_date"),
    "note": ("备注", "note"),
}
_REQUIRED = ("name", "phone", "role", "unit_code", "start")
_WRITE_HEADERS = ("姓名", "电话", "角色", "单位编码", "开始日期", "结束日期", "备注")
_DATE = re.compile(
    r"([0-9]{4})(?:([-/])([0-9]{1,2})\2([0-9]{1,2})|年([0-9]{1,2})月([0-9]{1,2})日)"
    r"(?:[ T]00:00(?::00)?)?"
)


def read_roster(
    path: str | Path,
    *,
    known_units: Mapping[str, UnitLevel],
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> list[Assignment]:
    """Every assignment in a roster file, or nothing: faults in any row refuse the file.

    ``known_units`` holds the codes a row may name (the target grid set plus its communities
    and town). ``encoding`` forces a CSV's text encoding; ``sheet`` picks an Excel sheet by
    name or 0-based index (default the first). Raises ``FileFormatError`` for a file that
    cannot be read or lacks a column, ``RowErrors`` listing every faulty row otherwise.
    """
    path = Path(path)
    what = f"roster {path.name}"
    rows = read_cells(path, what, encoding=encoding, sheet=sheet)
    header_index, columns = find_header(rows, what, _COLUMNS, _REQUIRED)
    assignments: list[Assignment] = []
    errors: list[RowError] = []
    first_row_of: dict[tuple[str, Role, str, datetime.date], int] = {}
    for index in range(header_index + 1, len(rows)):
        cells = rows[index]
        if not any(cells):
            continue
        record = {field: cells[col] if col < len(cells) else "" for field, col in columns.items()}
        assignment = _parse_row(record, index + 1, known_units, errors)
        if assignment is None:
            continue
        if assignment.key in first_row_of:
            first = first_row_of[assignment.key]
            message = f"same phone, role, unit_code and start as row {first}"
            errors.append(RowError(index + 1, "assignment", message))
            continue
        first_row_of[assignment.key] = index + 1
        assignments.append(assignment)
    if errors:
        raise RowErrors(what, errors)
    if not assignments:
        raise FileFormatError(f"{what}: no data rows below the header in row {header_index + 1}")
    return assignments


def _parse_row(
    record: Mapping[str, str],
    row: int,
    known_units: Mapping[str, UnitLevel],
    errors: list[RowError],
) -> Assignment | None:
    """The row's assignment, or None after adding one error per faulty field to ``errors``."""
    count = len(errors)

    def parsed(field: str, parse: Callable[[str], _T]) -> _T | None:
        try:
            return parse(record.get(field, ""))
        except ValueError as error:
            errors.append(RowError(row, field, str(error)))
            return None

    def unit(text: str) -> tuple[str, UnitLevel]:
        code = _unwrap(unicodedata.normalize("NFKC", text).strip())
        if not code:
            raise ValueError("empty unit code")
        level = UnitLevel.of_code(code)
        if code not in known_units:
            raise ValueError(f"{level} {code} is not in the grid set")
        return code, level

    name = parsed("name", _parse_name)
    phone = parsed("phone", normalise_phone)
    role = parsed("role", parse_role)
    unit_code_level = parsed("unit_code", unit)
    start = parsed("start", lambda text: _parse_date(text, "start"))
    end = parsed("end", lambda text: _parse_date(text, "end") if text.strip() else None)
    if start is not None and end is not None and end < start:
        errors.append(RowError(row, "end", f"end {end} is before start {start}"))
    if len(errors) > count:
        return None
    assert name and phone and role and unit_code_level and start  # narrowed by the count check
    return Assignment(
        name=name,
        phone=phone,
        role=role,
        unit_code=unit_code_level[0],
        unit_level=unit_code_level[1],
        start=start,
        end=end,
        note=record.get("note", "").strip(),
    )


def _parse_name(text: str) -> str:
    name = text.strip()
    if not name:
        raise ValueError("empty name")
    return name


def _parse_date(text: str, what: str) -> datetime.date:
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        raise ValueError(f"empty {what} date")
    if match := _DATE.fullmatch(text):
        year, _, month, day, zh_month, zh_day = match.groups()
        try:
            return datetime.date(int(year), int(month or zh_month), int(day or zh_day))
        except ValueError:
            pass
    raise ValueError(f"{text!r} is not a date: expected YYYY-MM-DD, YYYY/MM/DD or YYYY年M月D日")


def _unwrap(text: str) -> str:
    """A code or phone without the marks people add to stop Excel turning it into a number."""
    if match := re.fullmatch(r'="(.*)"', text):
        return match.group(1).strip()
    return text.removeprefix("'").strip()


def _scientific_hint(text: str) -> str:
    if re.fullmatch(r"[0-9.]+[eE]\+?[0-9]+", text.strip()):
        return (
            " (Excel shows long numbers in scientific notation and drops digits;"
            " format the column as text)"
        )
    return ""


# ---------------------------------------------------------------------------
# Teams


def team_for(
    grid_code: str,
    community_code: str,
    town_code: str,
    assignments: Iterable[Assignment],
    day: datetime.date,
) -> list[Assignment]:
    """The people answering for a grid on ``day``: its own and those of its community and town.

    Ordered as the team is drawn, top down: by role (组长 first, 兼职网格员 last), then by
    unit (town before community before grid), then by name and phone.
    """
    units = {
        (UnitLevel.TOWN, town_code),
        (UnitLevel.COMMUNITY, community_code),
        (UnitLevel.GRID, grid_code),
    }
    team = [a for a in assignments if (a.unit_level, a.unit_code) in units and a.active_on(day)]
    return sorted(
        team,
        key=lambda a: (_ROLE_RANK[a.role], _LEVEL_RANK[a.unit_level], a.name, a.phone),
    )


# ---------------------------------------------------------------------------
# Demo rosters

FAKE_PHONE_BASE = 13800130000
"""Demo phones are 1380013xxxx: the placeholder family of 13800138000, plainly not real people."""

_FAKE_PHONE_COUNT = 10_000
_PART_TIME_NOTES = ("党员", "楼长", "栋长", "志愿者")


def generate_roster(
    grids: pd.DataFrame,
    communities: pd.DataFrame,
    town_code: str,
    *,
    start: datetime.date,
    seed: int = 0,
) -> list[Assignment]:
    """A made-up roster giving every grid a full team, for demos and tests; same seed, same roster.

    Names come from Faker's zh_CN locale and phones from the fake 1380013xxxx block, so
    nothing in it identifies a real person. Town: a 组长 and three 副组长; each community:
    a 组长 and a 副组长; each grid: a 指导员, a 小红格组长, one or two 网格员 and one to
    three 兼职网格员. Rows come town first, then each community followed by its grids.
    """
    if UnitLevel.of_code(str(town_code)) is not UnitLevel.TOWN:
        raise ValueError(f"{town_code!r} is not a town code (9 digits)")
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    counter = itertools.count()
    roster: list[Assignment] = []

    def add(role: Role, code: str, note: str = "") -> None:
        number = next(counter)
        if number >= _FAKE_PHONE_COUNT:
            raise ValueError(f"a demo roster holds at most {_FAKE_PHONE_COUNT} people")
        phone = str(FAKE_PHONE_BASE + number)
        level = UnitLevel.of_code(code)
        roster.append(Assignment(fake.name(), phone, role, code, level, start, None, note))

    grids_by_community: dict[str, list[str]] = {}
    for code, community in zip(grids["code"], grids["community_code"], strict=True):
        grids_by_community.setdefault(_code_text(community), []).append(_code_text(code))
    community_codes = sorted(_code_text(code) for code in communities["code"])
    strays = sorted(set(grids_by_community) - set(community_codes))
    if strays:
        raise ValueError(f"grids name communities missing from the table: {', '.join(strays)}")

    add(Role.LEADER, str(town_code))
    for _ in range(3):
        add(Role.DEPUTY_LEADER, str(town_code))
    for community in community_codes:
        add(Role.LEADER, community)
        add(Role.DEPUTY_LEADER, community)
        for grid in sorted(grids_by_community.get(community, [])):
            add(Role.INSTRUCTOR, grid)
            add(Role.GROUP_LEADER, grid)
            for _ in range(rng.randint(1, 2)):
                add(Role.GRID_WORKER, grid)
            for _ in range(rng.randint(1, 3)):
                add(Role.PART_TIME_WORKER, grid, rng.choice(_PART_TIME_NOTES))
    return roster


def _code_text(value: object) -> str:
    """A code from a DataFrame cell, which may have been read as a number."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def write_roster_csv(
    assignments: Iterable[Assignment], path: str | Path, encoding: str = "utf-8-sig"
) -> None:
    """Write a roster with the Chinese headers offices use; ``read_roster`` reads it back.

    The default UTF-8 with BOM is what makes Excel on Chinese Windows show the text right.
    """
    with open(path, "w", encoding=encoding, newline="") as file:
        writer = csv.writer(file)
        writer.writerow(_WRITE_HEADERS)
        for a in assignments:
            end = a.end.isoformat() if a.end else ""
            writer.writerow(
                [a.name, a.phone, a.role.label_zh, a.unit_code, a.start.isoformat(), end, a.note]
            )
