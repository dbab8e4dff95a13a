"""Duplicates at intake (issue 9, item 6): the open cases a complaint being filed may repeat.

A broken street lamp or a blocked drain is reported by five callers in a week; each call filed
as a case of its own sends five departments' worth of work to one problem and makes the town's
numbers lie. So while a complaint is filed, the dispatcher is shown its likely originals and may
file it as a duplicate of one (``ComplaintService.duplicate_candidates``, ``file_as``).

A candidate original is an OPEN case (not closed, rejected or itself a duplicate) of the same
category, reported in the 30 days before, that is within 50 m or at the same standard address:

* distance is the great-circle distance between the WGS84 points (haversine on the mean Earth
  radius), computed over every candidate at once with numpy; within the town its error against
  the ellipsoid is under 0.3 %, 15 cm at 50 m;
* the standard address is ``geo.address.normalize`` of the typed address and of the gazetteer
  entry the geocoder matched (``geocode.matched``): the same door typed as 建设路73号附近 and
  大沥镇建设路73号 is one address, and a case placed by its point with a typed address still meets
  a case placed by the gazetteer. Two cases at one address far apart on the map (a long compound)
  are still the same place to the resident.

Only the few open cases of one category in a month are read (the store's filters on category,
state and report time, all indexed); the rules then run in numpy, the same on every store.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import pandas as pd

from complaints.workflow import State
from geo.address import normalize

if TYPE_CHECKING:
    from services.cases import CaseView

#: how near a case must be to be a candidate original, in metres (inclusive)
RADIUS_M = 50.0
#: how far back a candidate original may have been reported (inclusive)
WINDOW = datetime.timedelta(days=30)
#: the most candidates shown: nearest first
MAX_CANDIDATES = 20
#: the states a case no longer takes duplicates in
NOT_OPEN = (State.CLOSED, State.REJECTED, State.DUPLICATE)
OPEN_STATES = tuple(s.value for s in State if s not in NOT_OPEN)
#: the columns the rules read
COLUMNS = ("id", "lon", "lat", "address", "geocode", "reported_at")
#: the mean Earth radius (IUGG), metres
EARTH_RADIUS_M = 6_371_008.8
#: how much of a candidate's text is shown
SHORT_TEXT = 60
#: who records that an original was closed
SYSTEM_ACTOR = "system"
#: what a duplicate's history says when its original is closed or rejected (the note of its
#: ``original_closed`` event; Chinese, as the other notes the system writes)
OUTCOME_NOTE = {State.CLOSED: "原诉求 #{id} 已办结", State.REJECTED: "原诉求 #{id} 不予受理"}


@dataclass(frozen=True)
class DuplicateCandidate:
    """A case a complaint may duplicate, as the caller may see it, and why it is one."""

    view: CaseView
    #: metres between the two points; None when either has no point or the caller sees no place
    distance_m: float | None
    same_address: bool

    @property
    def short_text(self) -> str:
        text = self.view.case.text or ""
        return text if len(text) <= SHORT_TEXT else text[: SHORT_TEXT - 1] + "…"


def haversine_m(lon: float, lat: float, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres from one point to many (degrees, WGS84)."""
    lon1, lat1 = np.radians(lon), np.radians(lat)
    lon2, lat2 = np.radians(np.asarray(lons, dtype=float)), np.radians(np.asarray(lats, dtype=float))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def address_keys(address: str | None, geocode: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The standard forms a case's place is known by: its typed address and its gazetteer match."""
    texts = [address, (geocode or {}).get("matched") if isinstance(geocode, Mapping) else None]
    return frozenset(k for k in (normalize(t) for t in texts if isinstance(t, str) and t.strip()) if k)


def match(
    frame: pd.DataFrame,
    point: tuple[float, float] | None,
    keys: Iterable[str],
    *,
    exclude: int | None = None,
) -> pd.DataFrame:
    """The rows of ``frame`` (``COLUMNS``, already filtered to open cases of the category in the
    window) within ``RADIUS_M`` of ``point`` or sharing a key with ``keys``: columns id,
    distance_m (NaN without points) and same_address, nearest first, then newest."""
    keys = frozenset(keys)
    frame = frame[frame["id"] != exclude] if exclude is not None else frame
    if point is not None:
        distance = haversine_m(point[0], point[1], frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
    else:
        distance = np.full(len(frame), np.nan)
    same = np.array(
        [bool(keys & address_keys(a, g)) for a, g in zip(frame["address"], frame["geocode"], strict=True)]
        if keys
        else np.zeros(len(frame), dtype=bool),
        dtype=bool,
    )
    found = pd.DataFrame(
        {
            "id": frame["id"].to_numpy(),
            "distance_m": distance,
            "same_address": same,
            "reported_at": frame["reported_at"].to_numpy(),
        }
    )
    found = found[(found["distance_m"] <= RADIUS_M) | found["same_address"]]
    found = found.sort_values(["distance_m", "reported_at"], ascending=[True, False], na_position="last")
    return found.head(MAX_CANDIDATES)[["id", "distance_m", "same_address"]].reset_index(drop=True)
