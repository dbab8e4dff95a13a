"""Alembic environment: RedGrid runs migrations from code (``store.migrate``), not alembic.ini."""

import sqlalchemy as sa
from alembic import context

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database: run the migrations through store.migrate(url)")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _run(conn)
