"""Planner page benchmark: server render time and page weight of /planner with 50,000 complaints.

Builds a demo database in a temporary directory the way a user does (``redgrid demo load``,
which generates 50,000 complaints by default), logs in as a planner through Flask's test
client and requests ``/planner`` for a few filter combinations:

* cold: the analysis and the map computed afresh (the planner's caches emptied before each
  request), median of ``--repeat`` requests;
* warm: the same request again, answered from the cache (median of ``--repeat``);
* page weight: the HTML, plus every script, style sheet and icon it links under /static/,
  plus the font the time slider's style sheet makes the browser load (Glyphicons, .woff);
  the HTML gzip-compressed too, as a reverse proxy would send it;
* what the layers carry: weighted heat points, animation points over all months, H3 cells.

Usage:
    python bench/planner_bench.py                       # 50,000 complaints, 5 repeats
    python bench/planner_bench.py --complaints 10000 --repeat 3 --json bench/results/planner.json
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_COMPLAINTS = 50_000  # what `redgrid demo load` generates without --complaints


def build_db(folder: Path, complaints: int) -> dict:
    from click.testing import CliRunner

    from cli import main

    config = {
        "DATABASE_URL": f"sqlite:///{folder / 'redgrid.db'}",
        "CACHE_DIR": str(folder / "cache"),
        "SECRET_KEY": "planner-bench",
    }
    args = ["demo", "load"] + ([] if complaints == DEFAULT_COMPLAINTS else ["--complaints", str(complaints)])
    t = time.perf_counter()
    result = CliRunner().invoke(main, args, obj=config)
    if result.exit_code != 0:
        raise SystemExit(f"demo load failed: {result.output}\n{result.exception!r}")
    print(f"demo load ({complaints:,} complaints): {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return config


def cases(store) -> list[tuple[str, str]]:
    """Filter combinations, dated relative to the demo record (it ends today)."""
    import pandas as pd

    from geo.timeutil import BEIJING_TZ_NAME

    times = pd.to_datetime(store.complaints_frame(["reported_at"])["reported_at"], utc=True)
    last = times.max().tz_convert(BEIJING_TZ_NAME).date()
    year_ago = last - datetime.timedelta(days=365)
    quarter_ago = last - datetime.timedelta(days=91)
    return [
        ("everything (counts layer)", ""),
        ("everything, hot spots layer", "?layer=hotspots"),
        ("last 12 months", f"?since={year_ago}&until={last}"),
        ("2 categories", "?category=illegal_parking&category=noise"),
        ("last quarter, open states", f"?since={quarter_ago}&until={last}&state=dispatched&state=reopened"),
        ("patrol channel, animation layer", "?channel=patrol&layer=animation"),
    ]


def page_weight(client, html: bytes) -> dict:
    text = html.decode("utf-8")
    urls = sorted(set(re.findall(r'(?:src|href)="(/static/[^"?#]+)', text)))
    assets = {}
    for url in urls:
        body = client.get(url).data
        assets[url] = len(body)
        if url.endswith(".css"):
            base = url.rsplit("/", 1)[0] + "/"
            for ref in re.findall(r"url\(([^)?#]+\.woff)\)", body.decode("utf-8", "replace")):
                font = _join(base, ref.strip("'\""))
                assets[font] = len(client.get(font).data)
    return {
        "html": len(html),
        "html_gzip": len(gzip.compress(html, 6)),
        "assets": sum(assets.values()),
        "asset_files": len(assets),
        "total": len(html) + sum(assets.values()),
    }


def _join(base: str, ref: str) -> str:
    parts = (base + ref).split("/")
    out: list[str] = []
    for p in parts:
        if p == "..":
            out.pop()
        elif p != ".":
            out.append(p)
    return "/".join(out)


def measure(config: dict, repeat: int) -> list[dict]:
    from tests.apps import create_user
    from webmap import create_app

    app = create_app({**config, "WTF_CSRF_ENABLED": False})
    store = app.extensions["redgrid"].store
    if store.user(username="planner") is None:
        create_user(store, "planner", "李研判", "planner-pass-123", "planner")
    client = app.test_client()
    response = client.post("/login", data={"username": "planner", "password": "planner-pass-123"})
    assert response.status_code == 302, response.data
    analyses = app.extensions["redgrid"].planner.analyses
    pages = app.extensions["redgrid.planner_pages"]
    client.get("/planner")  # imports, grid index, neighbour graph: paid once per process
    rows = []
    for name, query in cases(store):
        cold, warm = [], []
        html = b""
        for _ in range(repeat):
            analyses.clear()
            pages.clear()
            t = time.perf_counter()
            response = client.get("/planner" + query)
            cold.append(time.perf_counter() - t)
            assert response.status_code == 200, (query, response.status_code)
            html = response.data
        for _ in range(repeat):
            t = time.perf_counter()
            response = client.get("/planner" + query)
            warm.append(time.perf_counter() - t)
            assert len(response.data) == len(html)  # the same page (its CSRF token aside)
        total = int(re.search(rb'id="pl-total" data-value="(\d+)"', html).group(1))
        analysis = analyses.last()
        rows.append(
            {
                "case": name,
                "query": query,
                "complaints": total,
                "cold_ms": round(statistics.median(cold) * 1000, 1),
                "warm_ms": round(statistics.median(warm) * 1000, 2),
                "heat_points": len(analysis.heat),
                "heat_cells_m": [analysis.heat.cell_m, analysis.heat.coarse_m],
                "animation_points": sum(len(f) for f in analysis.animation.frames),
                "months": len(analysis.animation.labels),
                "h3_cells": len(analysis.hexes),
                **page_weight(client, html),
            }
        )
    return rows


def table(rows: list[dict], complaints: int, repeat: int) -> str:
    lines = [
        f"planner page, {complaints:,} demo complaints, median of {repeat} requests "
        f"({datetime.date.today()})",
        "",
        "| filters | complaints | cold ms | warm ms | HTML KB | HTML gzip KB | assets KB | page KB "
        "| heat pts | anim pts | H3 cells |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['complaints']:,} | {r['cold_ms']:,.0f} | {r['warm_ms']:,.1f} | "
            f"{r['html'] / 1024:,.0f} | {r['html_gzip'] / 1024:,.0f} | {r['assets'] / 1024:,.0f} | "
            f"{r['total'] / 1024:,.0f} | {r['heat_points']:,} | {r['animation_points']:,} | "
            f"{r['h3_cells']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=DEFAULT_COMPLAINTS)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--md", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="planner-bench-") as tmp:
        config = build_db(Path(tmp), args.complaints)
        rows = measure(config, args.repeat)
    out = table(rows, args.complaints, args.repeat)
    print(out)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"complaints": args.complaints, "repeat": args.repeat, "rows": rows},
                indent=1,
                ensure_ascii=False,
            )
        )
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
