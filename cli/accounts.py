"""People who log in to the pages, and API keys for other systems."""

from __future__ import annotations

import click

from cli.app import main
from cli.app import refusals
from cli.app import services
from services.callers import KEY_SCOPES
from services.callers import ROLES


@main.group()
def apikey() -> None:
    """API keys for other systems."""


@apikey.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(KEY_SCOPES),
    help="personal_data: full phone numbers; write: changes.",
)
@refusals
def apikey_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key and print it once (only its hash is kept).

    Example: redgrid apikey create hotline-12345 --scope personal_data
    """
    click.echo(services().accounts.create_key(name, scopes))


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke every live key of a name.

    Example: redgrid apikey revoke hotline-12345
    """
    count = services().accounts.revoke_key(name)
    click.echo(f"{count} key(s) revoked")


@main.group()
def users() -> None:
    """People who log in to the pages (dispatcher, planner, department, admin)."""


@users.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The name shown on pages, e.g. 王调度.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--department", help="Department code, for department users.")
@click.password_option(help="Asked for twice when not given (at least 10 characters).")
@refusals
def users_create(username, display_name, role, department, password) -> None:
    """Create a user; the password is stored only as a scrypt hash.

    Example: redgrid users create wang --name 王调度 --role dispatcher
    """
    services().accounts.create_user(username, display_name, password, role, department)
    click.echo(f"user {username} ({role}) created")
