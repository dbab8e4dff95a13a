"""The people of each grid: rosters of the five-level team and who serves a grid on a day.

A roster is the spreadsheet a town office keeps: one row per person per post, naming the
unit (town, community or grid) by its statistical code. Offices save it as UTF-8 or GBK
CSV or as Excel, with Chinese or English headers and often with a title row on top, so
the reader accepts all of these; it refuses a file as a whole, listing every faulty row,
because a half-imported roster would silently leave grids without their people.

Row numbers in errors are the spreadsheet's own row numbers, as the user sees them in
Excel: the header is row 1 (or wherever it actually is, below a title row) and the first
data row under a header in row 1 is row 2. A workbook with one sheet per community is
read whole; its errors name the sheet and the row.

``roster_changes`` compares a roster with the assignments in force, so that the import
can be previewed (who is added, who is gone, whose phone, role or dates changed) before
anything is stored.
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
from dataclasses import field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import pandas as pd
from faker import Faker

from geo.errors import FileFormatError
from geo.errors import RowError
from geo.errors import RowErrors
from geo.tabular import find_table
from geo.tabular import read_sheets

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
    #: the roster id (``officials.id``) once stored: what a case's assignee and a grid user's
    #: account name; not part of a row's identity (a roster read from a file has none)
    id: int | None = field(default=None, compare=False)

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
    "phone": ("电话", "手机", "联系电话", "手机号码", "手机号", "联系方式", "phone", "mobile"),
    "landline": ("座机", "固定电话", "办公电话", "landline"),
    "role": ("角色", "职务", "岗位", "role"),
    "unit_code": ("单位编码", "网格编码", "编码", "所属网格编码", "unit_code", "code"),
    "start": ("开始日期", "任职日期", "开始", "起始日期", "任职开始", "start", "start_date"),
    "end": ("结束日期", "离任日期", "结束", "截止日期", "任职结束", "end", "end_date"),
    "note": ("备注", "note"),
}
_REQUIRED = ("name", "phone", "role", "unit_code", "start")
_WRITE_HEADERS = ("姓名", "电话", "角色", "单位编码", "开始日期", "结束日期", "备注")
_DATE = re.compile(
    r"([0-9]{4})(?:([-/])([0-9]{1,2})\2([0-9]{1,2})|年([0-9]{1,2})月([0-9]{1,2})日)"
    r"(?:[ T]00:00(?::00)?)?"
)


@dataclass(frozen=True)
class SheetRowError(RowError):
    """A row fault in a workbook read sheet by sheet: names the sheet as well as the row."""

    sheet: str = ""

    def __str__(self) -> str:
        return f"sheet {self.sheet!r}, row {self.row}, field {self.field!r}: {self.message}"


@dataclass(frozen=True)
class RosterFile:
    """A roster as read: the assignments, where each came from, and how the file was read."""

    assignments: list[Assignment]
    where: dict[tuple[str, Role, str, datetime.date], str]  # Assignment.key → "row 5" / "sheet 沥苑, row 5"
    sheets: list[str]  # the sheets read (empty for CSV)
    skipped_sheets: list[str]  # sheets without a roster header (说明, 汇总, …)
    encoding: str | None = None  # a CSV's text encoding, and why
    encoding_reason: str = ""


def read_roster(
    path: str | Path,
    *,
    known_units: Mapping[str, UnitLevel],
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> list[Assignment]:
    """Every assignment in a roster file, or nothing: faults in any row refuse the file.

    ``known_units`` holds the codes a row may name (the target grid set plus its communities
    and town). ``encoding`` forces a CSV's text encoding; ``sheet`` picks one Excel sheet by
    name or 0-based index (default: every sheet that has a roster header). Raises
    ``FileFormatError`` for a file that cannot be read or lacks a column, ``RowErrors``
    listing every faulty row otherwise.
    """
    return read_roster_file(path, known_units=known_units, encoding=encoding, sheet=sheet).assignments


def read_roster_file(
    path: str | Path,
    *,
    known_units: Mapping[str, UnitLevel],
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> RosterFile:
    """``read_roster`` with where each row came from and how the file was read (for a preview).

    A workbook is read sheet by sheet (one per community is common) and the rows are put
    together; a sheet without a roster header is skipped and listed, unless it is the only
    one. Each sheet may have a title row on top and a header over two rows (merged cells).
    """
    path = Path(path)
    what = f"roster {path.name}"
    sheets = read_sheets(path, what, encoding=encoding, sheet=sheet)
    several = len(sheets) > 1
    assignments: list[Assignment] = []
    errors: list[RowError] = []
    where: dict[tuple[str, Role, str, datetime.date], str] = {}
    read, skipped = [], []
    header_error: FileFormatError | None = None
    for table in sheets:
        label = f"{what}, sheet {table.name!r}" if several else what
        try:
            header_index, columns, first_data = find_table(table.rows, label, _COLUMNS, _REQUIRED)
        except FileFormatError as error:
            if not several:
                raise
            header_error = header_error or error
            skipped.append(str(table.name))
            continue
        if table.name is not None:
            read.append(table.name)
        for index in range(first_data, len(table.rows)):
            cells = table.rows[index]
            if not any(cells):
                continue
            record = {field: cells[col] if col < len(cells) else "" for field, col in columns.items()}
            if not record.get("phone", "").strip() and record.get("landline", "").strip():
                record["phone"] = record["landline"]
            sheet_errors: list[RowError] = []
            assignment = _parse_row(record, index + 1, known_units, sheet_errors)
            at = f"sheet {table.name!r}, row {index + 1}" if several else f"row {index + 1}"
            if assignment is not None and assignment.key in where:
                message = f"same phone, role, unit_code and start as {where[assignment.key]}"
                sheet_errors.append(RowError(index + 1, "assignment", message))
                assignment = None
            errors.extend(
                SheetRowError(e.row, e.field, e.message, sheet=str(table.name)) if several else e
                for e in sheet_errors
            )
            if assignment is None:
                continue
            where[assignment.key] = at
            assignments.append(assignment)
    if header_error is not None and not read:  # no sheet of the workbook has a roster header
        raise header_error
    if errors:
        raise RowErrors(what, errors)
    if not assignments:
        where_header = f"in row {header_index + 1}" if not several else f"of sheets {', '.join(read)}"
        raise FileFormatError(f"{what}: no data rows below the header {where_header}")
    return RosterFile(assignments, where, read, skipped, sheets[0].encoding, sheets[0].encoding_reason)


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
            " (Excel shows long numbers in scientific notation and drops digits; format the column as text)"
        )
    return ""


# ---------------------------------------------------------------------------
# What a new roster changes


_COMPARED = ("name", "phone", "role", "unit_code", "start", "end", "note")


@dataclass(frozen=True)
class RosterChange:
    """One difference between the assignments in force and a new roster."""

    kind: str  # "added", "removed" or "changed"
    before: Assignment | None  # None when added
    after: Assignment | None  # None when removed
    fields: tuple[str, ...] = ()  # for "changed": which of name, phone, role, start, end, note
    where: str = ""  # the roster row of ``after`` ("row 5", "sheet '沥苑社区', row 5")

    @property
    def rekeyed(self) -> bool:
        """True when phone, role, unit or start changed: an upsert by ``Assignment.key`` adds a new
        row for it and leaves the old one, which the applying side must end (or delete)."""
        return self.before is not None and self.after is not None and self.before.key != self.after.key

    def describe(self) -> str:
        person = self.after or self.before
        assert person is not None
        head = f"{person.name} ({person.role.label_zh}, {person.unit_code})"
        at = f" [{self.where}]" if self.where else ""
        if self.kind == "added":
            return f"+ {head} from {person.start}{at}"
        if self.kind == "removed":
            return f"- {head}: not in the new roster"
        assert self.before is not None and self.after is not None
        diffs = "; ".join(
            f"{f} {_shown(getattr(self.before, f))} → {_shown(getattr(self.after, f))}" for f in self.fields
        )
        return f"~ {head}: {diffs}{at}"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "fields": list(self.fields),
            "where": self.where,
            "rekeyed": self.rekeyed,
            "before": _assignment_dict(self.before),
            "after": _assignment_dict(self.after),
        }


@dataclass(frozen=True)
class RosterChanges:
    """A preview of a roster import: what it adds, removes and changes, and how much stays."""

    added: list[RosterChange]
    removed: list[RosterChange]
    changed: list[RosterChange]
    unchanged: int
    scope: tuple[str, ...]  # the unit codes (and what lies under them) the roster was compared over

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def to_dict(self) -> dict:
        return {
            "added": [c.to_dict() for c in self.added],
            "removed": [c.to_dict() for c in self.removed],
            "changed": [c.to_dict() for c in self.changed],
            "unchanged": self.unchanged,
            "scope": list(self.scope),
        }

    def format_text(self, limit: int = 200) -> str:
        lines = [
            f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed, "
            f"{self.unchanged} unchanged (compared over {', '.join(self.scope) or 'nothing'})"
        ]
        items = self.added + self.changed + self.removed
        lines += [f"  {c.describe()}" for c in items[:limit]]
        if len(items) > limit:
            lines.append(f"  … {len(items) - limit} more")
        return "\n".join(lines)


def roster_changes(
    current: Iterable[Assignment],
    new: Iterable[Assignment],
    *,
    where: Mapping[tuple[str, Role, str, datetime.date], str] | None = None,
    scope: Iterable[str] | None = None,
    day: datetime.date | None = None,
) -> RosterChanges:
    """What importing ``new`` would change in ``current``; pure, for a preview before applying.

    ``scope``: unit codes the new roster speaks for, each with everything under it (a town
    code covers its communities and grids). By default, the communities (and towns) the
    roster names: a roster of one community says nothing about the others, so their people
    are never listed as removed. ``day``: compare only current assignments in force that
    day (ended terms are history, not something a roster removes). ``where``: the rows of
    the new roster (``RosterFile.where``), shown with each change.

    People are paired on the same phone, role, unit and start first (only name, end or note
    can differ), then on unit + name + role (a new phone or dates), then on unit + name
    (a new role), then on unit + phone (a corrected name); the rest are added or removed.
    """
    new = list(new)
    prefixes: tuple[str, ...]
    exact: frozenset[str]
    if scope is not None:
        prefixes, exact = tuple(sorted(set(scope))), frozenset()
    else:
        prefixes, exact = _default_scope(new)
    old = [
        a
        for a in current
        if (a.unit_code in exact or (prefixes and a.unit_code.startswith(prefixes)))
        and (day is None or a.active_on(day))
    ]
    located = where or {}
    remaining_old = list(old)
    remaining_new = list(new)
    changed: list[RosterChange] = []
    unchanged = 0
    pairings = (
        lambda a: a.key,
        lambda a: (a.unit_code, a.name, a.role),
        lambda a: (a.unit_code, a.name),
        lambda a: (a.unit_code, a.phone),
    )
    for pairing in pairings:
        pool: dict[object, list[Assignment]] = {}
        for a in sorted(remaining_old, key=lambda a: (a.start, a.phone)):
            pool.setdefault(pairing(a), []).append(a)
        still_new = []
        for b in remaining_new:
            candidates = pool.get(pairing(b))
            if not candidates:
                still_new.append(b)
                continue
            a = candidates.pop(0)
            remaining_old.remove(a)
            fields = tuple(f for f in _COMPARED if getattr(a, f) != getattr(b, f))
            if fields:
                changed.append(RosterChange("changed", a, b, fields, located.get(b.key, "")))
            else:
                unchanged += 1
        remaining_new = still_new
    added = [RosterChange("added", None, b, (), located.get(b.key, "")) for b in remaining_new]
    removed = [RosterChange("removed", a, None) for a in remaining_old]
    order = _change_order
    shown = tuple(sorted(prefixes + tuple(f"{code} (town posts)" for code in exact)))
    return RosterChanges(
        sorted(added, key=order), sorted(removed, key=order), sorted(changed, key=order), unchanged, shown
    )


def _default_scope(new: list[Assignment]) -> tuple[tuple[str, ...], frozenset[str]]:
    """(community codes covering their grids too, town codes for the town's own posts only)."""
    communities = {a.unit_code[:12] for a in new if a.unit_level is not UnitLevel.TOWN}
    towns = frozenset(a.unit_code for a in new if a.unit_level is UnitLevel.TOWN)
    return tuple(sorted(communities)), towns


def _change_order(change: RosterChange) -> tuple:
    a = change.after or change.before
    assert a is not None
    return (a.unit_code, _ROLE_RANK[a.role], a.name, a.phone)


def _shown(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, Role):
        return value.label_zh
    return str(value)


def _assignment_dict(a: Assignment | None) -> dict | None:
    if a is None:
        return None
    return {
        "name": a.name,
        "phone": a.phone,
        "role": str(a.role),
        "unit_code": a.unit_code,
        "unit_level": str(a.unit_level),
        "start": a.start.isoformat(),
        "end": a.end.isoformat() if a.end else None,
        "note": a.note,
    }


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
            writer.writerow([a.name, a.phone, a.role.label_zh, a.unit_code, a.start.isoformat(), end, a.note])
