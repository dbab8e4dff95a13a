"""Generate a demo gazetteer (标准地址库) of a few thousand standard addresses inside a grid set.

Grid workers maintain the real 标准地址 of 大沥镇, and none of it is public, so the
demo needs addresses of its own to exercise geocoding end to end. What matters for
that is not realism of any one name but the *structure* real addresses have and
that makes geocoding hard:

* roads that cross many grids, so a road name alone never settles the grid and the
  door number has to be found;
* doors numbered odd on one side and even on the other, with numbers missing
  (demolished or never issued), so "12号" may fall into a gap between 10号 and 14号;
* residential compounds (小区) whose buildings (栋) are addressed by the compound
  name, not by a road, and compounds whose names share a stem (嘉州花园, 嘉州新村);
* landmarks people name instead of an address: schools, markets, parks, and the
  党群服务中心 of every community.

Road and compound names are invented from stems that sound like Foshan (many are
the communities' own stems, as real roads often are); positions are random. No
real POI data set is used. The output is deterministic for a given seed, so the
bundled CSV and the test set built from it can be rebuilt bit for bit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import geopandas
import numpy as np
import pandas
import shapely

from geo.lookup import GridIndex
from geo.lookup import Status

__all__ = ["COLUMNS", "generate_gazetteer"]

#: Columns of a gazetteer table, in order (what ``geo.geocode.Gazetteer`` reads).
COLUMNS = ["id", "text", "road", "number", "compound", "building", "landmark", "lon", "lat", "grid_code"]

# Road stems: community stems (roads in the Pearl River Delta are often named after the
# village they lead to) and the auspicious two-character words Foshan road names favour.
# None starts with 大沥/南海/佛山, so prefix stripping can never eat a road name, and
# none is the name of a neighbouring town (that would read as "another town").
_ROAD_STEMS = [
    "沥苑",
    "沥雄",
    "沥兴",
    "沥东",
    "沥西",
    "沥北",
    "沥南",
    "沥中",
    "沥桂",
    "沥雅",
    "岐阳",
    "岐城",
    "黄岐",
    "盐步",
    "雅瑶",
    "凤池",
    "太平",
    "钟边",
    "谢边",
    "曹边",
    "横江",
    "东秀",
    "河东",
    "河西",
    "联滘",
    "联安",
    "平地",
    "水头",
    "奇槎",
    "白沙",
    "沙溪",
    "浔峰",
    "雍雅",
    "嘉怡",
    "洞庭",
    "江北",
    "华夏",
    "六联",
    "兴业",
    "振兴",
    "建设",
    "富华",
    "康乐",
    "龙腾",
    "金沙",
    "丰华",
    "裕和",
    "荔庄",
    "鸿业",
    "同济",
    "聚龙",
    "永安",
    "和顺",
    "德胜",
    "宝华",
    "文华",
    "秀水",
    "东平",
    "广佛",
    "穗盐",
]
_COMPOUND_STEMS = [
    "嘉州",
    "锦绣",
    "翠园",
    "碧水",
    "金汇",
    "丽景",
    "怡景",
    "星海",
    "君悦",
    "骏景",
    "东方",
    "南国",
    "明珠",
    "海逸",
    "名都",
    "御景",
    "朗晴",
    "泰和",
    "聚豪",
    "恒福",
    "凯旋",
    "逸林",
    "翠林",
    "金碧",
    "荔景",
    "兴华",
    "雅居",
    "美林",
    "绿茵",
    "华汇",
    "富丽",
    "盈翠",
    "天悦",
    "汇景",
    "康城",
    "润园",
    "锦城",
    "银湖",
    "金域",
    "翡翠",
    "宏景",
    "盛世",
    "桃源",
    "碧涛",
    "云山",
    "新世纪",
    "水岸",
    "金沙洲",
    "丽水",
    "嘉和",
]
_COMPOUND_SUFFIXES = ["花园", "小区", "苑", "新村", "雅苑", "豪庭", "名苑", "华府", "公寓", "家园", "山庄"]
_LANDMARK_KINDS = ["小学", "中学", "幼儿园", "市场", "公园", "卫生服务站", "文化广场", "体育馆"]
#: The one compound the article names (嘉州花园人行道破损); the demo always has it.
_ARTICLE_COMPOUND = "嘉州花园"
#: The issue's own example road: 沥苑路 with 10号 and 14号 but no 12号, so the demo can
#: show what happens when a typed door number falls into a gap.
_EXAMPLE_ROAD = ("沥苑", "路")
_FORCED_DOORS = {"沥苑路": {10: True, 12: False, 14: True}}

_SHORT_COMMUNITY = re.compile(r"^(.*?社区)")


@dataclass(frozen=True)
class _Params:
    road_spacing_m: float = 750.0
    door_spacing_m: float = 140.0
    door_offset_m: float = 18.0
    gap_probability: float = 0.08
    n_compounds: int = 110
    building_spacing_m: float = 35.0
    compound_clearance_m: float = 60.0
    landmarks_per_community: int = 2


def generate_gazetteer(
    grids: geopandas.GeoDataFrame,
    seed: int = 2024,
    *,
    communities: pandas.DataFrame | None = None,
    n_compounds: int = 110,
) -> pandas.DataFrame:
    """A demo gazetteer inside ``grids`` (WGS84, with ``code`` and ``community_code``).

    ``communities`` (code, short_name) names the 党群服务中心 landmarks; without it the
    names come from the grids' own names ("沥苑社区第01网格" → 沥苑社区). Returns the
    columns of ``COLUMNS``; ``number`` and ``building`` are nullable integers. Every
    address lies inside a grid, and ``grid_code`` is that grid by the lookup's
    boundary rule, so the geocoder and the point lookup can never disagree about it.
    """
    params = _Params(n_compounds=n_compounds)
    rng = np.random.default_rng(seed)
    grids = grids.to_crs(4326) if grids.crs is not None else grids
    geoms = np.asarray(grids.geometry.values, dtype=object)
    index = GridIndex(grids["code"].astype(str), geoms)
    frame = index.frame
    outline = shapely.union_all(index.metric)
    shapely.prepare(outline)

    rows: list[dict] = []
    road_lines = _roads(outline, rng, params)
    road_names = _names(_ROAD_STEMS, len(road_lines), rng)
    if _EXAMPLE_ROAD[0] not in road_names:
        slot = next(i for i, (_, suffix) in enumerate(road_lines) if suffix == _EXAMPLE_ROAD[1])
        road_names[slot] = _EXAMPLE_ROAD[0]
    else:  # give the example stem a plain 路 so the 沥苑路 exists
        slot = road_names.index(_EXAMPLE_ROAD[0])
        road_lines[slot] = (road_lines[slot][0], _EXAMPLE_ROAD[1])
    for (line, suffix), stem in zip(road_lines, road_names, strict=True):
        rows.extend(_doors(line, stem + suffix, outline, rng, params))

    roads_union = shapely.union_all([line for line, _ in road_lines])
    rows.extend(_compounds(outline, roads_union, rng, params))
    rows.extend(_landmarks(grids, index, communities, rng, params))

    xy = np.array([[r["x"], r["y"]] for r in rows])
    lon, lat = frame.inverse(xy[:, 0], xy[:, 1])
    lon = np.round(lon, 7)
    lat = np.round(lat, 7)
    match = index.locate_many(lon, lat, annotate=False)
    inside = match.status == Status.OK
    table = pandas.DataFrame(rows).drop(columns=["x", "y"])
    table["lon"] = lon
    table["lat"] = lat
    table = table[inside].reset_index(drop=True)
    table["grid_code"] = index.codes[match.grid[inside]]
    table = table.drop_duplicates(subset=["text"], keep="first").reset_index(drop=True)
    table.insert(0, "id", [f"DL{i + 1:05d}" for i in range(len(table))])
    for col in ("number", "building"):
        table[col] = pandas.array(table[col], dtype="Int64")
    for col in ("road", "compound", "landmark", "grid_code"):
        table[col] = table[col].astype("string")
    return table[COLUMNS]


# ------------------------------------------------------------------------------ roads


def _roads(
    outline: shapely.Geometry, rng: np.random.Generator, params: _Params
) -> list[tuple[shapely.Geometry, str]]:
    """Two families of gently curving roads crossing the town, clipped to it.

    Straight lattices look artificial and make every door trivially locatable; a
    few degrees of tilt and a long sinusoidal wiggle give roads that cross grids
    at odd angles, as real ones do.
    """
    minx, miny, maxx, maxy = outline.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = max(maxx - minx, maxy - miny) / 2 + 500.0
    out = []
    for family in (0, 1):
        offsets = np.arange(-half + params.road_spacing_m / 2, half, params.road_spacing_m)
        offsets = offsets + rng.uniform(-0.25, 0.25, offsets.size) * params.road_spacing_m
        for off in offsets:
            angle = math.radians(family * 90.0 + rng.uniform(-9.0, 9.0))
            amp = rng.uniform(20.0, 90.0)
            wavelength = rng.uniform(2500.0, 6000.0)
            phase = rng.uniform(0, 2 * math.pi)
            t = np.linspace(-half, half, 160)
            along = t
            across = off + amp * np.sin(2 * math.pi * t / wavelength + phase)
            x = cx + along * math.cos(angle) - across * math.sin(angle)
            y = cy + along * math.sin(angle) + across * math.cos(angle)
            clipped = shapely.intersection(shapely.LineString(np.column_stack([x, y])), outline)
            if clipped.is_empty or clipped.length < 1500.0:
                continue
            out.append(clipped)
    order = np.argsort([-g.length for g in out], kind="stable")
    lines = [out[i] for i in order]
    suffixes = []
    for rank in range(len(lines)):
        if rank < 3:
            suffixes.append("大道")  # the longest roads become the town's avenues
        else:
            suffixes.append("街" if rng.random() < 0.15 else "路")
    return list(zip(lines, suffixes, strict=True))


def _parts(geom: shapely.Geometry) -> list[shapely.LineString]:
    if isinstance(geom, shapely.LineString):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, shapely.LineString)]


def _doors(
    line: shapely.Geometry, road: str, outline: shapely.Geometry, rng: np.random.Generator, params: _Params
) -> list[dict]:
    """Doors along both sides: odd numbers on the left, even on the right, a few missing.

    Numbers run from the road's start and keep counting across a stretch where the
    road leaves the town, as a real numbering would.
    """
    rows = []
    forced = _FORCED_DOORS.get(road, {})
    counters = {1: 1, -1: 2}  # left side odd, right side even
    for part in _parts(line):
        n = int(part.length // params.door_spacing_m)
        for k in range(n):
            dist = (k + 0.5) * params.door_spacing_m
            p = part.interpolate(dist)
            q = part.interpolate(min(dist + 1.0, part.length))
            dx, dy = q.x - p.x, q.y - p.y
            norm = math.hypot(dx, dy) or 1.0
            nx, ny = -dy / norm, dx / norm
            for side in (1, -1):
                number = counters[side]
                counters[side] += 2
                skip = rng.random() < params.gap_probability
                if not forced.get(number, not skip):
                    continue  # a number never issued: the "12号 between 10号 and 14号" case
                x = p.x + side * params.door_offset_m * nx
                y = p.y + side * params.door_offset_m * ny
                if not outline.contains(shapely.Point(x, y)):
                    continue
                rows.append(_row(f"{road}{number}号", x, y, road=road, number=number))
    return rows


# -------------------------------------------------------------------------- compounds


def _compounds(
    outline: shapely.Geometry, roads: shapely.Geometry, rng: np.random.Generator, params: _Params
) -> list[dict]:
    """Residential compounds with numbered buildings, kept off the roads and apart.

    The compound's own entry (its name alone) sits at the middle of its buildings:
    that is where a dispatcher would send someone who names only the compound.
    """
    names = [_ARTICLE_COMPOUND]
    seen = {_ARTICLE_COMPOUND}
    while len(names) < params.n_compounds:
        name = str(rng.choice(_COMPOUND_STEMS)) + str(rng.choice(_COMPOUND_SUFFIXES))
        if name not in seen:
            seen.add(name)
            names.append(name)
    minx, miny, maxx, maxy = outline.bounds
    shapely.prepare(roads)
    centres: list[tuple[float, float]] = []
    rows: list[dict] = []
    for name in names:
        for _ in range(200):
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            pt = shapely.Point(x, y)
            if not outline.contains(pt) or shapely.distance(roads, pt) < params.compound_clearance_m + 80:
                continue
            if any(math.hypot(x - a, y - b) < 300.0 for a, b in centres):
                continue
            break
        else:
            continue
        centres.append((x, y))
        n_buildings = int(rng.integers(4, 17))
        cols = math.ceil(math.sqrt(n_buildings))
        angle = rng.uniform(0, math.pi / 2)
        ca, sa = math.cos(angle), math.sin(angle)
        rows.append(_row(name, x, y, compound=name))
        for b in range(n_buildings):
            i, j = b % cols, b // cols
            u = (i - (cols - 1) / 2) * params.building_spacing_m
            v = (j - (cols - 1) / 2) * params.building_spacing_m
            rows.append(
                _row(
                    f"{name}{b + 1}栋",
                    x + u * ca - v * sa,
                    y + u * sa + v * ca,
                    compound=name,
                    building=b + 1,
                )
            )
    return rows


# -------------------------------------------------------------------------- landmarks


def _landmarks(
    grids: geopandas.GeoDataFrame,
    index: GridIndex,
    communities: pandas.DataFrame | None,
    rng: np.random.Generator,
    params: _Params,
) -> list[dict]:
    """The 党群服务中心 of every community plus schools, markets and parks named after it.

    People name these instead of an address ("沥苑小学门口"), and they sit inside
    their community, so a landmark also tells which community's team to call.
    """
    short = _community_short_names(grids, communities)
    metric = dict(zip(index.codes, index.metric, strict=True))
    rows = []
    for code in sorted(short):
        member = grids.loc[grids["community_code"].astype(str) == code, "code"].astype(str)
        area = shapely.union_all([metric[c] for c in member if c in metric])
        if area.is_empty:
            continue
        centre = area.point_on_surface()
        centre_name = f"{short[code]}党群服务中心"
        rows.append(_row(centre_name, centre.x, centre.y, landmark=centre_name))
        stem = short[code].removesuffix("社区")
        kinds = rng.choice(_LANDMARK_KINDS, size=params.landmarks_per_community, replace=False)
        for kind in kinds:
            x, y = _random_point_in(area, rng)
            rows.append(_row(f"{stem}{kind}", x, y, landmark=f"{stem}{kind}"))
    return rows


def _community_short_names(
    grids: geopandas.GeoDataFrame, communities: pandas.DataFrame | None
) -> dict[str, str]:
    if communities is not None and "short_name" in communities.columns:
        return {
            str(c): str(s)
            for c, s in zip(communities["code"], communities["short_name"], strict=True)
            if str(c) in set(grids["community_code"].astype(str))
        }
    out: dict[str, str] = {}
    names = grids["name"] if "name" in grids.columns else pandas.Series([""] * len(grids))
    for code, name in zip(grids["community_code"].astype(str), names.astype(str), strict=True):
        m = _SHORT_COMMUNITY.match(name)
        if m and code not in out:
            out[code] = m.group(1)
    return out


def _random_point_in(area: shapely.Geometry, rng: np.random.Generator) -> tuple[float, float]:
    minx, miny, maxx, maxy = area.bounds
    for _ in range(500):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if area.contains(shapely.Point(x, y)):
            return x, y
    p = area.point_on_surface()
    return p.x, p.y


# ---------------------------------------------------------------------------- helpers


def _names(stems: list[str], n: int, rng: np.random.Generator) -> list[str]:
    if n > len(stems):
        raise ValueError(f"only {len(stems)} road stems for {n} roads; lower the road density")
    return [str(s) for s in rng.choice(stems, size=n, replace=False)]


def _row(
    text: str,
    x: float,
    y: float,
    *,
    road: str | None = None,
    number: int | None = None,
    compound: str | None = None,
    building: int | None = None,
    landmark: str | None = None,
) -> dict:
    return {
        "text": text,
        "road": road,
        "number": number,
        "compound": compound,
        "building": building,
        "landmark": landmark,
        "x": float(x),
        "y": float(y),
    }
