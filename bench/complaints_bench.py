"""Complaint import benchmark: a hotline export of N rows, checked, placed in grids and stored.

RedGrid's import (every field checked, every row placed in a grid, all-or-nothing in
one transaction, with an intake event per complaint) is compared in the same run
with the plain ETL a GIS analyst would write: pandas.read_csv, geopandas.sjoin onto
the grids, DataFrame.to_sql, which checks nothing. Each runs in its own process so
its peak memory (max RSS) is its own.

Usage:
    python bench/complaints_bench.py                  # 1,000,000 rows
    python bench/complaints_bench.py --rows 200000 --json bench/results/complaints.json
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_export(path: Path, rows: int, seed: int = 7) -> None:
    """A hotline export in the shape the 12345 system writes: Chinese headers, UTF-8."""
    import geopandas as gpd

    from complaints.catalog import Catalog
    from complaints.demo import _points_in

    grids = gpd.read_file(ROOT / "data" / "shapes" / "dali-demo-grids.geojson")
    rng = np.random.default_rng(seed)
    geoms = np.asarray(grids.geometry.values, dtype=object)
    lon, lat = _points_in(geoms, rng.integers(0, len(geoms), rows), rng)
    categories = [c.name_zh for c in Catalog.load().categories.values()]
    start = datetime.datetime(2025, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["工单编号", "受理时间", "来源渠道", "诉求类别", "诉求内容", "经度", "纬度", "联系电话"])
        minutes = rng.integers(0, 600 * 24 * 60, rows)
        cats = rng.integers(0, len(categories), rows)
        for i in range(rows):
            when = start + datetime.timedelta(minutes=int(minutes[i]))
            out.writerow(
                [
                    f"12345-{i:08d}",
                    when.strftime("%Y-%m-%d %H:%M"),
                    "热线",
                    categories[cats[i]],
                    "市民反映情况，请尽快处理。",
                    f"{lon[i]:.7f}",
                    f"{lat[i]:.7f}",
                    f"1380015{i % 10000:04d}",
                ]
            )


def _redgrid(db: str, export: str, queue) -> None:
    from services.build import build_services
    from services.config import Config

    service = build_services(Config.from_mapping({"DATABASE_URL": f"sqlite:///{db}"})).cases
    service.grids.grid_set(service.grids.active_version_id())  # index built before timing
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    report = service.import_file(export, source="12345热线", actor="bench")
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "seconds": seconds,
            "added": report.added,
            "peak_rss_mb": peak / 1024,
            "peak_gain_mb": (peak - before) / 1024,
            "stored": service.store.count_complaints({"source": "12345热线"}),
        }
    )


def _peer(db: str, export: str, queue) -> None:
    import geopandas as gpd
    import pandas as pd
    import sqlalchemy as sa

    grids = gpd.read_file(ROOT / "data" / "shapes" / "dali-demo-grids.geojson")[["code", "geometry"]]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    frame = pd.read_csv(export, dtype={"工单编号": str})
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["经度"], frame["纬度"]), crs=4326)
    joined = gpd.sjoin(points, grids, predicate="within", how="left").drop(columns="geometry")
    engine = sa.create_engine(f"sqlite:///{db}")
    joined.to_sql("peer_complaints", engine, index=False, chunksize=50_000)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put(
        {
            "seconds": seconds,
            "added": len(joined),
            "peak_rss_mb": peak / 1024,
            "peak_gain_mb": (peak - before) / 1024,
        }
    )


def _run(target, *args) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _prepare_db(db: Path) -> None:
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(
        main, ["demo", "load", "--complaints", "0"], obj={"DATABASE_URL": f"sqlite:///{db}"}
    )
    if result.exit_code != 0:
        raise SystemExit(f"demo load failed: {result.output}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        export = tmp_path / "hotline.csv"
        t = time.perf_counter()
        write_export(export, args.rows)
        print(
            f"wrote {args.rows:,} rows ({export.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - t:.1f} s",
            file=sys.stderr,
        )
        db = tmp_path / "redgrid.db"
        _prepare_db(db)
        ours = _run(_redgrid, str(db), str(export))
        peer = _run(_peer, str(tmp_path / "peer.db"), str(export))
    ours["rows_per_s"] = args.rows / ours["seconds"]
    peer["rows_per_s"] = args.rows / peer["seconds"]
    report = {
        "rows": args.rows,
        "redgrid": ours,
        "peer_pandas_sjoin_to_sql": peer,
        "speed_ratio_vs_peer": round(ours["rows_per_s"] / peer["rows_per_s"], 3),
    }
    print(f"| import of {args.rows:,} rows | seconds | rows/s | peak RSS MB | stored |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| RedGrid (checked, placed, one transaction, events) | {ours['seconds']:.1f} | "
        f"{ours['rows_per_s']:,.0f} | {ours['peak_rss_mb']:.0f} | {ours['stored']:,} |"
    )
    print(
        f"| peer: read_csv + sjoin + to_sql (no checks) | {peer['seconds']:.1f} | "
        f"{peer['rows_per_s']:,.0f} | {peer['peak_rss_mb']:.0f} | {peer['added']:,} |"
    )
    print(f"\nRedGrid / peer speed: {report['speed_ratio_vs_peer']:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0 if ours["stored"] == args.rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
