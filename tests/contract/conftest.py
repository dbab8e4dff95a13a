"""One store fixture over every backend: the in-memory fake, SQLite and PostGIS.

The contract tests take ``store`` and use only the protocols of ``store.base``; what
they find must hold on every backend, so a service test on the fake means the same
thing as on the databases.
"""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

from store import open_store
from store.memory import MemoryStore

CHINA = datetime.timezone(datetime.timedelta(hours=8))
T0 = datetime.datetime(2025, 9, 30, 16, 0, tzinfo=CHINA)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store(request, tmp_path):
    if request.param == "memory":
        url = "memory://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgis")("contract")
    s = open_store(url)
    yield s
    s.dispose()


def row_counts(store, *tables: str) -> tuple[int, ...]:
    """How many rows each table holds: a look under the protocol, to prove a rollback whole."""
    if isinstance(store, MemoryStore):
        return tuple(len(store.t[name].rows) for name in tables)
    with store.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(store.t[name])).scalar_one()
            for name in tables
        )


def complaint_row(external_id: str, *, source: str = "test", **values) -> dict:
    # every row names the same columns, as the service's rows do (one executemany per batch)
    return {
        "source": source,
        "external_id": external_id,
        "channel": "hotline",
        "category_code": "noise",
        "text": "噪音",
        "reported_at": T0,
        "state": "collected",
        "grid_code": "440605125001001",
        "community_code": "440605125001",
        "lon": 113.14,
        "lat": 23.10,
        "department_code": None,
        "deadline": None,
        **values,
    }


def event(
    action: str = "collect", to_state: str | None = "collected", at: datetime.datetime = T0, **values
) -> dict:
    return {
        "at": at,
        "actor": "test",
        "action": action,
        "from_state": None,
        "to_state": to_state,
        "note": None,
        "department_code": None,
        "deadline": None,
        "satisfied": None,
        "duplicate_of": None,
        **values,
    }
