"""PlaceStore on every backend: towns, communities, grid versions and activation, officials."""

from __future__ import annotations

import datetime

import geopandas as gpd
import pytest
import shapely

from geo.gridset import community_outlines
from geo.gridset import with_areas
from geo.officials import Assignment
from geo.officials import Role
from geo.officials import UnitLevel
from tests.conftest import COMMUNITIES
from tests.conftest import TOWN
from tests.conftest import metric_box_grid
from tests.conftest import outline_of


def _add(store, grids, *, activate=False, label="v"):
    grids = with_areas(grids)
    return store.add_version(
        grids,
        community_outlines(grids),
        label=label,
        town_code=TOWN,
        created_by="test",
        source="test.geojson",
        source_crs="EPSG:4326",
        sha256=label,
        report={"ok": True},
        repairs=["x"],
        activate=activate,
    )


def test_an_empty_store_has_nothing(store):
    assert store.versions() == [] and store.active_version_id() is None
    assert store.towns() == [] and store.town(TOWN) is None
    assert store.communities().empty and list(store.communities().columns) == [
        "code",
        "name",
        "short_name",
        "kind",
        "town_code",
    ]
    assert store.activations() == [] and store.assignments() == []
    assert store.version(1) is None and store.version_by_sha256("x") is None


def test_town_and_communities_round_trip(store):
    outline = outline_of(metric_box_grid())
    store.put_town(TOWN, "大沥镇", outline, "outline.geojson")
    store.put_town(TOWN, "大沥镇", outline, "outline-2.geojson")  # update, not duplicate
    town = store.town(TOWN)
    assert town.name == "大沥镇" and town.outline_source == "outline-2.geojson"
    assert shapely.equals_exact(town.outline, outline, tolerance=0)
    assert [t.code for t in store.towns()] == [TOWN]
    assert store.put_communities(COMMUNITIES) == 2
    store.put_communities(COMMUNITIES)
    assert store.communities()["code"].tolist() == COMMUNITIES["code"].tolist()
    assert store.communities()["kind"].tolist() == ["urban", "rural"]
    renamed = COMMUNITIES.assign(short_name=["沥苑", "沥南"])
    store.put_communities(renamed)
    assert store.communities()["short_name"].tolist() == ["沥苑", "沥南"]


def test_versions_geometry_is_stored_exactly(store):
    grids = metric_box_grid()
    version = _add(store, grids)
    back = store.grids(version)
    assert isinstance(back, gpd.GeoDataFrame) and back.crs.to_epsg() == 4326
    assert list(back.columns) == [
        "code",
        "name",
        "community_code",
        "area_m2",
        "population",
        "households",
        "geometry",
    ]
    assert back["code"].tolist() == sorted(grids["code"])
    by_code = grids.set_index("code")
    for row in back.itertuples():
        assert shapely.equals_exact(row.geometry, by_code.loc[row.code, "geometry"], tolerance=0)
    assert back["population"].tolist() == by_code.loc[back["code"], "population"].tolist()
    assert str(back["population"].dtype) == "Int64"
    assert back["name"].tolist() == by_code.loc[back["code"], "name"].tolist()
    shapes = store.community_shapes(version)
    assert sorted(shapes["code"]) == sorted(COMMUNITIES["code"])
    assert shapes.crs.to_epsg() == 4326
    assert shapes["area_m2"].sum() == pytest.approx(back["area_m2"].sum(), rel=1e-9)
    assert store.grids(version + 1).empty


def test_version_records_say_what_was_imported(store):
    version = _add(store, metric_box_grid(), label="first")
    info = store.version(version)
    assert (info.id, info.label, info.town_code, info.created_by, info.source, info.source_crs) == (
        version,
        "first",
        TOWN,
        "test",
        "test.geojson",
        "EPSG:4326",
    )
    assert (info.sha256, info.n_grids, info.report, info.repairs, info.note) == (
        "first",
        6,
        {"ok": True},
        ["x"],
        None,
    )
    assert not info.active and info.activated_at is None
    assert info.created_at.tzinfo is not None
    again = _add(store, metric_box_grid(nx=2), label="first")
    assert store.version_by_sha256("first").id == again  # the latest of the same file
    assert [v.id for v in store.versions()] == [version, again]


def test_activation_is_logged_and_at_dates_find_the_version_in_force(store):
    first = _add(store, metric_box_grid(), activate=True, label="a")
    assert store.active_version_id() == first
    between = datetime.datetime.now(datetime.UTC)
    second = _add(store, metric_box_grid(nx=2), label="b")
    assert store.active_version_id() == first  # importing does not activate
    store.activate(second, by="test")
    assert store.active_version_id() == second
    assert store.version_at(between) == first
    assert store.version_at(datetime.datetime.now(datetime.UTC)) == second
    assert store.version_at(datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)) is None
    infos = {v.id: v for v in store.versions()}
    assert infos[second].active and not infos[first].active
    assert infos[first].activated_at < infos[second].activated_at
    assert infos[first].repairs == ["x"] and infos[first].report == {"ok": True}
    store.activate(first)  # going back is allowed, and logged
    assert store.active_version_id() == first
    log = store.activations()
    assert [v for _, v in log] == [first, second, first]
    assert [when for when, _ in log] == sorted(when for when, _ in log)


def test_activating_a_missing_version_changes_nothing(store):
    first = _add(store, metric_box_grid(), activate=True)
    with pytest.raises(KeyError, match="grid version 99 does not exist"):
        store.activate(99)
    assert store.active_version_id() == first
    assert len(store.activations()) == 1


def test_failed_version_insert_leaves_nothing_behind(store):
    grids = with_areas(metric_box_grid())
    grids.loc[1, "code"] = grids.loc[0, "code"]  # primary key clash inside the transaction
    with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError differs per backend
        store.add_version(
            grids,
            community_outlines(grids),
            label="bad",
            town_code=TOWN,
            created_by=None,
            source=None,
            source_crs=None,
            sha256=None,
            report=None,
            repairs=None,
            activate=True,
        )
    assert store.versions() == [] and store.active_version_id() is None
    assert store.activations() == []


def _people(end=None, name="张三"):
    day = datetime.date(2024, 1, 1)
    return [
        Assignment(name, "13800130001", Role.GRID_WORKER, "440605125001001", UnitLevel.GRID, day, end),
        Assignment("李四", "13800130002", Role.LEADER, TOWN, UnitLevel.TOWN, day, None, "镇党委"),
    ]


def test_roster_import_is_idempotent_and_updates_in_place(store):
    first = store.import_assignments(_people(), filename="r.csv", sha256="1")
    assert (first.rows, first.added, first.updated, first.unchanged) == (2, 2, 0, 0)
    assert first.import_id is not None
    again = store.import_assignments(_people(), filename="r.csv", sha256="1")
    assert (again.added, again.updated, again.unchanged, again.import_id) == (0, 0, 2, None)
    changed = store.import_assignments(
        _people(end=datetime.date(2025, 6, 30), name="张叁"), filename="r2.csv", sha256="2"
    )
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 1)
    rows = {a.phone: a for a in store.assignments()}
    assert rows["13800130001"].end == datetime.date(2025, 6, 30)
    assert rows["13800130001"].name == "张叁"
    assert rows["13800130001"].role is Role.GRID_WORKER and rows["13800130001"].unit_level is UnitLevel.GRID
    assert rows["13800130002"].note == "镇党委"
    assert rows["13800130001"].note == ""
    assert [a.unit_code for a in store.assignments([TOWN])] == [TOWN]
    assert store.assignments([]) == []


def test_place_stamps_move_with_an_activation_and_with_a_roster_import_that_changes_something(store):
    assert store.place_stamps() == (None, None)
    first = _add(store, metric_box_grid(), activate=True, label="a")
    second = _add(store, metric_box_grid(), label="b")
    assert store.place_stamps() == (first, None)
    store.activate(second)
    assert store.place_stamps() == (second, None)
    made = store.import_assignments(_people(), filename="r.csv", sha256="1")
    assert store.place_stamps() == (second, made.import_id)
    store.import_assignments(_people(), filename="r.csv", sha256="1")  # changes nothing
    assert store.place_stamps() == (second, made.import_id)
    later = store.import_assignments(_people(name="张叁"), filename="r2.csv", sha256="2")
    assert later.import_id != made.import_id
    assert store.place_stamps() == (second, later.import_id)
