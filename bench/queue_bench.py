"""Work-queue counts (我的待办) on 50,000 demo cases: what the header badge costs on every page.

Each desk's counts are one query per queue (due soon: one query of the department's running
cases, the 80 % share counted in Python). The peer in the same run is one plain
``SELECT count(*)`` over all cases, the cheapest query a badge could make. The searchable
list (filters and sorting) is timed too.

Usage:
    python bench/queue_bench.py --db /tmp/queue-bench/redgrid.db      # loads the demo if empty
    python bench/queue_bench.py --db ... --repeat 50 --json bench/results/queues.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn, repeat: int) -> dict[str, float]:
    fn()  # warm: grid sets, the roster, the calendar
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db", type=Path, required=True, help="SQLite file (the demo is loaded into it if empty)"
    )
    parser.add_argument("--complaints", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from geo.officials import Role
    from geo.officials import UnitLevel
    from services.build import build_services
    from services.callers import user_caller
    from services.config import Config
    from services.queues import QueueService

    args.db.parent.mkdir(parents=True, exist_ok=True)
    config = Config.from_env({"REDGRID_DATABASE_URL": f"sqlite:///{args.db}"}, instance=args.db.parent)
    services = build_services(config)
    if services.store.count_complaints() < args.complaints:
        services.demo.load(complaints=args.complaints)
    store = services.store
    # uncached: every call makes its queries (the app keeps counts ``active_ttl_s`` per desk)
    queues = QueueService(services.cases)
    case = store.list_complaints(filters={"state": "dispatched"}, limit=1)[0]
    # the grid worker the case went to at filing (a grid may have two)
    worker = next(
        a
        for a in store.assignments([case.grid_code])
        if a.role is Role.GRID_WORKER and a.unit_level is UnitLevel.GRID and str(a.id) == case.assignee
    )
    grids = services.cases.teams.grids_of(worker.id, services.cases.now().date())
    people = {
        "dispatcher": user_caller("wang", "dispatcher"),
        "department": user_caller("cg", "department", department_code=case.department_code),
        "grid": user_caller("li", "grid", official_id=worker.id, grid_codes=grids),
    }
    result: dict[str, object] = {"cases": store.count_complaints()}
    result["peer: SELECT count(*)"] = timed(store.count_complaints, args.repeat)
    for name, who in people.items():
        counts = queues.counts(who)
        result[f"counts {name}"] = {
            **timed(lambda who=who: queues.counts(who), args.repeat),
            "queries": len(counts.queues),
            "total": counts.total,
            "by_queue": {q.queue.name: q.count for q in counts.queues},
        }
    cached = services.queues
    result["counts dispatcher, kept (the app's)"] = timed(
        lambda: cached.counts(people["dispatcher"]), args.repeat
    )
    centre = people["dispatcher"]
    for label, query in (
        ("list newest", {}),
        ("list by deadline", {"sort": "deadline", "state": "dispatched"}),
        ("list words", {"q": "噪音"}),
        ("list community+state", {"community": case.community_code, "state": "closed"}),
    ):
        result[label] = timed(lambda q=query: queues.search(centre, q, limit=50), max(5, args.repeat // 3))
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
