"""Tianditu (天地图) geocoding: CGCS2000 answers, taken to WGS84 through the one CRS policy.

Request and answer as documented at http://lbs.tianditu.gov.cn/server/geocodinginterface.html
(read in a stored copy of the page; open-source clients such as the Dify Tianditu
tool and several scripts on GitHub call it the same way)::

    GET https://api.tianditu.gov.cn/geocoder?ds={"keyWord":"北京市延庆区…"}&tk=…
    {"location": {"lon": "116.001688", "lat": "40.453228", "level": "地名地址"},
     "status": "0", "msg": "ok", "searchVersion": "4.8.0"}

``status``: "0" answer, "101" nothing found, "404" error; ``msg`` says why. Newer
versions add ``location.score`` (0–100) and ``location.keyWord``; both are optional
here. Coordinates are **CGCS2000** (EPSG:4490), centimetres from WGS84; they still
go through ``geo.crs.to_wgs84`` so that the datum policy lives in one place.

Key failures are not in the geocoder's own status table: Tianditu's gateway refuses
a bad or over-quota ``tk`` with an HTTP error (403, sometimes 418 for a key of the
wrong type) and a short JSON or text body. That body's exact shape is **not**
verified here; the parser reads a ``msg``/``message`` field when there is one and
classifies by HTTP status and wording. Browser-type keys are checked against the
User-Agent and refused from servers, so a deployment needs a server (服务端) key.

Explanations and ``matched`` texts are in Chinese, as the local gazetteer's: dispatchers
read them on the page.
"""

from __future__ import annotations

import json

from geo.address import parse
from geo.crs import to_wgs84
from geo.geocode import CANDIDATE_THRESHOLD
from geo.geocode import MATCH_THRESHOLD
from geo.geocode import Candidate
from geo.geocode import GeocodeResult
from geo.geocode import ResultBase
from geo.geocoders.base import DEFAULT_TIMEOUT_S
from geo.geocoders.base import HttpReply
from geo.geocoders.base import ProviderAuthError
from geo.geocoders.base import ProviderDetail
from geo.geocoders.base import ProviderError
from geo.geocoders.base import ProviderQuotaError
from geo.geocoders.base import ProviderRateLimited
from geo.geocoders.base import ProviderUnavailable
from geo.geocoders.base import http_get_json

__all__ = ["TiandituGeocoder"]

CONTEXT = "广东省佛山市南海区大沥镇"

#: Confidence by Tianditu ``level`` when no ``score`` is given.
LEVEL_SCORE = {
    "门址": 0.9,
    "门牌号": 0.9,
    "地名地址": 0.88,
    "兴趣点": 0.88,
    "住宅区": 0.88,
    "楼栋": 0.9,
    "道路": 0.65,
    "道路交叉口": 0.7,
    "村庄": 0.62,
    "地名": 0.62,
    "乡镇": 0.2,
    "区县": 0.1,
    "县": 0.1,
    "市": 0.05,
    "省": 0.0,
    "国家": 0.0,
}
_QUOTA_WORDS = ("超", "限额", "上限", "配额", "quota", "limit")


class TiandituGeocoder:
    """Tianditu geocoding behind the ``Geocoder`` protocol; points come back in WGS84."""

    name = "tianditu"
    label = "天地图"  # how the dispatcher reads the provider's name

    def __init__(
        self,
        tk: str,
        *,
        context: str = CONTEXT,
        base_url: str = "https://api.tianditu.gov.cn",
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if not tk:
            raise ValueError("TiandituGeocoder needs a server-side key (tk)")
        self._tk = tk
        self.context = context
        self.url = base_url.rstrip("/") + "/geocoder"
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the key
        return f"TiandituGeocoder(url={self.url!r})"

    def geocode(self, text: str) -> GeocodeResult:
        parsed = parse(text)
        keyword = text if parsed.foreign else self.context + parsed.text
        params = {
            "ds": json.dumps({"keyWord": keyword}, ensure_ascii=False, separators=(",", ":")),
            "tk": self._tk,
        }
        reply = http_get_json(
            self.url, params, provider=self.name, secret_params=("tk",), timeout=self.timeout
        )
        if reply.status != 200:
            raise _http_error(reply)
        data = reply.payload
        if not isinstance(data, dict) or "status" not in data:
            raise ProviderUnavailable(
                self.name, f"answer is not Tianditu's JSON: {reply.text[:80]!r}", http_status=reply.status
            )
        status, msg = str(data.get("status")), str(data.get("msg", ""))
        base: ResultBase = {"query": text, "normalized": parsed.text, "parsed": parsed, "source": self.name}
        if status == "101":
            why = f"天地图未找到该地址（{msg}）" if msg else "天地图未找到该地址"
            return GeocodeResult(status="not_found", explanation=why, **base)
        if status != "0":
            raise _message_error(msg, status, reply.status)
        cand = self._candidate(data.get("location"))
        if cand is None:
            raise ProviderUnavailable(self.name, "answer has no usable location", info=msg, infocode=status)
        if cand.score < CANDIDATE_THRESHOLD:
            return GeocodeResult(status="not_found", explanation=f"天地图只定位到{cand.level}一级", **base)
        if cand.score >= MATCH_THRESHOLD:
            return GeocodeResult(
                status="matched", best=cand, candidates=(cand,), explanation=cand.matched, **base
            )
        return GeocodeResult(
            status="ambiguous",
            best=cand,
            candidates=(cand,),
            explanation=f"天地图不能确定，请核对：{cand.matched}",
            **base,
        )

    def _candidate(self, loc: object) -> Candidate | None:
        if not isinstance(loc, dict):
            return None
        try:
            lon, lat = float(loc["lon"]), float(loc["lat"])
        except (KeyError, TypeError, ValueError):
            return None
        lon84, lat84 = to_wgs84(lon, lat, "cgcs2000")
        level = str(loc.get("level") or "未知")
        score = LEVEL_SCORE.get(level, 0.3)
        if loc.get("score") not in (None, ""):
            try:  # Tianditu's own 0-100 match score, capped by what the level allows
                score = min(score, float(loc["score"]) / 100)
            except (TypeError, ValueError):
                pass
        where = str(loc.get("keyWord") or "")
        said = f"天地图（{level}" + (f"，匹配度{loc['score']}" if "score" in loc else "") + "）"
        return Candidate(
            text=where or f"{lon:.6f},{lat:.6f}",
            lon=float(lon84),
            lat=float(lat84),
            score=score,
            matched=said,
            source=self.name,
            level=level,
        )


def _http_error(reply: HttpReply) -> ProviderError:
    msg = ""
    if isinstance(reply.payload, dict):
        msg = str(reply.payload.get("msg") or reply.payload.get("message") or "")
    msg = msg or reply.text[:120]
    kw: ProviderDetail = {"info": msg, "http_status": reply.status}
    if reply.status == 429:
        return ProviderRateLimited("tianditu", "too many requests", retry_after_s=reply.retry_after_s, **kw)
    if reply.status in (401, 403, 418):
        if any(w in msg for w in _QUOTA_WORDS):
            return ProviderQuotaError("tianditu", "key over its quota", **kw)
        return ProviderAuthError("tianditu", "key refused", **kw)
    return ProviderUnavailable("tianditu", "HTTP error", **kw)


def _message_error(msg: str, status: str, http_status: int) -> ProviderError:
    kw: ProviderDetail = {"info": msg, "infocode": status, "http_status": http_status}
    if any(w in msg for w in _QUOTA_WORDS):
        return ProviderQuotaError("tianditu", "quota used up", **kw)
    if "key" in msg.lower() or "权限" in msg:
        return ProviderAuthError("tianditu", "key refused", **kw)
    return ProviderUnavailable("tianditu", "service error", **kw)
