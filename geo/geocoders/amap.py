"""Amap (高德) web-service geocoding, converted from GCJ-02 to WGS84.

Request and answer as documented at https://lbs.amap.com/api/webservice/guide/api/georegeo
(read in a stored copy; the same shape appears in open-source clients, e.g. the
geopy ``AMap`` geocoder and recorded answers in Amap client test suites)::

    GET https://restapi.amap.com/v3/geocode/geo?key=…&address=…&city=…&output=JSON
    {"status": "1", "info": "OK", "infocode": "10000", "count": "1",
     "geocodes": [{"formatted_address": "北京市朝阳区阜通东大街6号", "province": "北京市",
                   "city": "北京市", "district": "朝阳区", "adcode": "110105",
                   "street": "阜通东大街", "number": "6号",
                   "location": "116.482086,39.990496", "level": "门牌号", ...}]}

``status`` is "1" for success and "0" for failure, with the reason in ``info`` and
``infocode`` (table at https://lbs.amap.com/api/webservice/guide/tools/info). Empty
fields come back as ``[]``, not ``""``. ``location`` is "lng,lat" in **GCJ-02**,
about 600 m off WGS84 in Foshan: a grid's width, so the conversion is not optional.

Amap gives no score, only a ``level`` (the finest unit it resolved). A door or
building level counts as a match; a road or village is a hint; a town or district
is no answer at all for a dispatcher.

Explanations and ``matched`` texts are in Chinese, as the local gazetteer's: dispatchers
read them on the page (levels are Amap's own Chinese words).
"""

from __future__ import annotations

from geo.address import parse
from geo.crs import to_wgs84
from geo.geocode import CANDIDATE_THRESHOLD
from geo.geocode import MATCH_THRESHOLD
from geo.geocode import Candidate
from geo.geocode import GeocodeResult
from geo.geocode import ResultBase
from geo.geocoders.base import DEFAULT_TIMEOUT_S
from geo.geocoders.base import ProviderAuthError
from geo.geocoders.base import ProviderDetail
from geo.geocoders.base import ProviderError
from geo.geocoders.base import ProviderQuotaError
from geo.geocoders.base import ProviderRateLimited
from geo.geocoders.base import ProviderUnavailable
from geo.geocoders.base import http_get_json

__all__ = ["AmapGeocoder"]

CONTEXT = "广东省佛山市南海区大沥镇"

#: Confidence by Amap ``level``: what a dispatcher can act on, not how sure Amap is.
LEVEL_SCORE = {
    "门牌号": 0.9,
    "门址": 0.9,
    "单元号": 0.9,
    "楼栋": 0.9,
    "楼层": 0.9,
    "房间": 0.9,
    "兴趣点": 0.88,
    "住宅区": 0.88,
    "公交地铁站点": 0.86,
    "道路": 0.65,
    "道路交叉路口": 0.7,
    "小巷": 0.65,
    "村庄": 0.62,
    "热点商圈": 0.62,
    "乡镇": 0.2,
    "开发区": 0.2,
    "区县": 0.1,
    "市": 0.05,
    "省": 0.0,
    "国家": 0.0,
    "未知": 0.3,
}

# infocode → error class (table cited in the module docstring).
_AUTH = {"10001", "10002", "10005", "10006", "10007", "10008", "10009", "10011", "10012", "10013"}
_QUOTA = {"10003", "10010", "10044", "10045"}  # daily, per-IP, user-daily, abroad-daily
_RATE = {"10004", "10014", "10015", "10019", "10020", "10021", "10029"}  # per-minute / QPS limits


class AmapGeocoder:
    """Amap geocoding behind the ``Geocoder`` protocol; points come back in WGS84."""

    name = "amap"
    label = "高德"  # how the dispatcher reads the provider's name

    def __init__(
        self,
        key: str,
        *,
        city: str = "佛山",
        context: str = CONTEXT,
        base_url: str = "https://restapi.amap.com",
        timeout: float = DEFAULT_TIMEOUT_S,
        max_candidates: int = 5,
    ) -> None:
        if not key:
            raise ValueError("AmapGeocoder needs a web-service key")
        self._key = key
        self.city = city
        self.context = context
        self.url = base_url.rstrip("/") + "/v3/geocode/geo"
        self.timeout = timeout
        self.max_candidates = max_candidates

    def __repr__(self) -> str:  # never show the key
        return f"AmapGeocoder(city={self.city!r}, url={self.url!r})"

    def geocode(self, text: str) -> GeocodeResult:
        parsed = parse(text)
        # Our town's full name in front of the cleaned text: Amap resolves best from a
        # complete structured address, and the city filter alone does not stop it
        # choosing a same-named road elsewhere in Foshan.
        address = text if parsed.foreign else self.context + parsed.text
        params = {"key": self._key, "address": address, "output": "JSON"}
        if self.city:
            params["city"] = self.city
        reply = http_get_json(
            self.url, params, provider=self.name, secret_params=("key",), timeout=self.timeout
        )
        if reply.status == 429:
            raise ProviderRateLimited(
                self.name, "rate limited", http_status=429, retry_after_s=reply.retry_after_s
            )
        if reply.status >= 500:
            raise ProviderUnavailable(self.name, "server error", http_status=reply.status)
        data = reply.payload
        if not isinstance(data, dict) or "status" not in data:
            raise ProviderUnavailable(
                self.name, f"answer is not Amap's JSON: {reply.text[:80]!r}", http_status=reply.status
            )
        if str(data.get("status")) != "1":
            raise _error(data, reply.status)
        base: ResultBase = {"query": text, "normalized": parsed.text, "parsed": parsed, "source": self.name}
        cands = [c for c in (self._candidate(g) for g in data.get("geocodes") or []) if c is not None]
        cands.sort(key=lambda c: -c.score)
        cands = cands[: self.max_candidates]
        if not cands or cands[0].score < CANDIDATE_THRESHOLD:
            level = cands[0].level if cands else None
            why = f"高德只定位到{level}一级" if level else "高德未找到该地址"
            return GeocodeResult(status="not_found", explanation=why, **base)
        top = cands[0]
        if top.score >= MATCH_THRESHOLD and len(cands) == 1:
            return GeocodeResult(
                status="matched", best=top, candidates=(top,), explanation=top.matched, **base
            )
        why = (
            f"高德返回{len(cands)}处地点，请从候选中选择"
            if len(cands) > 1
            else f"高德只定位到{top.level}一级，请从候选中选择"
        )
        return GeocodeResult(status="ambiguous", best=top, candidates=tuple(cands), explanation=why, **base)

    def _candidate(self, g: dict) -> Candidate | None:
        loc = g.get("location")
        if not isinstance(loc, str) or "," not in loc:
            return None
        try:
            lng, lat = (float(v) for v in loc.split(",", 1))
        except ValueError:
            return None
        lon84, lat84 = to_wgs84(lng, lat, "gcj02")
        level = _text(g.get("level")) or "未知"
        score = LEVEL_SCORE.get(level, 0.3)
        where = _text(g.get("formatted_address")) or loc
        return Candidate(
            text=where,
            lon=float(lon84),
            lat=float(lat84),
            score=score,
            matched=f"高德（{level}）：{where}",
            source=self.name,
            level=level,
        )


def _text(value: object) -> str:
    # Amap writes empty fields as [] rather than "".
    return value if isinstance(value, str) else ""


def _error(data: dict, http_status: int) -> ProviderError:
    info, code = str(data.get("info", "")), str(data.get("infocode", ""))
    kw: ProviderDetail = {"info": info, "infocode": code, "http_status": http_status}
    if code in _AUTH or "KEY" in info.upper():
        return ProviderAuthError("amap", "key refused", **kw)
    if code in _QUOTA or "DAILY" in info.upper():
        return ProviderQuotaError("amap", "quota used up", **kw)
    if code in _RATE or "QPS" in info.upper() or "FREQUENT" in info.upper():
        return ProviderRateLimited("amap", "too many requests", **kw)
    if code.startswith("2"):
        return ProviderError("amap", "request rejected", **kw)
    return ProviderUnavailable("amap", "service error", **kw)
