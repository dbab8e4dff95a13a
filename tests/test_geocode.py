"""The gazetteer geocoder: the demo gazetteer, the 280-address test set, rates, latency, reverse.

The whole-set test prints the numbers quoted in the closing note of the geocoding
issue. What its thresholds mean, and why they are where they are:

* ``hit`` (matched, right id): measured 0.877. Asserted ≥ 0.85.
* ``found`` (hit, or ambiguous with the right id among the candidates): measured
  0.968. Asserted ≥ 0.95. The gap between the two is the price of the 0.85 match
  threshold: at 0.80 the hit rate is 0.900 with still no false match on this set,
  but 0.80 is one dropped character of a three-character road name (穗路 for 穗盐路),
  exactly what an unlisted road would also look like; 0.75 is where false matches
  on the must-not-find cases begin. One step of margin costs 2.3 points of hits,
  all of which still show the right address among the candidates.
* ``wrong grid``: a matched answer in another grid than the expected address.
  Measured 0. Asserted strictly below the not-found rate (measured 0.023), and no
  wrong id at all above 1 %.
* must-not-find cases: none may be ``matched``. Gaps in door numbering must come
  back ambiguous with their neighbours.
* latency: mean and 95th percentile per query over the set, asserted p95 < 5 ms
  (measured about 0.2 ms on the development machine).
"""

from __future__ import annotations

import json
import math
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from geo.errors import FileFormatError
from geo.errors import InvalidCoordinates
from geo.gazetteer_gen import COLUMNS
from geo.gazetteer_gen import generate_gazetteer
from geo.geocode import MATCH_THRESHOLD
from geo.geocode import Entry
from geo.geocode import Gazetteer
from geo.lookup import GridIndex
from geo.lookup import Status
from tests.fixtures.geocode.make_cases import CASES_CSV
from tests.fixtures.geocode.make_cases import build_cases
from tests.fixtures.geocode.make_cases import read_gazetteer
from tests.fixtures.geocode.make_cases import to_csv_text
from tests.shared_data import REPO_ROOT

GAZETTEER_CSV = REPO_ROOT / "data" / "gazetteer" / "dali-demo-addresses.csv"
GRIDS = REPO_ROOT / "data" / "shapes" / "dali-demo-grids.geojson"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return read_gazetteer(GAZETTEER_CSV)


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.from_csv(GAZETTEER_CSV)


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    return gpd.read_file(GRIDS)


@pytest.fixture(scope="module")
def grid_index(grids) -> GridIndex:
    return GridIndex(grids["code"], grids.geometry.values)


@pytest.fixture(scope="module")
def cases() -> pd.DataFrame:
    return pd.read_csv(CASES_CSV, dtype=str, keep_default_na=False)


# ------------------------------------------------------------------ the demo gazetteer


def test_bundled_gazetteer_is_what_the_generator_builds(frame, grids):
    communities = pd.read_csv(REPO_ROOT / "data" / "communities.csv", dtype=str)
    built = generate_gazetteer(grids, 2024, communities=communities)
    assert list(built.columns) == COLUMNS
    assert built.to_csv(index=False) == frame.to_csv(index=False)


def test_gazetteer_content_is_plausible(frame, grid_index):
    assert 3000 <= len(frame) <= 6000 and frame["id"].is_unique and frame["text"].is_unique
    doors = frame[frame["number"].notna()]
    assert doors["road"].nunique() >= 20
    assert frame["compound"].nunique() >= 100
    assert "嘉州花园" in set(frame["compound"])  # the article's compound
    centres = frame["landmark"].dropna()
    assert centres.str.endswith("社区党群服务中心").sum() == 43  # one per real community
    liyuan = set(doors.loc[doors["road"] == "沥苑路", "number"].astype(int))
    assert {10, 14} <= liyuan and 12 not in liyuan  # the gap example
    for road, nums in doors.groupby("road")["number"]:  # no road numbers a door twice
        assert nums.is_unique, road
    # every address lies in the grid it names, by the lookup's own boundary rule
    match = grid_index.locate_many(frame["lon"], frame["lat"], annotate=False)
    assert (match.status == Status.OK).all()
    assert (grid_index.codes[match.grid] == frame["grid_code"].to_numpy()).all()


def test_odd_and_even_doors_are_on_opposite_sides(gazetteer):
    # Odd numbers left of the direction of numbering, even right: the cross product of the
    # road direction (n → n+2 on one side) with the step to the other side changes sign.
    entries = [e for e in gazetteer.entries if e.road == "沥苑路"]
    pos = {e.number: np.array(gazetteer.frame.forward_one(e.lon, e.lat)) for e in entries}
    signs = []
    for n in range(1, 150, 2):
        if all(k in pos for k in (n, n + 1, n + 2)):
            along, across = pos[n + 2] - pos[n], pos[n + 1] - pos[n]
            signs.append(np.sign(along[0] * across[1] - along[1] * across[0]))
    assert len(signs) > 10 and len(set(signs)) == 1


# ------------------------------------------------------------------------ the test set


def test_case_set_is_reproducible_from_its_script(frame):
    assert to_csv_text(build_cases(frame)) == CASES_CSV.read_text(encoding="utf-8")


def test_case_set_has_the_intended_mix(cases, gazetteer):
    assert len(cases) >= 200 and cases["case_id"].is_unique
    none = (cases["expected_id"] == "none").mean()
    assert 0.18 <= none <= 0.25
    found = cases[cases["expected_id"] != "none"]
    assert all(i in {e.id for e in gazetteer.entries} for i in found["expected_id"])
    tags = ";".join(cases["perturbations"])
    for tag in (
        "prefix",
        "traditional",
        "full-width",
        "chinese-numeral",
        "look-alike",
        "building-word:座",
        "stray-punctuation",
        "hard-typo",
        "severe-typo",
        "other-town",
        "gap",
        "invented-road",
    ):
        assert tag in tags, tag


def test_whole_set_rates_and_latency(gazetteer, grid_index, cases, capsys):
    for text in cases["text"][:20]:  # warm caches (OpenCC, regexes) before timing
        gazetteer.geocode(text + "x")
    results, times = [], []
    for text in cases["text"]:
        started = time.perf_counter()
        results.append(gazetteer.geocode(text))
        times.append(time.perf_counter() - started)
    counts = dict.fromkeys(
        (
            "hit",
            "ambiguous_hit",
            "ambiguous_miss",
            "not_found",
            "wrong_same_grid",
            "wrong_grid",
            "none_matched",
            "none_ambiguous",
            "none_not_found",
        ),
        0,
    )
    wrong = []
    for (_, case), result in zip(cases.iterrows(), results, strict=True):
        if case["expected_id"] == "none":
            counts[f"none_{result.status}"] += 1
            continue
        expected = gazetteer.entry(case["expected_id"])
        if result.status == "matched":
            if result.best.id == expected.id:
                counts["hit"] += 1
                continue
            match = grid_index.locate(*result.point)
            same = match.status == Status.OK and grid_index.codes[match.grid] == expected.grid_code
            counts["wrong_same_grid" if same else "wrong_grid"] += 1
            wrong.append((case["text"], result.best.text, expected.text))
        elif result.status == "ambiguous":
            ok = any(c.id == expected.id for c in result.candidates)
            counts["ambiguous_hit" if ok else "ambiguous_miss"] += 1
        else:
            counts["not_found"] += 1
    n_found = int((cases["expected_id"] != "none").sum())
    n_none = len(cases) - n_found
    rate = {
        k: counts[k] / n_found
        for k in ("hit", "ambiguous_hit", "ambiguous_miss", "not_found", "wrong_same_grid", "wrong_grid")
    }
    ambiguous_rate = (counts["ambiguous_hit"] + counts["ambiguous_miss"]) / n_found
    found_rate = rate["hit"] + rate["ambiguous_hit"]
    ms = np.array(times) * 1000
    with capsys.disabled():
        print(
            f"\n[geocode] {len(cases)} cases ({n_found} should be found, {n_none} should not), "
            f"gazetteer of {len(gazetteer)}"
        )
        print(
            f"[geocode] hit (matched, right id) {rate['hit']:.3f} | ambiguous {ambiguous_rate:.3f} "
            f"(right id among candidates {rate['ambiguous_hit']:.3f}) | found incl. candidates "
            f"{found_rate:.3f}"
        )
        print(
            f"[geocode] not found {rate['not_found']:.3f} | wrong id same grid "
            f"{rate['wrong_same_grid']:.3f} | wrong grid {rate['wrong_grid']:.3f}"
        )
        print(
            f"[geocode] must-not-find: matched {counts['none_matched']}, ambiguous "
            f"{counts['none_ambiguous']}, not found {counts['none_not_found']}"
        )
        print(
            f"[geocode] latency per query: mean {ms.mean():.3f} ms, p95 {np.percentile(ms, 95):.3f} ms, "
            f"max {ms.max():.3f} ms"
        )
    assert rate["hit"] >= 0.85
    assert found_rate >= 0.95
    assert rate["wrong_grid"] < rate["not_found"], wrong
    assert rate["wrong_grid"] + rate["wrong_same_grid"] <= 0.01, wrong
    assert counts["none_matched"] == 0
    assert np.percentile(ms, 95) < 5.0


def test_no_must_not_find_case_is_matched_above_the_threshold(gazetteer, cases):
    for text in cases.loc[cases["expected_id"] == "none", "text"]:
        result = gazetteer.geocode(text)
        assert not (result.status == "matched" and result.confidence >= MATCH_THRESHOLD), text


# --------------------------------------------------------------------- behaviour


def test_exact_match_is_certain_and_dispatchable(gazetteer):
    result = gazetteer.geocode("佛山南海大沥 沥苑路10号")
    assert result.status == "matched" and result.confidence == 1.0
    assert result.best.text == "沥苑路10号" and result.grid_code == result.best.grid_code
    assert result.point == (result.best.lon, result.best.lat)


def test_colloquial_forms_of_one_address_agree(gazetteer):
    ids = {
        gazetteer.geocode(t).best.id
        for t in (
            "嘉州花园3座",
            "嘉州花園三座",
            "嘉州花园3号楼2单元302室",
            "嘉州花园３#楼",
            "大沥 嘉州花园（3栋）",
            "嘉州花园三座二梯三零二房",
        )
    }
    assert len(ids) == 1


def test_a_missing_door_gives_its_neighbours_never_an_interpolated_point(gazetteer):
    result = gazetteer.geocode("沥苑路十二號")
    assert result.status == "ambiguous" and result.point is None and result.grid_code is None
    assert [c.text for c in result.candidates] == ["沥苑路10号", "沥苑路14号"]
    for c in result.candidates:  # every candidate is a real standard address, at its own point
        e = gazetteer.entry(c.id)
        assert (c.lon, c.lat) == (e.lon, e.lat) and c.score < MATCH_THRESHOLD
    assert "12号不是标准地址" in result.explanation
    assert len(result.candidate_grids) == 1  # both neighbours are in one grid: the team is known


def test_a_number_far_beyond_the_road_is_not_found(gazetteer):
    result = gazetteer.geocode("沥苑路9999号")
    assert result.status == "not_found" and "门牌号范围" in result.explanation


def test_another_town_is_not_found_even_with_our_road_name(gazetteer):
    result = gazetteer.geocode("佛山市南海区桂城街道沥苑路10号")
    assert result.status == "not_found" and "桂城街道" in result.explanation


def test_look_alike_characters_match_below_certainty(gazetteer):
    result = gazetteer.geocode("历苑路10号")
    assert result.status == "matched" and result.best.text == "沥苑路10号"
    assert MATCH_THRESHOLD <= result.confidence < 1.0 and "形近或同音字" in result.explanation


def test_a_real_name_beats_a_look_alike():
    entries = [
        Entry("A", "历苑路1号", "door", 113.10, 23.10, road="历苑路", number=1),
        Entry("B", "沥苑路1号", "door", 113.12, 23.12, road="沥苑路", number=1),
    ]
    gaz = Gazetteer(entries)
    assert gaz.geocode("历苑路1号").best.id == "A"
    assert gaz.geocode("沥苑路1号").best.id == "B"
    assert gaz.geocode("立苑路1号").status == "ambiguous"  # folds onto both equally


def test_two_places_matching_equally_are_ambiguous(gazetteer):
    result = gazetteer.geocode("嘉州3座")  # 嘉州花园, 嘉州新村, … all have a 3栋
    assert result.status == "ambiguous" and len(result.candidates) > 1
    assert "匹配程度相近" in result.explanation


def test_a_road_without_a_number_is_ambiguous(gazetteer):
    result = gazetteer.geocode("沥苑路")
    assert result.status == "ambiguous" and "未写门牌号" in result.explanation
    assert len(result.candidate_grids) > 1


def test_nothing_left_and_nonsense_are_not_found(gazetteer):
    assert gazetteer.geocode("广东省佛山市南海区大沥镇").status == "not_found"
    assert gazetteer.geocode("").status == "not_found"
    assert gazetteer.geocode("火星基地1号").status == "not_found"


def test_parts_that_locate_nothing_are_named_in_the_explanation(gazetteer):
    result = gazetteer.geocode("嘉州花园3座2梯302房")
    assert result.status == "matched" and "未用于定位：2单元、302室" in result.explanation
    sub = gazetteer.geocode("沥苑路10-2号")
    assert sub.best.text == "沥苑路10号" and "之2" in sub.explanation


_ADDRESS_CHARS = [
    *"零一二三四五六七八九十百两号號栋座幢楼单元室房梯第#-－ 　，。（）",
    *"路街道大沥南海佛山广东省市区镇苑花园小区嘉州沥岐AB１２0123456789",
    "\ufeff",
    "😀",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=_ADDRESS_CHARS, max_size=16))
def test_any_text_gets_an_answer_never_an_exception(gazetteer, text):
    result = gazetteer.geocode(text)
    assert result.status in ("matched", "ambiguous", "not_found")
    assert all(0.0 <= c.score <= 1.0 for c in result.candidates)
    assert (result.point is not None) == (result.status == "matched")


def test_result_serialises_to_json(gazetteer):
    data = gazetteer.geocode("嘉州花园3座2梯").to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert data["status"] == "matched" and data["parsed"]["unit"] == "2"
    assert "嘉州花园3栋" in text and data["candidate_grids"] == [data["best"]["grid_code"]]


def test_gazetteer_input_is_validated():
    with pytest.raises(FileFormatError, match="lacks column"):
        Gazetteer.from_frame(pd.DataFrame({"id": ["a"], "text": ["x"]}))
    with pytest.raises(ValueError, match="duplicate"):
        Gazetteer([Entry("a", "x", "landmark", 113.1, 23.1, landmark="x")] * 2)
    rows = pd.DataFrame(
        {
            "id": ["a"],
            "text": ["沥苑路１号"],
            "road": ["瀝苑路"],
            "number": [1.0],
            "lon": [113.1],
            "lat": [23.1],
        }
    )
    gaz = Gazetteer.from_frame(rows)  # names are normalised on the way in
    assert gaz.geocode("沥苑路1号").status == "matched"


# ----------------------------------------------------------------------- reverse


def test_reverse_finds_the_address_at_its_own_point(gazetteer):
    e = gazetteer.entry(gazetteer.geocode("嘉州花园3栋").best.id)
    hits = gazetteer.reverse(e.lon, e.lat, k=5)
    assert hits[0].id == e.id and hits[0].distance_m < 0.01
    assert [h.distance_m for h in hits] == sorted(h.distance_m for h in hits)
    assert len(hits) == 5 and all(h.grid_code for h in hits)


def test_reverse_distances_are_metres(gazetteer):
    e = gazetteer.entry(gazetteer.geocode("沥苑路10号").best.id)
    # 100 m due north: 100 / 110_750 m per degree of latitude at 23° N (WGS84)
    hit = gazetteer.reverse(e.lon, e.lat + 100 / 110_750, k=20)
    own = next(h for h in hit if h.id == e.id)
    assert own.distance_m == pytest.approx(100, abs=0.5)


def test_reverse_rejects_impossible_points(gazetteer):
    with pytest.raises(InvalidCoordinates):
        gazetteer.reverse(math.nan, 23.1)
    with pytest.raises(InvalidCoordinates):
        gazetteer.reverse(200.0, 23.1)
    assert len(gazetteer.reverse(113.14, 23.11, k=0)) == 1
