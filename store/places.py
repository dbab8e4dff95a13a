"""Places and grids: towns, communities, grid versions and their activations, grid and
community shapes, and the officials assigned to them.

The records handed back (``VersionInfo``, ``Town``, ``ImportSummary``) live here too.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from geo.officials import Assignment


@dataclass(frozen=True)
class VersionInfo:
    """One imported grid set (a "generation" in MapIt's words)."""

    id: int
    label: str
    town_code: str
    created_at: datetime.datetime
    created_by: str | None
    source: str | None
    source_crs: str | None
    sha256: str | None
    n_grids: int
    report: dict | None
    repairs: list | None
    note: str | None
    active: bool
    activated_at: datetime.datetime | None  # most recent activation, if ever activated


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    outline: BaseGeometry | None
    outline_source: str | None


@dataclass(frozen=True)
class ImportSummary:
    import_id: int | None
    rows: int
    added: int
    updated: int
    unchanged: int


class PlaceStore(Protocol):
    """Towns, communities, grid versions (imported whole, activated with a log) and officials.

    Every write is one transaction: it is stored whole or not at all.
    """

    # towns and communities
    def put_town(
        self, code: str, name: str, outline: BaseGeometry | None, outline_source: str | None
    ) -> None: ...
    def town(self, code: str) -> Town | None: ...
    def towns(self) -> list[Town]: ...
    def put_communities(self, communities: pd.DataFrame) -> int: ...
    def communities(self) -> pd.DataFrame: ...

    # grid versions and their activation log
    def add_version(
        self,
        grids: gpd.GeoDataFrame,
        communities: gpd.GeoDataFrame,
        *,
        label: str,
        town_code: str,
        created_by: str | None,
        source: str | None,
        source_crs: str | None,
        sha256: str | None,
        report: dict | None,
        repairs: Sequence[str] | None,
        note: str | None = None,
        activate: bool = False,
    ) -> int: ...
    def versions(self) -> list[VersionInfo]: ...
    def version(self, version_id: int) -> VersionInfo | None: ...
    def version_by_sha256(self, sha256: str) -> VersionInfo | None: ...
    def activate(self, version_id: int, by: str | None = None) -> None: ...
    def active_version_id(self) -> int | None: ...
    def version_at(self, when: datetime.datetime) -> int | None: ...
    def activations(self) -> list[tuple[datetime.datetime, int]]: ...

    # the shapes of one version (EPSG:4326, sorted by code)
    def grids(self, version_id: int) -> gpd.GeoDataFrame: ...
    def community_shapes(self, version_id: int) -> gpd.GeoDataFrame: ...

    # officials
    def import_assignments(
        self, assignments: Sequence[Assignment], *, filename: str, sha256: str, by: str | None = None
    ) -> ImportSummary: ...
    def assignments(self, unit_codes: Iterable[str] | None = None) -> list[Assignment]: ...

    # what a lookup caches, in one cheap read: (active version, last roster import that changed
    # anything); a worker compares it with what it holds instead of reloading the roster
    def place_stamps(self) -> tuple[int | None, int | None]: ...


__all__ = ["ImportSummary", "PlaceStore", "Town", "VersionInfo"]
