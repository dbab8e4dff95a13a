"""Wiring: one call builds every service on one store, for the web app, the CLI and benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from complaints.catalog import DEFAULT_CATALOG_DIR
from complaints.catalog import Catalog
from geo.geocode import Area
from geo.geocode import Gazetteer
from geo.geocode import areas_from_grids
from geo.geocoders import AmapGeocoder
from geo.geocoders import ChainGeocoder
from geo.geocoders import Geocoder
from geo.geocoders import TiandituGeocoder
from services.accounts import AccountService
from services.admin import AdminService
from services.admin_grids import GridAdminService
from services.audit import AuditService
from services.cases import Clock
from services.cases import ComplaintService
from services.cases import stored_calendar
from services.config import Config
from services.dashboard import DashboardService
from services.deliberations import DeliberationService
from services.demo import DemoService
from services.demo import default_data_dir
from services.grids import GridService
from services.notices import NoticePlanner
from services.notifications import NotificationService
from services.notifications import Translate
from services.notifications import senders_from
from services.permissions import GrantService
from services.places import PlaceService
from services.planner import PlannerService
from services.printing import PrintService
from services.queues import QueueService
from services.whistles import WhistleService
from store import open_store
from store.base import Store


@dataclass(frozen=True)
class Services:
    config: Config
    store: Store
    grids: GridService
    cases: ComplaintService
    planner: PlannerService
    accounts: AccountService
    places: PlaceService
    demo: DemoService
    audit: AuditService
    grants: GrantService
    dashboard: DashboardService
    printing: PrintService
    notifications: NotificationService
    whistles: WhistleService
    deliberations: DeliberationService
    queues: QueueService
    admin: AdminService
    grid_admin: GridAdminService


def build_services(
    config: Config,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    translate: Translate | None = None,
) -> Services:
    """Every service on one store (opened from ``config.database_url`` unless given);
    ``translate`` renders notification texts from the adapters' catalogues."""
    store = store or open_store(config.database_url, upgrade=config.auto_migrate)
    grids = GridService(
        store,
        near_m=config.near_m,
        cache_dir=config.cache_dir,
        use_lut=config.use_lut,
        active_ttl_s=config.active_ttl_s,
    )
    catalog = Catalog.load(config.catalog_dir or DEFAULT_CATALOG_DIR)
    extra = {"clock": clock} if clock is not None else {}
    audit = AuditService(store, **extra)
    notices = NoticePlanner(store, store, catalog)
    cases = ComplaintService(
        store,
        grids,
        catalog,
        stored_calendar(store),
        geocoder=_geocoder(config, _active_areas(grids)),
        photo_dir=config.photo_dir,
        audit=audit,
        notices=notices,
        **extra,
    )
    places = PlaceService(store)
    notifications = NotificationService(
        store,
        cases,
        notices,
        senders=senders_from(config),
        audit=audit,
        max_attempts=config.notify_max_attempts,
        backoff_s=config.notify_backoff_s,
        lease_s=config.notify_lease_s,
        translate=translate,
        **extra,
    )
    whistles = WhistleService(store, cases)
    deliberations = DeliberationService(
        store,
        cases,
        grids,
        audit,
        photo_dir=config.photo_dir / "deliberations" if config.photo_dir else None,
    )
    accounts = AccountService(store, cases.teams, **extra)
    upload_dir = config.cache_dir / "uploads" if config.cache_dir is not None else None
    return Services(
        config,
        store,
        grids,
        cases,
        PlannerService(grids, cases),
        accounts,
        places,
        DemoService(places, grids, cases),
        audit,
        GrantService(store, audit),
        DashboardService(store, cases, grids, whistles, deliberations),
        PrintService(cases),
        notifications,
        whistles,
        deliberations,
        QueueService(cases, ttl_s=config.active_ttl_s),
        AdminService(store, accounts, cases, audit),
        GridAdminService(grids, audit, upload_dir),
    )


def _active_areas(grids: GridService) -> Callable[[], tuple[Area, ...]]:
    """The active grid version's communities and grids, for the geocoder (made once a version)."""
    made: dict[int, tuple[Area, ...]] = {}

    def areas() -> tuple[Area, ...]:
        version = grids.active_or_none()
        if version is not None and version not in made:
            gs = grids.grid_set(version)
            g = gs.grids
            made.clear()
            made[version] = tuple(
                areas_from_grids(g["code"], g["name"], g["community_code"], gs.index.geoms, gs.communities)
            )
        return made.get(version, ()) if version is not None else ()

    return areas


def _geocoder(config: Config, areas: Callable[[], tuple[Area, ...]] | None = None) -> ChainGeocoder | None:
    path = config.gazetteer_path or default_data_dir() / "gazetteer" / "dali-demo-addresses.csv"
    if not Path(path).exists():
        return None
    providers: list[Geocoder] = []
    if config.amap_key:
        providers.append(AmapGeocoder(config.amap_key))
    if config.tianditu_key:
        providers.append(TiandituGeocoder(config.tianditu_key))
    return ChainGeocoder(Gazetteer.from_csv(path, areas=areas), providers)
