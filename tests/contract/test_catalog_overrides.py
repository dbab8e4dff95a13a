"""CatalogStore on every backend, and the catalogue the services route by picking up a change
without a restart (like the working-day calendar)."""

from __future__ import annotations

import datetime

import pytest

from complaints.catalog import Catalog
from services.admin import AdminService
from services.callers import system
from services.callers import user_caller
from services.catalogue import CatalogueKeeper
from services.errors import Forbidden
from services.errors import Invalid


def test_overrides_are_kept_replaced_and_removed(store):
    assert store.catalog_overrides() == []
    store.put_catalog_override(
        "noise", department_code="police", deadline_days=3, requires_after_photo=False, by="user:boss"
    )
    store.put_catalog_override(
        "noise", department_code="urban_management", deadline_days=4, requires_after_photo=True, by="user:li"
    )
    store.put_catalog_override(
        "littering", department_code="police", deadline_days=60, requires_after_photo=False, by="cli"
    )
    rows = store.catalog_overrides()
    assert [
        (r["category_code"], r["department_code"], r["deadline_days"], r["requires_after_photo"])
        for r in rows
    ] == [
        ("littering", "police", 60, False),
        ("noise", "urban_management", 4, True),
    ]
    assert rows[1]["updated_by"] == "user:li"
    assert rows[1]["updated_at"].tzinfo is not None
    assert abs(rows[1]["updated_at"] - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(minutes=5)
    assert store.remove_catalog_override("noise") == 1
    assert store.remove_catalog_override("noise") == 0
    assert [r["category_code"] for r in store.catalog_overrides()] == ["littering"]


def test_the_keeper_lays_stored_changes_over_the_files_and_sees_another_process_change(store):
    files = Catalog.load()
    code = next(iter(files.categories))
    original = files.categories[code]
    department = next(d for d in files.departments if d != original.department)
    keeper = CatalogueKeeper(store, files)
    assert keeper.current() == files
    # another process changes the store: seen once check_s has passed, never a restart
    store.put_catalog_override(
        code, department_code=department, deadline_days=9, requires_after_photo=True, by="other"
    )
    keeper.check_s = 3600.0
    assert keeper.current().categories[code] == original
    keeper.check_s = 0.0
    changed = keeper.current().categories[code]
    assert (changed.department, changed.deadline_days, changed.requires_after_photo) == (department, 9, True)
    assert keeper.current().route(code, "urban").department.code == department
    # a stored change naming a department the files no longer have is left out, not obeyed
    store.put_catalog_override(
        code, department_code="gone", deadline_days=9, requires_after_photo=True, by="x"
    )
    assert keeper.current().categories[code] == original


@pytest.fixture
def admin(store):
    from services.accounts import AccountService
    from services.audit import AuditService

    class Cases:  # what AdminService needs of the complaint service: its catalogue
        def __init__(self) -> None:
            self.catalogue = CatalogueKeeper(store, Catalog.load())

        @property
        def catalog(self) -> Catalog:
            return self.catalogue.current()

    return AdminService(store, AccountService(store), Cases(), AuditService(store))


def test_the_admin_service_checks_records_and_refuses_others(store, admin):
    code = next(iter(admin.cases.catalog.categories))
    before = admin.cases.catalog.categories[code]
    department = next(d for d in admin.cases.catalog.departments if d != before.department)
    with pytest.raises(Forbidden):
        admin.change_category(
            user_caller("wang", "dispatcher"),
            code,
            department=department,
            deadline_days=5,
            requires_after_photo=False,
        )
    for days in ("0", "61", "", "2.5"):
        with pytest.raises(Invalid) as refused:
            admin.change_category(
                system(), code, department=department, deadline_days=days, requires_after_photo=False
            )
        assert refused.value.field == "deadline_days"
    with pytest.raises(Invalid) as refused:
        admin.change_category(
            system(), code, department="nowhere", deadline_days=5, requires_after_photo=False
        )
    assert refused.value.field == "department"
    assert store.catalog_overrides() == [] and store.audit_entries(action="catalog") == []
    assert admin.change_category(
        system(), code, department=department, deadline_days=60, requires_after_photo=False
    )
    assert admin.cases.catalog.categories[code].deadline_days == 60
    [entry] = store.audit_entries(action="catalog.change")
    assert entry.detail["deadline_days"] == [before.deadline_days, 60] and entry.target == f"category:{code}"
