"""The ``redgrid`` command: import, validate and activate grids, officials, lookups, demo data.

Every command works on the database the app is configured with (``REDGRID_DATABASE_URL``,
default SQLite in ./instance). Long work prints progress to stderr and is safe to re-run.
"""

from __future__ import annotations

import datetime
import json
import sys
import time
from pathlib import Path

import click
import geopandas as gpd
import numpy as np
import pandas as pd
from flask import current_app
from flask.cli import FlaskGroup
from flask.cli import with_appcontext

from geo.crs import normalise_coordsys
from geo.errors import GeoError
from geo.officials import generate_roster
from geo.officials import read_roster
from geo.officials import write_roster_csv
from geo.tabular import file_sha256
from webmap import auth
from webmap.grid_service import GridService
from webmap.grid_service import ImportRefused
from webmap.grid_service import parse_when
from webmap.grid_service import today
from webmap.serialize import point_json
from webmap.serialize import version_json

REPO_DATA = Path(__file__).resolve().parents[1] / "data"


def _create_app():
    from webmap import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """RedGrid: grids, their officials and point-in-grid lookup for grid governance (党建小红格).

    \b
    Quick start on the bundled Dali demo:
      redgrid demo load        # town, 43 communities, 309 grids, roster
      redgrid locate 113.1457 23.1110
      redgrid run              # web app and API on http://127.0.0.1:5000
    """


def svc() -> GridService:
    return current_app.extensions["redgrid"]


def _progress(stage: str, done: int, total: int) -> None:
    """Progress on stderr: redrawn in place on a terminal, a line per stage in logs."""
    if sys.stderr.isatty():
        end = "\n" if done >= total else "\r"
        click.echo(f"  {stage:<18} {done}/{total}{end}", err=True, nl=False)
    elif done >= total:
        click.echo(f"  {stage:<18} {done}/{total}", err=True)


def _fail(exc: Exception) -> None:
    # str(KeyError) is the repr of its message, quotes and all
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _fields(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r}: expected FIELD=COLUMN, e.g. code=WGBM")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


# --- database -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply pending schema migrations (also done at every start).

    Example: REDGRID_DATABASE_URL=postgresql+psycopg://u@host/redgrid redgrid db upgrade
    """
    from store import migrate

    migrate(current_app.config["DATABASE_URL"])
    click.echo("schema is up to date")


# --- places -------------------------------------------------------------------------------


@main.group()
def town() -> None:
    """Towns and their outlines (used to check grids for gaps and overhangs)."""


@town.command("set")
@click.argument("code")
@click.argument("name")
@click.option("--outline", type=click.Path(exists=True, dir_okay=False),
              help="A polygon file of the town outline (any format grids accept).")
@click.option("--crs", help="CRS of the outline file when it declares none.")
@with_appcontext
def town_set(code: str, name: str, outline: str | None, crs: str | None) -> None:
    """Register a town (9-digit statistical code) and its outline.

    Example: redgrid town set 440605125 大沥镇 --outline data/shapes/dali-demo-outline.geojson
    """
    shape = None
    if outline:
        shape = _read_outline(outline, crs)
    svc().store.put_town(code, name, shape, Path(outline).name if outline else None)
    click.echo(f"town {code} {name} saved" + (" with its outline" if shape is not None else ""))


def _read_outline(path: str, crs: str | None):
    import shapely

    from geo.crs import geometries_to_wgs84
    from geo.crs import parse_source_crs
    from geo.errors import MissingCRS

    frame = gpd.read_file(path)
    if frame.crs is None and crs is None:
        raise click.UsageError(str(MissingCRS(f"{path}: the outline declares no CRS; use --crs")))
    source = parse_source_crs(crs) if crs else None
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if source is not None:
        geoms = geometries_to_wgs84(geoms, source)
    elif not frame.crs.equals(4326):
        geoms = np.asarray(frame.to_crs(4326).geometry.values, dtype=object)
    return shapely.union_all(geoms)


@main.group()
def communities() -> None:
    """The community list grids are checked against."""


@communities.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def communities_import(path: str) -> None:
    """Load communities from CSV (code, name[, short_name, kind, town_code]); safe to re-run.

    Example: redgrid communities import data/communities.csv
    """
    frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    missing = {"code", "name"} - set(frame.columns)
    if missing:
        _fail(ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}"))
    bad = frame[~frame["code"].str.fullmatch(r"\d{12}")]
    if len(bad):
        rows = ", ".join(str(i + 2) for i in bad.index[:10])
        _fail(ValueError(f"{path}: rows {rows}: field 'code' must be a 12-digit statistical code"))
    frame["short_name"] = frame.get("short_name", frame["name"])
    frame["kind"] = frame.get("kind", pd.Series("urban", index=frame.index)).fillna("urban")
    bad_kind = frame[~frame["kind"].isin(["urban", "rural"])]
    if len(bad_kind):
        rows = ", ".join(str(i + 2) for i in bad_kind.index[:10])
        _fail(ValueError(f"{path}: rows {rows}: field 'kind' must be urban or rural"))
    frame["town_code"] = frame["code"].str[:9]
    count = svc().store.put_communities(frame)
    click.echo(f"{count} communities saved")


# --- grids and versions -------------------------------------------------------------------


def _grid_file_options(fn):
    fn = click.option("--field", "fields", multiple=True,
                      help="FIELD=COLUMN for columns the usual names miss, e.g. code=WGBM.")(fn)
    fn = click.option("--town", "town_code", help="Town code, when the grid codes do not say.")(fn)
    fn = click.option("--layer", help="Layer to read from a multi-layer file.")(fn)
    fn = click.option("--crs", help="CRS of the coordinates when the file declares none, or "
                                    "gcj02 / bd09 (e.g. EPSG:4490, EPSG:32649, gcj02).")(fn)
    fn = click.option("--repair", is_flag=True,
                      help="Apply safe fixes (make_valid, slivers under 50 m²) and list them.")(fn)
    return click.argument("path", type=click.Path(exists=True, dir_okay=False))(fn)


@main.group()
def grids() -> None:
    """Grid boundary files: validate and import as new versions."""


@grids.command("validate")
@_grid_file_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def grids_validate(path, crs, layer, town_code, fields, repair, as_json) -> None:
    """Check a grid file and print the validation report; stores nothing.

    Exit status 0 when the file would import, 1 when it has errors.

    Example: redgrid grids validate grids-2027.gpkg --crs EPSG:4490
    """
    try:
        _, _, report, changes = svc().check_file(
            path, crs=crs, layer=layer, fields=_fields(fields), town_code=town_code, repair=repair,
            progress=_progress)
    except GeoError as exc:
        _fail(exc)
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
@with_appcontext
def grids_import(path, crs, layer, town_code, fields, repair, activate, label, note, by) -> None:
    """Validate a grid file and store it as a new version; refused whole on any error.

    Re-running the same import is safe: it finds the version already made.

    Example: redgrid grids import grids-2027.shp.zip --crs EPSG:32649 --label 2027 --activate
    """
    try:
        outcome = svc().import_file(
            path, crs=crs, layer=layer, fields=_fields(fields), town_code=town_code, repair=repair,
            activate=activate, label=label, by=by, note=note, progress=_progress)
    except ImportRefused as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except GeoError as exc:
        _fail(exc)
    for change in outcome.repairs:
        click.echo(f"  REPAIRED {change}")
    state = "created" if outcome.created else "already imported as"
    click.echo(f"version {outcome.version_id} {state} ({outcome.source_crs} → WGS84); "
               f"{len(outcome.report.warnings)} warning(s)"
               + ("; active" if outcome.activated else "; not active (redgrid versions activate "
                  f"{outcome.version_id})"))


@main.group()
def versions() -> None:
    """Grid versions (generations): list, inspect, activate."""


@versions.command("list")
@with_appcontext
def versions_list() -> None:
    """List grid versions, newest last; * marks the active one.

    Example: redgrid versions list
    """
    for v in svc().store.versions():
        mark = "*" if v.active else " "
        when = v.activated_at.astimezone().strftime("%Y-%m-%d %H:%M") if v.activated_at else "never"
        click.echo(f"{mark} {v.id:>4}  {v.label:<28} {v.n_grids:>6} grids  {v.source_crs or '':<12} "
                   f"imported {v.created_at.astimezone():%Y-%m-%d %H:%M}  last active {when}")


@versions.command("show")
@click.argument("version_id", type=int)
@with_appcontext
def versions_show(version_id: int) -> None:
    """Print one version with its validation report and repairs, as JSON.

    Example: redgrid versions show 3
    """
    info = svc().store.version(version_id)
    if info is None:
        _fail(KeyError(f"grid version {version_id} does not exist"))
    click.echo(json.dumps({**version_json(info), "report": info.report, "repairs": info.repairs},
                          ensure_ascii=False, indent=1))


@versions.command("activate")
@click.argument("version_id", type=int)
@click.option("--by", default="cli", help="Who activates (kept in the activation log).")
@with_appcontext
def versions_activate(version_id: int, by: str) -> None:
    """Make a version the active one, atomically; lookups switch within seconds.

    Example: redgrid versions activate 3
    """
    try:
        svc().activate(version_id, by)
    except KeyError as exc:
        _fail(exc)
    click.echo(f"version {version_id} is active")


# --- officials ----------------------------------------------------------------------------


@main.group()
def officials() -> None:
    """Rosters of the five-level teams."""


@officials.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--version", "version_id", type=int, help="Check unit codes against this version "
              "(default: the active one).")
@click.option("--encoding", help="Force the CSV encoding (utf-8, gbk); detected otherwise.")
@click.option("--sheet", help="Excel sheet name or 0-based number.")
@with_appcontext
def officials_import(path: str, version_id: int | None, encoding: str | None, sheet: str | None) -> None:
    """Import a roster (CSV in UTF-8 or GBK, or Excel); refused whole on any bad row.

    Rows are matched on phone + role + unit + start date, so re-importing adds nothing.

    Example: redgrid officials import 2026年网格员名册.xlsx
    """
    service = svc()
    try:
        version = service.resolve_version(version_id)
        units = service.unit_codes(version)
        from geo.officials import UnitLevel

        known = {code: UnitLevel(level) for code, level in units.items()}
        chosen_sheet = int(sheet) if sheet and sheet.isdigit() else sheet
        rows = read_roster(path, known_units=known, encoding=encoding, sheet=chosen_sheet)
    except GeoError as exc:
        _fail(exc)
    sha = file_sha256(Path(path))
    summary = service.store.import_assignments(rows, filename=Path(path).name, sha256=sha, by="cli")
    service.forget_roster()
    click.echo(f"{summary.rows} rows: {summary.added} added, {summary.updated} updated, "
               f"{summary.unchanged} unchanged")


# --- lookups ------------------------------------------------------------------------------


@main.command("locate")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--coordsys", default="wgs84", show_default=True,
              help="wgs84, cgcs2000, gcj02 (Amap/Tencent) or bd09 (Baidu).")
@click.option("--version", "version_id", type=int, help="Grid version (default: active).")
@click.option("--at", help="The version in force at this date/time, e.g. 2025-06-30.")
@click.option("--show-phones", is_flag=True, help="Print full phone numbers (local operator).")
@with_appcontext
def locate(lon: float, lat: float, coordsys: str, version_id, at, show_phones: bool) -> None:
    """Which grid holds a point, and who answers for it (JSON).

    Example: redgrid locate 113.1503 23.1085 --coordsys gcj02
    """
    service = svc()
    try:
        grid_set, match, wgs84 = service.locate(lon, lat, coordsys=coordsys, version=version_id,
                                                at=parse_when(at) if at else None)
    except GeoError as exc:
        _fail(exc)
    team = service.team(str(grid_set.index.codes[match.grid])) if match.grid >= 0 else None
    body = point_json(grid_set, match, given={"coordsys": coordsys, "lon": lon, "lat": lat},
                      wgs84=wgs84, team=team, show_phone=show_phones, near_m=service.near_m)
    click.echo(json.dumps(body, ensure_ascii=False, indent=1))


@main.command("locate-file")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@click.argument("dst", type=click.Path(dir_okay=False))
@click.option("--coordsys", default="wgs84", show_default=True)
@click.option("--version", "version_id", type=int, help="Grid version (default: active).")
@click.option("--resume", is_flag=True, help="Continue a run that stopped: keep DST's finished rows.")
@click.option("--chunk", default=200_000, show_default=True, help="Rows per step.")
@with_appcontext
def locate_file(src: str, dst: str, coordsys: str, version_id, resume: bool, chunk: int) -> None:
    """Locate every point of a CSV (columns lon, lat[, id]) into a CSV of answers.

    Progress is printed; the output is written to DST.partial and renamed when complete,
    so a crashed run never leaves a half file under the final name. --resume skips the
    rows DST.partial already holds.

    Example: redgrid locate-file hotline-2026.csv hotline-2026-grids.csv --coordsys gcj02
    """
    from webmap import batch_io
    from webmap.errors import ApiError

    service = svc()
    try:
        coordsys = normalise_coordsys(coordsys)
        grid_set = service.grid_set(service.resolve_version(version_id))
    except GeoError as exc:
        _fail(exc)
    partial = Path(dst + ".partial")
    done = 0
    if resume and partial.exists():
        _drop_torn_row(partial)
        done = max(_count_lines(partial) - 1, 0)
        click.echo(f"resuming after {done} rows", err=True)
    elif partial.exists():
        partial.unlink()
    total = max(_count_lines(Path(src)) - 1, 0)
    start = time.perf_counter()
    with partial.open("ab") as out, pd.read_csv(
            src, dtype=str, chunksize=chunk, encoding="utf-8-sig", keep_default_na=False,
            skiprows=range(1, done + 1)) as reader:
        writer = batch_io.CsvWriter()
        offset = done
        for frame in reader:
            try:
                lon, lat, ids = batch_io._columns(frame, "CSV rows")
            except ApiError as exc:
                _fail(ValueError(f"{src}: {exc.message}"))
            piece = batch_io.Chunk(offset, lon, lat, ids)
            _, match, wlon, wlat = service.locate_many(lon, lat, coordsys=coordsys,
                                                       version=grid_set.version.id)
            # the header goes only into an empty file (a resumed file may hold it and nothing else)
            out.write(writer.rows(piece, wlon, wlat, match, grid_set, first=out.tell() == 0))
            out.flush()
            offset += len(frame)
            rate = (offset - done) / max(time.perf_counter() - start, 1e-9)
            _progress(f"rows ({rate:,.0f}/s)", offset, total)
    partial.replace(dst)
    click.echo(f"{offset} rows → {dst}", err=True)


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _drop_torn_row(path: Path) -> None:
    """Cut a half-written last row (a run killed mid-write) so that --resume redoes it."""
    with path.open("r+b") as fh:
        end = fh.seek(0, 2)
        pos = end
        while pos > 0:
            step = min(1 << 16, pos)
            fh.seek(pos - step)
            cut = fh.read(step).rfind(b"\n")
            if cut >= 0:
                if pos - step + cut + 1 < end:
                    fh.truncate(pos - step + cut + 1)
                return
            pos -= step
        fh.truncate(0)


# --- generation and demo ------------------------------------------------------------------


@main.group()
def generate() -> None:
    """Generate sample grids and rosters."""


@generate.command("grids")
@click.option("--outline", type=click.Path(exists=True, dir_okay=False),
              help="Town outline file; default: a generated outline around Dali's centre.")
@click.option("--communities", "communities_csv", type=click.Path(exists=True, dir_okay=False),
              required=True, help="CSV of communities (code, name[, short_name]).")
@click.option("-n", "--grids", "n_grids", default=309, show_default=True, help="Number of grids.")
@click.option("--seed", default=2024, show_default=True, help="Random seed (same seed, same grids).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output file (.geojson or .gpkg).")
@click.option("--outline-out", type=click.Path(dir_okay=False),
              help="Also write the outline used (only for generated outlines).")
@click.option("--communities-out", type=click.Path(dir_okay=False),
              help="Also write the communities CSV with their generated urban/rural kind.")
def generate_grids_cmd(outline, communities_csv, n_grids, seed, out, outline_out,
                       communities_out) -> None:
    """Divide a town outline into N grids grouped by communities (Voronoi, balanced by area).

    Deterministic for a seed, so re-running gives the same file.

    \b
    Example:
      redgrid generate grids --communities ../shared/data/dali_communities.csv \
        -n 309 --out grids.geojson
    """
    from geo.generate import demo_outline
    from geo.generate import generate_grids

    table = pd.read_csv(communities_csv, dtype=str, encoding="utf-8-sig")
    if outline:
        shape = _read_outline(outline, None)
    else:
        shape = demo_outline(seed=seed)
        if outline_out:
            _write_geo(gpd.GeoDataFrame({"name": ["generated demo outline"]}, geometry=[shape],
                                        crs=4326), outline_out)
    result = generate_grids(shape, table, n_grids, seed=seed, progress=_progress)
    _write_geo(result.grids, out)
    if communities_out:
        frame = result.communities.drop(columns="geometry").copy()
        frame["town_code"] = frame["code"].str[:9]
        frame[["code", "name", "short_name", "kind", "town_code"]].to_csv(
            communities_out, index=False, encoding="utf-8")
    click.echo(f"{len(result.grids)} grids in {len(result.communities)} communities → {out}")


def _write_geo(frame: gpd.GeoDataFrame, path: str) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    driver = "GPKG" if target.suffix.lower() == ".gpkg" else "GeoJSON"
    frame.to_file(tmp, driver=driver, engine="pyogrio")
    tmp.replace(target)


@generate.command("roster")
@click.option("--grids", "grids_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--town", "town_code", required=True, help="Town code, e.g. 440605125.")
@click.option("--seed", default=2024, show_default=True)
@click.option("--start", default="2024-01-01", show_default=True, help="Start date of the posts.")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
def generate_roster_cmd(grids_path, town_code, seed, start, out) -> None:
    """A fake five-level roster for a grid file (Faker zh_CN names, 1380013xxxx phones).

    \b
    Example:
      redgrid generate roster --grids data/shapes/dali-demo-grids.geojson \
        --town 440605125 --out roster.csv
    """
    frame = gpd.read_file(grids_path)
    frame["code"] = frame["code"].astype(str)
    frame["community_code"] = frame["community_code"].astype(str)
    communities_frame = pd.DataFrame({"code": sorted(frame["community_code"].unique())})
    rows = generate_roster(frame, communities_frame, town_code,
                           start=datetime.date.fromisoformat(start), seed=seed)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_roster_csv(rows, out)
    click.echo(f"{len(rows)} assignments → {out}")


@main.group()
def demo() -> None:
    """The bundled Dali demo data (see data/README.md)."""


@demo.command("load")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False),
              default=str(REPO_DATA), show_default=True)
@click.option("--complaints", "complaints_count", default=50_000, show_default=True,
              help="Demo complaints to generate (0 for none).")
@with_appcontext
def demo_load(data_dir: str, complaints_count: int) -> None:
    """Load the demo town, communities, 309 grids and roster; safe to re-run.

    Example: redgrid demo load
    """
    data = Path(data_dir)
    ctx = click.get_current_context()
    ctx.invoke(town_set, code="440605125", name="大沥镇",
               outline=str(data / "shapes" / "dali-demo-outline.geojson"), crs=None)
    ctx.invoke(communities_import, path=str(data / "communities.csv"))
    service = svc()
    outcome = service.import_file(data / "shapes" / "dali-demo-grids.geojson", activate=False,
                                  label="大沥镇演示网格 (generated demo)", by="demo",
                                  progress=_progress)
    if service.store.active_version_id() is None:
        service.activate(outcome.version_id, "demo")
    click.echo(f"grid version {outcome.version_id} " + ("created" if outcome.created else "present"))
    ctx.invoke(officials_import, path=str(data / "officials" / "dali-demo-roster.csv"),
               version_id=outcome.version_id, encoding=None, sheet=None)
    if complaints_count:
        ctx.invoke(complaints_demo, count=complaints_count, seed=2024, years=2.0)
    click.echo(f"demo ready; try: redgrid locate 113.1457 23.1110  (today is {today()})")


# --- API keys -----------------------------------------------------------------------------


@main.group()
def apikey() -> None:
    """API keys for other systems."""


@apikey.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(auth.SCOPES),
              help="personal_data: full phone numbers; write: changes.")
@with_appcontext
def apikey_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key and print it once (only its hash is kept).

    Example: redgrid apikey create hotline-12345 --scope personal_data
    """
    token, digest = auth.new_token()
    svc().store.add_api_key(name, digest, scopes)
    click.echo(token)


@apikey.command("revoke")
@click.argument("name")
@with_appcontext
def apikey_revoke(name: str) -> None:
    """Revoke every live key of a name.

    Example: redgrid apikey revoke hotline-12345
    """
    count = svc().store.revoke_api_key(name)
    click.echo(f"{count} key(s) revoked")


# --- people -------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """People who log in to the pages (dispatcher, planner, department, admin)."""


@users.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="The name shown on pages, e.g. 王调度.")
@click.option("--role", type=click.Choice(["dispatcher", "planner", "department", "admin"]), required=True)
@click.option("--department", help="Department code, for department users.")
@click.password_option(help="Asked for twice when not given (at least 10 characters).")
@with_appcontext
def users_create(username, display_name, role, department, password) -> None:
    """Create a user; the password is stored only as a scrypt hash.

    Example: redgrid users create wang --name 王调度 --role dispatcher
    """
    from webmap.users import create_user

    try:
        create_user(svc().store, username, display_name, password, role, department)
    except ValueError as exc:
        _fail(exc)
    click.echo(f"user {username} ({role}) created")


# --- complaints ---------------------------------------------------------------------------


def complaint_svc():
    return current_app.extensions["redgrid.complaints"]


@main.group()
def complaints() -> None:
    """Complaints (诉求): bulk import, demo data, re-aggregation, statistics."""


@complaints.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", required=True, help="The system the ids belong to, e.g. 12345热线.")
@click.option("--encoding", help="Force the CSV encoding (utf-8, gbk); detected otherwise.")
@click.option("--sheet", help="Excel sheet name or 0-based number.")
@with_appcontext
def complaints_import(path: str, source: str, encoding: str | None, sheet: str | None) -> None:
    """Import a hotline export (CSV UTF-8/GBK or Excel): all rows or none.

    Rows already imported (same source and 工单编号) are skipped, so a re-run adds nothing.

    Example: redgrid complaints import 12345-2026-11.xlsx --source 12345热线
    """
    chosen = int(sheet) if sheet and sheet.isdigit() else sheet
    try:
        report = complaint_svc().import_file(path, source=source, actor="cli", encoding=encoding,
                                             sheet=chosen, progress=_progress)
    except GeoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{report.rows} rows: {report.added} added, {report.skipped} already present")


@complaints.command("demo")
@click.option("-n", "count", default=50_000, show_default=True, help="How many complaints.")
@click.option("--seed", default=2024, show_default=True)
@click.option("--years", default=2.0, show_default=True, help="How far back they go.")
@with_appcontext
def complaints_demo(count: int, seed: int, years: float) -> None:
    """Generate demo complaints over the past years, with hotspots, seasons and histories.

    Safe to re-run: complaints already stored are skipped.

    Example: redgrid complaints demo -n 50000
    """
    from complaints.demo import generate
    from webmap.complaint_service import store_generated

    service = complaint_svc()
    version = service.grids.active_version_id()
    grids_frame = service.store.grids(version)
    kinds = dict(zip(service.store.communities()["code"], service.store.communities()["kind"],
                     strict=True))
    gazetteer = None
    local = getattr(service.geocoder, "local", None)
    if local is not None:
        gazetteer = pd.read_csv(REPO_DATA / "gazetteer" / "dali-demo-addresses.csv", dtype={"id": str})
    # the demo record ends at the start of today (China time), so a re-run on the same day
    # regenerates exactly the same complaints
    end = datetime.datetime.combine(today(), datetime.time(), tzinfo=datetime.timezone(
        datetime.timedelta(hours=8)))
    made = generate(grids_frame, service.catalog, service.calendar, n=count, end=end, years=years,
                    seed=seed, gazetteer=gazetteer, community_kind=kinds)
    added, skipped = store_generated(service, made, progress=_progress)
    click.echo(f"{added} demo complaints added, {skipped} already present")


@complaints.command("reaggregate")
@click.argument("version_id", type=int)
@with_appcontext
def complaints_reaggregate(version_id: int) -> None:
    """Map every complaint onto another grid version, for analysis; records keep their grid.

    Example: redgrid complaints reaggregate 2
    """
    count = complaint_svc().reaggregate(version_id, progress=_progress)
    click.echo(f"{count} complaints mapped onto version {version_id}")


@main.group()
def calendar() -> None:
    """The working-day calendar used for deadlines."""


@calendar.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def calendar_load(path: str) -> None:
    """Load a year's official holiday schedule (国务院办公厅 notice) as CSV: date, kind, name.

    kind is holiday (放假) or workday (调休上班). Restart the service to use it.

    Example: redgrid calendar load 2027.csv
    """
    from complaints.workdays import read_schedule

    try:
        schedule = read_schedule(path)
    except Exception as exc:
        _fail(exc)
    rows = [{"day": d.date, "kind": d.kind, "name": d.name} for d in schedule.days.values()]
    svc().store.put_calendar_days(rows, Path(path).name, year=schedule.year)
    click.echo(f"{schedule.year}: {len(rows)} scheduled days loaded")
