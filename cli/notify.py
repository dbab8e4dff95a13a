"""Notifications: the deadline scan, the delivery worker, contacts and undelivered messages."""

from __future__ import annotations

import time

import click

from cli.app import main
from cli.app import refusals
from cli.app import services
from geo.timeutil import BEIJING
from services.callers import system
from services.notices import CHANNELS
from services.notices import CONTACT_OWNERS


@main.group()
def notify() -> None:
    """Notifications (通知) by SMS, 企业微信 group robot and email, through an outbox.

    \b
    Run `redgrid notify scan` and `redgrid notify send` every minute (cron or systemd timer),
    or keep `redgrid notify send --loop 30` running. Settings: REDGRID_SMS_URL, REDGRID_SMS_KEY,
    REDGRID_SMTP_HOST, REDGRID_SMTP_PORT, REDGRID_SMTP_USER, REDGRID_SMTP_PASSWORD,
    REDGRID_SMTP_FROM, REDGRID_SMTP_STARTTLS, REDGRID_NOTIFY_MAX_ATTEMPTS, REDGRID_NOTIFY_BACKOFF_S,
    REDGRID_NOTIFY_LEASE_S.
    """


@notify.command("scan")
@refusals
def notify_scan() -> None:
    """Write due-soon and overdue notices for running deadlines; safe to run any number of times.

    Example: redgrid notify scan
    """
    report = services().notifications.scan()
    click.echo(f"{report.checked} running deadlines checked, {report.added} new notices")


@notify.command("send")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Messages per round."
)
@click.option(
    "--loop", "every", type=click.FloatRange(1, 3600), help="Keep running, a round every N seconds."
)
@click.option("--worker", help="This worker's name in the outbox (default: host:pid).")
@refusals
def notify_send(limit: int, every: float | None, worker: str | None) -> None:
    """Send due messages once each; failures are retried later with backoff.

    \b
    Example: redgrid notify send
             redgrid notify send --loop 30      # until stopped (Ctrl-C)
    """
    notifications = services().notifications
    while True:
        r = notifications.send_due(worker=worker, limit=limit)
        if r.claimed or every is None:
            click.echo(f"{r.claimed} claimed: {r.sent} sent, {r.retrying} to retry, {r.failed} failed")
        if every is None:
            return
        if r.claimed < limit:  # a full round may have left more: go on at once
            time.sleep(every)


@notify.group()
def contact() -> None:
    """Where departments, the dispatch centre and 吹哨群 are reached (grid teams: the roster)."""


@contact.command("add")
@click.argument("owner", type=click.Choice(CONTACT_OWNERS))
@click.argument("code")
@click.argument("channel", type=click.Choice(CHANNELS))
@click.argument("address")
@refusals
def contact_add(owner: str, code: str, channel: str, address: str) -> None:
    """Add a contact: an SMS number, a 企业微信 robot webhook URL or an email address.

    \b
    Example: redgrid notify contact add department urban_mgmt sms 13800138000
             redgrid notify contact add department urban_mgmt wecom 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY'
             redgrid notify contact add centre centre email dispatch@dali.example.org
    """
    new = services().notifications.add_contact(system(), owner, code, channel, address)
    click.echo("added" if new else "already there")


@contact.command("remove")
@click.argument("owner", type=click.Choice(CONTACT_OWNERS))
@click.argument("code")
@click.argument("channel", type=click.Choice(CHANNELS))
@click.argument("address")
@refusals
def contact_remove(owner: str, code: str, channel: str, address: str) -> None:
    """Remove a contact.

    Example: redgrid notify contact remove department urban_mgmt sms 13800138000
    """
    count = services().notifications.remove_contact(system(), owner, code, channel, address)
    click.echo(f"{count} removed")


@contact.command("list")
@click.option("--owner", type=click.Choice(CONTACT_OWNERS), help="Only this kind of owner.")
@refusals
def contact_list(owner: str | None) -> None:
    """List contacts.

    Example: redgrid notify contact list --owner department
    """
    found = services().notifications.contacts(system(), owner)
    for c in found:
        click.echo(f"{c.owner_kind:<14} {c.owner_code:<20} {c.channel:<6} {c.address}")
    if not found:
        click.echo("no contacts", err=True)


@notify.command("undelivered")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@refusals
def notify_undelivered(limit: int) -> None:
    """Messages that failed or may not have arrived, newest first.

    Example: redgrid notify undelivered
    """
    views = services().notifications.undelivered(system(), limit=limit)
    for v in views:
        m = v.message
        when = m.created_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        click.echo(
            f"{m.id:>6} {when} {m.status:<8} {m.kind:<14} {m.channel:<6} {v.address:<24} {m.last_error or ''}"
        )
    if not views:
        click.echo("no undelivered messages", err=True)


@notify.command("retry")
@click.argument("message_id", type=int)
@refusals
def notify_retry(message_id: int) -> None:
    """Send an undelivered message again (after checking it did not arrive).

    Example: redgrid notify retry 42
    """
    count = services().notifications.retry(system(), message_id)
    click.echo(f"{count} message(s) queued")
