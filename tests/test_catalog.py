"""The complaint catalogue: the shipped data, validation with exact messages, routing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from complaints.catalog import CLASSES
from complaints.catalog import DEFAULT_CATALOG_DIR
from complaints.catalog import Catalog
from complaints.catalog import CatalogError
from complaints.catalog import UnknownCategory
from complaints.catalog import UnknownCommunityKind

DEPARTMENTS = """code,name_zh,name_en
urban_management,城管,Urban management
police,派出所,Police station
"""
CATEGORIES = """code,name_zh,name_en,kind,class,department,deadline_days
noise,噪音扰民,Noise,event,其他,police,3
street_light,路灯不亮,Street light out,component,公用设施,urban_management,3
"""
WHISTLE_GROUPS = """code,community_kind,name_zh,name_en
whistle_urban,urban,城市社区吹哨群,Urban whistle group
whistle_rural,rural,农村社区吹哨群,Rural whistle group
"""


def make_catalog(
    folder: Path, departments: str = DEPARTMENTS, categories: str = CATEGORIES, whistle: str = WHISTLE_GROUPS
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "departments.csv").write_text(departments, encoding="utf-8")
    (folder / "categories.csv").write_text(categories, encoding="utf-8")
    (folder / "whistle_groups.csv").write_text(whistle, encoding="utf-8")
    return folder


def load_errors(folder: Path) -> list[str]:
    with pytest.raises(CatalogError) as excinfo:
        Catalog.load(folder)
    return [str(e) for e in excinfo.value.errors]


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return Catalog.load()


# --- the shipped catalogue ----------------------------------------------------------------


def test_the_shipped_catalog_loads(shipped: Catalog) -> None:
    assert len(shipped.categories) >= 25
    assert len(shipped.departments) >= 10
    assert {g.name_zh for g in shipped.whistle_groups.values()} == {"城市社区吹哨群", "农村社区吹哨群"}


def test_the_shipped_catalog_has_the_local_problems_of_the_seed_article(shipped: Catalog) -> None:
    names = [c.name_zh for c in shipped.categories.values()]
    for word in ("用电", "人行道破损", "水体", "出租屋"):
        assert any(word in name for name in names), word


def test_the_shipped_catalog_has_what_a_foshan_town_sees(shipped: Catalog) -> None:
    names = "|".join(c.name_zh for c in shipped.categories.values())
    words = ("噪音", "违章停车", "垃圾", "消防通道", "违法建设", "路灯", "井盖", "积水内涝", "占道经营")
    for word in (*words, "油烟"):
        assert word in names, word


def test_urgent_classes_have_one_working_day(shipped: Catalog) -> None:
    urgent = [c for c in shipped.categories.values() if c.gb_class == "突发事件"]
    assert urgent
    assert {c.deadline_days for c in urgent} == {1}


def test_every_shipped_class_is_a_gbt_30428_2_class(shipped: Catalog) -> None:
    for category in shipped.categories.values():
        assert category.gb_class in CLASSES[category.kind]


# --- routing ------------------------------------------------------------------------------


def test_route_urban_and_rural(shipped: Catalog) -> None:
    urban = shipped.route("illegal_parking", "urban")
    rural = shipped.route("illegal_parking", "rural")
    assert (urban.department.code, urban.deadline_days, urban.whistle_group.code) == (
        "traffic_police",
        2,
        "whistle_urban",
    )
    assert (rural.department.code, rural.deadline_days, rural.whistle_group.code) == (
        "traffic_police",
        2,
        "whistle_rural",
    )
    assert rural.whistle_group.name_zh == "农村社区吹哨群"
    assert urban.category.name_zh == "违章停车"


def test_route_an_emergency(shipped: Catalog) -> None:
    routing = shipped.route("waterlogging", "urban")
    assert (routing.department.name_zh, routing.deadline_days) == ("水务（河涌、排水、供水）", 1)


def test_route_on_a_small_catalog(tmp_path: Path) -> None:
    catalog = Catalog.load(make_catalog(tmp_path))
    routing = catalog.route("street_light", "rural")
    assert routing.department.code == "urban_management"
    assert routing.deadline_days == 3
    assert routing.whistle_group.code == "whistle_rural"


def test_route_unknown_category(tmp_path: Path) -> None:
    catalog = Catalog.load(make_catalog(tmp_path))
    with pytest.raises(UnknownCategory) as excinfo:
        catalog.route("graffiti", "urban")
    assert str(excinfo.value) == "unknown category 'graffiti'; known: noise, street_light"


def test_route_unknown_community_kind(shipped: Catalog) -> None:
    with pytest.raises(UnknownCommunityKind) as excinfo:
        shipped.route("noise", "suburban")
    assert str(excinfo.value) == "community kind must be urban or rural, not 'suburban'"


# --- validation ---------------------------------------------------------------------------


def test_unknown_department_names_the_row_and_field(tmp_path: Path) -> None:
    categories = CATEGORIES + "fire_lane,消防通道堵塞,Blocked fire lane,event,街面秩序,fire,1\n"
    folder = make_catalog(tmp_path, categories=categories)
    with pytest.raises(CatalogError) as excinfo:
        Catalog.load(folder)
    assert str(excinfo.value) == (
        f"catalog {folder}: 1 problem(s), nothing loaded\n"
        "  - categories.csv row 4, field 'department': unknown department 'fire' (not in departments.csv)"
    )
    assert excinfo.value.code == "invalid_catalog"


def test_duplicate_codes_and_names(tmp_path: Path) -> None:
    departments = DEPARTMENTS + "police,公安,Police\n"
    categories = CATEGORIES + "noise,施工噪音,Construction noise,event,施工管理,police,3\n"
    categories += "noise2,噪音扰民,Noise again,event,其他,police,3\n"
    assert load_errors(make_catalog(tmp_path, departments=departments, categories=categories)) == [
        "departments.csv row 4, field 'code': duplicate code 'police' (first in row 3)",
        "categories.csv row 4, field 'code': duplicate code 'noise' (first in row 2)",
        "categories.csv row 5, field 'name_zh': duplicate name_zh '噪音扰民' (first in row 2)",
    ]


@pytest.mark.parametrize("days", ["0", "-1", "61", "2.5", "three", ""])
def test_bad_deadlines(tmp_path: Path, days: str) -> None:
    categories = CATEGORIES + f"rubbish,垃圾,Rubbish,event,市容环境,urban_management,{days}\n"
    assert load_errors(make_catalog(tmp_path, categories=categories)) == [
        f"categories.csv row 4, field 'deadline_days': {days!r} "
        "is not a whole number of working days from 1 to 60"
    ]


def test_bad_kind_class_code_and_names(tmp_path: Path) -> None:
    categories = (
        CATEGORIES
        + "rubbish,垃圾,Rubbish,incident,市容环境,urban_management,2\n"
        + "lamp,路灯2,Lamp,component,街面秩序,urban_management,2\n"
        + "Bad Code,坏,,event,其他,police,2\n"
    )
    assert load_errors(make_catalog(tmp_path, categories=categories)) == [
        "categories.csv row 4, field 'kind': 'incident' is neither event (事件) nor component (部件)",
        "categories.csv row 5, field 'class': '街面秩序' is not a GB/T 30428.2 component class "
        "(公用设施, 道路交通, 市容环境, 园林绿化, 其他设施)",
        "categories.csv row 6, field 'code': 'Bad Code' is not a code (lower-case letters, digits and _)",
        "categories.csv row 6, field 'name_en': empty",
    ]


def test_whistle_groups_need_exactly_one_per_community_kind(tmp_path: Path) -> None:
    whistle = (
        "code,community_kind,name_zh,name_en\n"
        "whistle_urban,urban,城市社区吹哨群,Urban\n"
        "whistle_urban_2,urban,另一个群,Urban again\n"
        "whistle_town,town,全镇群,Town\n"
    )
    assert load_errors(make_catalog(tmp_path, whistle=whistle)) == [
        "whistle_groups.csv row 3, field 'community_kind': a second group for urban (first in row 2)",
        "whistle_groups.csv row 4, field 'community_kind': "
        "'town' is neither urban (城市社区) nor rural (农村社区)",
        "whistle_groups.csv: no whistle group for rural communities",
    ]


def test_missing_file_and_missing_column_are_reported_together(tmp_path: Path) -> None:
    folder = make_catalog(tmp_path, categories="code,name_zh,name_en,kind,class,deadline_days\n")
    (folder / "whistle_groups.csv").unlink()
    assert load_errors(folder) == [
        "categories.csv: missing column(s) department "
        "(found: code, name_zh, name_en, kind, class, deadline_days)",
        f"whistle_groups.csv: file not found in {folder}",
    ]


def test_an_empty_category_file_is_refused(tmp_path: Path) -> None:
    folder = make_catalog(tmp_path, categories="code,name_zh,name_en,kind,class,department,deadline_days\n")
    assert load_errors(folder) == ["categories.csv: no categories"]


def test_a_gbk_file_is_refused_with_advice(tmp_path: Path) -> None:
    folder = make_catalog(tmp_path)
    (folder / "departments.csv").write_bytes(DEPARTMENTS.encode("gbk"))
    errors = load_errors(folder)
    assert errors[0] == "departments.csv: not UTF-8 text; save it from Excel as 'CSV UTF-8'"


def test_excel_bom_upper_case_headers_and_note_columns_are_accepted(tmp_path: Path) -> None:
    folder = make_catalog(tmp_path)
    text = (
        "\ufeffCode,Name_ZH,Name_EN,备注\n"
        "urban_management,城管,Urban management,镇执法办\n"
        "police,派出所,Police,\n"
    )
    (folder / "departments.csv").write_text(text, encoding="utf-8")
    catalog = Catalog.load(folder)
    assert catalog.departments["urban_management"].name_zh == "城管"


def test_an_edited_copy_of_the_shipped_catalog_is_checked_the_same_way(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, folder)
    departments = (folder / "departments.csv").read_text(encoding="utf-8")
    kept = [line for line in departments.splitlines() if not line.startswith("fire_rescue,")]
    (folder / "departments.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    errors = load_errors(folder)
    assert errors
    assert all("unknown department 'fire_rescue' (not in departments.csv)" in e for e in errors)


def test_an_unquoted_comma_in_a_name_is_refused_not_cut(tmp_path: Path) -> None:
    """A comma inside an unquoted cell made the shipped English name of 水务 end at
    'rivers and canals' (issue 9, item 10); now the row is named and nothing is loaded."""
    departments = DEPARTMENTS + "water,水务,Water affairs (rivers, drainage)\n"
    errors = load_errors(make_catalog(tmp_path, departments=departments))
    assert (
        errors[0]
        == "departments.csv row 4: 4 cells for 3 columns; put a cell that contains a comma in double quotes"
    )
    quoted = DEPARTMENTS + 'water,水务,"Water affairs (rivers, drainage)"\n'
    catalog = Catalog.load(make_catalog(tmp_path / "quoted", departments=quoted))
    assert catalog.departments["water"].name_en == "Water affairs (rivers, drainage)"


def test_the_shipped_english_names_are_whole(shipped: Catalog) -> None:
    assert (
        shipped.departments["water_affairs"].name_en
        == "Water affairs (rivers and canals, drainage, water supply)"
    )
    for item in (*shipped.departments.values(), *shipped.categories.values()):
        assert item.name_en and item.name_en.count("(") == item.name_en.count(")"), item
