"""Address normalisation and parsing: each rule, the names it must leave alone, the grammar."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo.address import COMPOUND_SUFFIXES
from geo.address import fold
from geo.address import name_stem
from geo.address import normalize
from geo.address import parse
from geo.address import road_class
from geo.address import road_parts
from geo.address import road_slip
from geo.address import to_traditional

CASES = Path(__file__).parent / "fixtures" / "geocode" / "cases.csv"


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("沥苑路１２号", "沥苑路12号"),  # full-width digits
        ("嘉州花园ａ座", "嘉州花园A栋"),  # full-width, lower-case letter
        ("沥苑路\u300012号", "沥苑路12号"),  # ideographic space
    ],
)
def test_full_width_becomes_half_width(raw, norm):
    assert normalize(raw) == norm


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("嘉州花園3棟", "嘉州花园3栋"),
        ("沥苑路12號", "沥苑路12号"),
        ("南海區大瀝鎮瀝苑路12號", "沥苑路12号"),
    ],
)
def test_traditional_becomes_simplified(raw, norm):
    assert normalize(raw) == norm


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("沥苑路十二号", "沥苑路12号"),
        ("沥苑路十号", "沥苑路10号"),
        ("沥苑路一百零八号", "沥苑路108号"),
        ("沥苑路一一零号", "沥苑路110号"),  # read digit by digit
        ("嘉州花园三栋", "嘉州花园3栋"),
        ("嘉州花园两栋", "嘉州花园2栋"),
        ("嘉州花园第三栋", "嘉州花园3栋"),
        ("嘉州花园3栋二单元", "嘉州花园3栋2单元"),
        ("嘉州花园3栋三零二室", "嘉州花园3栋302室"),
        ("嘉州花园3栋幺零二房", "嘉州花园3栋102室"),
        ("沥苑路二十八号楼", "沥苑路28栋"),
    ],
)
def test_chinese_numerals_before_a_numbering_word_become_digits(raw, norm):
    assert normalize(raw) == norm


@pytest.mark.parametrize(
    "name",
    [
        "六村社区党群服务中心",
        "三眼桥",
        "十字路口",
        "五一路",
        "第一中学",
        "七星岗",
        "九曲巷",
        "三元里",
    ],
)
def test_numerals_inside_names_are_left_alone(name):
    assert normalize(name) == name


def test_numerals_inside_names_survive_next_to_converted_numbers():
    assert normalize("五一路十二号") == "五一路12号"
    assert normalize("六村社区三号楼") == "六村社区3栋"
    assert parse("三眼桥二号").text == "三眼桥2号"


@pytest.mark.parametrize(
    "prefix",
    [
        "广东省佛山市南海区大沥镇",
        "广东佛山南海大沥",
        "佛山市南海区大沥镇",
        "佛山南海大沥",
        "南海区大沥镇",
        "南海大沥",
        "大沥镇",
        "大沥",
        "佛山市大沥镇",
        "广东省佛山市南海区大沥街道",
        "佛山 南海 大沥 ",
        "粤佛山",
    ],
)
def test_town_prefix_is_stripped_in_any_form(prefix):
    p = parse(prefix + "沥苑路12号")
    assert p.text == "沥苑路12号"
    assert p.prefix  # what was removed is kept for the record


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("南海区南海大道北88号", "南海大道北88号"),  # 南海 here starts a road name
        ("佛山大道中3号", "佛山大道中3号"),
        ("大沥花园3栋", "大沥花园3栋"),  # a compound named after the town
    ],
)
def test_a_bare_town_name_that_starts_a_road_or_compound_is_kept(raw, norm):
    assert normalize(raw) == norm


def test_only_the_town_name_leaves_nothing():
    assert normalize("广东省佛山市南海区大沥镇") == ""
    assert normalize("  ") == ""


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("嘉州花园3座", "嘉州花园3栋"),
        ("嘉州花园3幢", "嘉州花园3栋"),
        ("嘉州花园3号楼", "嘉州花园3栋"),
        ("嘉州花园3栋楼", "嘉州花园3栋"),
        ("嘉州花园3#楼", "嘉州花园3栋"),
        ("嘉州花园3（#楼", "嘉州花园3栋"),  # punctuation between the number and its #
        ("嘉州花园3座2梯", "嘉州花园3栋2单元"),  # Cantonese 梯 = stairwell = 单元
        ("嘉州花园3栋2单元302房", "嘉州花园3栋2单元302室"),
        ("嘉州花园3-302", "嘉州花园3栋302室"),
        ("沥苑衖5号", "沥苑巷5号"),
        ("沥苑路12", "沥苑路12号"),  # 号 left out
        ("沥苑路12#", "沥苑路12号"),
    ],
)
def test_building_unit_room_and_road_words_are_unified(raw, norm):
    assert normalize(raw) == norm


@pytest.mark.parametrize("raw", ["沥苑路12-3号", "沥苑路12之3号", "沥苑路１２－３號", "沥苑路12 - 3号"])
def test_a_sub_door_is_located_at_its_main_door_not_read_as_another_number(raw):
    p = parse(raw)
    assert (p.road, p.number, p.dropped) == ("沥苑路", "12", ("之3",))  # never 沥苑路123号


def test_punctuation_and_whitespace_are_removed():
    assert normalize(" 沥苑 路，12号。") == "沥苑路12号"
    assert normalize("嘉州花园（3座）") == "嘉州花园3栋"


def test_vague_trailing_words_are_dropped_and_recorded():
    p = parse("沥苑小学门口附近")
    assert p.text == "沥苑小学" and p.dropped == ("门口附近",)
    assert normalize("沥苑路12号旁边") == "沥苑路12号"


def test_look_alikes_are_folded_for_comparison_only():
    assert normalize("历苑路12号") == "历苑路12号"  # a real 历 stays a 历
    assert fold("历苑路") == fold("沥苑路") == fold("立苑路")
    assert fold("歧阳路") == fold("岐阳路") == fold("崎阳路")
    assert fold("王岐") == fold("黄岐")


def test_road_class_and_compound_stem():
    assert road_class("沥苑大街") == ("沥苑", "街")
    assert road_class("奇槎大路") == ("奇槎", "大道")
    assert road_class("沥苑路") == ("沥苑", "路")
    assert name_stem("嘉州花园") == "嘉州"
    assert name_stem("沥苑小学") == "沥苑小学"
    assert all(name_stem(s) == s for s in COMPOUND_SUFFIXES)  # a bare ending has no stem to strip


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("沥苑路12号", {"road": "沥苑路", "number": "12"}),
        ("南海大道北88号", {"road": "南海大道北", "number": "88"}),
        ("嘉州花园", {"compound": "嘉州花园"}),
        ("嘉州花园3座", {"compound": "嘉州花园", "building": "3"}),
        ("嘉州花園三座二梯三零二房", {"compound": "嘉州花园", "building": "3", "unit": "2", "room": "302"}),
        ("嘉州3座", {"compound": "嘉州", "building": "3"}),  # no generic ending, but a building: a compound
        (
            "沥苑路12号嘉州花园3栋",
            {"road": "沥苑路", "number": "12", "compound": "嘉州花园", "building": "3"},
        ),
        ("沥苑路12号3楼", {"road": "沥苑路", "number": "12", "floor": "3"}),
        ("沥苑路二十八号楼", {"road": "沥苑路", "number": "28"}),  # a road's 号楼 is its door number
        ("沥苑路", {"road": "沥苑路"}),
        ("沥苑小学", {"landmark": "沥苑小学"}),
        ("六村社区党群服务中心", {"landmark": "六村社区党群服务中心"}),
    ],
)
def test_parse_reads_the_components(raw, parts):
    p = parse(raw)
    fields = ("road", "number", "compound", "building", "unit", "room", "floor", "landmark")
    assert {k: getattr(p, k) for k in fields if getattr(p, k)} == parts


@pytest.mark.parametrize(
    ("raw", "foreign"),
    [
        ("佛山市南海区桂城街道建设路12号", "桂城街道"),
        ("南海区里水镇建设路12号", "里水镇"),
        ("广州市荔湾区芳村大道1号", "广州市"),
        ("顺德区大良街道建设路1号", "顺德区"),
        ("湖南省长沙市五一路1号", "湖南省"),
        ("北京市朝阳区阜通东大街6号", "北京市"),
    ],
)
def test_another_town_or_city_is_recognised(raw, foreign):
    assert parse(raw).foreign == foreign


@pytest.mark.parametrize(
    "raw",
    [
        "九江路12号",
        "大镇社区党群服务中心",
        "沥苑路12号",
        "广佛路3号",
        "东莞花园2栋",
    ],
)
def test_our_own_names_are_not_mistaken_for_another_town(raw):
    assert parse(raw).foreign is None


def test_to_traditional_round_trips():
    assert normalize(to_traditional("嘉州花园3栋")) == "嘉州花园3栋"


def test_normalisation_is_idempotent_on_the_whole_test_set():
    texts = pd.read_csv(CASES, dtype=str, keep_default_na=False)["text"]
    for t in texts:
        once = normalize(t)
        assert normalize(once) == once, t


def test_describe_lists_what_was_read():
    assert parse("嘉州花园3座").describe() == "compound=嘉州花园, building=3"
    assert parse("").describe() == "nothing recognisable"


@pytest.mark.parametrize(
    ("raw", "road", "parts"),
    [
        ("建设露73号", "建设露", ("建设", "露", "路")),
        ("广佛阶131号", "广佛阶", ("广佛", "阶", "街")),
        ("奇槎大到1号", "奇槎大到", ("奇槎", "大到", "大道")),
        ("沥苑鹭十二號", "沥苑鹭", ("沥苑", "鹭", "路")),
    ],
)
def test_a_slipped_road_type_word_is_read_as_a_road(raw, road, parts):
    p = parse(raw)
    assert (p.road, p.landmark) == (road, None) and p.number is not None
    assert road_parts(p.road) == parts
    assert road_slip(parts[1]) in ("路", "街", "大道")


def test_slips_are_not_replaced_in_the_text_and_real_type_words_are_not_slips():
    assert normalize("建设露73号") == "建设露73号"  # the geocoder scores the slip; it is not hidden
    assert parse("建设露").road is None  # without a door number it stays a name
    assert parse("建设露73号2栋").building == "2"
    for word in ("路", "街", "大道", "巷", "道", "大街"):
        assert road_slip(word) is None
