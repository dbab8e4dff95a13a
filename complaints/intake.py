"""Complaint records as they arrive: from a form, a JSON body, or a hotline system's export.

Every route in is checked by the same function, so a complaint filed by the API and
one imported from the 12345 hotline's Excel export obey the same rules. A file is
refused as a whole, listing every faulty row and field, because a half-imported
export would leave the hotline and RedGrid disagreeing about what was filed.
"""

from __future__ import annotations

import codecs
import datetime
import math
import re
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from complaints.catalog import Catalog
from geo.crs import COORDSYS_ALIASES
from geo.errors import FileFormatError
from geo.errors import RowError
from geo.errors import RowErrors
from geo.officials import normalise_phone
from geo.tabular import stream_records
from geo.timeutil import BEIJING
from geo.timeutil import utcnow

#: Records a fault in one field of the row being checked: ``fault(field, message)``.
Fault = Callable[[str, str], None]

MAX_TEXT = 4000  # Open311's limit for description; longer texts are documents, not complaints
#: The longest value each free field may hold (the store's columns and any page must fit them).
MAX_LENGTH: dict[str, int] = {
    "source": 64,
    "external_id": 128,
    "text": MAX_TEXT,
    "address": 500,
    "reporter_name": 100,
    "reporter_phone": 40,
    "channel": 40,
    "category": 200,
    "coordsys": 40,
    "lon": 40,
    "lat": 40,
    "reported_at": 64,
}
#: Control characters no complaint needs (tab and line breaks are kept): PostgreSQL refuses NUL
#: in text, and XML cannot carry the others.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: The earliest report accepted: nothing older is a complaint still to be handled, and a
#: year like 1600 would make every monthly view span four centuries.
EARLIEST = datetime.datetime(2000, 1, 1, tzinfo=BEIJING)

#: Header names accepted for each field (Chinese hotline exports first, English second).
COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": ("工单编号", "工单号", "编号", "external_id", "id", "service_request_id"),
    "reported_at": ("受理时间", "上报时间", "反映时间", "时间", "reported_at", "requested_datetime"),
    "channel": ("来源渠道", "来源", "渠道", "channel"),
    "category": ("诉求类别", "类别", "分类", "category", "service_code"),
    "text": ("诉求内容", "内容", "问题描述", "text", "description"),
    "address": ("事发地址", "地址", "address", "address_string"),
    "lon": ("经度", "lon", "lng", "long", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "coordsys": ("坐标系", "coordsys"),
    "reporter_name": ("联系人", "反映人", "姓名", "reporter_name", "name"),
    "reporter_phone": ("联系电话", "电话", "手机", "reporter_phone", "phone"),
}
REQUIRED = ("external_id", "reported_at", "category", "text")

#: Source channels and the words hotline systems use for them.
CHANNELS: dict[str, tuple[str, ...]] = {
    "hotline": ("hotline", "热线", "12345", "12345热线", "电话"),
    "wechat": ("wechat", "微信", "小程序", "公众号"),
    "patrol": ("patrol", "巡查", "网格员巡查", "网格员上报"),
    "walk_in": ("walk_in", "来访", "窗口"),
    "app": ("app", "手机应用"),
    "system": ("system", "系统", "系统对接", "api"),
}
_CHANNEL_BY_WORD = {word.casefold(): code for code, words in CHANNELS.items() for word in words}
# 2025/6/1 9:30:00, 2025-06-01 09:30, 2025年6月1日 9时30分 (seconds optional; no space needed after 日)
_TIME = re.compile(
    r"^(\d{4})[-/年](\d{1,2})[-/月](\d{1,2})日?(?:(?:[ T]|(?<=日))(\d{1,2})[:时](\d{1,2})"
    r"(?:[:分](\d{1,2})秒?|分)?)?$"
)


@dataclass(frozen=True)
class ComplaintInput:
    """A checked complaint, before it is placed in a grid."""

    source: str
    external_id: str
    reported_at: datetime.datetime
    channel: str
    category_code: str
    text: str
    address: str | None
    lon: float | None
    lat: float | None
    coordsys: str
    reporter_name: str | None
    reporter_phone: str | None


def check(
    values: Mapping[str, object],
    *,
    catalog: Catalog,
    source: str,
    row: int = 1,
    errors: list[RowError] | None = None,
) -> ComplaintInput | None:
    """One record checked field by field; faults go to ``errors`` (or raise when none is given)."""
    own = errors is None
    found: list[RowError] = [] if errors is None else errors
    before = len(found)
    refused: set[str] = set()  # fields already faulted for their type or length

    def fault(name: str, message: str) -> None:
        found.append(RowError(row, name, message))

    def text(name: str) -> str:
        value = values.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)) or name in refused:
            return ""
        if isinstance(value, Mapping | list | tuple | set | bytes):
            # a JSON object or array where text or a number belongs
            refused.add(name)
            fault(name, f"must be text or a number, not {_kind(value)}")
            return ""
        out = CONTROL.sub("", str(value)).strip()
        limit = MAX_LENGTH.get(name)
        if limit is not None and len(out) > limit and name != "text":
            refused.add(name)
            fault(name, f"{len(out)} characters; at most {limit}")
            return ""
        return out

    if len(source) > MAX_LENGTH["source"]:
        fault("source", f"{len(source)} characters; at most {MAX_LENGTH['source']}")
    external_id = text("external_id")
    if not external_id and "external_id" not in refused:
        fault("external_id", "missing: every complaint needs the id it has in its source system")
    when_text = text("reported_at")
    reported_at = EARLIEST if "reported_at" in refused else _parse_time(when_text, fault)
    channel = _parse_channel(text("channel") or "system", fault)
    category = _parse_category(text("category"), catalog, fault)
    body = text("text")
    if not body and "text" not in refused:
        fault("text", "missing: what does the resident report?")
    elif len(body) > MAX_TEXT:
        fault("text", f"{len(body)} characters; at most {MAX_TEXT}")
    address = text("address") or None
    lon_text, lat_text = text("lon"), text("lat")
    lon, lat = (None, None) if {"lon", "lat"} & refused else _parse_point(lon_text, lat_text, fault)
    coordsys = text("coordsys").lower() or "wgs84"
    if coordsys not in COORDSYS_ALIASES:
        fault("coordsys", f"{coordsys!r} is not one of wgs84, cgcs2000, gcj02, bd09")
    if (
        lon is None
        and address is None
        and "address" not in refused
        and not any(e.field in ("lon", "lat") for e in found[before:])
    ):
        fault("address", "missing: give an address or lon/lat")
    name = text("reporter_name") or None
    phone = text("reporter_phone") or None
    if phone is not None:
        try:
            phone = normalise_phone(phone)
        except ValueError as exc:
            fault("reporter_phone", str(exc))
    if len(found) > before:
        if own:
            raise RowErrors("complaint", found)
        return None
    return ComplaintInput(
        source,
        external_id,
        reported_at,
        channel,
        category,
        body,
        address,
        lon,
        lat,
        COORDSYS_ALIASES[coordsys],
        name,
        phone,
    )


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def check_encoding(encoding: str | None) -> str | None:
    """A text encoding's name as given, or a refusal naming it (``encoding=`` on imports)."""
    if encoding is None:
        return None
    try:
        info = codecs.lookup(encoding)
    except (LookupError, ValueError, TypeError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise FileFormatError(
            f"encoding={encoding[:40]!r} is not a known text encoding; use utf-8, gbk or gb18030, "
            "or leave it out to have the file's encoding detected",
            code="unknown_encoding",
        )
    return encoding


def iter_file(
    path: str | Path,
    *,
    catalog: Catalog,
    source: str,
    errors: list[RowError],
    encoding: str | None = None,
    sheet: str | int | None = None,
    chunk: int = 50_000,
) -> Iterator[list[tuple[int, ComplaintInput]]]:
    """Checked complaints of a CSV (UTF-8 or GBK) or Excel export, chunk by chunk.

    Faults go to ``errors`` and checking carries on, so one pass finds them all; the
    caller refuses the whole file if any were found. Memory stays bounded by the chunk.
    """
    path = Path(path)
    what = f"complaints {path.name}"
    encoding = check_encoding(encoding)
    first_row: dict[str, int] = {}
    records = stream_records(path, what, COLUMNS, REQUIRED, encoding=encoding, sheet=sheet, chunk=chunk)
    for batch in _decoded(records, what, encoding):
        out: list[tuple[int, ComplaintInput]] = []
        for row, values in batch:
            item = check(values, catalog=catalog, source=source, row=row, errors=errors)
            if item is None:
                continue
            seen = first_row.setdefault(item.external_id, row)
            if seen != row:
                errors.append(RowError(row, "external_id", f"{item.external_id!r} repeats row {seen}"))
                continue
            out.append((row, item))
        yield out


def _decoded(records: Iterator, what: str, encoding: str | None) -> Iterator:
    """The reader's batches; a file that its (given) encoding cannot decode is a refusal, not a crash."""
    try:
        yield from records
    except UnicodeError as exc:
        named = f"as {encoding}" if encoding else "in the detected encoding"
        raise FileFormatError(
            f"{what}: cannot be read {named} ({exc}); "
            "name the file's encoding with encoding= (utf-8, gbk, gb18030)",
            code="bad_encoding",
        ) from exc


def read_file(
    path: str | Path,
    *,
    catalog: Catalog,
    source: str,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> list[ComplaintInput]:
    """Every complaint in a CSV (UTF-8 or GBK) or Excel export, or nothing at all."""
    errors: list[RowError] = []
    items = [
        item
        for batch in iter_file(
            path, catalog=catalog, source=source, errors=errors, encoding=encoding, sheet=sheet
        )
        for _, item in batch
    ]
    if errors:
        raise RowErrors(f"complaints {Path(path).name}", errors)
    return items


def _parse_time(value: str, fault: Fault) -> datetime.datetime:
    fallback = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    if not value:
        fault("reported_at", "missing: when was it reported?")
        return fallback
    try:
        when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        match = _TIME.match(value)
        if not match:
            fault("reported_at", f"{value!r} is not a date-time like 2025-06-01 09:30 or 2025/6/1 9:30:00")
            return fallback
        year, month, day, hour, minute, second = (int(p) if p else 0 for p in match.groups())
        try:
            when = datetime.datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            fault("reported_at", f"{value!r}: {exc}")
            return fallback
    # checked on the written year first: year 1 at +08:00 or 9999 at -08:00 has no UTC time
    if when.year > 2999:
        fault("reported_at", f"{value!r} is in the future")
        return fallback
    if when.year < 2000:
        fault("reported_at", f"{value!r} is before 2000-01-01; RedGrid holds complaints from 2000 on")
        return fallback
    if when.tzinfo is None:
        when = when.replace(tzinfo=BEIJING)  # hotline exports are in Beijing time
    if when < EARLIEST:
        fault("reported_at", f"{value!r} is before 2000-01-01; RedGrid holds complaints from 2000 on")
        return fallback
    if when > utcnow() + datetime.timedelta(minutes=10):
        fault("reported_at", f"{value!r} is in the future")
    return when


def _parse_channel(value: str, fault: Fault) -> str:
    code = _CHANNEL_BY_WORD.get(value.casefold())
    if code is None:
        fault(
            "channel",
            f"{value!r} is not a known channel; one of {', '.join(CHANNELS)} "
            "(or 热线, 微信, 巡查, 来访, 系统)",
        )
        return "system"
    return code


def _parse_category(value: str, catalog: Catalog, fault: Fault) -> str:
    if not value:
        fault("category", "missing")
        return ""
    code = _category_names(catalog).get(value)
    if code is not None:
        return code
    fault(
        "category",
        f"{value!r} is not in the category list (codes like "
        f"{', '.join(list(catalog.categories)[:3])}, or their Chinese names)",
    )
    return ""


_NAMES: dict[int, tuple[Catalog, dict[str, str]]] = {}


def _category_names(catalog: Catalog) -> dict[str, str]:
    """Every way a category may be named (code, Chinese name with or without its gloss, English)."""
    cached = _NAMES.get(id(catalog))
    if cached is None or cached[0] is not catalog:
        names: dict[str, str] = {}
        for code, category in catalog.categories.items():
            for name in (category.name_en, category.name_zh.split("（")[0], category.name_zh, code):
                names[name] = code
        cached = _NAMES[id(catalog)] = (catalog, names)
    return cached[1]


def _parse_point(lon_text: str, lat_text: str, fault: Fault) -> tuple[float | None, float | None]:
    if not lon_text and not lat_text:
        return None, None
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        field = "lon" if not _is_number(lon_text) else "lat"
        fault(field, f"{(lon_text if field == 'lon' else lat_text)!r} is not a number")
        return None, None
    if math.isnan(lon) or math.isnan(lat):
        fault("lon", "not a number")
        return None, None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        fault("lat" if abs(lat) > 90 else "lon", f"({lon}, {lat}) is out of range; lon and lat swapped?")
        return None, None
    return lon, lat


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
