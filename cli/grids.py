"""Places, grid files and versions, rosters, and lookups."""

from __future__ import annotations

import json
import sys

import click

from cli.app import fail
from cli.app import main
from cli.app import progress
from cli.app import refusals
from cli.app import services
from cli.app import sheet_arg
from geo.officials import RosterChanges
from geo.officials import RosterFile
from geo.timeutil import beijing_today
from geo.timeutil import parse_when
from services.bulk import locate_csv
from services.grids import ImportRefused
from services.shapes import point_answer_json
from services.shapes import version_json


@main.group()
def town() -> None:
    """Towns and their outlines (used to check grids for gaps and overhangs)."""


@town.command("set")
@click.argument("code")
@click.argument("name")
@click.option(
    "--outline",
    type=click.Path(exists=True, dir_okay=False),
    help="A polygon file of the town outline (any format grids accept).",
)
@click.option("--crs", help="CRS of the outline file when it declares none.")
@refusals
def town_set(code: str, name: str, outline: str | None, crs: str | None) -> None:
    """Register a town (9-digit statistical code) and its outline.

    Example: redgrid town set 440605125 大沥镇 --outline data/shapes/dali-demo-outline.geojson
    """
    with_outline = services().places.set_town(code, name, outline, crs)
    click.echo(f"town {code} {name} saved" + (" with its outline" if with_outline else ""))


@main.group()
def communities() -> None:
    """The community list grids are checked against."""


@communities.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@refusals
def communities_import(path: str) -> None:
    """Load communities from CSV (code, name[, short_name, kind, town_code]); safe to re-run.

    Example: redgrid communities import data/communities.csv
    """
    count = services().places.import_communities(path)
    click.echo(f"{count} communities saved")


def _fields(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r}: expected FIELD=COLUMN, e.g. code=WGBM")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _grid_file_options(fn):
    fn = click.option(
        "--field",
        "fields",
        multiple=True,
        help="FIELD=COLUMN for columns the usual names miss, e.g. code=WGBM.",
    )(fn)
    fn = click.option("--town", "town_code", help="Town code, when the grid codes do not say.")(fn)
    fn = click.option("--layer", help="Layer to read from a multi-layer file.")(fn)
    fn = click.option(
        "--crs",
        help="CRS of the coordinates when the file declares none, or "
        "gcj02 / bd09 (e.g. EPSG:4490, EPSG:32649, gcj02).",
    )(fn)
    fn = click.option(
        "--repair", is_flag=True, help="Apply safe fixes (make_valid, slivers under 50 m²) and list them."
    )(fn)
    fn = click.option(
        "--encoding",
        help="Text encoding of the attributes (e.g. gbk, big5, utf-8), overriding a shapefile's "
        ".cpg or the detected one.",
    )(fn)
    return click.argument("path", type=click.Path(exists=True, dir_okay=False))(fn)


@main.group()
def grids() -> None:
    """Grid boundary files: validate and import as new versions."""


@grids.command("validate")
@_grid_file_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@refusals
def grids_validate(path, crs, layer, town_code, fields, repair, encoding, as_json) -> None:
    """Check a grid file and print the validation report; stores nothing.

    The report says how the file was read: its format, the attribute encoding and the CRS,
    each with the reason. Exit status 0 when the file would import, 1 when it has errors.

    Example: redgrid grids validate 网格.shp --encoding gbk --crs EPSG:4547
    """
    _, _, report, changes = services().grids.check_file(
        path,
        crs=crs,
        layer=layer,
        fields=_fields(fields),
        town_code=town_code,
        repair=repair,
        encoding=encoding,
        progress=progress,
    )
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "repairs": changes}, ensure_ascii=False, indent=1))
    else:
        for change in changes:
            click.echo(f"  REPAIRED {change}")
        click.echo(report.format_text())
    sys.exit(0 if report.ok else 1)


@grids.command("import")
@_grid_file_options
@click.option("--activate", is_flag=True, help="Make the new version the active one (atomic).")
@click.option("--label", help="A label for the version, e.g. 2027年网格调整.")
@click.option("--note", help="Free text stored with the version.")
@click.option("--by", default=lambda: "cli", help="Who is importing (kept with the version).")
@refusals
def grids_import(path, crs, layer, town_code, fields, repair, encoding, activate, label, note, by) -> None:
    """Validate a grid file and store it as a new version; refused whole on any error.

    Re-running the same import is safe: it finds the version already made.

    Example: redgrid grids import grids-2027.shp.zip --crs EPSG:32649 --label 2027 --activate
    """
    try:
        outcome = services().grids.import_file(
            path,
            crs=crs,
            layer=layer,
            fields=_fields(fields),
            town_code=town_code,
            repair=repair,
            activate=activate,
            label=label,
            by=by,
            note=note,
            encoding=encoding,
            progress=progress,
        )
    except ImportRefused as exc:
        click.echo(exc.message, err=True)
        sys.exit(1)
    for change in outcome.repairs:
        click.echo(f"  REPAIRED {change}")
    click.echo(outcome.report.format_text())
    state = "created" if outcome.created else "already imported as"
    click.echo(
        f"version {outcome.version_id} {state} ({outcome.source_crs} → WGS84); "
        f"{len(outcome.report.warnings)} warning(s)"
        + (
            "; active"
            if outcome.activated
            else f"; not active (redgrid versions activate {outcome.version_id})"
        )
    )


@main.group()
def versions() -> None:
    """Grid versions (generations): list, inspect, activate."""


@versions.command("list")
def versions_list() -> None:
    """List grid versions, newest last; * marks the active one.

    Example: redgrid versions list
    """
    for v in services().grids.versions():
        mark = "*" if v.active else " "
        when = v.activated_at.astimezone().strftime("%Y-%m-%d %H:%M") if v.activated_at else "never"
        click.echo(
            f"{mark} {v.id:>4}  {v.label:<28} {v.n_grids:>6} grids  {v.source_crs or '':<12} "
            f"imported {v.created_at.astimezone():%Y-%m-%d %H:%M}  last active {when}"
        )


@versions.command("show")
@click.argument("version_id", type=int)
@refusals
def versions_show(version_id: int) -> None:
    """Print one version with its validation report and repairs, as JSON.

    Example: redgrid versions show 3
    """
    info = services().grids.version(version_id)
    click.echo(
        json.dumps(
            {**version_json(info), "report": info.report, "repairs": info.repairs},
            ensure_ascii=False,
            indent=1,
        )
    )


@versions.command("activate")
@click.argument("version_id", type=int)
@click.option("--by", default="cli", help="Who activates (kept in the activation log).")
@refusals
def versions_activate(version_id: int, by: str) -> None:
    """Make a version the active one, atomically; lookups switch within seconds.

    Example: redgrid versions activate 3
    """
    services().grids.activate(version_id, by)
    click.echo(f"version {version_id} is active")


@main.group()
def officials() -> None:
    """Rosters of the five-level teams."""


@officials.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--version",
    "version_id",
    type=int,
    help="Check unit codes against this version (default: the active one).",
)
@click.option("--encoding", help="Force the CSV encoding (utf-8, gbk); detected otherwise.")
@click.option("--sheet", help="Excel sheet name or 0-based number (default: every roster sheet).")
@click.option("--preview", is_flag=True, help="Show what would be added, removed and changed; store nothing.")
@refusals
def officials_import(
    path: str, version_id: int | None, encoding: str | None, sheet: str | None, preview: bool
) -> None:
    """Import a roster (CSV in UTF-8 or GBK, or Excel); refused whole on any bad row.

    An Excel workbook may have a title row, headers merged over two rows and one sheet per
    community; every sheet with a roster header is read unless --sheet names one.
    Rows are matched on phone + role + unit + start date, so re-importing adds nothing.
    --preview lists who would be added, removed and changed (with the fields, sheet and
    row) against the roster in force today, and stores nothing; an import prints the same
    list on stderr. People missing from the file are not ended automatically.

    Example: redgrid officials import 2026年网格员名册.xlsx --preview
    """
    grids_service = services().grids
    roster_file, changes = grids_service.preview_roster(
        path, version_id=version_id, encoding=encoding, sheet=sheet_arg(sheet)
    )
    if preview:
        click.echo(_roster_preview_text(path, roster_file, changes))
        click.echo("nothing stored (preview); run the same command without --preview to apply")
        return
    summary = grids_service.import_roster(
        path, version_id=version_id, encoding=encoding, sheet=sheet_arg(sheet)
    )
    click.echo(_roster_preview_text(path, roster_file, changes), err=True)
    click.echo(
        f"{summary.rows} rows: {summary.added} added, {summary.updated} updated, "
        f"{summary.unchanged} unchanged"
    )


@officials.command("team")
@click.argument("grid")
def officials_team(grid: str) -> None:
    """Today's team of a grid with each member's roster id (what a grid user is linked to,
    and what a case is assigned to).

    Example: redgrid officials team 440605125001001
    """
    for member in services().cases.teams.team(grid, beijing_today()):
        click.echo(f"{member.id}\t{member.name}\t{member.post_zh}")


def _roster_preview_text(path: str, roster_file: RosterFile, changes: RosterChanges) -> str:
    """How the roster was read, what it changes, and the rows an import leaves in force."""
    read = f"{len(roster_file.assignments)} rows"
    if roster_file.sheets:
        read += f" from sheet(s) {', '.join(roster_file.sheets)}"
    if roster_file.skipped_sheets:
        read += f"; skipped sheet(s) without a roster header: {', '.join(roster_file.skipped_sheets)}"
    lines = [f"{click.format_filename(path, shorten=True)}: {read}"]
    if roster_file.encoding:
        lines.append(f"  encoding {roster_file.encoding}: {roster_file.encoding_reason}")
    lines.append(changes.format_text())
    stale = list(changes.removed) + [c for c in changes.changed if c.rekeyed]
    if stale:
        lines.append(
            f"not ended automatically: {len(stale)} current row(s) stay in force after the import, "
            "because rows are matched on phone + role + unit + start; to end one, add its row "
            "with an end date (结束日期) to the roster:"
        )
        for change in stale:
            old = change.before
            assert old is not None
            why = (
                "not in the new roster" if change.kind == "removed" else f"{', '.join(change.fields)} changed"
            )
            lines.append(
                f"  {old.name} ({old.role.label_zh}, {old.unit_code}) {old.phone} from {old.start}: {why}"
            )
    return "\n".join(lines)


@main.command("locate")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option(
    "--coordsys",
    default="wgs84",
    show_default=True,
    help="wgs84, cgcs2000, gcj02 (Amap/Tencent) or bd09 (Baidu).",
)
@click.option("--version", "version_id", type=int, help="Grid version (default: active).")
@click.option("--at", help="The version in force at this date/time, e.g. 2025-06-30.")
@click.option("--show-phones", is_flag=True, help="Print full phone numbers (local operator).")
@refusals
def locate(lon: float, lat: float, coordsys: str, version_id, at, show_phones: bool) -> None:
    """Which grid holds a point, and who answers for it (JSON).

    Example: redgrid locate 113.1503 23.1085 --coordsys gcj02
    """
    grids_service = services().grids
    answer = grids_service.point(
        lon, lat, coordsys=coordsys, version=version_id, at=parse_when(at) if at else None, strict=False
    )
    body = point_answer_json(answer, show_phone=show_phones, near_m=grids_service.near_m)
    click.echo(json.dumps(body, ensure_ascii=False, indent=1))


@main.command("locate-file")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--coordsys", default="wgs84", show_default=True)
@click.option("--version", "version_id", type=int, help="Grid version (default: active).")
@click.option("--resume", is_flag=True, help="Continue a run that stopped: keep DST's finished rows.")
@click.option("--chunk", default=200_000, show_default=True, help="Rows per step.")
@refusals
def locate_file(src: str, dst: str, coordsys: str, version_id, resume: bool, chunk: int) -> None:
    """Locate every point of a CSV (columns lon, lat[, id]) into a CSV of answers.

    Progress is printed; the output is written to DST.partial and renamed when complete,
    so a crashed run never leaves a half file under the final name. --resume skips the
    rows DST.partial already holds.

    Example: redgrid locate-file hotline-2026.csv hotline-2026-grids.csv --coordsys gcj02
    """
    rows = locate_csv(
        services().grids,
        src,
        dst,
        coordsys=coordsys,
        version_id=version_id,
        resume=resume,
        chunk=chunk,
        progress=progress,
        note=lambda text: click.echo(text, err=True),
    )
    click.echo(f"{rows} rows → {dst}", err=True)


__all__ = ["fail"]
