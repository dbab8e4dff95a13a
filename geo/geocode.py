"""Geocoding against the town's own standard addresses (标准地址), honest about doubt.

A dispatcher types an address; a wrong grid sends the wrong team, which costs more
than asking the caller once more. So the geocoder answers in three ways:

``matched``
    one standard address, with a confidence of at least ``MATCH_THRESHOLD`` and no
    rival within ``AMBIGUITY_MARGIN`` of it elsewhere. Safe to dispatch on.
``ambiguous``
    something was recognised but not pinned down: up to ``max_candidates`` standard
    addresses with scores and points for a person to choose from. This is the answer
    when

    * the road or compound is known but that door or building is not in the
      gazetteer (沥苑路12号 with only 10号 and 14号): the neighbours are offered,
      **never an interpolated point**. Door numbers are not linear along a road
      (gaps of a whole block, renumbered stretches, odd and even sides that drift
      apart), so a point between 10号 and 14号 is a guess that looks like a fact;
    * the best score is between ``CANDIDATE_THRESHOLD`` and ``MATCH_THRESHOLD``;
    * two different places score within ``AMBIGUITY_MARGIN`` of each other
      (嘉州3座 when both 嘉州花园 and 嘉州新村 exist);
    * only a road was given (roads cross many grids);
    * nothing but a whole-text fuzzy match was found (never trusted alone).

    ``candidate_grids`` lists the grids of the candidates: when there is only one,
    the team is known even though the door is not.
``not_found``
    nothing scored ``CANDIDATE_THRESHOLD``, or the text names another town or city
    (桂城街道 建设路12号 is not ours even if we also have a 建设路), or the number lies
    far outside the numbers the road has.

Matching: an exact look-up of the normalised text (``geo.address.normalize``, applied
to the gazetteer too) first; then component-aware fuzzy matching: the road,
compound or landmark *name* is matched with rapidfuzz among names of that kind only
(a few dozen roads, a hundred compounds), then the door number or building is
looked up exactly within the matched name. A number is never fuzzy-matched: 13号
is not "almost" 12号. Look-alike characters (``geo.address.CONFUSABLES``) count as a
match at a small penalty, so 历苑路 finds 沥苑路 but never beats a real 历苑路.

A slipped road-type word (建设露 for 建设路, 广佛阶 for 广佛街, 奇槎大到 for 奇槎大道:
``geo.address.ROAD_TYPE_SLIPS``) is read as the word meant at ``ROAD_SLIP_PENALTY``
(0.94 for an otherwise right name), below a correctly typed road.

Communities and grids (``Area``, given by the services from the active grid version;
``geo`` never reads the store): a name alone (沥西社区, 沥西, 沥西村, 沥南社区第05网格)
is a match of kind ``community`` or ``grid`` at its representative point; a community
carries no grid code, since it spans several. A name *before* an address (沥西村建设路73号)
is taken off when the whole text does not match: the rest is looked up and the
community decides: an answer inside it is matched, one outside it is only offered
(ambiguous, with the road's doors inside the community if it has any). A sub-area
(盐步, 黄岐: the former towns) narrows nothing and doubts nothing.

Explanations and ``matched`` texts are in Chinese: dispatchers read them. Statuses,
kinds and codes stay English.

Thresholds were set on ``tests/fixtures/geocode/cases.csv`` (see the test for the
measured rates): a single wrong character in a three-character road name scores
0.67, a look-alike slip 0.97, a missing or changed road-type word 0.90.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any
from typing import Literal
from typing import NotRequired
from typing import TypedDict

import cn2an
import numpy as np
import pandas
import shapely
from rapidfuzz import fuzz
from rapidfuzz import process
from scipy.spatial import cKDTree

from geo.address import SUB_AREAS
from geo.address import ParsedAddress
from geo.address import fold
from geo.address import name_stem
from geo.address import normalize
from geo.address import parse
from geo.address import road_class
from geo.address import road_parts
from geo.address import road_slip
from geo.address import starts_like_a_suffix
from geo.crs import MetricFrame
from geo.errors import FileFormatError
from geo.errors import InvalidCoordinates

__all__ = [
    "AMBIGUITY_MARGIN",
    "AREA_WORDS",
    "CANDIDATE_THRESHOLD",
    "MATCH_THRESHOLD",
    "Area",
    "Candidate",
    "Entry",
    "Gazetteer",
    "GeocodeResult",
    "ReverseHit",
    "Status",
    "areas_from_grids",
]

Status = Literal["matched", "ambiguous", "not_found"]

#: At or above: one answer may be dispatched on. A look-alike character (0.97) or a
#: changed road-type word (0.90) passes; one wrong character in a short name (≤ 0.8) does not.
MATCH_THRESHOLD = 0.85
#: Below: not offered even as a candidate. Two-thirds of a three-character name right.
CANDIDATE_THRESHOLD = 0.6
#: A rival elsewhere scoring this close to the best makes the answer ambiguous.
AMBIGUITY_MARGIN = 0.05
#: Rivals closer than this are the same place written twice, not a real choice.
CO_LOCATED_M = 50.0
#: Penalties (subtracted from a 0..1 similarity) for the tolerances the matcher allows.
FOLD_PENALTY = 0.03  # a look-alike character (沥 ↔ 历)
ROAD_TYPE_PENALTY = 0.10  # 路 written for 大道, 街 for 路
ROAD_SPELLING_PENALTY = 0.05  # the same type spelled differently: 大街 for 街, 大路 for 大道
ROAD_SLIP_PENALTY = 0.06  # a homophone or look-alike for the type word: 露 for 路, 阶 for 街
MISSING_SUFFIX_PENALTY = 0.07  # 嘉州 for 嘉州花园
NEIGHBOUR_FACTOR = 0.75  # candidates offered for a door or building that is not there
ROAD_ONLY_FACTOR = 0.7  # a road without a number
FALLBACK_FACTOR = 0.9  # whole-text fuzzy match, never trusted alone
#: How far beyond a road's last door a number may be and still count as a gap.
GAP_REACH = 20
#: How the ``matched`` text of a guess starts (a neighbour, a road, a whole-text match):
#: never dispatched on without a person choosing, whatever its score.
_GUESSES = ("邻近", "整段文字", "在道路")


EntryKind = Literal["door", "building", "compound", "landmark"]
#: The fields each kind of entry needs (see ``Entry``).
_PARTS: dict[str, str] = {
    "door": "road and number",
    "building": "compound and building",
    "compound": "compound",
    "landmark": "landmark",
}


@dataclass(frozen=True)
class Entry:
    """One standard address. Exactly one of road+number, compound(+building), landmark is set."""

    id: str
    text: str
    kind: EntryKind
    lon: float
    lat: float
    grid_code: str | None = None
    road: str | None = None
    number: int | None = None
    compound: str | None = None
    building: str | None = None
    landmark: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A possible answer: a point, how sure we are, and in words what matched."""

    text: str
    lon: float
    lat: float
    score: float
    matched: str
    id: str | None = None
    grid_code: str | None = None
    source: str = "gazetteer"
    level: str | None = None  # the provider's own precision label, for online geocoders
    #: what the point stands for: a standard "address", a whole "community" (its
    #: representative point) or a "grid"; ``code`` is the community's or grid's code.
    kind: str = "address"
    code: str | None = None


class ResultBase(TypedDict):
    """The fields every answer to one query repeats, whatever its status."""

    query: str
    normalized: str
    parsed: ParsedAddress
    source: NotRequired[str]


@dataclass(frozen=True)
class GeocodeResult:
    """The answer to one address.

    ``best`` is set for ``matched`` (the answer) and for ``ambiguous`` (the top
    candidate, *not* to be dispatched on without a person choosing). ``errors`` lists
    providers that failed along a chain, so a fallback never hides an outage.
    """

    query: str
    status: Status
    best: Candidate | None = None
    candidates: tuple[Candidate, ...] = ()
    explanation: str = ""
    normalized: str = ""
    parsed: ParsedAddress | None = None
    source: str = "gazetteer"
    errors: tuple[str, ...] = field(default=())

    @property
    def confidence(self) -> float:
        return self.best.score if self.best is not None else 0.0

    @property
    def point(self) -> tuple[float, float] | None:
        """(lon, lat) in WGS84, only for a match: an ambiguous answer has no single point."""
        if self.status != "matched" or self.best is None:
            return None
        return self.best.lon, self.best.lat

    @property
    def grid_code(self) -> str | None:
        return self.best.grid_code if self.status == "matched" and self.best is not None else None

    @property
    def candidate_grids(self) -> tuple[str, ...]:
        """The grids of all candidates; one grid means the team is known even if the door is not."""
        return tuple(sorted({c.grid_code for c in self.candidates if c.grid_code}))

    def to_dict(self) -> dict:
        out = {
            "query": self.query,
            "status": self.status,
            "confidence": round(self.confidence, 4),
            "explanation": self.explanation,
            "normalized": self.normalized,
            "source": self.source,
            "best": _candidate_dict(self.best) if self.best else None,
            "candidates": [_candidate_dict(c) for c in self.candidates],
            "candidate_grids": list(self.candidate_grids),
            "errors": list(self.errors),
        }
        if self.parsed is not None:
            out["parsed"] = {k: v for k, v in asdict(self.parsed).items() if v not in (None, "", ())}
        return out


def _candidate_dict(c: Candidate) -> dict:
    d = asdict(c)
    d["score"] = round(c.score, 4)
    return d


@dataclass(frozen=True)
class ReverseHit:
    """A standard address near a point, with its distance in metres."""

    id: str
    text: str
    lon: float
    lat: float
    grid_code: str | None
    distance_m: float


#: Words that follow a community's name as people write it: 沥西社区, 沥西村, 沥西居委会.
AREA_WORDS = ("社区居委会", "村民委员会", "居民委员会", "村委会", "居委会", "社区", "村")
_GRID_NAME = re.compile(
    r"^(?P<stem>.*?)(?:社区居委会|居委会|社区|村)?第?(?P<n>\d+|[零〇一二三四五六七八九十两]+)号?网格$"
)


@dataclass(frozen=True)
class Area:
    """A community or grid the service knows, by name, code and a representative point (WGS84).

    ``community`` is a grid's community code; when not given, the community whose code
    starts the grid's code (the national numbering: grid = community + 3 digits).
    ``aliases`` are other names of it (the full 沥西社区居委会 beside 沥西社区).
    """

    name: str
    code: str
    lon: float
    lat: float
    kind: Literal["community", "grid"] = "community"
    community: str | None = None
    aliases: tuple[str, ...] = ()


AreaSource = Sequence[Area | tuple] | Callable[[], Sequence[Area | tuple]]


def areas_from_grids(
    codes: Iterable[str],
    names: Iterable[str],
    community_codes: Iterable[str],
    geometries: Iterable[Any],
    communities: Mapping[str, Mapping[str, Any]],
) -> list[Area]:
    """Communities and grids of one grid version as ``Area``s, each at a point inside it.

    A grid's point is its polygon's representative point (always inside, unlike a
    centroid); a community's is that of the union of its grids.
    """
    out: list[Area] = []
    members: dict[str, list[Any]] = {}
    for code, name, comm, geom in zip(codes, names, community_codes, geometries, strict=True):
        point = geom.representative_point()
        out.append(Area(str(name), str(code), float(point.x), float(point.y), "grid", str(comm)))
        members.setdefault(str(comm), []).append(geom)
    for comm, geoms in members.items():
        info = communities.get(comm, {})
        short = info.get("short_name") or info.get("name")
        if not short:
            continue
        point = shapely.union_all(geoms).representative_point()
        full = info.get("name")
        aliases = (str(full),) if full and full != short else ()
        out.append(Area(str(short), comm, float(point.x), float(point.y), "community", None, aliases))
    return out


def _as_area(item: Area | tuple) -> Area:
    if isinstance(item, Area):
        return item
    name, code, lon, lat, *rest = item
    given = rest[0] if rest else ("grid" if str(name).endswith("网格") else "community")
    kind: Literal["community", "grid"] = "grid" if given == "grid" else "community"
    return Area(str(name), str(code), float(lon), float(lat), kind, *rest[1:])


def _area_stem(name: str) -> str:
    for word in AREA_WORDS:
        if name.endswith(word) and len(name) > len(word):
            return name[: -len(word)]
    return name


def _grid_number(text: str) -> tuple[str, int] | None:
    """(community stem, grid number) of a grid name: 沥南社区第05网格 → (沥南, 5)."""
    m = _GRID_NAME.match(text)
    if m is None:
        return None
    n = m.group("n")
    if not n.isdigit():
        try:
            n = str(cn2an.cn2an(n.replace("两", "二").replace("〇", "零"), "smart"))
        except (ValueError, KeyError):
            return None
    return m.group("stem"), int(n)


class _Areas:
    """The communities and grids, indexed for "a name alone" and "a name before an address"."""

    def __init__(self, areas: Iterable[Area]) -> None:
        self.areas = tuple(areas)
        self.communities = {a.code: a for a in self.areas if a.kind == "community"}
        self.grid_community: dict[str, str] = {}
        self.alone: dict[str, list[Area]] = {}  # folded form -> areas written that way
        self.prefixes: dict[str, Area | None] = dict.fromkeys(SUB_AREAS)
        for sub in SUB_AREAS:
            self.prefixes[f"{sub}片区"] = None
        self.grids: dict[tuple[str, int], list[Area]] = {}
        stems: dict[str, str] = {}
        for a in self.areas:
            if a.kind != "community":
                continue
            stem = _area_stem(a.name)
            stems[a.code] = stem
            forms = {a.name, *a.aliases, stem, *(stem + w for w in AREA_WORDS)}
            for form in forms:
                self.alone.setdefault(fold(normalize(form)), []).append(a)
                if form != stem:
                    self.prefixes[normalize(form)] = a
            if stem not in SUB_AREAS:  # bare 盐步 is the sub-area, wider than 盐步社区
                self.prefixes.setdefault(stem, a)
        for a in self.areas:
            if a.kind != "grid":
                continue
            comm = a.community or next((c for c in self.communities if a.code.startswith(c)), None)
            if comm:
                self.grid_community[a.code] = comm
            self.alone.setdefault(fold(normalize(a.name)), []).append(a)
            read = _grid_number(normalize(a.name))
            if read is not None:
                stem = stems.get(comm or "", _area_stem(read[0]))
                self.grids.setdefault((fold(stem), read[1]), []).append(a)
        self.longest_first = sorted(self.prefixes, key=lambda f: (-len(f), f))

    def community_of(self, grid_code: str | None) -> str | None:
        if not grid_code:
            return None
        if grid_code in self.grid_community:
            return self.grid_community[grid_code]
        return next((c for c in self.communities if grid_code.startswith(c)), None)

    def named(self, text: str) -> list[Area]:
        """The areas ``text`` names on its own (沥西社区, 沥西, 沥南社区第5网格)."""
        hit = self.alone.get(fold(text))
        if hit:
            return hit
        read = _grid_number(text)
        if read is None:
            return []
        return self.grids.get((fold(_area_stem(read[0])), read[1]), [])

    def missing_grid(self, text: str) -> str | None:
        """Why a grid name of a known community names no grid (沥南社区第99网格), else None."""
        read = _grid_number(text)
        if read is None:
            return None
        stem = fold(_area_stem(read[0]))
        known = [a for a in self.communities.values() if fold(_area_stem(a.name)) == stem]
        if not known:
            return None
        have = sorted(n for (s, n) in self.grids if s == stem)
        return f"{known[0].name}没有第{read[1]}网格（有{len(have)}个网格）"

    def split(self, text: str) -> tuple[str, Area | None, str] | None:
        """(prefix, the community it names or None for a sub-area, the rest) of a leading area name."""
        for form in self.longest_first:
            rest = text[len(form) :]
            if text.startswith(form) and rest and not starts_like_a_suffix(rest):
                return form, self.prefixes[form], rest
        return None


@dataclass
class _Road:
    numbers: np.ndarray  # sorted door numbers
    rows: np.ndarray  # entry row of each number


@dataclass
class _Compound:
    gate: int | None = None
    buildings: dict[str, int] = field(default_factory=dict)


class _Names:
    """Names of one kind (roads, compounds or landmarks) for fuzzy look-up.

    Candidate generation runs rapidfuzz over the folded names (a C loop over a few
    dozen to a hundred strings); the few survivors are rescored with the tolerances
    spelled out in ``_similarity``.
    """

    def __init__(self, names: Iterable[str], kind: str) -> None:
        self.names = sorted(set(names))
        self.kind = kind
        self.folded = [fold(n) for n in self.names]
        self.stems = [fold(self._stem(n)) for n in self.names]
        self.exact = set(self.names)

    def _stem(self, name: str) -> str:
        return road_class(name)[0] if self.kind == "road" else name_stem(name)

    def lookup(self, query: str, limit: int = 5) -> list[tuple[str, float, str]]:
        """(name, score, how) for names scoring at least CANDIDATE_THRESHOLD, best first."""
        if not query or not self.names:
            return []
        if query in self.exact:
            return [(query, 1.0, "exact")]
        picks: set[int] = set()
        cutoff = 100 * CANDIDATE_THRESHOLD - 20
        q_fold = fold(query)
        for _, _, i in process.extract(
            q_fold, self.folded, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff
        ):
            picks.add(i)
        q_stem = fold(self._stem(query))
        for _, _, i in process.extract(
            q_stem, self.stems, scorer=fuzz.ratio, limit=limit, score_cutoff=cutoff
        ):
            picks.add(i)
        scored = [(self.names[i], *self._similarity(query, self.names[i])) for i in picks]
        scored = [s for s in scored if s[1] >= CANDIDATE_THRESHOLD]
        scored.sort(key=lambda s: (-s[1], s[0]))
        return scored[:limit]

    def _similarity(self, query: str, name: str) -> tuple[float, str]:
        raw = fuzz.ratio(query, name) / 100
        best, how = raw, "字面近似"
        folded = fuzz.ratio(fold(query), fold(name)) / 100 - FOLD_PENALTY
        if folded > best:
            best, how = folded, "形近或同音字"
        if self.kind == "road":
            (qs, qw, qc), (ns, nw, nc) = road_parts(query), road_parts(name)
            stem = max(fuzz.ratio(qs, ns) / 100, fuzz.ratio(fold(qs), fold(ns)) / 100 - FOLD_PENALTY)
            meant = road_slip(qw)
            if meant is not None:  # 露 for 路: the type word mistyped, then compared as meant
                stem -= ROAD_SLIP_PENALTY
                why = f"道路类型字“{qw}”应为“{meant}”"
                if meant != nw:
                    stem -= ROAD_SPELLING_PENALTY if qc == nc else ROAD_TYPE_PENALTY
                    why += f"，且{meant}写成了{nw}"
                if stem > best:
                    best, how = stem, why
            elif qw != nw:
                stem -= ROAD_SPELLING_PENALTY if qc == nc else ROAD_TYPE_PENALTY
                if stem > best:
                    best, how = stem, f"道路类型写作“{qw or '（无）'}”，标准地址为“{nw}”"
        else:
            qs, ns = name_stem(query), name_stem(name)
            if qs == query and ns != name:  # the query has no generic ending: 嘉州 for 嘉州花园
                stem = (
                    max(fuzz.ratio(qs, ns) / 100, fuzz.ratio(fold(qs), fold(ns)) / 100 - FOLD_PENALTY)
                    - MISSING_SUFFIX_PENALTY
                )
                if stem > best:
                    best, how = stem, "省略了通名（花园、小区等）"
        return min(best, 1.0), how


class Gazetteer:
    """The standard addresses of a town, indexed for geocoding and reverse geocoding.

    Built once (about 0.1 s for 5,000 entries) and then read-only, so one instance can
    serve every request. Implements the ``geo.geocoders.Geocoder`` protocol.
    """

    name = "gazetteer"

    def __init__(
        self, entries: Sequence[Entry], *, max_candidates: int = 5, areas: AreaSource | None = None
    ) -> None:
        """``areas``: the communities and grids (``Area`` or (name, code, lon, lat) tuples), or a
        function giving them, called on every query so a new grid version takes effect at once
        (the index is rebuilt only when it returns a different object)."""
        if not entries:
            raise ValueError("a gazetteer needs at least one entry")
        ids = [e.id for e in entries]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"duplicate gazetteer ids: {dup}")
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.max_candidates = int(max_candidates)
        self._row = {e.id: i for i, e in enumerate(self.entries)}
        self.lon = np.array([e.lon for e in self.entries], dtype="float64")
        self.lat = np.array([e.lat for e in self.entries], dtype="float64")
        self.frame = MetricFrame.for_lonlat(float(np.mean(self.lon)), float(np.mean(self.lat)))
        mx, my = self.frame.forward(self.lon, self.lat)
        self.xy = np.column_stack([mx, my])
        self._tree = cKDTree(self.xy)

        self._exact: dict[str, list[int]] = {}
        roads: dict[str, list[tuple[int, int]]] = {}
        self._compounds: dict[str, _Compound] = {}
        self._landmarks: dict[str, int] = {}
        for i, e in enumerate(self.entries):
            self._exact.setdefault(normalize(e.text), []).append(i)
            if e.kind == "door" and e.road and e.number is not None:
                roads.setdefault(e.road, []).append((int(e.number), i))
            elif e.kind == "compound" and e.compound:
                self._compounds.setdefault(e.compound, _Compound()).gate = i
            elif e.kind == "building" and e.compound and e.building:
                self._compounds.setdefault(e.compound, _Compound()).buildings[e.building] = i
            elif e.kind == "landmark" and e.landmark:
                self._landmarks[e.landmark] = i
            else:
                raise FileFormatError(f"gazetteer entry {e.id!r} is a {e.kind} without its {_PARTS[e.kind]}")
        self._roads = {}
        for road, pairs in roads.items():
            pairs.sort()
            self._roads[road] = _Road(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
        self._road_names = _Names(self._roads, "road")
        self._compound_names = _Names(self._compounds, "compound")
        self._place_names = _Names([*self._landmarks, *self._compounds], "place")
        # The whole-text fallback only ever offers unnumbered places (compounds, landmarks):
        # over numbered ones it would rank 沥苑路99号 high for 沥苑路9999号.
        self._unnumbered = [i for i, e in enumerate(self.entries) if e.kind in ("compound", "landmark")]
        self._unnumbered_texts = [fold(normalize(self.entries[i].text)) for i in self._unnumbered]
        self._area_source = areas
        self._area_seen: object = None
        self._area_index = _Areas(())

    def areas(self) -> _Areas:
        """The current communities and grids (none unless given)."""
        source = self._area_source
        given = source() if callable(source) else source
        if given is not self._area_seen:
            self._area_index = _Areas(_as_area(a) for a in (given or ()))
            self._area_seen = given
        return self._area_index

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_frame(
        cls, frame: pandas.DataFrame, *, max_candidates: int = 5, areas: AreaSource | None = None
    ) -> Gazetteer:
        """From a table with ``geo.gazetteer_gen.COLUMNS`` (grid_code optional).

        Names are normalised on the way in (the same function queries go through), so a
        gazetteer typed with full-width digits or traditional characters still matches.
        """
        missing = [c for c in ("id", "text", "lon", "lat") if c not in frame.columns]
        if missing:
            raise FileFormatError(f"gazetteer table lacks column(s) {missing}")
        entries = []
        for rec in frame.to_dict("records"):
            entries.append(_entry_from_record(rec))
        return cls(entries, max_candidates=max_candidates, areas=areas)

    @classmethod
    def from_csv(
        cls, path: str | Path, *, max_candidates: int = 5, areas: AreaSource | None = None
    ) -> Gazetteer:
        frame = pandas.read_csv(
            path,
            dtype={
                "id": str,
                "grid_code": str,
                "building": str,
                "road": str,
                "compound": str,
                "landmark": str,
            },
            encoding="utf-8",
        )
        return cls.from_frame(frame, max_candidates=max_candidates, areas=areas)

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, entry_id: str) -> Entry:
        return self.entries[self._row[entry_id]]

    # --------------------------------------------------------------------- geocode

    def geocode(self, text: str) -> GeocodeResult:
        """Find a typed address; see the module docstring for what each status promises."""
        query = str(text)
        p = parse(query)
        base: ResultBase = {"query": query, "normalized": p.text, "parsed": p}
        if p.foreign:
            return GeocodeResult(
                status="not_found", explanation=f"地址写的是其他地方（{p.foreign}），不在本镇", **base
            )
        if not p.text:
            return GeocodeResult(status="not_found", explanation="除本镇名称外没有可定位的内容", **base)
        areas = self.areas()
        if p.text not in self._exact:
            named = areas.named(p.text)
            if named:
                return self._area_answer(named, base)
            missing = areas.missing_grid(p.text)
            if missing:
                return GeocodeResult(status="not_found", explanation=missing, **base)
        result = self._find(p, base)
        if result.status == "matched":
            return result
        split = areas.split(p.text)
        if split is None:
            return result
        return self._narrowed(result, split, p, base)

    def _find(self, p: ParsedAddress, base: ResultBase) -> GeocodeResult:
        exact = self._exact.get(p.text)
        if exact and len(exact) == 1:
            return _with_unused(self._decide([self._cand(exact[0], 1.0, f"完全一致：{p.text}")], base), p)

        cands: list[Candidate] = []
        notes: list[str] = []
        if p.road and p.number:
            cands += self._doors(p.road, int(p.number), notes)
        elif p.road and not p.name:
            cands += self._road_only(p.road, notes)
        place = p.compound or (p.landmark if p.building else None)
        if place:
            cands += self._buildings(place, p.building, notes)
        elif p.landmark:
            cands += self._places(p.landmark)
        cands = _dedupe(cands)
        if not cands or cands[0].score < CANDIDATE_THRESHOLD:
            fallback = self._fallback(p.text)
            if fallback:
                notes.append("只有整段文字的近似匹配")
                cands = _dedupe(cands + fallback)
        return _with_unused(self._decide(cands, base, notes), p)

    def _area_answer(self, named: list[Area], base: ResultBase) -> GeocodeResult:
        """A community or grid name alone: its representative point, as a match of that kind."""
        cands = [
            Candidate(
                text=a.name,
                lon=a.lon,
                lat=a.lat,
                score=1.0,
                matched=f"{'社区' if a.kind == 'community' else '网格'}：{a.name}",
                grid_code=a.code if a.kind == "grid" else None,
                kind=a.kind,
                code=a.code,
            )
            for a in named
        ]
        if len(cands) == 1:
            c = cands[0]
            why = (
                f"{c.matched}（社区代表点；社区包含多个网格，派单请给出具体地址或网格）"
                if c.kind == "community"
                else f"{c.matched}（网格代表点）"
            )
            return GeocodeResult(status="matched", best=c, candidates=(c,), explanation=why, **base)
        return GeocodeResult(
            status="ambiguous",
            best=cands[0],
            candidates=tuple(cands[: self.max_candidates]),
            explanation=f"{len(cands)}个社区或网格同名，请从候选中选择",
            **base,
        )

    def _narrowed(
        self, first: GeocodeResult, split: tuple[str, Area | None, str], p: ParsedAddress, base: ResultBase
    ) -> GeocodeResult:
        """An address after a sub-area, community or village name (盐步…, 沥西村…).

        The name is taken off and the rest looked up. A sub-area (片区) narrows nothing. A
        community decides among candidates: an answer inside it is given with confidence;
        an answer outside it is only offered, since the caller and the gazetteer disagree.
        """
        form, community, rest = split
        q = replace(parse(rest), prefix=p.prefix + form)
        qbase: ResultBase = {"query": base["query"], "normalized": base["normalized"], "parsed": q}
        inner = self._find(q, qbase)
        if inner.status == "not_found":
            return (
                first
                if first.candidates
                else replace(inner, explanation=f"（已识别“{form}”）{inner.explanation}")
            )
        if inner.status != "matched" and first.best is not None and first.best.score >= inner.confidence:
            return first  # what followed the name found less than the whole text did
        if community is None:
            return replace(inner, explanation=f"{inner.explanation}（“{form}”是本镇片区，未缩小范围）")
        areas = self.areas()
        inside = [c for c in inner.candidates if areas.community_of(c.grid_code) == community.code]
        others = [c for c in inner.candidates if c not in inside]
        if inside:
            decided = self._decide(inside, qbase)
            if decided.status == "matched":
                return _with_unused(
                    replace(
                        decided, explanation=f"{decided.explanation}（位于{community.name}，与所写一致）"
                    ),
                    q,
                )
            shown = tuple((list(decided.candidates) + others)[: self.max_candidates])
            return replace(
                decided,
                candidates=shown,
                explanation=f"{decided.explanation}（已按{community.name}缩小范围）",
            )
        where = sorted(
            {
                self._community_name(areas, areas.community_of(c.grid_code))
                for c in inner.candidates
                if c.grid_code
            }
        )
        nearby = self._same_road_inside(inner, q, community.code, areas)
        return GeocodeResult(
            status="ambiguous",
            best=inner.best,
            candidates=tuple([*inner.candidates, *nearby][: self.max_candidates]),
            explanation=(
                f"地址前写的是{community.name}，但找到的地址在{'、'.join(where) or '其他社区'}，"
                f"请向来电人核对后从候选中选择：{inner.best.matched if inner.best else ''}"
            ),
            **qbase,
        )

    def _same_road_inside(
        self, inner: GeocodeResult, q: ParsedAddress, community: str, areas: _Areas
    ) -> list[Candidate]:
        """Doors of the found road inside the community the caller named, nearest number first."""
        if inner.best is None or inner.best.id is None or not q.number:
            return []
        e = self.entry(inner.best.id)
        if e.kind != "door" or e.road not in self._roads:
            return []
        info = self._roads[e.road]
        inside = [
            (abs(int(n) - int(q.number)), int(n), int(r))
            for n, r in zip(info.numbers, info.rows, strict=True)
            if areas.community_of(self.entries[r].grid_code) == community
        ]
        return [
            self._cand(r, inner.best.score * NEIGHBOUR_FACTOR, f"邻近门牌{n}号（{e.road}在所写社区内的一段）")
            for _, n, r in sorted(inside)[:2]
        ]

    @staticmethod
    def _community_name(areas: _Areas, code: str | None) -> str:
        comm = areas.communities.get(code or "")
        return comm.name if comm is not None else (code or "未知社区")

    def _decide(self, cands: list[Candidate], base: ResultBase, notes: Sequence[str] = ()) -> GeocodeResult:
        cands = [c for c in cands if c.score >= CANDIDATE_THRESHOLD]
        aside = "；".join(dict.fromkeys(notes))
        if not cands:
            return GeocodeResult(status="not_found", explanation=aside or "没有足够相似的标准地址", **base)
        top = cands[0]
        shown = tuple(cands[: self.max_candidates])
        guess = top.matched.startswith(_GUESSES)
        if top.score >= MATCH_THRESHOLD and not guess:
            rivals = [
                c
                for c in cands[1:]
                if c.score >= top.score - AMBIGUITY_MARGIN and self._apart(c, top) > CO_LOCATED_M
            ]
            if not rivals:
                return GeocodeResult(
                    status="matched", best=top, candidates=(top,), explanation=top.matched, **base
                )
            why = f"{len(rivals) + 1}处地点匹配程度相近，请从候选中选择；最佳：{top.matched}"
        elif guess:  # the notes say why better than the guess itself: give them alone
            why, aside = f"{aside or top.matched}，请从候选中选择", ""
        else:
            why = f"最佳匹配只有 {top.score:.2f}，请从候选中选择：{top.matched}"
        return GeocodeResult(
            status="ambiguous",
            best=top,
            candidates=shown,
            explanation=f"{why}（{aside}）" if aside else why,
            **base,
        )

    def _apart(self, a: Candidate, b: Candidate) -> float:
        ia, ib = self._row.get(a.id or ""), self._row.get(b.id or "")
        if ia is None or ib is None:
            return math.inf
        return float(np.hypot(*(self.xy[ia] - self.xy[ib])))

    def _cand(self, row: int, score: float, matched: str) -> Candidate:
        e = self.entries[row]
        return Candidate(
            text=e.text,
            lon=e.lon,
            lat=e.lat,
            score=float(score),
            matched=matched,
            id=e.id,
            grid_code=e.grid_code,
        )

    def _doors(self, road_q: str, number: int, notes: list[str]) -> list[Candidate]:
        out = []
        for road, score, how in self._road_names.lookup(road_q):
            info = self._roads[road]
            what = "道路完全一致" if how == "exact" else f"道路 {road} ≈ {road_q}（{how}，{score:.2f}）"
            hit = np.flatnonzero(info.numbers == number)
            if hit.size:
                out.append(self._cand(int(info.rows[hit[0]]), score, f"{what}；门牌{number}号一致"))
                continue
            same = info.numbers % 2 == number % 2
            if not same.any() or number > info.numbers[same].max() + GAP_REACH or number < 1:
                notes.append(
                    f"{road}没有{number}号（门牌号范围 {info.numbers.min()}–{info.numbers.max()}号）"
                )
                continue
            nums, rows = info.numbers[same], info.rows[same]
            order = np.argsort(np.abs(nums - number), kind="stable")[:2]
            names = "、".join(f"{nums[k]}号" for k in order)
            notes.append(f"{road}{number}号不是标准地址；最近的门牌：{names}")
            for k in order:
                out.append(
                    self._cand(
                        int(rows[k]),
                        score * NEIGHBOUR_FACTOR,
                        f"邻近门牌{nums[k]}号（{road}{number}号不在标准地址中）",
                    )
                )
        return out

    def _road_only(self, road_q: str, notes: list[str]) -> list[Candidate]:
        out = []
        for road, score, _ in self._road_names.lookup(road_q, limit=2):
            rows = self._roads[road].rows
            pick = rows[np.linspace(0, len(rows) - 1, min(len(rows), self.max_candidates)).astype(int)]
            grids = {self.entries[r].grid_code for r in rows}
            notes.append(f"{road}未写门牌号：该路经过{len(grids)}个网格")
            out += [self._cand(int(r), score * ROAD_ONLY_FACTOR, f"在道路{road}上，未写门牌号") for r in pick]
        return out

    def _buildings(self, name_q: str, building: str | None, notes: list[str]) -> list[Candidate]:
        out = []
        for name, score, how in self._compound_names.lookup(name_q):
            comp = self._compounds[name]
            what = "小区完全一致" if how == "exact" else f"小区 {name} ≈ {name_q}（{how}，{score:.2f}）"
            if building is None:
                if comp.gate is not None:
                    out.append(self._cand(comp.gate, score, what))
                continue
            if building in comp.buildings:
                out.append(self._cand(comp.buildings[building], score, f"{what}；{building}栋一致"))
                continue
            notes.append(f"标准地址中{name}没有{building}栋（已知{len(comp.buildings)}栋）")
            near = sorted(comp.buildings, key=lambda b: _building_distance(b, building))[:2]
            rows = ([comp.gate] if comp.gate is not None else []) + [comp.buildings[b] for b in near]
            out += [
                self._cand(r, score * NEIGHBOUR_FACTOR, f"邻近楼栋（{name}{building}栋不在标准地址中）")
                for r in rows
            ]
        return out

    def _places(self, name_q: str) -> list[Candidate]:
        out = []
        for name, score, how in self._place_names.lookup(name_q):
            row = self._landmarks.get(name)
            if row is None:
                row = self._compounds[name].gate
            if row is None:
                continue
            what = "完全一致" if how == "exact" else f"{name} ≈ {name_q}（{how}，{score:.2f}）"
            out.append(self._cand(row, score, what))
        return out

    def _fallback(self, text: str) -> list[Candidate]:
        cutoff = 100 * CANDIDATE_THRESHOLD / FALLBACK_FACTOR
        hits = process.extract(
            fold(text),
            self._unnumbered_texts,
            scorer=fuzz.ratio,
            limit=self.max_candidates,
            score_cutoff=cutoff,
        )
        rows = [(self._unnumbered[k], s) for _, s, k in hits]
        return [
            self._cand(i, s / 100 * FALLBACK_FACTOR, f"整段文字近似 {self.entries[i].text}（{s / 100:.2f}）")
            for i, s in rows
        ]

    # --------------------------------------------------------------------- reverse

    def reverse(self, lon: float, lat: float, k: int = 5) -> list[ReverseHit]:
        """The ``k`` standard addresses nearest a WGS84 point, nearest first, with metres.

        Distances are measured in the gazetteer's UTM zone: degrees are not metres, and
        at 23° N a degree of longitude is 8 % shorter than one of latitude.
        """
        lon, lat = float(lon), float(lat)
        if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
            raise InvalidCoordinates(f"cannot reverse-geocode lon={lon}, lat={lat}")
        k = max(1, min(int(k), len(self.entries)))
        x, y = self.frame.forward_one(lon, lat)
        dist, idx = self._tree.query([x, y], k=k)
        dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
        return [
            ReverseHit(
                id=self.entries[i].id,
                text=self.entries[i].text,
                lon=self.entries[i].lon,
                lat=self.entries[i].lat,
                grid_code=self.entries[i].grid_code,
                distance_m=float(d),
            )
            for d, i in zip(dist, idx, strict=True)
        ]


def _with_unused(result: GeocodeResult, p: ParsedAddress) -> GeocodeResult:
    """Say which parts located nothing (unit, room, floor, sub-door, vague words).

    The gazetteer's finest level is the building or door; a dispatcher should see
    that "2单元302室" was read but not used, rather than wonder whether it was.
    """
    unused = [f"{v}{w}" for v, w in ((p.unit, "单元"), (p.room, "室"), (p.floor, "楼")) if v]
    unused += list(p.dropped)
    if result.status != "matched" or not unused:
        return result
    return replace(result, explanation=f"{result.explanation}；未用于定位：{'、'.join(unused)}")


def _dedupe(cands: list[Candidate]) -> list[Candidate]:
    best: dict[str | None, Candidate] = {}
    for c in cands:
        key = c.id if c.id is not None else f"{c.lon},{c.lat}"
        if key not in best or c.score > best[key].score:
            best[key] = c
    return sorted(best.values(), key=lambda c: (-c.score, c.id or ""))


def _building_distance(have: str, want: str) -> float:
    if have.isdigit() and want.isdigit():
        return abs(int(have) - int(want))
    return 0.0 if have == want else 1e9


def _blank(value: object) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or value is pandas.NA
        or (isinstance(value, str) and not value.strip())
    )


def _entry_from_record(rec: dict) -> Entry:
    def text(key: str) -> str | None:
        v = rec.get(key)
        return None if _blank(v) else normalize(str(v))

    road, compound, landmark = text("road"), text("compound"), text("landmark")
    raw_number, raw_building = rec.get("number"), rec.get("building")
    number = None if raw_number is None or _blank(raw_number) else int(float(raw_number))
    building = None if _blank(raw_building) else str(raw_building).strip().upper().removesuffix(".0")
    kind: EntryKind
    if road and number is not None:
        kind = "door"
    elif compound and building:
        kind = "building"
    elif compound:
        kind = "compound"
    else:
        kind = "landmark"
        landmark = landmark or normalize(str(rec["text"]))
    lon, lat = float(rec["lon"]), float(rec["lat"])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise FileFormatError(f"gazetteer entry {rec['id']!r} has no coordinates")
    grid = rec.get("grid_code")
    return Entry(
        id=str(rec["id"]),
        text=str(rec["text"]),
        kind=kind,
        lon=lon,
        lat=lat,
        grid_code=None if _blank(grid) else str(grid),
        road=road,
        number=number,
        compound=compound,
        building=building,
        landmark=landmark,
    )
