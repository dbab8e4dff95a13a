"""The SQL store's own concerns, on both databases: the migrations and the schema they build.

What every backend must do (versions, officials, keys, ...) is in ``tests/contract``.
"""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from store import open_store
from store.schema import build_tables
from store.sql import make_engine
from store.sql import migrate

GEOMETRIES = {
    ("community_shapes", "geometry"),
    ("complaints", "point"),
    ("grids", "geometry"),
    ("towns", "outline"),
}


def test_migrations_are_idempotent(store_url):
    open_store(store_url).dispose()
    again = open_store(store_url)  # second upgrade is a no-op
    assert again.versions() == []
    again.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_declares(store_url):
    """Tables, columns, types, nullability, keys, unique constraints, indexes: no difference
    between an empty database brought to head and ``store.schema``."""
    engine = make_engine(store_url)
    migrate(engine)
    metadata, _ = build_tables(engine.dialect.name)

    def ours(name, type_, parent_names) -> bool:  # not PostGIS's tables, nor alembic_version
        return type_ != "table" or name in metadata.tables

    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLAlchemy does not know PostGIS's type; its columns are checked below
            warnings.filterwarnings("ignore", "Did not recognize type 'geometry'", sa.exc.SAWarning)
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": ours})
            differences = compare_metadata(context, metadata)
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    assert set(metadata.tables) <= tables


@pytest.mark.postgis
def test_on_postgis_geometries_are_4326_columns_with_gist_indexes(postgis):
    url = postgis("schema")
    engine = make_engine(url)
    migrate(engine)
    try:
        with engine.connect() as conn:
            columns = conn.execute(
                sa.text(
                    "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns "
                    "WHERE f_table_schema = 'public'"
                )
            ).all()
            indexes = conn.execute(
                sa.text("SELECT tablename, indexdef FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")
            ).all()
    finally:
        engine.dispose()
    found = {(t, c): (kind, srid) for t, c, kind, srid in columns}
    assert found == dict.fromkeys(GEOMETRIES, ("GEOMETRY", 4326))
    assert {(t, d.rsplit("(", 1)[1].rstrip(")")) for t, d in indexes} == GEOMETRIES - {("towns", "outline")}
