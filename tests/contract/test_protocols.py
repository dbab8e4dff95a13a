"""Every backend implements the whole union protocol, with the protocol's parameters."""

from __future__ import annotations

import inspect

import pytest

from store.accounts import AccountStore
from store.audit import AuditStore
from store.audit import GrantStore
from store.base import Store
from store.calendar_days import CalendarStore
from store.casework import CaseWorkStore
from store.complaints import ComplaintStore
from store.outbox import OutboxStore
from store.places import PlaceStore

PARTS = (
    PlaceStore,
    ComplaintStore,
    AccountStore,
    CalendarStore,
    AuditStore,
    GrantStore,
    OutboxStore,
    CaseWorkStore,
)


def _methods(protocol) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


def test_the_union_is_the_concerns_and_they_do_not_overlap():
    names = [name for part in PARTS for name in _methods(part)]
    assert len(names) == len(set(names))
    assert _methods(Store) == {}  # nothing of its own
    assert all(part in Store.__mro__ for part in PARTS)


@pytest.mark.parametrize("part", PARTS, ids=lambda p: p.__name__)
def test_the_backend_has_every_method_with_the_protocols_parameters(store, part):
    for name, wanted in _methods(part).items():
        have = inspect.signature(getattr(type(store), name))
        params = {p.name: (p.kind, p.default) for p in have.parameters.values()}
        for p in wanted.parameters.values():
            assert p.name in params, f"{type(store).__name__}.{name} lacks {p.name}"
            assert params[p.name] == (p.kind, p.default), f"{type(store).__name__}.{name}({p.name})"
