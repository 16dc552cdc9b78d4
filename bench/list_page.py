"""Project list page: server time and SQL queries per page, for N projects.

    .venv/bin/python bench/list_page.py            # 10,000 projects, SQLite and PostgreSQL
    .venv/bin/python bench/list_page.py --n 100000 --db pg

Times are measured around the WSGI call (Flask test client: routing, permission checks, the
queries, template rendering), i.e. server time without network. Prints median and p95 over
the runs for several typical list views, and the number of SQL statements per page.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event

from bench._data import database_url, fill, make_app, sign_in

VIEWS = {
    "city leader, no filter": ("leader", "/projects/"),
    "city leader, stage filter + totals": ("leader", "/projects/?stage=construction"),
    "city leader, 长三角 + 10亿 + year": ("leader", "/projects/?region=yrd&size=10&year=2024"),
    "city leader, keyword 新能源": ("leader", "/projects/?q=%E6%96%B0%E8%83%BD%E6%BA%90"),
    "city leader, page 50, sort by investment": ("leader", "/projects/?page=50&sort=investment"),
    "county staff (黄岩区), stage filter": ("staff_hy", "/projects/?stage=signed"),
}


WARM_UP = 10


def cpu_check() -> float:
    """ms for a fixed pure-Python workload: this VM's speed varies up to 2× from minute to
    minute, so the figures are printed with it (about 5.5 ms on this machine at its best)."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        sum(i * i for i in range(100_000))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def run(kind: str, n: int, runs: int, rest: float = 0.0) -> None:
    url = database_url(kind)
    app = make_app(url)
    t0 = time.perf_counter()
    counts = fill(app, n)
    print(f"\n== {kind}: {counts['projects']:,} projects (filled in {time.perf_counter() - t0:.1f} s) ==")
    from tracker.extensions import db

    with app.app_context():
        engine = db.engine
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(1))
    client = app.test_client()
    if rest:
        time.sleep(rest)  # filling is minutes of CPU; this VM then runs slower for a while
    print(f"(CPU check before: {cpu_check():.1f} ms)")
    print(f"{'view':44} {'median ms':>10} {'p95 ms':>8} {'rows':>5} {'SQL/page':>9}")
    for label, (username, path) in VIEWS.items():
        sign_in(app, client, username)
        # Warm up as a running server is: templates compiled, SQLAlchemy's statement cache
        # filled, psycopg's server-side prepared statements made (after 5 executions).
        for _ in range(WARM_UP):
            resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        rows = resp.get_data(as_text=True).count('<td class="name">')
        times = []
        for _ in range(runs):
            statements.clear()
            start = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{label:44} {statistics.median(times):10.1f} {pct(times, 95):8.1f} {rows:5d} {len(statements):9d}")
    print(f"(CPU check after: {cpu_check():.1f} ms)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    ap.add_argument("--rest", type=float, default=0.0,
                    help="seconds to idle between filling and measuring (the VM slows under sustained load)")
    args = ap.parse_args()
    kinds = ["sqlite", "pg"] if args.db == "both" else [{"pg": "pg", "sqlite": "sqlite"}[args.db]]
    for kind in kinds:
        run("postgresql" if kind == "pg" else "sqlite", args.n, args.runs, args.rest)


if __name__ == "__main__":
    main()
