"""Importing real grid files, in every format and CRS a GIS officer hands over, into a fresh store.

Each file is written to tmp_path from one WGS84 grid set (``tests.files_grids``): a
GBK shapefile with Chinese field names and numeric codes in UTM 49N (loose, zipped, and
without its .prj), a GeoPackage in CGCS2000, GeoJSON in GCJ-02 and BD-09. The import
must bring each back to the source geometry within 0.5 m, with its attributes and the
source CRS recorded. Bad files are refused with their exact error, and leave the versions
and the active version exactly as they were.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.errors import FileFormatError
from geo.errors import MissingCRS
from geo.validate import IssueKind
from services.errors import Refused as ServiceError
from services.grids import GridService
from services.grids import ImportRefused
from store import open_store
from tests.conftest import COMM_A
from tests.conftest import COMMUNITIES
from tests.conftest import TOWN
from tests.files_grids import A1
from tests.files_grids import A2
from tests.files_grids import A4
from tests.files_grids import B1
from tests.files_grids import B2
from tests.files_grids import CHINESE_COLUMNS
from tests.files_grids import cell
from tests.files_grids import grid_frame
from tests.files_grids import hausdorff_m
from tests.files_grids import shapefile_parts
from tests.files_grids import shifted
from tests.files_grids import standard_grids
from tests.files_grids import standard_outline
from tests.files_grids import standard_shapes
from tests.files_grids import to_local
from tests.files_grids import write_geojson
from tests.files_grids import write_gpkg
from tests.files_grids import write_shapefile
from tests.files_grids import write_zip

ATTRIBUTES = ["code", "name", "community_code", "population", "households"]
#: A bow-tie over cell A1 (local metres)
BOW_TIE = shapely.Polygon([(0, 500), (500, 1000), (500, 500), (0, 1000)])


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'redgrid.db'}")
    store.put_town(TOWN, "大沥镇", standard_outline(), "test outline: the standard 3 × 2 cells")
    store.put_communities(COMMUNITIES)
    yield store
    store.dispose()


@pytest.fixture
def service(store) -> GridService:
    return GridService(store, use_lut=False)


@pytest.fixture
def files(tmp_path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


def state(store) -> tuple:
    """Everything a refused import must leave as it was."""
    return (
        [(v.id, v.label, v.sha256, v.n_grids, v.active) for v in store.versions()],
        store.active_version_id(),
    )


def assert_stored_as_source(store, version_id: int, source: gpd.GeoDataFrame) -> None:
    stored = store.grids(version_id)
    expected = source.sort_values("code").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        stored[ATTRIBUTES].astype(object), expected[ATTRIBUTES].astype(object), check_dtype=False
    )
    assert stored["code"].str.fullmatch(r"\d{15}").all()  # not 4.40605125001001e+14, not "…001.0"
    assert stored["area_m2"].to_numpy() == pytest.approx(250_000, abs=1.0)
    distance = hausdorff_m(stored.geometry.values, expected.geometry.values)
    assert distance.max() < 0.5, distance


# --- good files in every format -----------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    write: Callable[[Path], Path]
    crs: str | None
    label: str  # the source CRS the version must record


def _shp(folder: Path) -> Path:
    return write_shapefile(standard_grids(), folder / "大沥网格_2024.shp")


def _shp_float_codes(folder: Path) -> Path:
    return write_shapefile(standard_grids(), folder / "grids_float.shp", codes_as="float64")


def _shp_zip(folder: Path) -> Path:
    shp = write_shapefile(standard_grids(), folder / "大沥网格_2024.shp")
    return write_zip(folder / "大沥网格_2024.zip", shapefile_parts(shp), folder="导出/")


def _shp_no_prj(folder: Path) -> Path:
    return write_shapefile(standard_grids(), folder / "grids_noprj.shp", prj=False)


def _gpkg(folder: Path) -> Path:
    return write_gpkg(standard_grids(), folder / "grids_cgcs2000.gpkg")


def _gcj02(folder: Path) -> Path:
    return write_geojson(shifted(standard_grids(), "gcj02"), folder / "grids_amap.geojson")


def _bd09(folder: Path) -> Path:
    return write_geojson(shifted(standard_grids(), "bd09"), folder / "grids_baidu.json")


def _wgs84(folder: Path) -> Path:
    return write_geojson(standard_grids(), folder / "grids_wgs84.geojson")


CASES = {
    "shapefile-utm49n": Case(_shp, None, "EPSG:32649"),
    "shapefile-float-codes": Case(_shp_float_codes, None, "EPSG:32649"),
    "shapefile-utm49n-zip": Case(_shp_zip, None, "EPSG:32649"),
    "shapefile-no-prj-crs-named": Case(_shp_no_prj, "EPSG:32649", "EPSG:32649"),
    "gpkg-cgcs2000": Case(_gpkg, None, "EPSG:4490"),
    "gpkg-cgcs2000-named-too": Case(_gpkg, "cgcs2000", "EPSG:4490"),
    "geojson-gcj02": Case(_gcj02, "gcj02", "GCJ-02"),
    "geojson-bd09": Case(_bd09, "bd09", "BD-09"),
    "geojson-wgs84": Case(_wgs84, None, "EPSG:4326"),
}


@pytest.mark.parametrize("activate", [True, False], ids=["activate", "keep-inactive"])
@pytest.mark.parametrize("name", list(CASES))
def test_a_file_in_any_format_and_crs_is_stored_as_its_wgs84_source(name, activate, service, store, files):
    case = CASES[name]
    path = case.write(files)
    outcome = service.import_file(path, crs=case.crs, activate=activate, label="2024版", by="张网格员")
    assert outcome.created and outcome.activated == activate
    assert outcome.source_crs == case.label
    assert outcome.report.ok and outcome.report.issues == [] and outcome.repairs == []

    [version] = store.versions()
    assert version.id == outcome.version_id
    assert (version.label, version.source, version.source_crs) == ("2024版", path.name, case.label)
    assert (version.town_code, version.n_grids, version.created_by) == (TOWN, 6, "张网格员")
    assert version.active == activate
    assert store.active_version_id() == (version.id if activate else None)
    assert version.report["ok"] and version.report["stats"]["grids"] == 6
    assert_stored_as_source(store, version.id, standard_grids())


def test_the_shapefile_really_holds_numeric_codes_and_chinese_gbk_fields(files):
    # guards the fixture: what makes the shapefile cases worth testing
    info = pyogrio.read_info(_shp(files))
    fields = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert fields == {
        "网格编码": "int64",
        "网格名称": "object",
        "社区编码": "int64",
        "人口": "int64",
        "户数": "int64",
    }
    assert info["crs"] == "EPSG:32649"
    assert (files / "大沥网格_2024.cpg").read_text().upper() in ("GBK", "CP936", "936")
    assert pyogrio.read_info(_shp_float_codes(files))["dtypes"][0] == "float64"


def test_a_shapefile_with_english_columns_keeps_its_truncated_community_column(live, service, store, files):
    # geopandas/GDAL cut "community_code" to "community_" in a DBF; the column must still be read,
    # or a grid filed under the wrong community would pass as the community of its code
    frame = standard_grids()
    frame.loc[1, "community_code"] = "440605125002"  # A2 filed under community B
    path = files / "english.shp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Column names longer than 10 characters will be truncated"
        frame.to_crs(32649).to_file(path, engine="pyogrio")
    assert "community_" in pyogrio.read_info(path)["fields"]
    before = state(store)
    with pytest.raises(ImportRefused) as caught:
        service.import_file(path)
    [issue] = caught.value.report.issues
    assert (issue.kind, issue.codes, issue.rows) == (IssueKind.CODE_COMMUNITY_MISMATCH, (A2,), (2,))
    assert state(store) == before


def test_the_label_defaults_to_the_file_name(service, store, files):
    outcome = service.import_file(_shp_zip(files))
    assert store.version(outcome.version_id).label == "大沥网格_2024"


# --- bad files: refused with their exact error, nothing changed ---------------------------------


@pytest.fixture
def live(service, store, files) -> int:
    """A store with one good version, active: a bad import must leave it so."""
    outcome = service.import_file(_wgs84(files), activate=True)
    assert store.active_version_id() == outcome.version_id
    return outcome.version_id


def _bad_geojson(
    shapes: dict,
    name: str,
    *,
    communities: dict | None = None,
    edit: Callable[[gpd.GeoDataFrame], None] | None = None,
) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        frame = grid_frame(shapes, communities=communities)
        if edit:
            edit(frame)
        return write_geojson(frame, folder / name)

    return write


def _no_prj(folder: Path) -> Path:
    return write_shapefile(standard_grids(), folder / "grids.shp", prj=False)


def _utm(folder: Path) -> Path:
    return write_shapefile(standard_grids(), folder / "grids.shp")


def _points(folder: Path) -> Path:
    frame = standard_grids()
    frame.loc[2, "geometry"] = shapely.centroid(frame.geometry.iloc[2])
    return write_geojson(frame, folder / "mixed.geojson")


def _all_points(folder: Path) -> Path:
    frame = standard_grids()
    frame["geometry"] = shapely.centroid(frame.geometry.values)
    return write_geojson(frame, folder / "points.geojson")


def _lines(folder: Path) -> Path:
    frame = standard_grids()
    frame["geometry"] = shapely.boundary(frame.geometry.values)
    return write_geojson(frame, folder / "lines.geojson")


def _empty(folder: Path) -> Path:
    path = folder / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    return path


def _two_shapefiles_zip(folder: Path) -> Path:
    a = write_shapefile(standard_grids(), folder / "grids_a.shp")
    b = write_shapefile(standard_grids(), folder / "grids_b.shp")
    return write_zip(folder / "two.zip", shapefile_parts(a) + shapefile_parts(b))


def _zip_without_data(folder: Path) -> Path:
    readme = folder / "说明.txt"
    readme.write_text("网格数据见附件", encoding="utf-8")
    return write_zip(folder / "nodata.zip", [readme])


def _two_layers(folder: Path) -> Path:
    path = write_gpkg(standard_grids(), folder / "two.gpkg", layer="grids_2023")
    return write_gpkg(standard_grids(), path, layer="grids_2024")


def _no_code(folder: Path) -> Path:
    return write_geojson(standard_grids().drop(columns="code"), folder / "nocode.geojson")


def _utf8_chinese_fields(folder: Path) -> Path:
    # GDAL cuts DBF field names at 10 bytes: 网格编码 is 12 bytes in UTF-8, so it is cut mid-character
    path = folder / "utf8.shp"
    frame = standard_grids().to_crs(32649).rename(columns=CHINESE_COLUMNS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GDAL says it laundered the names
        frame.to_file(path, engine="pyogrio")
    return path


def _kml(folder: Path) -> Path:
    path = folder / "grids.kml"
    path.write_text("<kml/>", encoding="utf-8")
    return path


def _dwg(folder: Path) -> Path:
    path = folder / "grids.dwg"
    path.write_bytes(b"AC1032")
    return path


def _other_town(folder: Path) -> Path:
    frame = standard_grids()
    frame["code"] = "440605126" + frame["code"].str[9:]
    frame["community_code"] = frame["code"].str[:12]
    return write_geojson(frame, folder / "other_town.geojson")


def _two_towns(folder: Path) -> Path:
    frame = standard_grids()
    frame.loc[5, ["code", "community_code"]] = ["440605126002002", "440605126002"]
    return write_geojson(frame, folder / "two_towns.geojson")


# The service passes the town's centre, so the advice names the zone that fits the town
MISSING_CRS = (
    "grids.shp: the file declares no CRS (a shapefile without .prj?); coordinates look like "
    "WGS 84 / UTM zone 49N (they land 0.0 km from the town centre) or CGCS2000 3-degree "
    "Gauss-Krüger CM 111E (1.0 km, --crs EPSG:4546): the town alone cannot tell these apart, "
    "check the survey's papers: pass --crs EPSG:32649"
)
REFUSED_FILES = {
    "no-prj-no-crs": (_no_prj, {}, MissingCRS, "missing_crs", MISSING_CRS),
    "crs-conflict": (
        _utm,
        {"crs": "EPSG:4490"},
        MissingCRS,
        "crs_conflict",
        "grids.shp: the file declares EPSG:32649 but EPSG:4490 was named; drop --crs to "
        "use the file's own CRS, or fix the file",
    ),
    "gcj02-over-projected": (
        _utm,
        {"crs": "gcj02"},
        MissingCRS,
        "crs_conflict",
        "grids.shp: the file declares EPSG:32649 but GCJ-02 was named; drop --crs "
        "to use the file's own CRS, or fix the file",
    ),
    "gcj02-over-cgcs2000": (
        _gpkg,
        {"crs": "gcj02"},
        MissingCRS,
        "crs_conflict",
        "grids_cgcs2000.gpkg: the file declares EPSG:4490 but GCJ-02 was named; "
        "drop --crs to use the file's own CRS, or fix the file",
    ),
    "one-point": (
        _points,
        {},
        FileFormatError,
        "file_format",
        "mixed.geojson: grids must be polygons; feature 3 is a Point",
    ),
    "all-points": (
        _all_points,
        {},
        FileFormatError,
        "file_format",
        "points.geojson: grids must be polygons; feature 1 is a Point, feature 2 is a Point, "
        "feature 3 is a Point, feature 4 is a Point, feature 5 is a Point (and 1 more)",
    ),
    "lines": (
        _lines,
        {},
        FileFormatError,
        "file_format",
        "lines.geojson: grids must be polygons; feature 1 is a LineString, feature 2 is a "
        "LineString, feature 3 is a LineString, feature 4 is a LineString, feature 5 is a "
        "LineString (and 1 more)",
    ),
    "empty": (_empty, {}, FileFormatError, "file_format", "empty.geojson: the file holds no features"),
    "zip-two-shapefiles": (
        _two_shapefiles_zip,
        {"crs": None},
        FileFormatError,
        "file_format",
        "two.zip: the archive holds several datasets (grids_a.shp, grids_b.shp); unpack it and import one",
    ),
    "zip-no-dataset": (
        _zip_without_data,
        {},
        FileFormatError,
        "file_format",
        "nodata.zip: the archive holds no .shp, .gpkg or .geojson file",
    ),
    "gpkg-two-layers": (
        _two_layers,
        {},
        FileFormatError,
        "file_format",
        "two.gpkg: holds 2 layers (grids_2023, grids_2024); choose one with --layer",
    ),
    "gpkg-unknown-layer": (_two_layers, {"layer": "grids_2025"}, FileFormatError, "file_format", None),
    "no-code-column": (
        _no_code,
        {},
        FileFormatError,
        "file_format",
        "nocode.geojson: no grid code column; expected one of code, grid_code, 网格编码, "
        "网格代码, wgbm, gridcode, 编码, 网格号, 網格編碼, 網格代碼 (columns present: name, "
        "community_code, population, households)",
    ),
    "utf8-field-names-cut": (
        _utf8_chinese_fields,
        {},
        FileFormatError,
        "file_format",
        "utf8.shp: cannot read: text that is not valid in the file's encoding "
        "('utf-8' codec can't decode byte 0xe7 in position 9: unexpected end of "
        "data); save it again as GBK with a .cpg file, or with field names of at "
        "most 10 bytes",
    ),
    "kml-without-placemarks": (
        _kml,
        {},
        FileFormatError,
        "file_format",
        "grids.kml: the file holds no features",
    ),
    "unsupported-type": (
        _dwg,
        {},
        FileFormatError,
        "file_format",
        "grids.dwg: unsupported file type '.dwg'; expected one of .geojson, .json, "
        ".gpkg, .shp, .zip, .kml, .kmz, .dxf",
    ),
    "unregistered-town": (
        _other_town,
        {},
        ServiceError,
        "unknown_town",
        "town 440605126 is not registered; add it with `redgrid town set CODE NAME --outline FILE`",
    ),
    "two-towns": (
        _two_towns,
        {},
        ServiceError,
        "ambiguous_town",
        "grid codes span 2 towns (440605125, 440605126); import one town at a time or name it with --town",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED_FILES))
def test_a_bad_file_is_refused_with_its_exact_error_and_changes_nothing(name, live, service, store, files):
    write, kwargs, error, code, message = REFUSED_FILES[name]
    path = write(files)
    before = state(store)
    with pytest.raises(error) as caught:
        service.import_file(path, activate=True, **kwargs)
    assert caught.value.code == code
    if message is not None:
        assert str(caught.value) == message
    else:
        assert str(caught.value).startswith(f"{path.name}: cannot read: ")
    assert state(store) == before
    assert store.active_version_id() == live and len(store.versions()) == 1


def _set(column, value, row):
    def edit(frame):
        frame.loc[row, column] = value

    return edit


def _dup(frame):
    frame.loc[5, ["code", "community_code"]] = [A1, COMM_A]


def _stranger(frame):
    frame.loc[5, ["code", "community_code"]] = ["440605125009001", "440605125009"]  # not registered


island = shapely.box(700, 700, 703, 703)
VALIDATION_FAULTS = {
    "bow-tie": (
        _bad_geojson(standard_shapes(**{A1: BOW_TIE}), "bowtie.geojson"),
        {IssueKind.INVALID_GEOMETRY, IssueKind.GAP},
    ),
    "null-geometry": (
        _bad_geojson(standard_shapes(**{A2: None}), "null.geojson"),
        {IssueKind.EMPTY_GEOMETRY, IssueKind.GAP},
    ),
    "duplicate-code": (_bad_geojson(standard_shapes(), "dup.geojson", edit=_dup), {IssueKind.DUPLICATE_CODE}),
    "code-14-digits": (
        _bad_geojson(standard_shapes(), "short.geojson", edit=_set("code", "44060512500100", 1)),
        {IssueKind.BAD_CODE},
    ),
    "code-with-letters": (
        _bad_geojson(standard_shapes(), "alpha.geojson", edit=_set("code", "44060512500A002", 1)),
        {IssueKind.BAD_CODE},
    ),
    "code-community-mismatch": (
        _bad_geojson(standard_shapes(), "mismatch.geojson", communities={A2: "440605125002"}),
        {IssueKind.CODE_COMMUNITY_MISMATCH},
    ),
    "unknown-community": (
        _bad_geojson(standard_shapes(), "unknown.geojson", edit=_stranger),
        {IssueKind.UNKNOWN_COMMUNITY},
    ),
    "overlap": (
        _bad_geojson(standard_shapes(**{A1: cell(0, 1, east=2)}), "overlap.geojson"),
        {IssueKind.OVERLAP},
    ),
    "gap": (_bad_geojson(standard_shapes(**{A1: cell(0, 1, east=-2)}), "gap.geojson"), {IssueKind.GAP}),
    "outside-town": (
        _bad_geojson(standard_shapes(**{B2: cell(2, 0, east=3)}), "outside.geojson"),
        {IssueKind.OUTSIDE_TOWN},
    ),
    "tiny-stray-part": (
        _bad_geojson(
            standard_shapes(
                **{A1: shapely.MultiPolygon([cell(0, 1), island]), A2: cell(1, 1).difference(island)}
            ),
            "stray.geojson",
        ),
        {IssueKind.TINY_PART},
    ),
    "gcj02-without-crs": (_gcj02, {IssueKind.DATUM_SUSPECT, IssueKind.OUTSIDE_TOWN, IssueKind.GAP}),
}


@pytest.mark.parametrize("name", list(VALIDATION_FAULTS))
def test_a_file_with_validation_errors_is_refused_whole(name, live, service, store, files):
    write, expected = VALIDATION_FAULTS[name]
    path = write(files)
    before = state(store)
    with pytest.raises(ImportRefused) as caught:
        service.import_file(path, activate=True)
    refused = caught.value
    assert refused.code == "import_refused"  # the HTTP status is the web adapter's (webmap/errors.py)
    assert {i.kind for i in refused.report.errors} == expected
    text = str(refused)
    assert text.startswith(f"{path.name}: import refused, nothing stored\n")
    for issue in refused.report.errors:
        assert f"ERROR   {issue.kind}: {issue.message}" in text
    json.dumps(refused.report.to_dict())  # what the API sends back
    assert state(store) == before
    assert store.active_version_id() == live and len(store.versions()) == 1


def test_check_file_reports_without_storing(service, store, files):
    path = VALIDATION_FAULTS["overlap"][0](files)
    gridfile, frame, report, changes = service.check_file(path)
    assert gridfile.source_crs == "EPSG:4326" and len(frame) == 6
    assert [str(i.kind) for i in report.issues] == ["overlap"] and changes == []
    assert store.versions() == []


# --- re-imports and repairs ---------------------------------------------------------------------


def test_importing_the_same_file_again_is_safe(service, store, files):
    path = _shp_zip(files)
    first = service.import_file(path)
    again = service.import_file(path)
    assert (again.version_id, again.created, again.activated) == (first.version_id, False, False)
    assert again.source_crs == "EPSG:32649"
    assert [v.id for v in store.versions()] == [first.version_id]
    assert store.active_version_id() is None
    # asking for activation on the re-run activates the stored version, still adding nothing
    third = service.import_file(path, activate=True)
    assert (third.version_id, third.created, third.activated) == (first.version_id, False, True)
    assert [v.id for v in store.versions()] == [first.version_id]
    assert store.active_version_id() == first.version_id


def test_re_importing_an_older_file_brings_its_version_back(service, store, files):
    old = service.import_file(_wgs84(files), activate=True)
    new = service.import_file(_gpkg(files), activate=True)
    assert new.created and new.version_id != old.version_id
    assert store.active_version_id() == new.version_id
    back = service.import_file(files / "grids_wgs84.geojson", activate=True)
    assert (back.version_id, back.created) == (old.version_id, False)
    assert store.active_version_id() == old.version_id
    assert [v.id for v in store.versions()] == [old.version_id, new.version_id]


def test_the_same_file_under_another_crs_is_another_import(service, store, files):
    path = _shp_no_prj(files)
    first = service.import_file(path, crs="EPSG:32649")
    assert service.import_file(path, crs="EPSG:32649").version_id == first.version_id
    with pytest.raises(MissingCRS):
        service.import_file(path)
    assert len(store.versions()) == 1


def _slivers(folder: Path) -> Path:
    shapes = standard_shapes(
        **{
            A1: cell(0, 1, east=0.04),  # overlaps A2 by 20 m²
            A4: cell(1, 0, south=-0.04),  # leaves 20 m² of the town uncovered
            B2: cell(2, 0, east=0.05),  # reaches 25 m² outside the town
        }
    )
    return write_geojson(grid_frame(shapes), folder / "slivers.geojson")


def test_slivers_are_refused_unless_repair_is_asked(live, service, store, files):
    path = _slivers(files)
    before = state(store)
    with pytest.raises(ImportRefused) as caught:
        service.import_file(path)
    errors = caught.value.report.errors
    assert {i.kind for i in errors} == {IssueKind.OVERLAP, IssueKind.GAP, IssueKind.OUTSIDE_TOWN}
    assert all(i.repairable for i in errors)
    assert state(store) == before


def test_repair_imports_slivers_and_records_each_repair_on_the_version(live, service, store, files):
    outcome = service.import_file(_slivers(files), repair=True, activate=True)
    assert outcome.created and outcome.activated and outcome.report.ok
    assert [c.split(":")[0] for c in outcome.repairs] == [f"grid {A2}", f"grid {B2}", f"grid {A4}"]
    assert "gave an overlap of 20.00 m²" in outcome.repairs[0]
    assert "clipped 25.00 m² outside the town" in outcome.repairs[1]
    assert "took in a gap of 20.00 m²" in outcome.repairs[2]
    version = store.version(outcome.version_id)
    assert version.repairs == outcome.repairs
    assert version.report["ok"] and version.report["issues"] == []
    assert store.active_version_id() == outcome.version_id
    assert [v.id for v in store.versions()] == [live, outcome.version_id]

    stored = store.grids(outcome.version_id).set_index("code")
    areas = shapely.area(to_local(stored.geometry.values))
    assert dict(zip(stored.index, areas, strict=True)) == pytest.approx(
        {A1: 250_020, A2: 249_980, A4: 250_000, B2: 250_000, B1: 250_000, f"{COMM_A}003": 250_000}, abs=1e-3
    )
    # the repaired set is a clean coverage of the town: re-validating what was stored finds nothing
    _, _, report, _ = service.check_file(
        write_geojson(store.grids(outcome.version_id).drop(columns="area_m2"), files / "stored.geojson")
    )
    assert report.issues == []


def test_repair_does_not_let_a_big_fault_through(live, service, store, files):
    path = VALIDATION_FAULTS["overlap"][0](files)  # 1000 m²: above sliver_m2
    before = state(store)
    with pytest.raises(ImportRefused) as caught:
        service.import_file(path, repair=True, activate=True)
    assert [str(i.kind) for i in caught.value.report.errors] == ["overlap"]
    assert state(store) == before


def test_a_file_with_only_warnings_is_imported_with_them_on_record(service, store, files):
    exclave = shapely.box(700, 700, 800, 800)
    frame = grid_frame(
        standard_shapes(
            **{
                B1: cell(2, 1),
                A1: shapely.MultiPolygon([cell(0, 1), exclave]),
                A2: cell(1, 1).difference(exclave),
            }
        )
    )
    outcome = service.import_file(write_geojson(frame, files / "exclave.geojson"), activate=True)
    assert outcome.created and outcome.report.ok
    [warning] = store.version(outcome.version_id).report["issues"]
    assert (warning["kind"], warning["severity"], warning["codes"], warning["rows"]) == (
        "multi_part",
        "warning",
        [A1],
        [1],
    )
    stored = store.grids(outcome.version_id).set_index("code")
    assert shapely.get_num_geometries(stored.loc[A1, "geometry"]) == 2
