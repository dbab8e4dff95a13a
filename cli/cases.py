"""Complaints in bulk (import, re-aggregation) and the working-day calendar."""

from __future__ import annotations

from pathlib import Path

import click

from cli.app import main
from cli.app import progress
from cli.app import refusals
from cli.app import services
from cli.app import sheet_arg


@main.group()
def complaints() -> None:
    """Complaints (诉求): bulk import, demo data, re-aggregation, statistics."""


@complaints.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", required=True, help="The system the ids belong to, e.g. 12345热线.")
@click.option("--encoding", help="Force the CSV encoding (utf-8, gbk); detected otherwise.")
@click.option("--sheet", help="Excel sheet name or 0-based number.")
@refusals
def complaints_import(path: str, source: str, encoding: str | None, sheet: str | None) -> None:
    """Import a hotline export (CSV UTF-8/GBK or Excel): all rows or none.

    Rows already imported (same source and 工单编号) are skipped, so a re-run adds nothing.

    Example: redgrid complaints import 12345-2026-11.xlsx --source 12345热线
    """
    from geo.errors import GeoError

    try:
        report = services().cases.import_file(
            path, source=source, actor="cli", encoding=encoding, sheet=sheet_arg(sheet), progress=progress
        )
    except GeoError as exc:  # a file or rows refused: exit 1 with the report, like a refused grid file
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc
    click.echo(f"{report.rows} rows: {report.added} added, {report.skipped} already present")


@complaints.command("demo")
@click.option("-n", "count", default=50_000, show_default=True, help="How many complaints.")
@click.option("--seed", default=2024, show_default=True)
@click.option("--years", default=2.0, show_default=True, help="How far back they go.")
@refusals
def complaints_demo(count: int, seed: int, years: float) -> None:
    """Generate demo complaints over the past years, with hotspots, seasons and histories.

    Safe to re-run: complaints already stored are skipped.

    Example: redgrid complaints demo -n 50000
    """
    added, skipped = services().demo.complaints(count, seed=seed, years=years, progress=progress)
    click.echo(f"{added} demo complaints added, {skipped} already present")


@complaints.command("reaggregate")
@click.argument("version_id", type=int)
@refusals
def complaints_reaggregate(version_id: int) -> None:
    """Map every complaint onto another grid version, for analysis; records keep their grid.

    Example: redgrid complaints reaggregate 2
    """
    count = services().cases.reaggregate(version_id, progress=progress)
    click.echo(f"{count} complaints mapped onto version {version_id}")


@main.group()
def calendar() -> None:
    """The working-day calendar used for deadlines."""


@calendar.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@refusals
def calendar_load(path: str) -> None:
    """Load a year's official holiday schedule (国务院办公厅 notice) as CSV: date, kind, name.

    kind is holiday (放假) or workday (调休上班). A running service uses it within seconds, no
    restart needed. The deadlines of open cases that were provisional or fall in that year are
    counted again, each change recorded on its case and listed here.

    Example: redgrid calendar load 2027.csv
    """
    from geo.timeutil import BEIJING

    loaded = services().cases.load_calendar(Path(path), actor="cli")
    click.echo(f"{loaded.year}: {loaded.days} scheduled days loaded")
    if loaded.recomputed:
        click.echo(f"{len(loaded.recomputed)} open deadlines recomputed:")
    for r in loaded.recomputed:
        old, new = r.old.astimezone(BEIJING), r.new.astimezone(BEIJING)
        mark = " (provisional)" if r.provisional else ""
        click.echo(f"  complaint {r.complaint_id}: {old:%Y-%m-%d %H:%M} → {new:%Y-%m-%d %H:%M}{mark}")
