"""The category suggested from a caller's words (complaints.suggest) and the catalogue's keywords."""

from __future__ import annotations

from pathlib import Path

import pytest

from complaints.catalog import Catalog
from complaints.catalog import Category
from complaints.suggest import category_words
from complaints.suggest import suggest_categories
from tests.test_catalog import CATEGORIES
from tests.test_catalog import make_catalog


def cat(code: str, name_zh: str, keywords: tuple[str, ...] = ()) -> Category:
    return Category(code, name_zh, code, "event", "其他", "d", 5, keywords=keywords)


NOISE = cat("noise", "生活噪音扰民", ("噪音", "吵闹"))
BUILD = cat("construction_noise", "施工噪音", ("施工噪音", "夜间施工"))
LIGHT = cat("street_light", "路灯不亮、损坏", ("路灯",))
OTHER = cat("other", "其他诉求")
SMALL = [NOISE, BUILD, LIGHT, OTHER]


def test_the_words_of_a_category_are_its_keywords_and_the_parts_of_its_name():
    assert category_words(LIGHT) == ("路灯", "路灯不亮")  # 损坏 alone is too generic
    assert category_words(OTHER) == ()  # "other" is never suggested


def test_the_category_whose_words_cover_most_of_the_text_wins():
    assert [s.code for s in suggest_categories("楼下路灯不亮，晚上很黑", SMALL)] == ["street_light"]
    got = suggest_categories("工地夜间施工，施工噪音很大", SMALL)
    assert [s.code for s in got] == ["construction_noise", "noise"]  # the more specific first
    assert got[0].words == ("施工噪音", "夜间施工") and got[0].score == 8
    assert got[1].words == ("噪音",) and got[1].score == 2


def test_no_known_word_no_suggestion():
    assert suggest_categories("你好，我想咨询一下", SMALL) == []
    assert suggest_categories("", SMALL) == []
    assert suggest_categories("   ", SMALL) == []


def test_full_width_and_spaces_do_not_hide_a_word():
    assert [s.code for s in suggest_categories("路 灯 坏了", SMALL)] == ["street_light"]


def test_ties_go_to_the_longer_word_then_to_catalogue_order():
    a = cat("a", "甲类", ("漏水",))
    b = cat("b", "乙类", ("漏水",))
    assert [s.code for s in suggest_categories("家里漏水", [a, b])] == ["a", "b"]
    assert [s.code for s in suggest_categories("家里漏水", [b, a])] == ["b", "a"]
    assert len(suggest_categories("家里漏水", [a, b], limit=1)) == 1


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("楼下路灯不亮，晚上很黑", "street_light"),
        ("工地半夜施工噪音太大睡不着", "construction_noise"),
        ("小区门口有人乱停车，堵住出口", "illegal_parking"),
        ("河涌发臭，还有死鱼", "water_body"),
        ("井盖不见了，很危险", "manhole_cover"),
        ("闻到燃气味道，怀疑漏气", "gas_leak"),
        ("路面有个大坑洼", "road_damage"),
        ("垃圾好几天没人清运", "rubbish"),
        ("楼下餐馆油烟很大", "cooking_fumes"),
        ("下雨后积水很深", "waterlogging"),
    ],
)
def test_the_shipped_catalogue_suggests_what_a_dispatcher_would_choose(said, code):
    catalog = Catalog.load()
    found = suggest_categories(said, catalog.categories.values())
    assert found and found[0].code == code, (said, found)


def test_keywords_are_read_from_the_catalogue_and_optional(tmp_path: Path):
    plain = Catalog.load(make_catalog(tmp_path / "plain"))
    assert all(c.keywords == () for c in plain.categories.values())
    lines = CATEGORIES.strip().splitlines()
    header = lines[0] + ",keywords"
    body = [line + ",路灯|黑灯、照明" if i == 0 else line + "," for i, line in enumerate(lines[1:])]
    with_words = Catalog.load(make_catalog(tmp_path / "words", categories="\n".join([header, *body]) + "\n"))
    first = next(iter(with_words.categories.values()))
    assert first.keywords == ("路灯", "黑灯", "照明")
    shipped = Catalog.load()
    assert shipped.categories["street_light"].keywords and shipped.categories["other"].keywords == ()
    assert shipped.categories[
        "illegal_construction"
    ].requires_after_photo  # the other optional column still read
