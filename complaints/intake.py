"""Complaint records as they arrive: from a form, a JSON body, or a hotline system's export.

Every route in is checked by the same function, so a complaint filed by the API and
one imported from the 12345 hotline's Excel export obey the same rules. A file is
refused as a whole, listing every faulty row and field, because a half-imported
export would leave the hotline and RedGrid disagreeing about what was filed.
"""

from __future__ import annotations

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
from geo.errors import RowError
from geo.errors import RowErrors
from geo.officials import normalise_phone
from geo.tabular import stream_records
from geo.timeutil import BEIJING
from geo.timeutil import utcnow

#: Records a fault in one field of the row being checked: ``fault(field, message)``.
Fault = Callable[[str, str], None]

MAX_TEXT = 4000  # Open311's limit for description; longer texts are documents, not complaints

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

    def text(name: str) -> str:
        value = values.get(name)
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()

    def fault(name: str, message: str) -> None:
        found.append(RowError(row, name, message))

    external_id = text("external_id")
    if not external_id:
        fault("external_id", "missing: every complaint needs the id it has in its source system")
    elif len(external_id) > 128:
        fault("external_id", "longer than 128 characters")
    reported_at = _parse_time(text("reported_at"), fault)
    channel = _parse_channel(text("channel") or "system", fault)
    category = _parse_category(text("category"), catalog, fault)
    body = text("text")
    if not body:
        fault("text", "missing: what does the resident report?")
    elif len(body) > MAX_TEXT:
        fault("text", f"{len(body)} characters; at most {MAX_TEXT}")
    address = text("address") or None
    lon, lat = _parse_point(text("lon"), text("lat"), fault)
    coordsys = text("coordsys").lower() or "wgs84"
    if coordsys not in COORDSYS_ALIASES:
        fault("coordsys", f"{coordsys!r} is not one of wgs84, cgcs2000, gcj02, bd09")
    if lon is None and address is None and not any(e.field in ("lon", "lat") for e in found[before:]):
        fault("address", "missing: give an address or lon/lat")
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
        text("reporter_name") or None,
        phone,
    )


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
    first_row: dict[str, int] = {}
    for batch in stream_records(path, what, COLUMNS, REQUIRED, encoding=encoding, sheet=sheet, chunk=chunk):
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
    if when.tzinfo is None:
        when = when.replace(tzinfo=BEIJING)  # hotline exports are in Beijing time
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
