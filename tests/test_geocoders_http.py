"""Online geocoders: the real HTTP code against a local server playing back recorded answers.

The server runs in a thread on 127.0.0.1 and picks the answer by the API key the
client sends, so each test names the case it wants through the key. The answers
are the synthesised files in tests/fixtures/geocode/providers (see the README
there). What is checked: the request the client sends (path, parameters, the
address with our town's context), GCJ-02 → WGS84 and CGCS2000 → WGS84, every
error class (bad key, quota, rate limit, server error, timeout, junk), that keys
never reach logs or messages, and the chain's order and grid check.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
import pytest

from geo.crs import MetricFrame
from geo.geocode import Gazetteer
from geo.geocoders import AmapGeocoder
from geo.geocoders import ChainGeocoder
from geo.geocoders import Geocoder
from geo.geocoders import ProviderAuthError
from geo.geocoders import ProviderError
from geo.geocoders import ProviderQuotaError
from geo.geocoders import ProviderRateLimited
from geo.geocoders import ProviderUnavailable
from geo.geocoders import TiandituGeocoder
from geo.geocoders.base import redact
from geo.lookup import GridIndex
from tests.shared_data import REPO_ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "geocode" / "providers"
#: 沥苑路10号 of the demo gazetteer in WGS84: the truth the recorded answers encode.
TRUTH = (113.1284137, 23.071271)
TRUTH_GRID = "440605125038003"

# key → (HTTP status, fixture file or raw body, delay in seconds)
AMAP = {
    "AMAP-OK": (200, "amap-ok.json", 0),
    "AMAP-SEVERAL": (200, "amap-several.json", 0),
    "AMAP-TOWN": (200, "amap-town-only.json", 0),
    "AMAP-ELSEWHERE": (200, "amap-elsewhere.json", 0),
    "AMAP-EMPTY": (200, "amap-no-result.json", 0),
    "AMAP-BADKEY": (200, "amap-invalid-key.json", 0),
    "AMAP-QUOTA": (200, "amap-daily-quota.json", 0),
    "AMAP-QPS": (200, "amap-too-frequent.json", 0),
    "AMAP-500": (500, b"<html>502 Bad Gateway</html>", 0),
    "AMAP-JUNK": (200, b"<html>captive portal</html>", 0),
    "AMAP-429": (429, b"", 0),
    "AMAP-SLOW": (200, "amap-ok.json", 1.0),
}
TIANDITU = {
    "TDT-OK": (200, "tianditu-ok.json", 0),
    "TDT-ROAD": (200, "tianditu-road-only.json", 0),
    "TDT-EMPTY": (200, "tianditu-no-result.json", 0),
    "TDT-ERROR": (200, "tianditu-error.json", 0),
    "TDT-BADKEY": (403, "tianditu-invalid-key.json", 0),
    "TDT-QUOTA": (403, "tianditu-quota.json", 0),
    "TDT-503": (503, b"Service Unavailable", 0),
}


class _Handler(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict]]  # set on the server class below

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.server.requests.append((url.path, query))
        table, key = {"/v3/geocode/geo": (AMAP, "key"), "/geocoder": (TIANDITU, "tk")}.get(url.path, ({}, ""))
        status, body, delay = table.get(query.get(key, ""), (404, b"no such route", 0))
        if delay:
            time.sleep(delay)
        data = (FIXTURES / body).read_bytes() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "2")
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client timed out first
            pass

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def base_url(server) -> str:
    server.requests.clear()
    return f"http://127.0.0.1:{server.server_address[1]}"


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    frame = MetricFrame.for_lonlat(*a)
    (x1, y1), (x2, y2) = frame.forward_one(*a), frame.forward_one(*b)
    return math.hypot(x1 - x2, y1 - y2)


# ----------------------------------------------------------------------------- Amap


def test_amap_sends_the_documented_request_with_our_town_as_context(server, base_url):
    AmapGeocoder("AMAP-OK", base_url=base_url).geocode("沥苑路十號")
    path, query = server.requests[-1]
    assert path == "/v3/geocode/geo"
    assert query["key"] == "AMAP-OK" and query["output"] == "JSON" and query["city"] == "佛山"
    assert query["address"] == "广东省佛山市南海区大沥镇沥苑路10号"  # normalised, with the full prefix


def test_amap_answer_comes_back_in_wgs84_not_gcj02(base_url):
    result = AmapGeocoder("AMAP-OK", base_url=base_url).geocode("沥苑路10号")
    assert result.status == "matched" and result.source == "amap"
    assert result.best.level == "门牌号" and result.best.text == "广东省佛山市南海区沥苑路10号"
    assert _metres(result.point, TRUTH) < 0.5  # the fixture's 6-decimal rounding is ~0.1 m
    raw = json.loads((FIXTURES / "amap-ok.json").read_text(encoding="utf-8"))["geocodes"][0]["location"]
    raw_point = tuple(float(v) for v in raw.split(","))
    assert _metres(raw_point, TRUTH) > 400  # without the conversion the point would be a grid away


def test_amap_several_answers_or_a_coarse_level_are_not_a_match(base_url):
    several = AmapGeocoder("AMAP-SEVERAL", base_url=base_url).geocode("沥苑路10号")
    assert several.status == "ambiguous" and len(several.candidates) == 2
    assert several.best.level == "兴趣点"  # the finer answer ranks first
    town = AmapGeocoder("AMAP-TOWN", base_url=base_url).geocode("大沥镇某某路")
    assert town.status == "not_found" and "乡镇" in town.explanation
    empty = AmapGeocoder("AMAP-EMPTY", base_url=base_url).geocode("不存在路1号")
    assert empty.status == "not_found" and empty.candidates == ()


@pytest.mark.parametrize(
    ("key", "error", "words"),
    [
        ("AMAP-BADKEY", ProviderAuthError, ["INVALID_USER_KEY", "10001"]),
        ("AMAP-QUOTA", ProviderQuotaError, ["DAILY_QUERY_OVER_LIMIT", "10003"]),
        ("AMAP-QPS", ProviderRateLimited, ["CUQPS_HAS_EXCEEDED_THE_LIMIT", "10019"]),
        ("AMAP-429", ProviderRateLimited, ["429"]),
        ("AMAP-500", ProviderUnavailable, ["500"]),
        ("AMAP-JUNK", ProviderUnavailable, ["not Amap's JSON"]),
    ],
)
def test_amap_errors_name_the_provider_and_its_message_and_never_the_key(base_url, caplog, key, error, words):
    caplog.set_level(logging.DEBUG, logger="geo.geocoders")
    with pytest.raises(error) as info:
        AmapGeocoder(key, base_url=base_url).geocode("沥苑路10号")
    message = str(info.value)
    assert message.startswith("amap:") and info.value.provider == "amap"
    assert all(w in message for w in words)
    assert key not in message and key not in caplog.text
    assert "key=%2A%2A%2A" in caplog.text or "key=***" in caplog.text  # the request was logged, redacted
    if key == "AMAP-429":
        assert info.value.retry_after_s == 2.0


def test_rate_limits_and_quotas_are_told_apart(base_url):
    # A dispatcher screen says "try again in a moment" for one and "switch provider" for the other.
    with pytest.raises(ProviderError) as quota:
        AmapGeocoder("AMAP-QUOTA", base_url=base_url).geocode("x路1号")
    with pytest.raises(ProviderError) as qps:
        AmapGeocoder("AMAP-QPS", base_url=base_url).geocode("x路1号")
    assert type(quota.value) is ProviderQuotaError and type(qps.value) is ProviderRateLimited
    assert quota.value.code != qps.value.code


def test_a_slow_provider_times_out_with_a_clear_error(base_url):
    started = time.perf_counter()
    with pytest.raises(ProviderUnavailable, match=r"amap: no answer within 0.2 s"):
        AmapGeocoder("AMAP-SLOW", base_url=base_url, timeout=0.2).geocode("沥苑路10号")
    assert time.perf_counter() - started < 0.9


def test_an_unreachable_provider_is_unavailable_not_not_found():
    with pytest.raises(ProviderUnavailable, match="amap: cannot reach"):
        AmapGeocoder("AMAP-OK", base_url="http://127.0.0.1:9", timeout=1).geocode("沥苑路10号")


def test_keys_are_not_in_reprs_and_redact_hides_them():
    assert "SECRET" not in repr(AmapGeocoder("SECRET", base_url="http://h"))
    assert "SECRET" not in repr(TiandituGeocoder("SECRET", base_url="http://h"))
    shown = redact("https://x/geo?key=SECRET&address=%E6%B2%A5", ["key"])
    assert "SECRET" not in shown and "address=%E6%B2%A5" in shown


# ------------------------------------------------------------------------- Tianditu


def test_tianditu_sends_ds_json_and_returns_wgs84(server, base_url):
    result = TiandituGeocoder("TDT-OK", base_url=base_url).geocode("佛山南海大沥 沥苑路10号")
    path, query = server.requests[-1]
    assert path == "/geocoder" and query["tk"] == "TDT-OK"
    assert json.loads(query["ds"]) == {"keyWord": "广东省佛山市南海区大沥镇沥苑路10号"}
    assert result.status == "matched" and result.source == "tianditu" and result.best.level == "门址"
    # CGCS2000 → WGS84 is a (PROJ) null transform: centimetres at most, here nothing.
    assert _metres(result.point, TRUTH) < 0.05


def test_tianditu_low_score_is_ambiguous_and_status_101_is_not_found(base_url):
    road = TiandituGeocoder("TDT-ROAD", base_url=base_url).geocode("沥苑路")
    assert road.status == "ambiguous" and road.best.level == "道路"
    assert road.confidence == pytest.approx(0.62)
    empty = TiandituGeocoder("TDT-EMPTY", base_url=base_url).geocode("不存在路1号")
    assert empty.status == "not_found" and "结果为空" in empty.explanation


@pytest.mark.parametrize(
    ("tk", "error", "words"),
    [
        ("TDT-BADKEY", ProviderAuthError, ["非法key", "http=403"]),
        ("TDT-QUOTA", ProviderQuotaError, ["超出日限额", "http=403"]),
        ("TDT-ERROR", ProviderUnavailable, ["出错", "infocode=404"]),
        ("TDT-503", ProviderUnavailable, ["http=503"]),
    ],
)
def test_tianditu_errors_are_classified_and_keep_the_key_out(base_url, caplog, tk, error, words):
    caplog.set_level(logging.DEBUG, logger="geo.geocoders")
    with pytest.raises(error) as info:
        TiandituGeocoder(tk, base_url=base_url).geocode("沥苑路10号")
    message = str(info.value)
    assert message.startswith("tianditu:") and all(w in message for w in words)
    assert tk not in message and tk not in caplog.text


# ---------------------------------------------------------------------------- chain


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.from_csv(REPO_ROOT / "data" / "gazetteer" / "dali-demo-addresses.csv")


@pytest.fixture(scope="module")
def grid_index() -> GridIndex:
    grids = gpd.read_file(REPO_ROOT / "data" / "shapes" / "dali-demo-grids.geojson")
    return GridIndex(grids["code"], grids.geometry.values)


def test_every_geocoder_satisfies_the_protocol(gazetteer, base_url):
    for g in (
        gazetteer,
        AmapGeocoder("k", base_url=base_url),
        TiandituGeocoder("k", base_url=base_url),
        ChainGeocoder(gazetteer),
    ):
        assert isinstance(g, Geocoder)


def test_chain_answers_locally_without_calling_a_provider(server, base_url, gazetteer, grid_index):
    chain = ChainGeocoder(gazetteer, [AmapGeocoder("AMAP-OK", base_url=base_url)], grid_index=grid_index)
    result = chain.geocode("嘉州花园3座")
    assert result.status == "matched" and result.source == "gazetteer"
    assert server.requests == []


def test_chain_asks_the_provider_when_the_gazetteer_cannot_match(server, base_url, gazetteer, grid_index):
    chain = ChainGeocoder(gazetteer, [AmapGeocoder("AMAP-OK", base_url=base_url)], grid_index=grid_index)
    result = chain.geocode("幸福路88号")  # not in the gazetteer; the recorded answer says 沥苑路10号
    assert len(server.requests) == 1
    assert result.status == "matched" and result.source == "amap"
    assert result.grid_code == TRUTH_GRID  # the chain gives provider answers their grid


def test_chain_never_asks_providers_about_another_town(server, base_url, gazetteer):
    chain = ChainGeocoder(gazetteer, [AmapGeocoder("AMAP-OK", base_url=base_url)])
    result = chain.geocode("佛山市南海区桂城街道建设路12号")
    assert result.status == "not_found" and server.requests == []


def test_chain_drops_provider_answers_outside_the_grids(base_url, gazetteer, grid_index):
    elsewhere = AmapGeocoder("AMAP-ELSEWHERE", base_url=base_url)
    chain = ChainGeocoder(gazetteer, [elsewhere], grid_index=grid_index)
    result = chain.geocode("幸福路88号")
    assert result.status == "not_found"
    assert "高德的结果不在本镇网格内" in result.explanation
    assert_chinese(result.explanation)


def test_chain_records_a_failing_provider_and_falls_through_to_the_next(base_url, gazetteer, grid_index):
    chain = ChainGeocoder(
        gazetteer,
        [AmapGeocoder("AMAP-QUOTA", base_url=base_url), TiandituGeocoder("TDT-OK", base_url=base_url)],
        grid_index=grid_index,
    )
    result = chain.geocode("幸福路88号")
    assert result.status == "matched" and result.source == "tianditu"
    assert len(result.errors) == 1 and result.errors[0].startswith("amap: quota used up")
    assert result.grid_code == TRUTH_GRID


def test_chain_keeps_the_local_candidates_when_no_provider_matches(base_url, gazetteer, grid_index):
    chain = ChainGeocoder(gazetteer, [AmapGeocoder("AMAP-BADKEY", base_url=base_url)], grid_index=grid_index)
    result = chain.geocode("沥苑路12号")  # a gap: neighbours 10号 and 14号
    assert result.status == "ambiguous" and result.source == "gazetteer"
    assert {c.text for c in result.candidates} == {"沥苑路10号", "沥苑路14号"}
    assert "INVALID_USER_KEY" in result.errors[0]


# ------------------------------------------------------- explanations a dispatcher reads


def assert_chinese(text: str) -> None:
    """Chinese words only: no English word (three Latin letters or more) in ``text``."""
    assert text and re.search(r"[\u4e00-\u9fff]", text), text
    assert not re.search(r"[A-Za-z]{3,}", text), text


def test_online_explanations_are_chinese_like_the_gazetteers(server, base_url, gazetteer, grid_index):
    """Every answer of Amap and Tianditu, through the chain too, explains itself in Chinese."""
    amap = AmapGeocoder("AMAP-OK", base_url=base_url)
    tianditu = TiandituGeocoder("TDT-OK", base_url=base_url)
    answers = [
        amap.geocode("奇槎大道38号"),
        AmapGeocoder("AMAP-TOWN", base_url=base_url).geocode("某处"),
        AmapGeocoder("AMAP-SEVERAL", base_url=base_url).geocode("某处"),
        AmapGeocoder("AMAP-EMPTY", base_url=base_url).geocode("某处"),
        TiandituGeocoder("TDT-ROAD", base_url=base_url).geocode("某处"),
        tianditu.geocode("奇槎大道38号"),
        TiandituGeocoder("TDT-EMPTY", base_url=base_url).geocode("某处"),
        ChainGeocoder(
            gazetteer, [AmapGeocoder("AMAP-ELSEWHERE", base_url=base_url)], grid_index=grid_index
        ).geocode("幸福路88号"),
    ]
    for answer in answers:
        assert_chinese(answer.explanation)
        for cand in answer.candidates:
            assert_chinese(cand.matched)
