"""HTTP benchmark: RedGrid served the production way against a bare Flask app, same run, loopback.

RedGrid runs as the README says to run it in production (``gunicorn -c python:webmap.serving``:
2 threaded workers) on a copy of the bundled demo (309 grids, with the roster), twice: with
rate limits off, and with them on (every request counted in the shared SQLite storage, as in
production, under a limit high enough that one address sending thousands of requests a second
is never refused); the peer is a bare Flask
app under the same gunicorn settings that answers a point with one STRtree query and the grid id
only (``bare_app`` below, the yardstick of /work/shared/anchors/PERF-BASELINE.md).

Single lookups: wrk, with a Lua script that sends random points in the demo grids'
bounding box (the same points, in the same order, to both apps; about a third fall in no
grid, so the outside path with its datum hints is in the mix), 1, 8 and 32 connections,
``--seconds`` each, every worker warmed first, ``--rounds`` rounds with the apps in turn (on
a shared 2-CPU machine one run moves by ten per cent; the median round is kept).

Batches: 1,000,000 points as an Arrow IPC stream to ``POST /api/v1/points`` with Arrow out,
``fields=grid`` and the full answer, best of ``--repeat``, end to end (upload, lookup,
download, decode). In process: the full annotated batch (``locate_many(annotate=True)`` with
the lookup table) against ``geopandas.sjoin``.

    .venv/bin/python bench/http_bench.py            # about 4 minutes; writes bench/results/http.{json,md}
    .venv/bin/python bench/http_bench.py --quick    # 2 s per wrk row, 200k batch points

Everything listens on 127.0.0.1 only. Needs wrk (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

GRIDS_FILE = ROOT / "data" / "shapes" / "dali-demo-grids.geojson"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent  # the venv's bin: gunicorn beside the python running this
# the README's production command: webmap/serving.py's settings (2 workers, threaded)
GUNICORN = ["-c", "python:webmap.serving", "--no-control-socket"]

LUA = r"""
local paths = {}
local i = 0
function init(args)
  local prefix = args[1]
  local x0, y0, x1, y1 = tonumber(args[2]), tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
  math.randomseed(42)
  for k = 1, 8192 do
    local x = x0 + math.random() * (x1 - x0)
    local y = y0 + math.random() * (y1 - y0)
    paths[k] = string.format("%s%.6f,%.6f", prefix, x, y)
  end
end
"""
_LUA_REQUEST = r"""
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""
LUA += _LUA_REQUEST
#: the same, with the points read from a file (one "lon,lat" a line) instead of drawn
LUA_FILE = (
    r"""
local paths = {}
local i = 0
function init(args)
  for line in io.lines(args[2]) do
    paths[#paths + 1] = args[1] .. line
  end
end
"""
    + _LUA_REQUEST
)


def inside_and_outside(env: dict, root: Path, n: int = 8192) -> tuple[Path, Path]:
    """Files of points in a grid, and of points in no grid but within the served area."""
    from services.build import build_services
    from services.config import Config

    config = Config.from_mapping(
        {
            "DATABASE_URL": env["REDGRID_DATABASE_URL"],
            "CACHE_DIR": str(Path(env["REDGRID_INSTANCE_PATH"]) / "cache"),
        },
        instance=Path(env["REDGRID_INSTANCE_PATH"]),
    )
    grids = build_services(config).grids
    index = grids.grid_set(grids.active_version_id()).index
    x0, y0, x1, y1 = index.served
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(x0, x1, 20 * n), rng.uniform(y0, y1, 20 * n)
    status = index.locate_many(lon, lat, annotate=False).status
    files = []
    for name, wanted in (("inside", status == 0), ("outside", status == 1)):
        path = root / f"{name}.txt"
        pick = np.flatnonzero(wanted)[:n]
        path.write_text("".join(f"{lon[k]:.6f},{lat[k]:.6f}\n" for k in pick))
        files.append(path)
    return files[0], files[1]


# --- the peer: a bare Flask app ------------------------------------------------------------


def bare_app():
    """Flask, one STRtree over the demo grids, ``GET /lookup/lon,lat`` -> ``{"grid": code}``."""
    import geopandas as gpd
    import shapely
    from flask import Flask
    from flask import jsonify

    grids = gpd.read_file(os.environ.get("BARE_GRIDS", GRIDS_FILE))
    codes = grids["code"].astype(str).to_numpy()
    geoms = grids.geometry.values
    shapely.prepare(geoms)
    tree = shapely.STRtree(geoms)
    app = Flask("bare")

    @app.get("/lookup/<coords>")
    def lookup(coords: str):
        lon, lat = (float(v) for v in coords.split(","))
        hit = tree.query(shapely.Point(lon, lat), predicate="within")
        return jsonify({"grid": str(codes[hit.min()]) if len(hit) else None})

    return app


# --- running servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer {path}")


def start(cmd: list[str], env: dict, port: int, probe: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for(port, probe)
    except RuntimeError:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this script started (gunicorn and its workers)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def demo_db(root: Path) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # this checkout, even when the venv was installed from another
        "VENV": str(BIN.parent),
        "REDGRID_DATABASE_URL": f"sqlite:///{root / 'redgrid.db'}",
        "REDGRID_INSTANCE_PATH": str(root),
        "REDGRID_SECRET_KEY": "bench",
        # one address sending thousands of requests a second: per-caller limits would answer 429
        "REDGRID_RATELIMIT_ENABLED": "false",
    }
    subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", "demo", "load", "--complaints", "0"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env


# --- wrk -----------------------------------------------------------------------------------


def wrk(port: int, prefix: str, bbox, connections: int, seconds: float, script: Path, *args: str) -> dict:
    """One wrk run; the script's arguments are the prefix and the bounding box, or ``args``."""
    threads = 1 if connections == 1 else 2
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
        f"http://127.0.0.1:{port}", "--", prefix, *(args or [f"{v:.6f}" for v in bbox]),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "req_s": round(rps),
        "p50_ms": lat["50"],
        "p99_ms": lat["99"],
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


def median_run(runs: list[dict]) -> dict:
    """The run with the median req/s (its own latencies with it), and the failures of all."""
    middle = sorted(runs, key=lambda r: r["req_s"])[len(runs) // 2]
    return {**middle, "non_2xx": sum(r["non_2xx"] for r in runs)}


def _ms(value: str, unit: str) -> float:
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)


# --- batches -------------------------------------------------------------------------------


def arrow_body(lon: np.ndarray, lat: np.ndarray) -> bytes:
    import pyarrow as pa
    import pyarrow.ipc

    table = pa.table({"lon": lon, "lat": lat})
    sink = pa.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=100_000)
    return sink.getvalue().to_pybytes()


def post_batch(port: int, body: bytes, query: str) -> tuple[float, int, int]:
    import pyarrow.ipc

    t = time.perf_counter()
    # the server reads the body whole before it answers (so send-then-read clients work too); the
    # body still goes up from a thread so the timing covers the upload and the answer alike
    sock = socket.create_connection(("127.0.0.1", port), timeout=300)
    head = (
        f"POST /api/v1/points?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/vnd.apache.arrow.stream\r\n"
        f"Accept: application/vnd.apache.arrow.stream\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    sender = threading.Thread(target=sock.sendall, args=(head + body,))
    sender.start()
    response = http.client.HTTPResponse(sock)
    response.begin()
    data = response.read()
    sender.join()
    sock.close()
    if response.status != 200:
        raise RuntimeError(f"POST /points?{query}: {response.status} {data[:300]!r}")
    rows = pyarrow.ipc.open_stream(data).read_all().num_rows
    return time.perf_counter() - t, rows, len(data)


def batch_rates(port: int, n: int, bbox, repeat: int) -> dict:
    rng = np.random.default_rng(3)
    lon = rng.uniform(bbox[0], bbox[2], n)
    lat = rng.uniform(bbox[1], bbox[3], n)
    body = arrow_body(lon, lat)
    out = {"points": n, "request_bytes": len(body)}
    for name, query in (("grid", "fields=grid"), ("full", "fields=full")):
        post_batch(port, body[: len(body)], query)  # warm both workers' caches
        best = min(post_batch(port, body, query) for _ in range(repeat))
        seconds, rows, size = best
        assert rows == n, (rows, n)
        out[name] = {
            "seconds": round(seconds, 3),
            "mpts_s": round(n / seconds / 1e6, 2),
            "answer_bytes_per_point": round(size / n, 1),
        }
    return out


# --- in process ----------------------------------------------------------------------------


def in_process(env: dict, n: int) -> dict:
    """The full annotated batch with the lookup table, against geopandas.sjoin (grid only)."""
    import geopandas as gpd
    from locate_bench import best_of
    from locate_bench import make_points
    from locate_bench import run_sjoin

    from geo.parallel import workers
    from services.build import build_services
    from services.config import Config

    config = Config.from_mapping(
        {
            "DATABASE_URL": env["REDGRID_DATABASE_URL"],
            "CACHE_DIR": str(Path(env["REDGRID_INSTANCE_PATH"]) / "cache"),
        },
        instance=Path(env["REDGRID_INSTANCE_PATH"]),
    )
    grids = build_services(config).grids
    grid_set = grids.grid_set(grids.active_version_id())
    index = grid_set.index
    frame = gpd.read_file(GRIDS_FILE)
    positions = np.array([index.position[str(c)] for c in frame["code"]])
    out = {}
    for kind in ("uniform", "clustered"):
        lon, lat = make_points(frame, n, kind)
        t_sjoin, ref = best_of(lambda lon=lon, lat=lat: run_sjoin(frame, positions, lon, lat), 1)
        t_full, match = best_of(lambda lon=lon, lat=lat: index.locate_many(lon, lat, annotate=True), 3)
        os.environ["REDGRID_BATCH_THREADS"] = "1"  # the same batch on one thread, for the record
        try:
            t_one, _ = best_of(lambda lon=lon, lat=lat: index.locate_many(lon, lat, annotate=True), 3)
        finally:
            del os.environ["REDGRID_BATCH_THREADS"]
        grid = np.where(match.grid >= 0, match.grid, -1)
        inside = match.status == 0
        mismatches = int((np.where(inside, grid, -1) != ref).sum())
        out[kind] = {
            "sjoin_mpts_s": round(n / t_sjoin / 1e6, 3),
            "full_mpts_s": round(n / t_full / 1e6, 3),
            "ratio": round(t_sjoin / t_full, 1),
            "one_thread_mpts_s": round(n / t_one / 1e6, 3),
            "one_thread_ratio": round(t_sjoin / t_one, 1),
            "threads": workers(),
            "near_boundary_share": round(float((match.runner_up >= 0).mean()), 3),
            "mismatches_vs_sjoin": mismatches,
        }
    return out


# --- report --------------------------------------------------------------------------------


def markdown(result: dict) -> str:
    lines = [
        f"# HTTP benchmark ({result['date']}, {result['machine']})",
        "",
        f"Load average (1 min) before / after the run: {result.get('load_average_before', '?')} / "
        f"{result.get('load_average_after', '?')} (other work on the machine moves the numbers).",
        "",
        f"Served with `{result['serve']}`; peer: {result['peer']}. RedGrid's worker answers a "
        "plain anonymous lookup in its event loop (`webmap.serving`); the bare app's requests take "
        "gunicorn's thread path. Every worker warmed first; then "
        f"{result.get('rounds', 1)} rounds of wrk, {result['seconds']} s per app and row, the apps in "
        "turn; each cell is the round with the median req/s. Random points in the demo grids' "
        "bounding box (same sequence for both).",
        "",
        "| connections | bare req/s | RedGrid req/s | ratio | RedGrid, limits on, req/s | ratio "
        "| bare p50 / p99 ms | RedGrid p50 / p99 ms | limits on p50 / p99 ms | non-2xx |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["single"]:
        b, r, x = row["bare"], row["redgrid"], row["redgrid_limits_on"]
        lines.append(
            f"| {row['connections']} | {b['req_s']:,} | {r['req_s']:,} | {r['req_s'] / b['req_s']:.2f}x | "
            f"{x['req_s']:,} | {x['req_s'] / b['req_s']:.2f}x | "
            f"{b['p50_ms']:.2f} / {b['p99_ms']:.2f} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
            f"{x['p50_ms']:.2f} / {x['p99_ms']:.2f} | {b['non_2xx']} / {r['non_2xx']} / {x['non_2xx']} |"
        )
    where = result.get("inside_outside")
    if where:
        i, o = where["inside"], where["outside"]
        lines += [
            "",
            "RedGrid, 8 connections, points all in a grid against points all in no grid (within the "
            "served area: the nearest grid and the datum hints are worked out too):",
            "",
            "| points | req/s | p50 / p99 ms |",
            "|---|---:|---:|",
            f"| in a grid | {i['req_s']:,} | {i['p50_ms']:.2f} / {i['p99_ms']:.2f} |",
            f"| in no grid | {o['req_s']:,} ({o['req_s'] / i['req_s']:.2f}x) | "
            f"{o['p50_ms']:.2f} / {o['p99_ms']:.2f} |",
        ]
    batch = result["batch"]
    lines += [
        "",
        f"Batch, `POST /api/v1/points`, {batch['points']:,} points as an Arrow stream "
        f"({batch['request_bytes'] / batch['points']:.1f} bytes a point), Arrow out, end to end:",
        "",
        "| fields | seconds | M points/s | answer bytes a point |",
        "|---|---:|---:|---:|",
    ]
    for name in ("grid", "full"):
        b = batch[name]
        lines.append(f"| {name} | {b['seconds']:.3f} | {b['mpts_s']:.2f} | {b['answer_bytes_per_point']} |")
    lines += [
        "",
        f"In process, {result['in_process_points']:,} points: the full annotated batch "
        "(`locate_many(annotate=True)`, lookup table, its chunks on "
        f"{next(iter(result['in_process'].values()))['threads']} threads; and on one) against "
        "`geopandas.sjoin` (one thread):",
        "",
        "| points | sjoin M/s | full annotated M/s | ratio | on one thread M/s | ratio | near-boundary share "
        "| mismatches |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in result["in_process"].items():
        lines.append(
            f"| {kind} | {r['sjoin_mpts_s']:.2f} | {r['full_mpts_s']:.2f} | {r['ratio']}x | "
            f"{r['one_thread_mpts_s']:.2f} | {r['one_thread_ratio']}x | "
            f"{r['near_boundary_share']:.3f} | {r['mismatches_vs_sjoin']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk duration per row")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--points", type=int, default=1_000_000, help="batch size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds per row (the median is kept)")
    parser.add_argument("--quick", action="store_true", help="2 s per row, 200k batch points, 1 repeat")
    parser.add_argument("--skip", default="", help="comma list of: single,batch,inprocess")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for http.json and http.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.points, args.repeat, args.rounds = 2.0, 200_000, 1, 1
    if shutil.which("wrk") is None and "single" not in args.skip:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    import geopandas as gpd

    bbox = tuple(float(v) for v in gpd.read_file(GRIDS_FILE).total_bounds)
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} CPUs",
        "serve": "gunicorn -c python:webmap.serving 'webmap:create_app()' (rate limits off; and on, "
        "shared SQLite counters, LIMIT_ANONYMOUS=1000000000/minute)",
        "peer": "bare Flask app, STRtree query per point, grid id only, same gunicorn settings",
        "seconds": args.seconds,
        "rounds": args.rounds,
        "load_average_before": round(os.getloadavg()[0], 2),
        "single": [],
    }
    with tempfile.TemporaryDirectory(prefix="redgrid-http-bench-") as tmp:
        root = Path(tmp)
        env = demo_db(root)
        script = root / "points.lua"
        script.write_text(LUA)
        p_app, p_bare, p_lim = free_port(), free_port(), free_port()
        app = start(
            [str(BIN / "gunicorn"), *GUNICORN, "-b", f"127.0.0.1:{p_app}", "webmap:create_app()"],
            env,
            p_app,
            "/api/v1/health",
        )
        limited_env = {
            **env,
            "REDGRID_RATELIMIT_ENABLED": "true",
            "REDGRID_LIMIT_ANONYMOUS": "1000000000/minute",
        }
        limited = start(
            [str(BIN / "gunicorn"), *GUNICORN, "-b", f"127.0.0.1:{p_lim}", "webmap:create_app()"],
            limited_env,
            p_lim,
            "/api/v1/health",
        )
        bare = start(
            [str(BIN / "gunicorn"), *GUNICORN, "-b", f"127.0.0.1:{p_bare}",
             "--pythonpath", str(ROOT / "bench"), "http_bench:bare_app()"],
            env, p_bare, "/lookup/113.14,23.11",
        )  # fmt: skip
        try:
            if "single" not in args.skip:
                targets = {
                    "bare": (p_bare, "/lookup/"),
                    "redgrid": (p_app, "/api/v1/point/wgs84/"),
                    "redgrid_limits_on": (p_lim, "/api/v1/point/wgs84/"),
                }
                for port, prefix in targets.values():  # every worker of every app, warm
                    wrk(port, prefix, bbox, 8, 2, script)
                for c in (int(v) for v in args.connections.split(",")):
                    runs: dict[str, list[dict]] = {name: [] for name in targets}
                    for _ in range(args.rounds):  # the apps alternate, round after round
                        for name, (port, prefix) in targets.items():
                            runs[name].append(wrk(port, prefix, bbox, c, args.seconds, script))
                    row = {"connections": c, **{name: median_run(r) for name, r in runs.items()}}
                    row["ratio"] = round(row["redgrid"]["req_s"] / row["bare"]["req_s"], 2)
                    row["ratio_limits_on"] = round(
                        row["redgrid_limits_on"]["req_s"] / row["bare"]["req_s"], 2
                    )
                    row["rounds"] = {name: [r["req_s"] for r in rs] for name, rs in runs.items()}
                    print(json.dumps(row), file=sys.stderr)
                    result["single"].append(row)
                # the outside path (nearest grid, datum hints) against the inside one, 8 connections
                inside, outside = inside_and_outside(env, root)
                by_file = root / "points_file.lua"
                by_file.write_text(LUA_FILE)
                where: dict[str, list[dict]] = {"inside": [], "outside": []}
                for _ in range(args.rounds):
                    for name, points in (("inside", inside), ("outside", outside)):
                        run = wrk(p_app, "/api/v1/point/wgs84/", bbox, 8, args.seconds, by_file, str(points))
                        where[name].append(run)
                result["inside_outside"] = {name: median_run(runs) for name, runs in where.items()}
                print(json.dumps(result["inside_outside"]), file=sys.stderr)
            stop(bare)
            stop(limited)
            if "batch" not in args.skip:
                result["batch"] = batch_rates(p_app, args.points, bbox, args.repeat)
                print(json.dumps(result["batch"]), file=sys.stderr)
        finally:
            stop(app)
            stop(bare)
            stop(limited)
        if "inprocess" not in args.skip:
            result["in_process_points"] = args.points
            result["in_process"] = in_process(env, args.points)
            print(json.dumps(result["in_process"]), file=sys.stderr)
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    if args.skip:
        print(json.dumps(result, indent=1))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "http.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "http.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
