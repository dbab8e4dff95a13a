"""Sample data: generated grids and rosters, and the bundled Dali demo."""

from __future__ import annotations

import datetime
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd

from cli.app import main
from cli.app import progress
from cli.app import refusals
from cli.app import services
from geo.officials import generate_roster
from geo.officials import write_roster_csv
from services.demo import default_data_dir
from services.places import read_outline


@main.group()
def generate() -> None:
    """Generate sample grids and rosters."""


@generate.command("grids")
@click.option(
    "--outline",
    type=click.Path(exists=True, dir_okay=False),
    help="Town outline file; default: a generated outline around Dali's centre.",
)
@click.option(
    "--communities",
    "communities_csv",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="CSV of communities (code, name[, short_name]).",
)
@click.option("-n", "--grids", "n_grids", default=309, show_default=True, help="Number of grids.")
@click.option("--seed", default=2024, show_default=True, help="Random seed (same seed, same grids).")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False), help="Output file (.geojson or .gpkg)."
)
@click.option(
    "--outline-out",
    type=click.Path(dir_okay=False),
    help="Also write the outline used (only for generated outlines).",
)
@click.option(
    "--communities-out",
    type=click.Path(dir_okay=False),
    help="Also write the communities CSV with their generated urban/rural kind.",
)
@refusals
def generate_grids_cmd(outline, communities_csv, n_grids, seed, out, outline_out, communities_out) -> None:
    """Divide a town outline into N grids grouped by communities (Voronoi, balanced by area).

    Deterministic for a seed, so re-running gives the same file.

    \b
    Example:
      redgrid generate grids --communities ../shared/data/dali_communities.csv \\
        -n 309 --out grids.geojson
    """
    from geo.generate import demo_outline
    from geo.generate import generate_grids

    table = pd.read_csv(communities_csv, dtype=str, encoding="utf-8-sig")
    if outline:
        shape = read_outline(outline)
    else:
        shape = demo_outline(seed=seed)
        if outline_out:
            _write_geo(
                gpd.GeoDataFrame({"name": ["generated demo outline"]}, geometry=[shape], crs=4326),
                outline_out,
            )
    result = generate_grids(shape, table, n_grids, seed=seed, progress=progress)
    _write_geo(result.grids, out)
    if communities_out:
        frame = result.communities.drop(columns="geometry").copy()
        frame["town_code"] = frame["code"].str[:9]
        frame[["code", "name", "short_name", "kind", "town_code"]].to_csv(
            communities_out, index=False, encoding="utf-8"
        )
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
      redgrid generate roster --grids data/shapes/dali-demo-grids.geojson \\
        --town 440605125 --out roster.csv
    """
    frame = gpd.read_file(grids_path)
    frame["code"] = frame["code"].astype(str)
    frame["community_code"] = frame["community_code"].astype(str)
    communities_frame = pd.DataFrame({"code": sorted(frame["community_code"].unique())})
    rows = generate_roster(
        frame, communities_frame, town_code, start=datetime.date.fromisoformat(start), seed=seed
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_roster_csv(rows, out)
    click.echo(f"{len(rows)} assignments → {out}")


@main.group()
def demo() -> None:
    """The bundled Dali demo data (see data/README.md)."""


@demo.command("load")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False),
    default=lambda: str(default_data_dir()),
    show_default="the bundled demo data",
)
@click.option(
    "--complaints",
    "complaints_count",
    default=50_000,
    show_default=True,
    help="Demo complaints to generate (0 for none).",
)
@refusals
def demo_load(data_dir: str, complaints_count: int) -> None:
    """Load the demo town, communities, 309 grids, roster and complaints; safe to re-run.

    Example: redgrid demo load --complaints 5000
    """
    svc = services().demo
    loaded = svc.load(data_dir, complaints=complaints_count, progress=progress)
    click.echo(f"town 440605125 大沥镇 saved with its outline; {loaded.communities} communities saved")
    click.echo(f"grid version {loaded.version_id} " + ("created" if loaded.version_created else "present"))
    roster = loaded.roster
    click.echo(
        f"{roster.rows} rows: {roster.added} added, {roster.updated} updated, {roster.unchanged} unchanged"
    )
    if complaints_count:
        click.echo(
            f"{loaded.complaints_added} demo complaints added, {loaded.complaints_skipped} already present"
        )
    click.echo(f"demo ready; try: redgrid locate 113.1457 23.1110  (today is {svc.today()})")
