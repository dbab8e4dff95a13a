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

Thresholds were set on ``tests/fixtures/geocode/cases.csv`` (see the test for the
measured rates): a single wrong character in a three-character road name scores
0.67, a look-alike slip 0.97, a missing or changed road-type word 0.90.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Literal
from typing import NotRequired
from typing import TypedDict

import numpy as np
import pandas
from rapidfuzz import fuzz
from rapidfuzz import process
from scipy.spatial import cKDTree

from geo.address import ParsedAddress
from geo.address import fold
from geo.address import name_stem
from geo.address import normalize
from geo.address import parse
from geo.address import road_class
from geo.address import road_parts
from geo.crs import MetricFrame
from geo.errors import FileFormatError
from geo.errors import InvalidCoordinates

__all__ = [
    "AMBIGUITY_MARGIN",
    "CANDIDATE_THRESHOLD",
    "MATCH_THRESHOLD",
    "Candidate",
    "Entry",
    "Gazetteer",
    "GeocodeResult",
    "ReverseHit",
    "Status",
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
MISSING_SUFFIX_PENALTY = 0.07  # 嘉州 for 嘉州花园
NEIGHBOUR_FACTOR = 0.75  # candidates offered for a door or building that is not there
ROAD_ONLY_FACTOR = 0.7  # a road without a number
FALLBACK_FACTOR = 0.9  # whole-text fuzzy match, never trusted alone
#: How far beyond a road's last door a number may be and still count as a gap.
GAP_REACH = 20


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
        best, how = raw, "fuzzy"
        folded = fuzz.ratio(fold(query), fold(name)) / 100 - FOLD_PENALTY
        if folded > best:
            best, how = folded, "look-alike characters"
        if self.kind == "road":
            (qs, qw, qc), (ns, nw, nc) = road_parts(query), road_parts(name)
            stem = max(fuzz.ratio(qs, ns) / 100, fuzz.ratio(fold(qs), fold(ns)) / 100 - FOLD_PENALTY)
            if qw != nw:
                stem -= ROAD_SPELLING_PENALTY if qc == nc else ROAD_TYPE_PENALTY
                if stem > best:
                    best, how = stem, f"road type {qw or '∅'} written for {nw}"
        else:
            qs, ns = name_stem(query), name_stem(name)
            if qs == query and ns != name:  # the query has no generic ending: 嘉州 for 嘉州花园
                stem = (
                    max(fuzz.ratio(qs, ns) / 100, fuzz.ratio(fold(qs), fold(ns)) / 100 - FOLD_PENALTY)
                    - MISSING_SUFFIX_PENALTY
                )
                if stem > best:
                    best, how = stem, "generic ending left out"
        return min(best, 1.0), how


class Gazetteer:
    """The standard addresses of a town, indexed for geocoding and reverse geocoding.

    Built once (about 0.1 s for 5,000 entries) and then read-only, so one instance can
    serve every request. Implements the ``geo.geocoders.Geocoder`` protocol.
    """

    name = "gazetteer"

    def __init__(self, entries: Sequence[Entry], *, max_candidates: int = 5) -> None:
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

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_frame(cls, frame: pandas.DataFrame, *, max_candidates: int = 5) -> Gazetteer:
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
        return cls(entries, max_candidates=max_candidates)

    @classmethod
    def from_csv(cls, path: str | Path, *, max_candidates: int = 5) -> Gazetteer:
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
        return cls.from_frame(frame, max_candidates=max_candidates)

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
                status="not_found", explanation=f"names another place ({p.foreign}), not this town", **base
            )
        if not p.text:
            return GeocodeResult(status="not_found", explanation="nothing left after the town's name", **base)

        exact = self._exact.get(p.text)
        if exact and len(exact) == 1:
            return _with_unused(self._decide([self._cand(exact[0], 1.0, f"exact: {p.text}")], base), p)

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
                notes.append("only a whole-text fuzzy match")
                cands = _dedupe(cands + fallback)
        return _with_unused(self._decide(cands, base, notes), p)

    def _decide(self, cands: list[Candidate], base: ResultBase, notes: Sequence[str] = ()) -> GeocodeResult:
        cands = [c for c in cands if c.score >= CANDIDATE_THRESHOLD]
        aside = "; ".join(dict.fromkeys(notes))
        if not cands:
            return GeocodeResult(
                status="not_found", explanation=aside or "no standard address is similar enough", **base
            )
        top = cands[0]
        shown = tuple(cands[: self.max_candidates])
        guess = top.matched.startswith(("neighbour", "whole text", "on the road"))
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
            why = f"{len(rivals) + 1} places match about equally well, best: {top.matched}"
        elif guess:
            why = top.matched
        else:
            why = f"best match only {top.score:.2f}: {top.matched}"
        return GeocodeResult(
            status="ambiguous",
            best=top,
            candidates=shown,
            explanation=f"{why} ({aside})" if aside else why,
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
            what = "road exact" if how == "exact" else f"road {road} ≈ {road_q} ({how}, {score:.2f})"
            hit = np.flatnonzero(info.numbers == number)
            if hit.size:
                out.append(self._cand(int(info.rows[hit[0]]), score, f"{what}; number {number} exact"))
                continue
            same = info.numbers % 2 == number % 2
            if not same.any() or number > info.numbers[same].max() + GAP_REACH or number < 1:
                notes.append(
                    f"{road} has no {number}号 (its numbers run {info.numbers.min()}–{info.numbers.max()})"
                )
                continue
            nums, rows = info.numbers[same], info.rows[same]
            order = np.argsort(np.abs(nums - number), kind="stable")[:2]
            names = "、".join(f"{nums[k]}号" for k in order)
            notes.append(f"{road}{number}号 is not a standard address; nearest: {names}")
            for k in order:
                out.append(
                    self._cand(
                        int(rows[k]),
                        score * NEIGHBOUR_FACTOR,
                        f"neighbour {nums[k]}号 of missing {road}{number}号",
                    )
                )
        return out

    def _road_only(self, road_q: str, notes: list[str]) -> list[Candidate]:
        out = []
        for road, score, _ in self._road_names.lookup(road_q, limit=2):
            rows = self._roads[road].rows
            pick = rows[np.linspace(0, len(rows) - 1, min(len(rows), self.max_candidates)).astype(int)]
            grids = {self.entries[r].grid_code for r in rows}
            notes.append(f"{road} without a door number: it runs through {len(grids)} grids")
            out += [
                self._cand(int(r), score * ROAD_ONLY_FACTOR, f"on the road {road}, number not given")
                for r in pick
            ]
        return out

    def _buildings(self, name_q: str, building: str | None, notes: list[str]) -> list[Candidate]:
        out = []
        for name, score, how in self._compound_names.lookup(name_q):
            comp = self._compounds[name]
            what = "compound exact" if how == "exact" else f"compound {name} ≈ {name_q} ({how}, {score:.2f})"
            if building is None:
                if comp.gate is not None:
                    out.append(self._cand(comp.gate, score, what))
                continue
            if building in comp.buildings:
                out.append(self._cand(comp.buildings[building], score, f"{what}; building {building} exact"))
                continue
            notes.append(
                f"{name} has no building {building} in the gazetteer ({len(comp.buildings)} buildings known)"
            )
            near = sorted(comp.buildings, key=lambda b: _building_distance(b, building))[:2]
            rows = ([comp.gate] if comp.gate is not None else []) + [comp.buildings[b] for b in near]
            out += [
                self._cand(r, score * NEIGHBOUR_FACTOR, f"neighbour of missing {name}{building}栋")
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
            what = "exact" if how == "exact" else f"{name} ≈ {name_q} ({how}, {score:.2f})"
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
            self._cand(i, s / 100 * FALLBACK_FACTOR, f"whole text ≈ {self.entries[i].text} ({s / 100:.2f})")
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
    return replace(result, explanation=f"{result.explanation}; not used for location: {'、'.join(unused)}")


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
