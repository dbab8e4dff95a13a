"""Complaint categories, departments and whistle groups, as data a town edits.

Which department handles 油烟 and in how many working days differs from town to town
and changes with every reorganisation, so none of it is code: it lives in three CSV
files (``data/catalog/``) that a clerk edits and ``Catalog.load`` checks as a whole.
A category row naming a department that does not exist would send complaints nowhere,
so the catalogue is refused, with every faulty row named, rather than loaded in part.

Classes follow GB/T 30428.2 (管理部件和事件): an event (事件) is in one of six classes,
a component (部件, a physical asset such as a lamp or a manhole cover) in one of five.
The two 吹哨群 (whistle groups) split dispatch by community kind, urban (城市社区) or
rural (农村社区), as in Dali's 党建小红格 scheme. A group lists its member departments
(optional ``departments`` column, codes separated by ``;``): those are the departments
summoned when a case in a community of that kind is whistled (吹哨报到).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Literal
from typing import cast

from complaints.errors import ComplaintsError
from complaints.errors import DataFileError
from complaints.tables import read_table
from geo.errors import RowError
from geo.resources import data_path

DEFAULT_CATALOG_DIR = data_path("catalog")

CommunityKind = Literal["urban", "rural"]
COMMUNITY_KINDS: tuple[CommunityKind, ...] = ("urban", "rural")

CategoryKind = Literal["event", "component"]
CLASSES: Mapping[CategoryKind, tuple[str, ...]] = {
    "event": ("市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "其他"),
    "component": ("公用设施", "道路交通", "市容环境", "园林绿化", "其他设施"),
}

# A limit beyond about three months of working days is a typo (30 → 300), not a policy;
# work that truly takes longer is a project (扛旗夺标), not a dispatched complaint.
MAX_DEADLINE_DAYS = 60

DEPARTMENT_COLUMNS = ("code", "name_zh", "name_en")
CATEGORY_COLUMNS = ("code", "name_zh", "name_en", "kind", "class", "department", "deadline_days")
#: optional category columns: a catalogue without them is read as before
OPTIONAL_CATEGORY_COLUMNS = ("requires_after_photo", "keywords")
#: how the words of a ``keywords`` cell are separated (Excel users type any of these)
_KEYWORD_SEPARATORS = re.compile(r"[|｜、，,;；\s]+")
#: how a yes/no cell may be written (an empty cell is no)
_YES = frozenset({"yes", "y", "true", "1", "是"})
_NO = frozenset({"no", "n", "false", "0", "否", ""})
WHISTLE_GROUP_COLUMNS = ("code", "community_kind", "name_zh", "name_en")
#: optional whistle-group column: the member departments' codes, separated by ";"
OPTIONAL_WHISTLE_GROUP_COLUMNS = ("departments",)
_LIST_SEPARATORS = re.compile(r"[;；、,，\s]+")

# Codes travel in URLs and as Open311 service_code, so they stay plain ASCII.
_CODE = re.compile(r"[a-z][a-z0-9_]*")


class CatalogError(DataFileError):
    """A catalogue with faults: refused whole, so no complaint is routed by half a catalogue."""

    code = "invalid_catalog"


class UnknownCategory(ComplaintsError):
    code = "unknown_category"


class UnknownCommunityKind(ComplaintsError):
    code = "unknown_community_kind"


@dataclass(frozen=True)
class Department:
    """A government department (职能部门) that receives dispatched complaints."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Category:
    """What a complaint is about; fixes its default department and time limit.

    ``gb_class`` is the file's ``class`` column (a Python keyword): the GB/T 30428.2 class.
    """

    code: str
    name_zh: str
    name_en: str
    kind: CategoryKind
    gb_class: str
    department: str
    deadline_days: int
    #: a case of this category is resolved only once an "after" photo shows the work done
    requires_after_photo: bool = False
    #: words a caller uses for it (路灯, 不亮, 黑灯): what ``complaints.suggest`` looks for
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class WhistleGroup:
    """A dispatch channel (吹哨群); each community kind has exactly one."""

    code: str
    community_kind: CommunityKind
    name_zh: str
    name_en: str
    #: the departments summoned when a case is whistled (吹哨), in the catalogue's order
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routing:
    """Where a new complaint goes by default; the dispatcher may still choose otherwise."""

    category: Category
    department: Department
    deadline_days: int
    whistle_group: WhistleGroup


@dataclass(frozen=True)
class Catalog:
    departments: Mapping[str, Department]
    categories: Mapping[str, Category]
    whistle_groups: Mapping[CommunityKind, WhistleGroup]

    @classmethod
    def load(cls, directory: str | Path = DEFAULT_CATALOG_DIR) -> Catalog:
        """Read and cross-check ``departments.csv``, ``categories.csv``, ``whistle_groups.csv``."""
        folder = Path(directory)
        what = f"catalog {folder}"
        errors: list[RowError | str] = []
        departments = _load_departments(folder / "departments.csv", what, errors)
        categories = _load_categories(folder / "categories.csv", what, departments, errors)
        whistle_groups = _load_whistle_groups(folder / "whistle_groups.csv", what, departments, errors)
        if errors:
            raise CatalogError(what, errors)
        return cls(departments=departments, categories=categories, whistle_groups=whistle_groups)

    def with_overrides(self, overrides: Iterable[Mapping[str, Any]]) -> Catalog:
        """This catalogue with administrators' changes laid over it (``department_code``,
        ``deadline_days``, ``requires_after_photo`` per ``category_code``). A change naming a
        category or department the files no longer hold is left out: the files decide what
        exists, the changes only how it is routed."""
        categories = dict(self.categories)
        for change in overrides:
            category = categories.get(str(change["category_code"]))
            days = int(change["deadline_days"])
            if (
                category is None
                or change["department_code"] not in self.departments
                or not 1 <= days <= MAX_DEADLINE_DAYS
            ):
                continue
            categories[category.code] = dataclasses.replace(
                category,
                department=str(change["department_code"]),
                deadline_days=days,
                requires_after_photo=bool(change["requires_after_photo"]),
            )
        return dataclasses.replace(self, categories=categories)

    def route(self, category_code: str, community_kind: str) -> Routing:
        """The default department, time limit and whistle group for a complaint."""
        category = self.categories.get(category_code)
        if category is None:
            known = ", ".join(sorted(self.categories))
            raise UnknownCategory(f"unknown category {category_code!r}; known: {known}")
        if community_kind not in self.whistle_groups:
            raise UnknownCommunityKind(
                f"community kind must be {' or '.join(COMMUNITY_KINDS)}, not {community_kind!r}"
            )
        return Routing(
            category=category,
            department=self.departments[category.department],
            deadline_days=category.deadline_days,
            whistle_group=self.whistle_groups[cast(CommunityKind, community_kind)],
        )


def _check_code(
    file: str, row: int, field: str, value: str, first_row: dict[str, int], errors: list[RowError | str]
) -> bool:
    """Whether ``value`` is a well-formed code not seen before; records it as seen."""
    if not _CODE.fullmatch(value):
        message = f"{value!r} is not a code (lower-case letters, digits and _)"
        errors.append(RowError(row, field, message, file=file))
        return False
    if value in first_row:
        message = f"duplicate {field} {value!r} (first in row {first_row[value]})"
        errors.append(RowError(row, field, message, file=file))
        return False
    first_row[value] = row
    return True


def _check_names(file: str, row: int, values: Mapping[str, str], errors: list[RowError | str]) -> bool:
    ok = True
    for field in ("name_zh", "name_en"):
        if not values[field]:
            errors.append(RowError(row, field, "empty", file=file))
            ok = False
    return ok


def _load_departments(path: Path, what: str, errors: list[RowError | str]) -> dict[str, Department]:
    departments: dict[str, Department] = {}
    first_row: dict[str, int] = {}
    try:
        rows = read_table(path, DEPARTMENT_COLUMNS, CatalogError, what)
    except CatalogError as error:
        errors.extend(error.errors)
        return departments
    for row, values in rows:
        code_ok = _check_code(path.name, row, "code", values["code"], first_row, errors)
        if _check_names(path.name, row, values, errors) and code_ok:
            departments[values["code"]] = Department(values["code"], values["name_zh"], values["name_en"])
    if not rows:
        errors.append(f"{path.name}: no departments")
    return departments


def _load_categories(
    path: Path, what: str, departments: Mapping[str, Department], errors: list[RowError | str]
) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    first_row: dict[str, int] = {}
    first_name: dict[str, int] = {}
    try:
        rows = read_table(path, CATEGORY_COLUMNS, CatalogError, what, optional=OPTIONAL_CATEGORY_COLUMNS)
    except CatalogError as error:
        errors.extend(error.errors)
        return categories
    file = path.name
    for row, values in rows:
        before = len(errors)
        _check_code(file, row, "code", values["code"], first_row, errors)
        _check_names(file, row, values, errors)
        name_zh = values["name_zh"]
        if name_zh in first_name:
            # Two categories a resident cannot tell apart split the statistics in two.
            message = f"duplicate name_zh {name_zh!r} (first in row {first_name[name_zh]})"
            errors.append(RowError(row, "name_zh", message, file=file))
        elif name_zh:
            first_name[name_zh] = row
        kind = cast(CategoryKind, values["kind"])
        if kind not in CLASSES:
            message = f"{kind!r} is neither event (事件) nor component (部件)"
            errors.append(RowError(row, "kind", message, file=file))
        elif values["class"] not in CLASSES[kind]:
            allowed = ", ".join(CLASSES[kind])
            message = f"{values['class']!r} is not a GB/T 30428.2 {kind} class ({allowed})"
            errors.append(RowError(row, "class", message, file=file))
        department = values["department"]
        if department not in departments:
            message = f"unknown department {department!r} (not in departments.csv)"
            errors.append(RowError(row, "department", message, file=file))
        days = _deadline_days(values["deadline_days"])
        if days is None:
            errors.append(
                RowError(
                    row,
                    "deadline_days",
                    f"{values['deadline_days']!r} is not a whole number of working days "
                    f"from 1 to {MAX_DEADLINE_DAYS}",
                    file=file,
                )
            )
        after_photo = values.get("requires_after_photo", "").lower()
        if after_photo not in _YES | _NO:
            message = f"{values['requires_after_photo']!r} is neither yes nor no"
            errors.append(RowError(row, "requires_after_photo", message, file=file))
        if len(errors) == before and days is not None:
            categories[values["code"]] = Category(
                code=values["code"],
                name_zh=name_zh,
                name_en=values["name_en"],
                kind=kind,
                gb_class=values["class"],
                department=department,
                deadline_days=days,
                requires_after_photo=after_photo in _YES,
                keywords=tuple(w for w in _KEYWORD_SEPARATORS.split(values.get("keywords", "")) if w),
            )
    if not rows:
        errors.append(f"{file}: no categories")
    return categories


def _deadline_days(text: str) -> int | None:
    if not re.fullmatch(r"\d+", text):
        return None
    days = int(text)
    return days if 1 <= days <= MAX_DEADLINE_DAYS else None


def _load_whistle_groups(
    path: Path, what: str, departments: Mapping[str, Department], errors: list[RowError | str]
) -> dict[CommunityKind, WhistleGroup]:
    groups: dict[CommunityKind, WhistleGroup] = {}
    first_row: dict[str, int] = {}
    first_kind: dict[CommunityKind, int] = {}
    try:
        rows = read_table(path, WHISTLE_GROUP_COLUMNS + OPTIONAL_WHISTLE_GROUP_COLUMNS, CatalogError, what)
    except CatalogError:
        try:  # without the optional column (or with the fault the plain read names)
            rows = read_table(path, WHISTLE_GROUP_COLUMNS, CatalogError, what)
        except CatalogError as error:
            errors.extend(error.errors)
            return groups
    file = path.name
    for row, values in rows:
        before = len(errors)
        _check_code(file, row, "code", values["code"], first_row, errors)
        _check_names(file, row, values, errors)
        kind = cast(CommunityKind, values["community_kind"])
        if kind not in COMMUNITY_KINDS:
            message = f"{kind!r} is neither urban (城市社区) nor rural (农村社区)"
            errors.append(RowError(row, "community_kind", message, file=file))
        elif kind in first_kind:
            # One kind, two groups: which one would be whistled is then a matter of row order.
            message = f"a second group for {kind} (first in row {first_kind[kind]})"
            errors.append(RowError(row, "community_kind", message, file=file))
        else:
            first_kind[kind] = row
        members = tuple(
            dict.fromkeys(c for c in _LIST_SEPARATORS.split(values.get("departments") or "") if c)
        )
        unknown = [c for c in members if c not in departments]
        if unknown and departments:
            message = f"{', '.join(repr(c) for c in unknown)} not in departments.csv"
            errors.append(RowError(row, "departments", message, file=file))
        if len(errors) == before:
            groups[kind] = WhistleGroup(values["code"], kind, values["name_zh"], values["name_en"], members)
    for kind in COMMUNITY_KINDS:
        if kind not in first_kind:
            errors.append(f"{file}: no whistle group for {kind} communities")
    return groups
