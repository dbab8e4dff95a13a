"""People who log in to the pages, and API keys for other systems."""

from __future__ import annotations

import click

from cli.app import main
from cli.app import refusals
from cli.app import services
from services import audit
from services.callers import KEY_SCOPES
from services.callers import ROLES
from services.callers import system
from services.permissions import GRANT_DEPARTMENT
from services.permissions import GRANT_SOURCE


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
    help="personal_data: full phone numbers; write: changes (filing); dispatch: the dispatch "
    "centre's workflow actions.",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="A source the key may file and import under (e.g. 12345热线); its own api:NAME always.",
)
@click.option("--department", help="Bind the key to a department: contacts and actions on its cases only.")
@refusals
def apikey_create(
    name: str, scopes: tuple[str, ...], sources: tuple[str, ...], department: str | None
) -> None:
    """Create an API key and print it once (only its hash is kept).

    \b
    Example: redgrid apikey create hotline-12345 --scope write --source 12345热线
             redgrid apikey create police-desk --scope personal_data --scope write --department police
    """
    svc = services()
    if department and department not in svc.cases.catalog.departments:
        raise click.BadParameter(f"unknown department {department!r}", param_hint="--department")
    token = svc.accounts.create_key(name, scopes)
    cli = system()
    svc.audit.record(cli, audit.KEY_CREATE, f"api_key:{name}", {"scopes": sorted(scopes)})
    for source in sources:
        svc.grants.grant(cli, f"api_key:{name}", GRANT_SOURCE, source)
    if department:
        svc.grants.grant(cli, f"api_key:{name}", GRANT_DEPARTMENT, department)
    click.echo(token)


@apikey.command("grant")
@click.argument("name")
@click.option("--source", "sources", multiple=True, help="A source the key may file under.")
@click.option("--department", help="The department the key acts for.")
@click.option("--revoke", is_flag=True, help="Take the named grants away instead.")
@refusals
def apikey_grant(name: str, sources: tuple[str, ...], department: str | None, revoke: bool) -> None:
    """Grant a key sources to file under, or a department (or --revoke them).

    Example: redgrid apikey grant hotline-12345 --source 12345热线
    """
    _grant(f"api_key:{name}", sources, department, revoke)


def _grant(grantee: str, sources: tuple[str, ...], department: str | None, revoke: bool) -> None:
    grants, cli = services().grants, system()
    wanted = [(GRANT_SOURCE, s) for s in sources] + ([(GRANT_DEPARTMENT, department)] if department else [])
    for kind, value in wanted:
        if revoke:
            grants.revoke(cli, grantee, kind, value)
        else:
            grants.grant(cli, grantee, kind, value)
    shown = ", ".join(f"{kind} {value}" for kind, value in grants.of(grantee)) or "nothing"
    click.echo(f"{grantee} is granted: {shown}")


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke every live key of a name.

    Example: redgrid apikey revoke hotline-12345
    """
    count = services().accounts.revoke_key(name)
    if count:
        services().audit.record(system(), audit.KEY_REVOKE, f"api_key:{name}", {"keys": count})
    click.echo(f"{count} key(s) revoked")


@main.group()
def users() -> None:
    """People who log in to the pages (dispatcher, planner, department, admin)."""


@users.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The name shown on pages, e.g. 王调度.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--department", help="Department code, for department users.")
@click.option(
    "--official",
    type=int,
    help="Roster id of a grid user (the person on the roster: redgrid officials team GRID).",
)
@click.password_option(help="Asked for twice when not given (at least 10 characters).")
@refusals
def users_create(username, display_name, role, department, official, password) -> None:
    """Create a user; the password is stored only as a scrypt hash.

    Example: redgrid users create wang --name 王调度 --role dispatcher;
    redgrid users create li --name 李网格 --role grid --official 17
    """
    services().accounts.create_user(username, display_name, password, role, department, official)
    detail = {"role": role, "department": department} | ({"official": official} if official else {})
    services().audit.record(system(), audit.USER_CREATE, f"user:{username}", detail)
    click.echo(f"user {username} ({role}) created")


@users.command("grant")
@click.argument("username")
@click.option("--source", "sources", multiple=True, required=True, help="A source the user may file under.")
@click.option("--revoke", is_flag=True, help="Take the named sources away instead.")
@refusals
def users_grant(username: str, sources: tuple[str, ...], revoke: bool) -> None:
    """Grant a user sources to file under (or --revoke them).

    Example: redgrid users grant wang --source 12345热线
    """
    _grant(f"user:{username}", sources, None, revoke)


# --- user and key upkeep: list, disable/enable, reset a password, rotate a key ---------------


@users.command("list")
def users_list() -> None:
    """Every user: name, role, department, active or disabled.

    Example: redgrid users list
    """
    for u in services().accounts.users():
        state = "active" if u.active else "disabled"
        click.echo(f"{u.username}\t{u.display_name}\t{u.role}\t{u.department_code or '-'}\t{state}")


@users.command("disable")
@click.argument("username")
@refusals
def users_disable(username: str) -> None:
    """Disable a user: sign-ins are refused and every session ends at once.

    Example: redgrid users disable wang
    """
    changed = services().accounts.set_active(username, False)
    if changed:
        services().audit.record(system(), audit.USER_CHANGE, f"user:{username}", {"active": False})
    click.echo(f"user {username} disabled" if changed else f"user {username} was already disabled")


@users.command("enable")
@click.argument("username")
@refusals
def users_enable(username: str) -> None:
    """Enable a disabled user again.

    Example: redgrid users enable wang
    """
    changed = services().accounts.set_active(username, True)
    if changed:
        services().audit.record(system(), audit.USER_CHANGE, f"user:{username}", {"active": True})
    click.echo(f"user {username} enabled" if changed else f"user {username} was already active")


@users.command("reset-password")
@click.argument("username")
@click.password_option(help="Asked for twice when not given (at least 10 characters).")
@refusals
def users_reset_password(username: str, password: str) -> None:
    """Set a new password; every session of the user ends.

    Example: redgrid users reset-password wang
    """
    services().accounts.set_password(username, password)
    services().audit.record(system(), audit.USER_CHANGE, f"user:{username}", {"password": "reset"})
    click.echo(f"password of {username} reset; every session of {username} ended")


@apikey.command("rotate")
@click.argument("name")
@refusals
def apikey_rotate(name: str) -> None:
    """Give a key a new token (printed once) with the same scopes; the old token stops working.

    Example: redgrid apikey rotate hotline-12345
    """
    token = services().accounts.rotate_key(name)
    services().audit.record(system(), audit.KEY_CREATE, f"api_key:{name}", {"rotated": True})
    click.echo(token)


@apikey.command("list")
def apikey_list() -> None:
    """Every key (never its token): name, scopes, created, revoked.

    Example: redgrid apikey list
    """
    for k in services().accounts.keys():
        revoked = k["revoked_at"].isoformat(timespec="seconds") if k["revoked_at"] else "live"
        created = k["created_at"].isoformat(timespec="seconds")
        click.echo(f"{k['name']}\t{k['scopes'] or '-'}\t{created}\t{revoked}")
