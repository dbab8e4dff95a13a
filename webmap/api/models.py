"""The API's requests and answers as pydantic models: what ``/api/openapi.json`` describes and
what the views are checked against (``webmap.api.openapi`` wraps each view with them).

Request models check path and query values with the same parsers the views use
(``parse_pair``, ``normalise_coordsys``, ``parse_when``), so a malformed value gets the
same RFC 9457 problem whether the model or the view meets it first; the schema each
field publishes is the documented form (``WithJsonSchema``). Unknown query
parameters are let through, as the views always did.

Answer models describe the JSON the views send; with ``VALIDATE_ANSWERS`` set (the tests
set it) every answer is validated against its model before it leaves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import WithJsonSchema

from geo.crs import COORDSYS_ALIASES
from geo.crs import normalise_coordsys
from geo.lookup import Status
from geo.timeutil import parse_when
from services.errors import Invalid
from webmap.api.params import parse_pair
from webmap.errors import Problem

# --- checks shared by the request models ----------------------------------------------------


def _coordsys(value: str) -> str:
    normalise_coordsys(value)  # raises UnknownCoordSys (400 unknown_coordsys) with the choices
    return value


def _pair(value: str) -> str:
    parse_pair(value)  # raises the view's own 400 (bad_coordinates, not_a_number)
    return value


def _when(name: str):
    def check(value: str) -> str:
        if value:
            parse_when(value, name=name)
        return value

    return check


def _digits(name: str, what: str):
    def check(value: str) -> str:
        if not value.isdigit():
            raise Problem(f"{name}={value!r} must be {what}", code="bad_parameter")
        return value

    return check


def _metres(value: str) -> str:
    try:
        float(value)
    except ValueError as exc:
        raise Problem(f"simplify={value!r} must be a tolerance in metres", code="bad_parameter") from exc
    return value


_DATE_TIME = {
    "type": "string",
    "description": "an ISO date (the end of that day, Beijing time) or date-time",
    "examples": ["2025-06-30", "2025-06-30T09:00:00+08:00"],
    "pattern": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$",
}
CoordSys = Annotated[
    str,
    AfterValidator(_coordsys),
    WithJsonSchema(
        {
            "type": "string",
            "enum": sorted(COORDSYS_ALIASES),
            "description": "wgs84, cgcs2000 (EPSG:4490), gcj02 (Amap, Tencent) or bd09 (Baidu), or an alias",
        }
    ),
]
Pair = Annotated[
    str,
    AfterValidator(_pair),
    WithJsonSchema(
        {
            "type": "string",
            "description": "lon,lat (x before y, as in MapIt)",
            "pattern": r"^-?\d{1,3}(\.\d{1,9})?,-?\d{1,2}(\.\d{1,9})?$",
            "examples": ["113.1457,23.1110"],
        }
    ),
]
VersionNumber = Annotated[
    str,
    AfterValidator(_digits("version", "a version number")),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,6}$", "description": "a grid version number"}),
]
At = Annotated[str, AfterValidator(_when("at")), WithJsonSchema(_DATE_TIME)]
Since = Annotated[str, AfterValidator(_when("since")), WithJsonSchema(_DATE_TIME)]
Until = Annotated[str, AfterValidator(_when("until")), WithJsonSchema(_DATE_TIME)]
Simplify = Annotated[
    str,
    AfterValidator(_metres),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{1,4}(\.\d+)?$", "description": "tolerance in metres (0: exact)"}
    ),
]


def _documented(schema: dict):
    """A value the view itself interprets (leniently, as it always did): documented, not refused here."""
    return Annotated[str, WithJsonSchema({"type": "string", **schema})]


def _choice(choices: tuple[str, ...], refusal: Callable[[], Exception]):
    """One of ``choices``, else the very refusal the service gives (so answers stay as they were)."""

    def check(value: str) -> str:
        if value not in choices:
            raise refusal()
        return value

    return Annotated[str, AfterValidator(check), WithJsonSchema({"type": "string", "enum": list(choices)})]


def _address(value: str) -> str:
    if not value.strip():
        raise Problem("q= is the address to find", code="bad_parameter")
    return value


def _whole(name: str, maximum: int | None = None):
    schema: dict = {"type": "string", "pattern": r"^\d{1,7}$", "description": "a whole number"}
    if maximum:
        schema["description"] += f" (at most {maximum})"
    return Annotated[str, AfterValidator(_digits(name, "a whole number")), WithJsonSchema(schema)]


# --- requests -------------------------------------------------------------------------------


class Query(BaseModel):
    """Query values as strings (the views parse them); unknown names are let through."""

    model_config = ConfigDict(extra="allow")


class VersionQuery(Query):
    version: VersionNumber | None = Field(None, description="a version by number (default: the active one)")
    at: At | None = Field(None, description="the version in force at this date or time")


class PointPath(BaseModel):
    coordsys: CoordSys
    coords: Pair


class GeoJSONQuery(VersionQuery):
    simplify: Simplify | None = None
    coordsys: CoordSys | None = Field(None, description="draw in another datum (e.g. gcj02 over Amap tiles)")


class PointsQuery(VersionQuery):
    coordsys: CoordSys | None = Field(None, description="the coordinate system of the input points")
    fields: _documented({"enum": ["full", "grid"]}) | None = Field(  # type: ignore[valid-type]
        None,
        description="grid: only the grid, the fastest: row, id, status, grid_code, grid_name, community_code",
    )
    format: _documented({"enum": ["json", "ndjson", "csv", "arrow"]}) | None = Field(  # type: ignore[valid-type]
        None, description="answer format (default: from Accept, then the input's own)"
    )


class CodePath(BaseModel):
    code: Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^\d{12,15}$"})]


class VersionPath(BaseModel):
    version_id: int = Field(ge=0)


class ComplaintPath(BaseModel):
    complaint_id: int = Field(ge=0)


class PhotoPath(ComplaintPath):
    photo_id: int = Field(ge=0)


class FilterQuery(Query):
    """The complaint filters the list and the statistics share (one value or comma-separated)."""

    grid: str | None = None
    community: str | None = None
    category: str | None = None
    state: str | None = None
    department: str | None = None
    source: str | None = None
    channel: str | None = None
    since: Since | None = None
    until: Until | None = None
    overdue: _documented({"enum": ["0", "1", "true", "false"]}) | None = Field(  # type: ignore[valid-type]
        None, description="1: only complaints past their deadline and not resolved"
    )


class ComplaintListQuery(FilterQuery):
    deadline: (
        _choice(  # type: ignore[valid-type]
            ("on_time", "due_soon", "overdue"),
            lambda: Invalid("deadline= is on_time, due_soon or overdue", field="deadline"),
        )
        | None
    ) = Field(None, description="due_soon: 80 % of the working time used")
    limit: _whole("limit", 1000) | None = None  # type: ignore[valid-type]
    offset: _whole("offset") | None = None  # type: ignore[valid-type]


class StatsQuery(FilterQuery):
    format: _documented({"enum": ["json", "csv"]}) | None = Field(  # type: ignore[valid-type]
        None, description="csv: UTF-8 with a BOM, for Excel (anything else: JSON)"
    )


class CountsQuery(StatsQuery):
    by: str | None = Field(
        None,
        description="columns, comma-separated: grid_code, community_code, category_code, state, month, …",
    )


class SatisfactionQuery(StatsQuery):
    by: _documented({"enum": ["grid_code", "community_code", "department_code", "category_code"]}) | None = (  # type: ignore[valid-type]
        None
    )


class DuplicatesQuery(Query):
    """Where and what a complaint being filed is: its category and its point or address."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["category"]})
    category: str = Field("", description="a category code of /api/v1/catalog")
    lon: str | None = Field(None, description="longitude of the complaint (with lat)")
    lat: str | None = Field(None, description="latitude of the complaint (with lon)")
    coordsys: CoordSys | None = Field(None, description="the system of lon/lat (default wgs84)")
    address: str | None = Field(None, description="the address as typed; compared in its standard form")


class GeocodeQuery(Query):
    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["q"]})
    q: Annotated[str, AfterValidator(_address), WithJsonSchema({"type": "string", "minLength": 1})] = Field(
        "", validate_default=True, description="a Chinese address, e.g. 佛山市南海区大沥镇沥东社区"
    )


class ReverseQuery(Query):
    k: _whole("k", 50) | None = None  # type: ignore[valid-type]


class ReversePath(PointPath):
    pass


class ComplaintIn(BaseModel):
    """A complaint to file: category, text, and an address or lon/lat (values are checked by intake)."""

    model_config = ConfigDict(extra="allow")
    category: str | None = Field(None, description="a category code of /api/v1/catalog")
    text: str | None = None
    address: str | None = None
    lon: float | str | None = None
    lat: float | str | None = None
    coordsys: str | None = None
    channel: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    external_id: str | int | None = None
    source: str | None = None
    reported_at: str | None = None
    duplicate_of: int | str | None = Field(
        None, description="file it as a duplicate of this open case (the dispatch centre only)"
    )


class ActionIn(BaseModel):
    """A workflow step; ``version`` is the case version the caller saw (or send If-Match)."""

    model_config = ConfigDict(extra="allow")
    action: str | None = Field(
        None,
        description="dispatch, resolve, return, request_extension, approve_extension, refuse_extension, "
        "urge, supervise, assign, follow_up, reopen, …",
    )
    version: int | str | None = None
    note: str | None = None
    department: str | None = None
    deadline: str | None = Field(None, description="dispatch, request_extension, approve_extension")
    satisfied: bool | None = None
    duplicate_of: int | None = None
    assignee: str | None = Field(None, description="assign: the grid-team member's roster id")


# --- answers --------------------------------------------------------------------------------


class Answer(BaseModel):
    """An answer the API sends (extra members are allowed: clients ignore what they do not know)."""

    model_config = ConfigDict(extra="allow")


class ProblemError(Answer):
    code: str
    message: str


class ProblemDetails(Answer):
    """RFC 9457 problem details, plus ``error: {code, message}`` as earlier clients read it."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    error: ProblemError


class Health(Answer):
    status: str
    active_version: int | None


class VersionRef(Answer):
    id: int
    label: str | None
    active: bool


class CommunityRef(Answer):
    code: str | None
    name: str | None
    kind: str | None


class TownRef(Answer):
    code: str | None
    name: str | None


class Grid(Answer):
    code: str
    name: str | None
    community: CommunityRef
    town: TownRef
    area_m2: float
    population: int | None
    households: int | None
    version: VersionRef


class GridBrief(Answer):
    code: str
    name: str | None


class Official(Answer):
    level: int
    role: str
    role_zh: str
    name: str
    phone: str | None
    phone_masked: bool
    unit: str
    unit_code: str
    since: str
    until: str | None


class Warning(Answer):
    code: str
    message: str
    # datum_suspect: the datum the point may be in and the grid it would fall in, read so
    coordsys: str | None = None
    grid_code: str | None = None


class NearBoundary(Answer):
    grid: GridBrief
    distance_m: float
    threshold_m: float


class Nearest(Answer):
    grid: GridBrief
    distance_m: float


class PointInput(Answer):
    coordsys: str
    lon: float
    lat: float


class LonLat(Answer):
    lon: float
    lat: float


class PointAnswer(Answer):
    input: PointInput
    wgs84: LonLat
    status: Literal[tuple(s.label for s in Status)]  # type: ignore[valid-type]
    version: VersionRef
    grid: Grid | None
    team: list[Official]
    near_boundary: NearBoundary | None
    also_touches: list[GridBrief]
    nearest: Nearest | None
    warnings: list[Warning]


class GridWithTeam(Grid):
    team: list[Official]


class CommunityWithTeam(Answer):
    code: str
    name: str | None
    kind: str | None
    grids: list[GridBrief]
    team: list[Official]
    version: VersionRef


class Version(Answer):
    id: int
    label: str | None
    active: bool
    town_code: str
    grids: int
    created_at: str
    created_by: str | None
    activated_at: str | None
    source: str | None
    source_crs: str | None


class VersionDetail(Version):
    report: dict[str, Any] | None
    repairs: list[Any] | None


class VersionList(Answer):
    versions: list[Version]


class GridList(Answer):
    version: Version
    grids: list[Grid]


class Geometry(Answer):
    type: Literal["Polygon", "MultiPolygon", "Point", "LineString", "MultiLineString", "GeometryCollection"]
    coordinates: list[Any] | None = None


class GridFeature(Answer):
    type: Literal["Feature"]
    id: str
    properties: Grid
    geometry: Geometry


class GridCollection(Answer):
    type: Literal["FeatureCollection"]
    features: list[GridFeature]
    coordsys: str | None = Field(None, description="present when drawn in a datum other than WGS84")


class CommunityProperties(Answer):
    code: str
    name: str | None
    kind: str | None
    town: TownRef
    area_m2: float
    grids: int
    version: VersionRef | dict[str, Any]


class CommunityFeature(Answer):
    type: Literal["Feature"]
    id: str
    properties: CommunityProperties
    geometry: Geometry


class CommunityCollection(Answer):
    type: Literal["FeatureCollection"]
    features: list[CommunityFeature]


class PointRow(Answer):
    row: int
    id: Any = None
    lon: float | None = Field(None, description="as given (not with fields=grid)")
    lat: float | None = Field(None, description="as given (not with fields=grid)")
    status: str
    grid_code: str | None


class CodeName(Answer):
    code: str | None
    name: str | None


class CaseGrid(Answer):
    code: str | None
    version: int | None
    community_code: str | None


class CaseEvent(Answer):
    at: str | None
    actor: str | None
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    department: str | None
    deadline: str | None
    satisfied: bool | None


class DuplicateRef(Answer):
    id: int
    reported_at: str | None
    state: str


class Complaint(Answer):
    """A complaint as the caller may see it (``visibility``: public, details or contacts): what a
    level does not show is null."""

    id: int
    visibility: str | None = None
    source: str | None
    external_id: str | None
    channel: str | None
    text: str | None
    category: CodeName
    address: str | None
    location: dict[str, Any] | None
    input: dict[str, Any] | None
    geocode: dict[str, Any] | None
    reported_at: str | None
    grid: CaseGrid
    whistle_group: str | None
    state: str
    department: CodeName | None
    dispatched_at: str | None
    deadline: str | None
    deadline_status: str
    extension_requested: str | None = Field(
        None, description="the deadline a department asked for (延期申请), until the dispatch centre decides"
    )
    resolved_at: str | None
    closed_at: str | None
    satisfied: bool | None
    duplicate_of: int | None
    version: int
    reporter: dict[str, str | None] | None
    events: list[CaseEvent] | None = None
    duplicates: list[DuplicateRef] | None = Field(
        None, description="with the history: the cases marked as duplicates of this one"
    )
    photos: list[dict[str, Any]] | None = None


class DuplicateCandidate(Answer):
    """An open case the complaint being filed may duplicate."""

    id: int
    distance_m: float | None = Field(description="metres from the point given; null without points")
    same_address: bool = Field(description="at the same standard address")
    address: str | None
    reported_at: str | None
    reported_at_beijing: str = Field(description="the report time in Beijing time, YYYY-MM-DD HH:MM")
    state: str
    category: CodeName
    text: str | None = Field(description="the start of its text, at the caller's level")


class DuplicateCandidates(Answer):
    radius_m: float
    days: int
    candidates: list[DuplicateCandidate]


class ComplaintPage(Answer):
    total: int
    limit: int
    offset: int
    complaints: list[Complaint]


class ImportReport(Answer):
    rows: int
    added: int
    skipped: int
    import_id: int | None


class PhotoInfo(Answer):
    id: int
    content_type: str
    size: int


class Table(Answer):
    """A statistics table: one object per row, the columns depending on the view and ``by=``."""

    rows: list[dict[str, Any]]


class Candidate(Answer):
    text: str
    lon: float
    lat: float
    score: float
    matched: str
    id: str | None = None
    grid_code: str | None = None
    source: str | None = None
    level: str | None = None


class Geocoded(Answer):
    query: str
    status: str
    confidence: float
    explanation: str | None
    normalized: str | None
    source: str | None
    best: Candidate | None
    candidates: list[Candidate]
    candidate_grids: list[str]
    errors: list[Any]
    parsed: dict[str, Any] | None = None


class Address(Answer):
    id: str | None
    text: str
    distance_m: float
    lon: float
    lat: float
    grid_code: str | None


class Addresses(Answer):
    addresses: list[Address]


class Category(Answer):
    code: str
    name_zh: str
    name_en: str | None
    department: str | None
    deadline_days: int | float | None


class Department(Answer):
    code: str
    name_zh: str
    name_en: str | None


class Catalog(Answer):
    categories: list[Category]
    departments: list[Department]
