"""The gazetteer geocoder: the demo gazetteer, the 445-address test set, rates, latency, reverse.

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

Issue 9 added 150 cases (the rates above are of the first 280, printed as
``original``): road-type slips, sub-area and community prefixes consistent with the
address, prefixes that contradict it (``ask``: must come back ambiguous with the
address among the candidates, never matched), community and grid names alone, and
names that must not be found. The test prints each kind's rates; wrong grid must stay 0.
Item 8 (the dispatcher page) added 15 more: names copied from the page's community and
grid cards (``desk-copy``, measured hit 1.000) and grid numbers a community lacks.
"""

from __future__ import annotations

import json
import math
import re
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
from geo.geocode import Area
from geo.geocode import Entry
from geo.geocode import Gazetteer
from geo.geocode import GeocodeResult
from geo.geocode import areas_from_grids
from geo.lookup import GridIndex
from geo.lookup import Status
from tests.fixtures.geocode.make_cases import CASES_CSV
from tests.fixtures.geocode.make_cases import N_AREA_KINDS
from tests.fixtures.geocode.make_cases import N_DESK_KINDS
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
def grids() -> gpd.GeoDataFrame:
    return gpd.read_file(GRIDS)


@pytest.fixture(scope="module")
def areas(grids) -> list[Area]:
    """The communities and grids, as the services pass them from the active version."""
    comm = pd.read_csv(REPO_ROOT / "data" / "communities.csv", dtype=str)
    info = {r.code: {"name": r.name, "short_name": r.short_name} for r in comm.itertuples(index=False)}
    return areas_from_grids(
        grids["code"], grids["name"], grids["community_code"], grids.geometry.values, info
    )


@pytest.fixture(scope="module")
def gazetteer(areas) -> Gazetteer:
    return Gazetteer.from_csv(GAZETTEER_CSV, areas=areas)


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


def test_case_set_has_the_intended_mix(cases, gazetteer, areas):
    assert len(cases) == 280 + sum(N_AREA_KINDS.values()) + sum(N_DESK_KINDS.values())
    assert cases["case_id"].is_unique
    none = (cases["expected_id"] == "none").mean()
    assert 0.18 <= none <= 0.25
    assert set(cases["category"]) == {"found", "none", "ask"}
    found = cases[cases["expected_id"] != "none"]
    known = {e.id for e in gazetteer.entries} | {f"{a.kind}:{a.code}" for a in areas}
    assert all(i in known for i in found["expected_id"])
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
        "road-slip",
        "area-prefix",
        "sub-area-prefix",
        "area-contradicts",
        "community-name",
        "grid-name",
        "invented-community",
        "missing-grid",
        "invented-road-slip",
    ):
        assert tag in tags, tag


_OUTCOMES = ("hit", "ambiguous_hit", "ambiguous_miss", "not_found", "wrong_same_grid", "wrong_grid")
#: The kinds the whole-set test reports on their own (the first 280 cases are "original").
_KINDS = (
    "road-slip",
    "area-prefix",
    "sub-area-prefix",
    "area-contradicts",
    "community-name",
    "grid-name",
    "desk-copy",
)


def _outcome(case: pd.Series, result: GeocodeResult, gazetteer: Gazetteer, grid_index: GridIndex) -> str:
    """One of _OUTCOMES for a case with an expected answer, or none_<status> for a must-not-find one.

    An expected ``community:<code>`` / ``grid:<code>`` is hit by a match of that kind and
    code. Any other match is wrong: in the expected grid (by point-in-polygon) or not; a
    community match (no grid of its own) for anything else counts as a wrong grid.
    """
    expected = case["expected_id"]
    if expected == "none":
        return f"none_{result.status}"
    kind, _, code = expected.partition(":") if ":" in expected else ("address", "", expected)

    def right(c) -> bool:
        return (c.kind, c.code if kind != "address" else c.id) == (kind, code)

    if result.status == "matched":
        if right(result.best):
            return "hit"
        if result.best.kind == "community":
            return "wrong_grid"
        want = gazetteer.entry(code).grid_code if kind == "address" else code
        match = grid_index.locate(*result.point)
        same = kind != "community" and match.status == Status.OK and grid_index.codes[match.grid] == want
        return "wrong_same_grid" if same else "wrong_grid"
    if result.status == "ambiguous":
        return "ambiguous_hit" if any(right(c) for c in result.candidates) else "ambiguous_miss"
    return "not_found"


def _rates(outcomes: list[str]) -> dict[str, float]:
    n = sum(1 for o in outcomes if not o.startswith("none_"))
    return {k: (sum(1 for o in outcomes if o == k) / n if n else 0.0) for k in _OUTCOMES}


def test_whole_set_rates_and_latency(gazetteer, grid_index, cases, capsys):
    for text in cases["text"][:20]:  # warm caches (OpenCC, regexes) before timing
        gazetteer.geocode(text + "x")
    results, times = [], []
    for text in cases["text"]:
        started = time.perf_counter()
        results.append(gazetteer.geocode(text))
        times.append(time.perf_counter() - started)
    outcomes = [
        _outcome(case, result, gazetteer, grid_index)
        for (_, case), result in zip(cases.iterrows(), results, strict=True)
    ]
    wrong = [
        (case["text"], result.best.text, case["expected_id"])
        for (_, case), result, o in zip(cases.iterrows(), results, outcomes, strict=True)
        if o.startswith("wrong")
    ]
    asked = [  # a contradicting prefix must never get a confident answer
        case["text"]
        for (_, case), result in zip(cases.iterrows(), results, strict=True)
        if case["category"] == "ask" and result.status == "matched"
    ]
    n_found = int((cases["expected_id"] != "none").sum())
    n_none = len(cases) - n_found
    rate = _rates(outcomes)
    nones = {s: outcomes.count(f"none_{s}") for s in ("matched", "ambiguous", "not_found")}
    found_rate = rate["hit"] + rate["ambiguous_hit"]
    ms = np.array(times) * 1000
    original = cases["case_id"].str[1:].astype(int) <= 280
    groups = {"original": list(original)}
    for kind in _KINDS:
        groups[kind] = [kind in t.split(";") for t in cases["perturbations"]]
    with capsys.disabled():
        print(
            f"\n[geocode] {len(cases)} cases ({n_found} with an answer, {n_none} must not be found), "
            f"gazetteer of {len(gazetteer)}, {len(gazetteer.areas().areas)} communities and grids"
        )
        print(
            f"[geocode] all: hit {rate['hit']:.3f} | ambiguous, right candidate {rate['ambiguous_hit']:.3f} "
            f"| ambiguous, wrong {rate['ambiguous_miss']:.3f} | not found {rate['not_found']:.3f} "
            f"| wrong id same grid {rate['wrong_same_grid']:.3f} | wrong grid {rate['wrong_grid']:.3f}"
        )
        for name, mask in groups.items():
            sub = [o for o, m in zip(outcomes, mask, strict=True) if m]
            r = _rates(sub)
            print(
                f"[geocode]   {name:<17} n={len(sub):>3}  hit {r['hit']:.3f}  ambiguous+right "
                f"{r['ambiguous_hit']:.3f}  not found {r['not_found']:.3f}  wrong grid {r['wrong_grid']:.3f}"
            )
        print(
            f"[geocode] must-not-find: matched {nones['matched']}, ambiguous {nones['ambiguous']}, "
            f"not found {nones['not_found']}; contradicting prefix matched {len(asked)}"
        )
        print(
            f"[geocode] latency per query: mean {ms.mean():.3f} ms, p95 {np.percentile(ms, 95):.3f} ms, "
            f"max {ms.max():.3f} ms"
        )
    assert rate["hit"] >= 0.85
    assert found_rate >= 0.95
    assert rate["wrong_grid"] == 0.0, wrong
    assert rate["wrong_same_grid"] <= 0.01, wrong
    assert nones["matched"] == 0
    assert not asked
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


# ------------------------------------------------------------------- issue 9's misses


def test_a_slipped_road_type_word_is_found_below_certainty(gazetteer):
    for typed, meant in (
        ("建设露73号", "建设路73号"),
        ("广佛阶131号", "广佛街131号"),
        ("奇槎大到1号", "奇槎大道1号"),
    ):
        result = gazetteer.geocode(typed)
        assert result.status == "matched" and result.best.text == meant, typed
        assert MATCH_THRESHOLD <= result.confidence < 1.0 and "道路类型字" in result.explanation


def test_a_community_before_the_address_decides_or_doubts(gazetteer):
    same = gazetteer.geocode("沥北村建设路73号")  # 建设路73号 is in 沥北社区
    assert same.status == "matched" and same.best.text == "建设路73号" and "与所写一致" in same.explanation
    other = gazetteer.geocode("沥西村建设路73号")  # … not in 沥西社区: ask, never guess
    assert other.status == "ambiguous" and other.point is None
    assert "建设路73号" in [c.text for c in other.candidates] and "沥西社区" in other.explanation
    sub = gazetteer.geocode("盐步穗盐路33号")  # a sub-area (片区) narrows nothing and doubts nothing
    assert sub.status == "matched" and sub.best.text == "穗盐路33号" and "片区" in sub.explanation


def test_a_community_narrows_a_choice_to_the_one_inside_it(gazetteer):
    choice = gazetteer.geocode("嘉州3座")
    assert choice.status == "ambiguous"
    home = choice.candidates[0]
    community = gazetteer.areas().community_of(home.grid_code)
    name = gazetteer.areas().communities[community].name
    narrowed = gazetteer.geocode(f"{name}嘉州3座")
    assert narrowed.status == "matched" and narrowed.best.id == home.id


def test_a_community_or_grid_name_alone_is_a_match_of_its_kind(gazetteer, grid_index):
    for text in ("沥西社区", "沥西", "沥西村", "沥西社区居委会", "立西社区"):
        result = gazetteer.geocode(text)
        assert result.status == "matched" and result.best.kind == "community", text
        assert result.best.code == "440605125018" and result.grid_code is None
    for text in ("沥南社区第05网格", "沥南第五网格", "沥南社区5号网格"):
        result = gazetteer.geocode(text)
        assert result.status == "matched" and result.best.kind == "grid", text
        assert result.grid_code == result.best.code == "440605125002005"
        match = grid_index.locate(*result.point)  # the representative point lies in the grid
        assert grid_index.codes[match.grid] == "440605125002005"
    missing = gazetteer.geocode("沥南社区第99网格")
    assert missing.status == "not_found" and "没有第99网格" in missing.explanation
    assert gazetteer.geocode("幸福社区").status == "not_found"


def test_areas_may_be_tuples_or_a_function_read_on_every_query():
    entries = [
        Entry("A", "建设路1号", "door", 113.10, 23.10, grid_code="440605125018001", road="建设路", number=1)
    ]
    current: list[tuple] = []
    gaz = Gazetteer(entries, areas=lambda: current)
    assert gaz.geocode("沥西社区").status == "not_found"
    current = [
        ("沥西社区", "440605125018", 113.1, 23.1),
        ("沥西社区第01网格", "440605125018001", 113.1, 23.1),
    ]
    assert gaz.geocode("沥西社区").best.kind == "community"
    assert gaz.geocode("沥西社区第1网格").best.code == "440605125018001"
    assert gaz.geocode("沥西村建设路1号").status == "matched"


def test_explanations_are_in_chinese(gazetteer, cases):
    for text in [
        *cases["text"][:120],
        "沥苑路9999号",
        "佛山市南海区桂城街道沥苑路10号",
        "广东省佛山市南海区大沥镇",
    ]:
        result = gazetteer.geocode(text)
        words = [w for w in re.findall(r"[A-Za-z]{3,}", result.explanation) if w not in text.upper()]
        assert not words, (text, result.explanation)
