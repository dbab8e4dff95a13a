"""Point-in-grid benchmark: RedGrid's lookup paths against geopandas.sjoin and a per-point loop.

Everything is measured in the same run on the same points, and every method's
answer is checked against sjoin's on every point (the run fails on a mismatch).
Speeds are reported as points per second and as ratios to sjoin, so the numbers
travel between machines better than seconds do.

Usage:
    python bench/locate_bench.py                 # 309 demo grids and 10,000 generated, 1M points
    python bench/locate_bench.py --quick         # 200k points, smaller loop sample
    python bench/locate_bench.py --sizes 309 --points 500000 --json bench/results/run.json
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.generate import demo_outline  # noqa: E402
from geo.generate import generate_grids  # noqa: E402
from geo.lookup import GridIndex  # noqa: E402
from geo.lut import LookupTable  # noqa: E402
from services import batch_io  # noqa: E402

CACHE = ROOT / "bench" / "cache"


def load_grids(n: int) -> gpd.GeoDataFrame:
    """309: the bundled demo. Otherwise generated once (about 15 s for 10,000) and cached."""
    if n == 309:
        return gpd.read_file(ROOT / "data" / "shapes" / "dali-demo-grids.geojson")
    path = CACHE / f"grids-{n}.gpkg"
    if path.exists():
        return gpd.read_file(path)
    # keep Dali's grid size (~0.29 km²): the outline grows with n
    outline = demo_outline(area_km2=90.9 * n / 309, seed=7)
    n_comm = max(43, n // 8)
    communities = pd.DataFrame(
        {
            "code": [f"44060512{5 + i // 999:01d}{i % 999 + 1:03d}" for i in range(n_comm)],
            "name": [f"社区{i + 1}" for i in range(n_comm)],
        }
    )
    t = time.perf_counter()
    grids = generate_grids(outline, communities, n, seed=7).grids
    print(f"  generated {n} grids in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    grids.to_file(path, driver="GPKG")
    return grids


def make_points(grids: gpd.GeoDataFrame, n: int, kind: str, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = grids.total_bounds
    if kind == "uniform":
        return rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)
    # clustered: complaints gather around a few dozen hot places, sigma 50-2000 m
    k = 40
    cx, cy = rng.uniform(xmin, xmax, k), rng.uniform(ymin, ymax, k)
    weights = 1.0 / np.arange(1, k + 1)
    which = rng.choice(k, size=n, p=weights / weights.sum())
    sigma = rng.uniform(50, 2000, k)[which] / 111_000
    return cx[which] + rng.normal(0, 1, n) * sigma, cy[which] + rng.normal(0, 1, n) * sigma


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_sjoin(grids: gpd.GeoDataFrame, codes: np.ndarray, lon, lat) -> np.ndarray:
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(points, grids[["geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    right = joined["index_right"].to_numpy()
    out = np.full(len(lon), -1, dtype=np.int64)
    ok = ~pd.isna(right)
    out[np.flatnonzero(ok)] = codes[right[ok].astype(np.int64)]
    return out


def run_loop(tree: shapely.STRtree, lon, lat, positions: np.ndarray) -> np.ndarray:
    """The per-point loop a simple service runs: one STRtree query per point."""
    out = np.full(len(lon), -1, dtype=np.int64)
    for i in range(len(lon)):
        hit = tree.query(shapely.Point(lon[i], lat[i]), predicate="within")
        if len(hit):
            out[i] = positions[hit.min()]
    return out


def single_latency(index: GridIndex, lon, lat, n: int = 20_000) -> dict:
    times = np.empty(n)
    for i in range(n):
        t = time.perf_counter_ns()
        index.locate(lon[i], lat[i])
        times[i] = time.perf_counter_ns() - t
    p50, p90, p99 = np.percentile(times / 1000, [50, 90, 99])
    return {"p50_us": round(p50, 2), "p90_us": round(p90, 2), "p99_us": round(p99, 2)}


def decode_rates(lon, lat) -> dict:
    """How fast the batch API's readers turn a request body into arrays."""
    body_json = orjson.dumps(np.column_stack([lon, lat]), option=orjson.OPT_SERIALIZE_NUMPY)
    sink = io.BytesIO()
    table = pa.table({"lon": lon, "lat": lat})
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=batch_io.CHUNK)
    body_arrow = sink.getvalue()
    csv_body = pd.DataFrame({"lon": lon, "lat": lat}).to_csv(index=False).encode()
    out = {}
    for name, mime, body in (
        ("json", "application/json", body_json),
        ("csv", "text/csv", csv_body),
        ("arrow", batch_io.ARROW, body_arrow),
    ):

        def decode(body=body, mime=mime):
            stream = io.BytesIO(body)
            return sum(len(c.lon) for c in batch_io.reader_for(mime, stream, lambda b=body: b))

        seconds, count = best_of(decode, 3)
        assert count == len(lon)
        out[name] = {
            "mb": round(len(body) / 1e6, 1),
            "seconds": round(seconds, 3),
            "mpts_per_s": round(len(lon) / seconds / 1e6, 2),
        }
    return out


def bench_size(n_grids: int, n_points: int, loop_points: int, kinds: list[str]) -> list[dict]:
    grids = load_grids(n_grids)
    codes_sorted = np.asarray(sorted(grids["code"].astype(str)), dtype=object)
    grids = grids.assign(code=grids["code"].astype(str)).reset_index(drop=True)
    positions = np.searchsorted(codes_sorted, grids["code"].to_numpy(dtype=object).astype(str))
    t = time.perf_counter()
    index = GridIndex(grids["code"], grids.geometry.values)
    build_index = time.perf_counter() - t
    t = time.perf_counter()
    lut = LookupTable.build(index)
    build_lut = time.perf_counter() - t
    fast = GridIndex(grids["code"], grids.geometry.values)
    fast.attach_lut(lut)
    tree = shapely.STRtree(np.asarray(grids.geometry.values, dtype=object))
    rows = []
    for kind in kinds:
        lon, lat = make_points(grids, n_points, kind)
        m = min(loop_points, n_points)
        t_sjoin, ref = best_of(partial(run_sjoin, grids, positions, lon, lat), 1)
        t_exact, exact = best_of(partial(index.locate_many, lon, lat, annotate=False), 3)
        t_lut, fastm = best_of(partial(fast.locate_many, lon, lat, annotate=False), 5)
        # the first annotated batch also fills the far cells of the area it reaches (once per
        # version, like the lookup table): timed apart, then the best of two warm runs
        t_cold, _ = best_of(partial(fast.locate_many, lon, lat, annotate=True), 1)
        t_full, full = best_of(partial(fast.locate_many, lon, lat, annotate=True), 2)
        t_loop, loop = best_of(partial(run_loop, tree, lon[:m], lat[:m], positions), 1)
        mismatch = {
            "exact": int((exact.grid != ref).sum()),
            "lut": int((fastm.grid != ref).sum()),
            "lut_annotated": int((full.grid != ref).sum()),
            "loop": int((loop != ref[:m]).sum()),
        }
        rate = {
            "sjoin": n_points / t_sjoin,
            "loop": m / t_loop,
            "exact": n_points / t_exact,
            "lut": n_points / t_lut,
            "lut_annotated": n_points / t_full,
        }
        rows.append(
            {
                "grids": n_grids,
                "points": n_points,
                "kind": kind,
                "in_a_grid": round(float((ref >= 0).mean()), 3),
                "mpts_per_s": {k: round(v / 1e6, 3) for k, v in rate.items()},
                "vs_sjoin": {k: round(v / rate["sjoin"], 2) for k, v in rate.items()},
                "loop_points": m,
                "mismatches": mismatch,
                "build_s": {"index": round(build_index, 3), "lut": round(build_lut, 2)},
                "annotated_first_run_s": round(t_cold, 3),
                "lut_mb": round(lut.nbytes / 1e6, 1),
                "lut_mixed_share": round(lut.mixed_share, 3),
                "single_exact": single_latency(index, lon, lat),
                "single_lut": single_latency(fast, lon, lat),
            }
        )
        print(_line(rows[-1]), file=sys.stderr)
    return rows


def _line(r: dict) -> str:
    v = r["vs_sjoin"]
    return (
        f"{r['grids']:>6} grids {r['kind']:<9} sjoin {r['mpts_per_s']['sjoin']:.2f} M/s | "
        f"loop {v['loop']:.2f}x | exact {v['exact']:.2f}x | LUT {v['lut']:.1f}x "
        f"({r['mpts_per_s']['lut']:.1f} M/s) | LUT+near {v['lut_annotated']:.2f}x | "
        f"single p50 {r['single_lut']['p50_us']} µs (exact {r['single_exact']['p50_us']} µs) | "
        f"mismatches {sum(r['mismatches'].values())}"
    )


def markdown(rows: list[dict], decode: dict) -> str:
    out = [
        "| grids | points | sjoin M/s | per-point loop | exact index | LUT | LUT + near-boundary |"
        " single p50 (LUT / exact) | mismatches |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        m, v = r["mpts_per_s"], r["vs_sjoin"]
        out.append(
            f"| {r['grids']:,} | {r['kind']} | {m['sjoin']:.2f} | {m['loop']:.3f} ({v['loop']:.2f}x) | "
            f"{m['exact']:.2f} ({v['exact']:.2f}x) | {m['lut']:.1f} ({v['lut']:.1f}x) | "
            f"{m['lut_annotated']:.2f} ({v['lut_annotated']:.2f}x) | "
            f"{r['single_lut']['p50_us']} / {r['single_exact']['p50_us']} µs | "
            f"{sum(r['mismatches'].values())} |"
        )
    out.append("")
    out.append("| batch body | MB per 1M points | decode s | M points/s |")
    out.append("|---|---:|---:|---:|")
    for name, d in decode.items():
        out.append(f"| {name} | {d['mb']} | {d['seconds']} | {d['mpts_per_s']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="309,10000", help="grid counts, comma separated")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument(
        "--loop-points",
        type=int,
        default=1_000_000,
        help="points for the slow per-point loop (it runs on the first N)",
    )
    parser.add_argument("--kinds", default="uniform,clustered")
    parser.add_argument("--quick", action="store_true", help="200k points, 100k in the loop")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.quick:
        args.points, args.loop_points = 200_000, 100_000
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        rows += bench_size(n, args.points, args.loop_points, args.kinds.split(","))
    lon, lat = make_points(load_grids(309), args.points, "uniform")
    decode = decode_rates(lon, lat)
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "shapely": shapely.__version__,
            "geos": shapely.geos_version_string,
            "geopandas": gpd.__version__,
        },
        "rows": rows,
        "decode": decode,
    }
    print(markdown(rows, decode))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    bad = sum(sum(r["mismatches"].values()) for r in rows)
    if bad:
        print(f"FAIL: {bad} answers differ from sjoin", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
