"""The bundled Dali demo: town, communities, grids, roster and generated complaints, loaded once.

Every step is safe to re-run: the town and communities are upserts, the grid file is
recognised by its hash, roster rows by phone + role + unit + start date, and generated
complaints by their ids (the record ends at the start of today, Beijing time, so a
re-run on the same day generates exactly the same complaints).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from complaints.demo import generate
from geo.resources import data_root
from geo.timeutil import beijing_today
from geo.timeutil import start_of_day
from services.cases import ComplaintService
from services.cases import store_generated
from services.grids import GridService
from services.places import PlaceService
from store.base import ImportSummary

Progress = Callable[[str, int, int], None]
DEMO_TOWN = ("440605125", "大沥镇")


def default_data_dir() -> Path:
    return data_root()


@dataclass(frozen=True)
class DemoLoaded:
    version_id: int
    version_created: bool
    communities: int
    roster: ImportSummary
    complaints_added: int
    complaints_skipped: int


class DemoService:
    def __init__(self, places: PlaceService, grids: GridService, cases: ComplaintService) -> None:
        self.places, self.grids, self.cases = places, grids, cases

    def load(
        self,
        data_dir: str | Path | None = None,
        *,
        complaints: int = 50_000,
        progress: Progress | None = None,
    ) -> DemoLoaded:
        data = Path(data_dir) if data_dir else default_data_dir()
        self.places.set_town(*DEMO_TOWN, outline=data / "shapes" / "dali-demo-outline.geojson")
        n_communities = self.places.import_communities(data / "communities.csv")
        outcome = self.grids.import_file(
            data / "shapes" / "dali-demo-grids.geojson",
            activate=False,
            label="大沥镇演示网格 (generated demo)",
            by="demo",
            progress=progress,
        )
        if self.grids.store.active_version_id() is None:
            self.grids.activate(outcome.version_id, "demo")
        roster = self.grids.import_roster(
            data / "officials" / "dali-demo-roster.csv", version_id=outcome.version_id
        )
        added = skipped = 0
        if complaints:
            added, skipped = self.complaints(complaints, data_dir=data, progress=progress)
        return DemoLoaded(outcome.version_id, outcome.created, n_communities, roster, added, skipped)

    def complaints(
        self,
        count: int,
        *,
        seed: int = 2024,
        years: float = 2.0,
        data_dir: str | Path | None = None,
        progress: Progress | None = None,
    ) -> tuple[int, int]:
        """Generated complaints over the past years (hotspots, seasons, histories); (added, skipped)."""
        data = Path(data_dir) if data_dir else default_data_dir()
        cases = self.cases
        version = self.grids.active_version_id()
        grids_frame = cases.store.grids(version)
        gazetteer = None
        if getattr(cases.geocoder, "local", None) is not None:
            gazetteer = pd.read_csv(data / "gazetteer" / "dali-demo-addresses.csv", dtype={"id": str})
        end = start_of_day(beijing_today())
        made = generate(
            grids_frame,
            cases.catalog,
            cases.calendar,
            n=count,
            end=end,
            years=years,
            seed=seed,
            gazetteer=gazetteer,
            community_kind=self.places.community_kinds(),
        )
        return store_generated(cases, made, progress=progress)

    @staticmethod
    def today() -> datetime.date:
        return beijing_today()
