"""The validation report and the safe repairs, on faults drawn to the centimetre.

Each fault is drawn in local metres (see ``tests.files_grids``), so its size and place
are known exactly: the tests assert the kind, severity, grid codes, feature rows, area
and location of every issue, and that float noise is never mistaken for a fault.
The last tests run the full validation on the real OSM outline of 大沥镇 (read from the
shared folder, never copied) and on the bundled demo.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.generate import generate_grids
from geo.gridfile import read_grid_file
from geo.validate import Issue
from geo.validate import IssueKind
from geo.validate import Settings
from geo.validate import ValidationReport
from geo.validate import repair_grids
from geo.validate import validate_grids
from tests.conftest import COMM_A
from tests.conftest import COMM_B
from tests.conftest import COMMUNITIES
from tests.conftest import TOWN
from tests.files_grids import A1
from tests.files_grids import A2
from tests.files_grids import A3
from tests.files_grids import A4
from tests.files_grids import B1
from tests.files_grids import B2
from tests.files_grids import CELLS
from tests.files_grids import cell
from tests.files_grids import grid_frame
from tests.files_grids import local_point
from tests.files_grids import lonlat_of
from tests.files_grids import shifted
from tests.files_grids import standard_grids
from tests.files_grids import standard_outline
from tests.files_grids import standard_shapes
from tests.files_grids import to_local
from tests.files_grids import to_lonlat
from tests.shared_data import REPO_ROOT
from tests.shared_data import shared_file

KNOWN = dict(zip(COMMUNITIES["code"], COMMUNITIES["name"], strict=True))
#: A bow-tie over cell A1 (local metres): its two diagonals cross at the cell's centre (250, 750).
BOW_TIE = shapely.Polygon([(0, 500), (500, 1000), (500, 500), (0, 1000)])


def validate(frame: gpd.GeoDataFrame, outline="standard", **kwargs) -> ValidationReport:
    if isinstance(outline, str):
        outline = standard_outline()
    return validate_grids(frame, communities=KNOWN, outline=outline, **kwargs)


def kinds(report: ValidationReport) -> list[tuple[str, str]]:
    return sorted((str(i.kind), i.severity) for i in report.issues)


def only(report: ValidationReport, kind: IssueKind) -> Issue:
    found = [i for i in report.issues if i.kind == kind]
    assert len(found) == 1, report.format_text()
    return found[0]


def assert_at(location, x: float, y: float, tol_m: float) -> None:
    """The issue's lon/lat lies within tol_m of local point (x, y)."""
    assert location is not None
    lx, ly = local_point(*location)
    assert abs(lx - x) <= tol_m and abs(ly - y) <= tol_m, (lx, ly)


def lonlat_text(x: float, y: float) -> str:
    lon, lat = lonlat_of(x, y)
    return f"{lon:.6f},{lat:.6f}"


# --- a clean set --------------------------------------------------------------------------------


def test_the_standard_set_is_clean_and_its_stats_are_exact():
    report = validate(standard_grids())
    assert report.issues == []
    assert report.ok
    assert report.stats == {
        "grids": 6,
        "communities": 2,
        "area_km2": 1.5,
        "grid_area_m2_min": 250000.0,
        "grid_area_m2_median": 250000.0,
        "grid_area_m2_max": 250000.0,
        "metric_crs": "EPSG:32649",
    }


# --- geometry -----------------------------------------------------------------------------------


def test_a_bow_tie_is_invalid_and_located_where_its_edges_cross():
    report = validate(grid_frame(standard_shapes(**{A1: BOW_TIE})))
    issue = only(report, IssueKind.INVALID_GEOMETRY)
    assert issue.severity == "error" and issue.repairable
    assert issue.codes == (A1,) and issue.rows == (1,)
    assert_at(issue.location, 250, 750, tol_m=0.01)
    assert issue.message == (
        f"grid {A1} (feature 1) is invalid: Self-intersection at "
        f"{issue.location[0]:.6f},{issue.location[1]:.6f}"
    )
    assert lonlat_text(250, 750) in issue.message
    # the made-valid bow-tie is two triangles: a real two-part grid, and the two triangles of
    # the cell it no longer covers are gaps of 62 500 m² each
    assert kinds(report) == [
        ("gap", "error"),
        ("gap", "error"),
        ("invalid_geometry", "error"),
        ("multi_part", "warning"),
    ]
    gaps = sorted(i.area_m2 for i in report.issues if i.kind == IssueKind.GAP)
    assert gaps == pytest.approx([62500, 62500], rel=1e-4)


@pytest.mark.parametrize("empty", [None, shapely.Polygon()], ids=["null", "empty-polygon"])
def test_a_grid_without_geometry_is_an_error_and_leaves_its_cell_uncovered(empty):
    report = validate(grid_frame(standard_shapes(**{A2: empty})))
    issue = only(report, IssueKind.EMPTY_GEOMETRY)
    assert (issue.severity, issue.codes, issue.rows) == ("error", (A2,), (2,))
    assert issue.message == f"grid {A2} (feature 2) has no geometry"
    gap = only(report, IssueKind.GAP)
    assert gap.area_m2 == pytest.approx(250_000, rel=1e-6)
    assert_at(gap.location, 750, 750, tol_m=0.01)
    assert kinds(report) == [("empty_geometry", "error"), ("gap", "error")]


def test_a_tiny_stray_part_is_an_error_located_on_the_part():
    # A1 owns a 3 m × 3 m island inside A2 (A2 has the matching hole): no gap, no overlap
    island = shapely.box(700, 700, 703, 703)
    shapes = standard_shapes(
        **{A1: shapely.MultiPolygon([cell(0, 1), island]), A2: cell(1, 1).difference(island)}
    )
    report = validate(grid_frame(shapes))
    issue = only(report, IssueKind.TINY_PART)
    assert (issue.severity, issue.codes, issue.rows, issue.repairable) == ("error", (A1,), (1,), True)
    assert issue.area_m2 == pytest.approx(9.0, abs=1e-3)
    assert issue.message == f"grid {A1} has a stray part of 9.0 m²"
    assert_at(issue.location, 701.5, 701.5, tol_m=1.5)
    assert kinds(report) == [("tiny_part", "error")]


def test_a_genuine_two_part_grid_is_only_a_warning():
    island = shapely.box(700, 700, 800, 800)  # 10 000 m²: a real exclave, not a slip of the mouse
    shapes = standard_shapes(
        **{A1: shapely.MultiPolygon([cell(0, 1), island]), A2: cell(1, 1).difference(island)}
    )
    report = validate(grid_frame(shapes))
    issue = only(report, IssueKind.MULTI_PART)
    assert (issue.severity, issue.codes, issue.rows) == ("warning", (A1,), (1,))
    assert issue.message == f"grid {A1} has 2 separate parts (250000, 10000 m²)"
    assert issue.location is not None
    assert report.ok and kinds(report) == [("multi_part", "warning")]


# --- codes --------------------------------------------------------------------------------------


def test_duplicate_codes_list_every_row():
    frame = standard_grids()
    frame.loc[5, ["code", "community_code"]] = [A1, COMM_A]  # B2's row reuses A1's code
    report = validate(frame)
    issue = only(report, IssueKind.DUPLICATE_CODE)
    assert (issue.severity, issue.codes, issue.rows) == ("error", (A1,), (1, 6))
    assert issue.message == f"grid code {A1} is used by 2 features (1, 6)"
    assert kinds(report) == [("duplicate_code", "error")]


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("44060512500100", "grid code '44060512500100' has 14 digits; expected 15 (GB/T 30428.1)"),
        ("4406051250010021", "grid code '4406051250010021' has 16 digits; expected 15 (GB/T 30428.1)"),
        ("44060512500A002", "grid code '44060512500A002' must contain digits only"),
        ("440605125001000", "grid code '440605125001000' has sequence 000; sequences start at 001"),
    ],
)
def test_a_malformed_code_is_named_with_its_row(code, problem):
    frame = standard_grids()
    frame.loc[1, "code"] = code  # row 2, community stays 440605125001
    report = validate(frame)
    issue = only(report, IssueKind.BAD_CODE)
    assert (issue.severity, issue.codes, issue.rows) == ("error", (code,), (2,))
    assert issue.message == f"feature 2: {problem}"
    assert kinds(report) == [("bad_code", "error")]  # no mismatch reported on top of it


def test_a_code_outside_its_community_is_a_mismatch():
    frame = standard_grids()
    frame.loc[1, "community_code"] = COMM_B  # A2 declared in community B
    report = validate(frame)
    issue = only(report, IssueKind.CODE_COMMUNITY_MISMATCH)
    assert (issue.severity, issue.codes, issue.rows) == ("error", (A2,), (2,))
    assert issue.message == (
        f"grid {A2} (feature 2) is given community {COMM_B} but its code starts with {COMM_A}"
    )
    assert kinds(report) == [("code_community_mismatch", "error")]


def test_an_unregistered_community_names_its_grids():
    frame = standard_grids()
    stranger = f"{TOWN}009"
    frame.loc[[2, 5], "code"] = [f"{stranger}001", f"{stranger}002"]  # B1, B2
    frame.loc[[2, 5], "community_code"] = stranger
    report = validate(frame)
    issue = only(report, IssueKind.UNKNOWN_COMMUNITY)
    assert issue.severity == "error"
    assert issue.codes == (f"{stranger}001", f"{stranger}002") and issue.rows == (3, 6)
    assert issue.message == (
        f"community {stranger} of 2 grid(s) ({stranger}001, {stranger}002) is not in the community list"
    )
    assert kinds(report) == [("unknown_community", "error")]


# --- coverage -----------------------------------------------------------------------------------


def test_an_overlap_names_the_pair_its_area_and_place():
    report = validate(grid_frame(standard_shapes(**{A1: cell(0, 1, east=2)})))  # 2 m into A2
    issue = only(report, IssueKind.OVERLAP)
    assert (issue.severity, issue.codes, issue.rows) == ("error", (A1, A2), (1, 2))
    assert issue.area_m2 == pytest.approx(1000.0, rel=1e-6)
    assert not issue.repairable  # above sliver_m2
    assert issue.message == f"grids {A1} and {A2} overlap by 1000.00 m²"
    lx, ly = local_point(*issue.location)
    assert 500 <= lx <= 502 and 500 <= ly <= 1000
    assert kinds(report) == [("overlap", "error")]


def test_a_gap_inside_the_town_gives_its_area_and_centroid():
    report = validate(grid_frame(standard_shapes(**{A1: cell(0, 1, east=-2)})))  # 2 m short of A2
    issue = only(report, IssueKind.GAP)
    assert (issue.severity, issue.codes, issue.rows) == ("error", (), ())
    assert issue.area_m2 == pytest.approx(1000.0, rel=1e-6)
    assert_at(issue.location, 499, 750, tol_m=0.001)  # the strip's centroid
    assert issue.message == (
        f"gap of 1000.00 m² covered by no grid, centred at {issue.location[0]:.6f},{issue.location[1]:.6f}"
    )
    assert lonlat_text(499, 750) in issue.message
    assert kinds(report) == [("gap", "error")]


def test_without_an_outline_a_hole_enclosed_by_grids_is_still_a_gap():
    hole = shapely.box(700, 700, 710, 710)
    report = validate(grid_frame(standard_shapes(**{A2: cell(1, 1).difference(hole)})), outline=None)
    issue = only(report, IssueKind.GAP)
    assert issue.area_m2 == pytest.approx(100.0, rel=1e-6)
    assert_at(issue.location, 705, 705, tol_m=0.001)
    assert kinds(report) == [("gap", "error")]


def test_a_grid_reaching_outside_the_town_gives_the_area_outside():
    report = validate(grid_frame(standard_shapes(**{B2: cell(2, 0, east=3)})))  # 3 m past the edge
    issue = only(report, IssueKind.OUTSIDE_TOWN)
    assert (issue.severity, issue.codes, issue.rows) == ("error", (B2,), (6,))
    assert issue.area_m2 == pytest.approx(1500.0, rel=1e-6)
    assert issue.message == f"grid {B2} reaches 1500.00 m² outside the town outline"
    lx, ly = local_point(*issue.location)
    assert 1500 <= lx <= 1503 and 0 <= ly <= 500
    assert kinds(report) == [("outside_town", "error")]


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_grids_in_a_chinese_datum_against_a_wgs84_outline_are_named_datum_suspect(datum):
    report = validate(shifted(standard_grids(), datum))
    issue = only(report, IssueKind.DATUM_SUSPECT)
    assert issue.severity == "error"
    assert re.fullmatch(
        rf"\d+% of the grids' area lies outside the town outline, but only 0% would if the "
        rf"coordinates were {datum.upper()}: the file is probably in {datum.upper()}; "
        rf"re-import it with --crs {datum}",
        issue.message,
    ), issue.message
    # the shift itself shows as grids outside the town and a gap where they should be
    assert {i.kind for i in report.errors} == {IssueKind.DATUM_SUSPECT, IssueKind.OUTSIDE_TOWN, IssueKind.GAP}


def test_float_noise_from_seven_decimal_rounding_is_not_reported():
    # Each grid runs its own extra vertices along its edges (a different spacing per grid),
    # and every lon/lat is rounded to 7 decimals (~1 cm): shared edges now zig-zag past each
    # other by millimetres, as in files from desktop GIS and web editors.
    shapes = {
        code: shapely.segmentize(cell(*ij), 500 / (5 + 2 * k)) for k, (code, ij) in enumerate(CELLS.items())
    }
    frame = grid_frame(shapes)
    frame["geometry"] = shapely.transform(frame.geometry.values, lambda xy: np.round(xy, 7))
    outline = shapely.transform(standard_outline(), lambda xy: np.round(xy, 7))

    # the noise is there: slivers far above tolerance_m2, but thinner than noise_width_m on average
    metric = to_local(frame.geometry.values)
    left, right = shapely.STRtree(metric).query(metric, predicate="intersects")
    keep = left < right
    slivers = shapely.intersection(metric[left[keep]], metric[right[keep]])
    gaps = shapely.get_parts(shapely.difference(to_local(outline), shapely.union_all(metric)))
    noise = np.concatenate([slivers, gaps])
    noise = noise[shapely.area(noise) > 0]
    assert shapely.area(noise).max() > 100 * Settings().tolerance_m2
    width = 2 * shapely.area(noise) / shapely.length(noise)
    assert width.max() < Settings().noise_width_m

    report = validate(frame, outline=outline)
    assert report.issues == [], report.format_text()
    assert report.stats["area_km2"] == 1.5


# --- the report's two forms ---------------------------------------------------------------------


def test_the_report_in_json_and_text_holds_every_issue():
    island = shapely.box(700, 700, 800, 800)
    shapes = standard_shapes(
        **{
            A1: shapely.MultiPolygon([cell(0, 1), island]),
            A2: cell(1, 1).difference(island),
            B2: cell(2, 0, east=3),
        }
    )
    report = validate(grid_frame(shapes))
    data = json.loads(json.dumps(report.to_dict()))  # plain JSON: stored as is, sent as is
    assert (data["ok"], data["errors"], data["warnings"]) == (False, 1, 1)
    assert data["stats"]["grids"] == 6
    by_kind = {i["kind"]: i for i in data["issues"]}
    assert set(by_kind) == {"multi_part", "outside_town"}
    outside = by_kind["outside_town"]
    assert outside["severity"] == "error"
    assert outside["codes"] == [B2] and outside["rows"] == [6]
    assert outside["area_m2"] == 1500.0
    assert len(outside["location"]) == 2
    assert outside["message"] == f"grid {B2} reaches 1500.00 m² outside the town outline"
    assert by_kind["multi_part"]["rows"] == [1]

    lines = report.format_text().splitlines()
    assert lines[0].startswith("1 error(s), 1 warning(s); grids=6, communities=2, ")
    assert f"  WARNING multi_part: grid {A1} has 2 separate parts (250000, 10000 m²)" in lines
    assert (
        f"  ERROR   outside_town: grid {B2} reaches 1500.00 m² outside the town outline [repairable]"
    ) not in lines  # 1500 m² is above sliver_m2
    assert f"  ERROR   outside_town: grid {B2} reaches 1500.00 m² outside the town outline" in lines
    assert len(lines) == 3


def test_the_text_report_is_cut_at_the_limit():
    frame = standard_grids()
    frame["code"] = [f"{COMM_A}00{k}X" for k in range(6)]
    text = validate(frame).format_text(limit=4).splitlines()
    assert len(text) == 1 + 4 + 1
    assert text[-1] == "  … 2 more"


# --- repairs ------------------------------------------------------------------------------------


def wkb(frame: gpd.GeoDataFrame) -> dict[str, bytes]:
    return dict(zip(frame["code"], shapely.to_wkb(frame.geometry.values), strict=True))


def test_repair_fixes_slivers_lists_each_change_and_leaves_other_grids_bit_identical():
    shapes = standard_shapes(
        **{
            A1: cell(0, 1, east=0.04),  # overlap of 20 m² with A2
            A4: cell(1, 0, south=-0.04),  # gap of 20 m² along the town's south edge
            B2: cell(2, 0, east=0.05),  # 25 m² outside the town
        }
    )
    frame = grid_frame(shapes)
    before = validate(frame)
    assert {(str(i.kind), i.repairable) for i in before.issues} == {
        ("overlap", True),
        ("gap", True),
        ("outside_town", True),
    }

    result = repair_grids(frame, outline=standard_outline())
    at = r"at (\d+\.\d{6}),(\d+\.\d{6})"
    patterns = [
        (
            rf"grid {A2}: gave an overlap of 20\.00 m² {at} to grid {A1} \(lower code keeps it\)",
            (500, 502),
            (500, 1000),
        ),
        (rf"grid {B2}: clipped 25\.00 m² outside the town {at}", (1500, 1500.05), (0, 500)),
        (rf"grid {A4}: took in a gap of 20\.00 m² {at} \(longest shared border\)", (500, 1000), (0, 0.04)),
    ]
    assert len(result.changes) == 3
    for (pattern, xs, ys), change in zip(patterns, result.changes, strict=True):
        match = re.fullmatch(pattern, change)
        assert match, change
        x, y = local_point(float(match.group(1)), float(match.group(2)))
        assert xs[0] - 0.1 <= x <= xs[1] + 0.1 and ys[0] - 0.1 <= y <= ys[1] + 0.1, change

    after = validate(result.grids)
    assert after.issues == [], after.format_text()
    assert shapely.is_valid(result.grids.geometry.values).all()
    areas = dict(zip(result.grids["code"], shapely.area(to_local(result.grids.geometry.values)), strict=True))
    assert areas[A2] == pytest.approx(250_000 - 20, abs=1e-3)
    assert areas[A4] == pytest.approx(250_000, abs=1e-3)
    assert areas[B2] == pytest.approx(250_000, abs=1e-3)
    # grids no change names are untouched to the bit (A1 kept its overlap)
    old, new = wkb(frame), wkb(result.grids)
    assert {c for c in old if old[c] != new[c]} == {A2, A4, B2}
    assert list(result.grids["code"]) == list(frame["code"])
    assert result.grids.drop(columns="geometry").equals(frame.drop(columns="geometry"))


def test_repair_makes_a_bow_tie_valid_but_leaves_the_big_gaps_it_opens():
    frame = grid_frame(standard_shapes(**{A1: BOW_TIE}))
    reason = shapely.is_valid_reason(frame.geometry.iloc[0])
    result = repair_grids(frame, outline=standard_outline())
    assert result.changes == [f"grid {A1}: made valid ({reason})"]
    fixed = result.grids.geometry.iloc[0]
    assert fixed.is_valid and shapely.get_num_geometries(fixed) == 2
    assert shapely.area(to_local(fixed)) == pytest.approx(125_000, rel=1e-4)
    report = validate(result.grids)
    assert kinds(report) == [("gap", "error"), ("gap", "error"), ("multi_part", "warning")]
    old, new = wkb(frame), wkb(result.grids)
    assert {c for c in old if old[c] != new[c]} == {A1}


def test_repair_drops_a_stray_part_and_gives_its_place_to_the_neighbour():
    island = shapely.box(700, 700, 703, 703)
    frame = grid_frame(
        standard_shapes(**{A1: shapely.MultiPolygon([cell(0, 1), island]), A2: cell(1, 1).difference(island)})
    )
    result = repair_grids(frame, outline=standard_outline())
    assert result.changes[0] == f"grid {A1}: dropped 1 stray part(s) of 9.00 m²"
    assert re.fullmatch(
        rf"grid {A2}: took in a gap of 9\.00 m² at \S+ \(longest shared border\)", result.changes[1]
    )
    assert len(result.changes) == 2
    assert validate(result.grids).issues == []
    assert shapely.get_num_geometries(result.grids.geometry.iloc[0]) == 1


def test_repair_leaves_faults_above_sliver_m2_alone():
    shapes = standard_shapes(**{A1: cell(0, 1, east=2), A4: cell(1, 0, south=-2), B2: cell(2, 0, east=3)})
    frame = grid_frame(shapes)
    before = validate(frame)
    result = repair_grids(frame, outline=standard_outline())
    assert result.changes == []
    assert wkb(result.grids) == wkb(frame)
    after = validate(result.grids)
    assert (
        kinds(after) == kinds(before) == [("gap", "error"), ("outside_town", "error"), ("overlap", "error")]
    )
    assert not any(i.repairable for i in after.issues)


def test_repair_threshold_follows_settings():
    frame = grid_frame(standard_shapes(**{A1: cell(0, 1, east=2)}))  # 1000 m² overlap
    result = repair_grids(frame, outline=standard_outline(), settings=Settings(sliver_m2=1500))
    assert len(result.changes) == 1 and result.changes[0].startswith(f"grid {A2}: gave an overlap")
    assert validate(result.grids).ok


def test_repair_does_not_pretend_to_fix_a_missing_geometry():
    frame = grid_frame(standard_shapes(**{A2: None}))
    result = repair_grids(frame, outline=standard_outline())
    assert result.changes == []
    assert result.grids.geometry.iloc[1] is None
    assert kinds(validate(result.grids)) == [("empty_geometry", "error"), ("gap", "error")]


@pytest.mark.parametrize("shift", [0.04, -0.04], ids=["out", "in"])
@pytest.mark.parametrize("side", ["west", "east", "south", "north"])
@pytest.mark.parametrize("code", list(CELLS))
def test_any_single_sliver_repairs_to_a_clean_valid_set(code, side, shift):
    # Every edge of every grid pushed 4 cm out or in: an overlap, a gap or an overhang of
    # 20 m², which the repair must fix without leaving invalid or noisy geometry behind.
    frame = grid_frame(standard_shapes(**{code: cell(*CELLS[code], **{side: shift})}))
    assert not validate(frame).ok
    result = repair_grids(frame, outline=standard_outline())
    assert len(result.changes) == 1, result.changes
    assert shapely.is_valid(result.grids.geometry.values).all()
    assert validate(result.grids).issues == []


@pytest.mark.parametrize(
    "shapes",
    [
        # A2 pushes 4 cm into B1, whose south edge stops 2 cm short of B2: trimming B1 must not leave
        # a zero-width slit along A2 that makes the 10 m² gap below look like noise
        {A2: cell(1, 1, east=0.04), B1: cell(2, 1, south=-0.02)},
        # three faults around A4: an overlap from A3, and two gaps that meet at its south-east corner,
        # one along the town border (one gap of 35 m², below sliver_m2)
        {A3: cell(0, 0, east=0.03), A4: cell(1, 0, south=-0.04), B2: cell(2, 0, west=-0.03)},
        # every grid of the top row shifted 3 cm north: overhangs along the whole northern border
        {A1: cell(0, 1, north=0.03), A2: cell(1, 1, north=0.03), B1: cell(2, 1, north=0.03)},
    ],
    ids=["slit", "around-a4", "north-border"],
)
def test_several_slivers_together_repair_to_a_clean_valid_set(shapes):
    frame = grid_frame(standard_shapes(**shapes))
    assert all(i.repairable for i in validate(frame).issues)
    result = repair_grids(frame, outline=standard_outline())
    assert result.changes
    assert shapely.is_valid(result.grids.geometry.values).all()
    assert validate(result.grids).issues == [], result.changes


# --- the real outline and the bundled demo -------------------------------------------------------


def _osm_outline() -> shapely.Geometry:
    return gpd.read_file(shared_file("data/dali_town_boundary.geojson")).geometry.iloc[0]


def test_309_grids_generated_on_the_real_osm_outline_validate_clean():
    outline = _osm_outline()
    communities = pd.read_csv(shared_file("data/dali_communities.csv"), dtype=str)
    assert len(communities) == 43
    grids = generate_grids(outline, communities, 309, seed=0).grids
    report = validate_grids(
        grids, communities=dict(zip(communities["code"], communities["name"], strict=True)), outline=outline
    )
    assert report.ok and report.issues == [], report.format_text()
    assert report.stats["grids"] == 309
    assert report.stats["communities"] == 43
    assert report.stats["area_km2"] == pytest.approx(90.9, rel=0.005)
    assert report.stats["metric_crs"] == "EPSG:32649"


def test_the_bundled_demo_validates_clean_against_its_own_outline_which_is_not_osm():
    grids = read_grid_file(REPO_ROOT / "data/shapes/dali-demo-grids.geojson").frame
    demo_outline = gpd.read_file(REPO_ROOT / "data/shapes/dali-demo-outline.geojson").geometry.iloc[0]
    communities = pd.read_csv(REPO_ROOT / "data/communities.csv", dtype=str)
    report = validate_grids(
        grids,
        communities=dict(zip(communities["code"], communities["name"], strict=True)),
        outline=demo_outline,
    )
    assert report.ok and report.issues == [], report.format_text()
    assert report.stats["grids"] == 309 and report.stats["communities"] == 43
    assert report.stats["area_km2"] == pytest.approx(90.9, rel=0.005)

    osm = gpd.GeoSeries([_osm_outline()], crs=4326).to_crs(32649).iloc[0]
    demo = gpd.GeoSeries([demo_outline], crs=4326).to_crs(32649).iloc[0]
    iou = osm.intersection(demo).area / osm.union(demo).area
    assert iou < 0.9
    # and the demo's grids do not pass against the real outline: it is a different shape
    assert not validate_grids(
        grids,
        communities=dict(zip(communities["code"], communities["name"], strict=True)),
        outline=_osm_outline(),
    ).ok


def test_local_helpers_round_trip():
    # guards the fixtures above: local metres ↔ lon/lat is exact to well below a millimetre
    x, y = local_point(*lonlat_of(123.4, 567.8))
    assert (x, y) == pytest.approx((123.4, 567.8), abs=1e-6)
    poly = to_local(to_lonlat(cell(1, 1)))
    assert shapely.area(poly) == pytest.approx(250_000, abs=1e-3)
