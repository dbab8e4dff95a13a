"""Serving the web app, and the database schema."""

from __future__ import annotations

import click

from cli.app import main
from cli.app import services
from cli.app import settings


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--debug", is_flag=True, help="Reload on code changes and show tracebacks (never in production)."
)
def run(host: str, port: int, debug: bool) -> None:
    """Serve the pages and the API with Flask's development server.

    In production run it under a WSGI server instead: gunicorn -w 2 'webmap:create_app()'

    Example: redgrid run --port 5077
    """
    from webmap import create_app

    create_app(dict(settings()) or None).run(host=host, port=port, debug=debug)


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (also done at every start).

    Example: REDGRID_DATABASE_URL=postgresql+psycopg://u@host/redgrid redgrid db upgrade
    """
    services()  # building the services applies pending migrations (Config.auto_migrate)
    click.echo("schema is up to date")
