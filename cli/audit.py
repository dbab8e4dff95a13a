"""Reading the audit log: who saw or changed what, when and from where."""

from __future__ import annotations

import json

import click

from cli.app import main
from cli.app import refusals
from cli.app import services
from geo.timeutil import BEIJING
from services.callers import system


@main.group()
def audit() -> None:
    """The audit log (append-only): views of personal data, logins, exports, key use, changes."""


@audit.command("list")
@click.option("--who", help="user:NAME, api_key:NAME, or a bare user name.")
@click.option("--action", help="e.g. case.view, login (also finds login.failed), export.")
@click.option("--since", help="A date or ISO time (Beijing time unless it says otherwise).")
@click.option("--until", help="A date or ISO time; entries before it.")
@click.option("--target", help="e.g. complaint:42, api_key:hotline-12345.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@refusals
def audit_list(who, action, since, until, target, limit, as_json) -> None:
    """Entries newest first.

    \b
    Example: redgrid audit list --action case.view --since 2026-03-01
             redgrid audit list --who user:wang --json
    """
    entries = services().audit.list(
        system(), who=who, action=action, since=since, until=until, target=target, limit=limit
    )
    for e in entries:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": e.id,
                        "at": e.at.isoformat(),
                        "who": e.who,
                        "role": e.role,
                        "action": e.action,
                        "target": e.target,
                        "detail": e.detail,
                        "address": e.address,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            when = e.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S%z")
            detail = json.dumps(e.detail, ensure_ascii=False) if e.detail else ""
            click.echo(
                f"{when}  {e.who:<24} {e.action:<14} {e.target or '-':<24} {e.address or '-':<15} {detail}"
            )
    if not entries:
        click.echo("no entries", err=True)
