"""Stage workflow throughput and audit-chain verification time.

    .venv/bin/python bench/workflow.py                 # SQLite and PostgreSQL, N=500, 100,000 entries
    .venv/bin/python bench/workflow.py --db pg --n 1000 --entries 200000

1. Requests and approvals per second through the service layer (``request_move`` + commit,
   then ``approve`` + commit; sequential, one transaction each, as a web worker would do).
2. ``flask audit verify`` over 100,000 audit entries: the entries are inserted in bulk with
   correctly chained keyed hashes computed in Python (``Digester``/``hashed_fields``, the
   recipe the commit-time chaining uses), then verified in-process (``verify()``) and as the
   real command in a subprocess (interpreter + app start-up included). Budget: 5 s.

The PostgreSQL database is ``BENCH_PG_URL`` (default ``…/bench_workflow``; dropped and
re-created), so this does not collide with other benchmarks using ``…/bench``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_workflow")

from sqlalchemy import func, insert, select  # noqa: E402

from bench._data import database_url, make_app  # noqa: E402

BUDGET_S = 5.0


def _setup(app, n: int) -> tuple[int, int, list[int]]:
    """Demo data (units, users …) and n projects at 已竣工 in 黄岩区; (staff, manager, ids)."""
    from decimal import Decimal

    from tracker.auth.models import Unit, User
    from tracker.core.db import writing
    from tracker.extensions import db
    from tracker.projects.models import Industry, Investor, Project
    from tracker.seeding import load_demo

    with app.app_context(), writing():
        load_demo()
        db.session.commit()
        unit_id = db.session.execute(select(Unit.id).where(Unit.code == "huangyan")).scalar_one()
        staff = db.session.execute(select(User.id).where(User.username == "staff_hy")).scalar_one()
        manager = db.session.execute(select(User.id).where(User.username == "manager_hy")).scalar_one()
        industry = db.session.execute(select(Industry.id).limit(1)).scalar_one()
        investor = db.session.execute(select(Investor.id).limit(1)).scalar_one()
        start = db.session.execute(select(func.coalesce(func.max(Project.id), 0))).scalar_one()
        db.session.execute(insert(Project), [{
            "name": f"流程基准项目{i:05d}", "investor_id": investor, "industry_id": industry, "unit_id": unit_id,
            "stage": "completed", "status_reason": "", "signed_on": date(2023, 1, 1),
            "contracted_investment": Decimal(50000), "funds_in_place": Decimal(0), "content": "基准测试",
            "is_archived": False, "is_provincial_major": False, "is_qianxiang_wanyi": False,
            "is_yrd_major": False, "version_id": 1,
        } for i in range(n)])
        db.session.commit()
        ids = db.session.execute(select(Project.id).where(Project.id > start).order_by(Project.id)).scalars().all()
        return staff, manager, list(ids)


def bench_workflow(app, n: int) -> None:
    from tracker.auth.models import User
    from tracker.core.db import writing
    from tracker.extensions import db
    from tracker.projects.models import Project
    from tracker.workflow import operations as wf

    staff_id, manager_id, project_ids = _setup(app, n)
    with app.app_context():
        staff = db.session.get(User, staff_id)
        manager = db.session.get(User, manager_id)
        db.session.rollback()
        request_ids = []
        t0 = time.perf_counter()
        for pid in project_ids:
            with writing():
                project = db.session.get(Project, pid)
                req = wf.request_move(staff, project, to_stage="production", actual_date=date(2024, 7, 1),
                                      comment="基准测试")
                request_ids.append(req.id)
                db.session.commit()
        t1 = time.perf_counter()
        for rid in request_ids:
            with writing():
                wf.approve(manager, rid, "同意")
                db.session.commit()
        t2 = time.perf_counter()
        moved = db.session.execute(
            select(func.count()).select_from(Project).where(Project.id.in_(project_ids), Project.stage == "production")
        ).scalar_one()
        db.session.rollback()
    assert moved == n, (moved, n)
    req_s, appr_s = t1 - t0, t2 - t1
    print(f"  requests  : {n} in {req_s:6.2f} s = {n / req_s:7.0f} /s  ({req_s / n * 1000:.2f} ms each)")
    print(f"  approvals : {n} in {appr_s:6.2f} s = {n / appr_s:7.0f} /s  ({appr_s / n * 1000:.2f} ms each)")
    print(f"  request + approval pairs: {n / (req_s + appr_s):7.0f} /s")


def _fill_audit(app, total: int) -> int:
    """Append entries (chained, hashed in Python) until the log holds ``total``; return count."""
    from tracker.audit.hashing import GENESIS, Digester, audit_key, hashed_fields
    from tracker.audit.models import AuditEntry
    from tracker.audit.operations import last_chained
    from tracker.core.db import writing
    from tracker.extensions import db

    table = AuditEntry.__table__
    with app.app_context(), writing():
        have = db.session.execute(select(func.count()).select_from(table)).scalar_one()
        last = last_chained(db.session.connection())
        seq, prev = (last[0], last[2]) if last else (0, GENESIS)
        digester = Digester(audit_key())
        start = datetime.now(timezone.utc) - timedelta(days=400)
        batch = []
        for i in range(max(0, total - have)):
            row = {
                # Microseconds on purpose: the hash must survive the round trip on both DBs.
                "created_at": start + timedelta(seconds=i * 300, microseconds=i % 999_983),
                "actor_id": None, "action": "project.update", "object_type": "project",
                "object_id": 1 + i % 5000, "project_id": 1 + i % 5000,
                "changes": {"contracted_investment": [str(10000 + i), str(10000 + i + 500)],
                            "content": ["年产10GWh固态锂电池", f"年产{i % 90 + 10}GWh固态锂电池"]},
            }
            seq += 1
            row["seq"], row["prev_hash"] = seq, prev
            row["hash"] = prev = digester.digest(prev, hashed_fields(SimpleNamespace(**row)))
            batch.append(row)
            if len(batch) == 5000:
                db.session.execute(insert(table), batch)
                batch = []
        if batch:
            db.session.execute(insert(table), batch)
        db.session.commit()
        return db.session.execute(select(func.count()).select_from(table)).scalar_one()


def bench_verify(app, url: str, total: int, repeat: int) -> None:
    from tracker.audit.verify import verify
    from tracker.extensions import db

    t0 = time.perf_counter()
    count = _fill_audit(app, total)
    print(f"  audit log : {count:,} entries (filled in {time.perf_counter() - t0:.1f} s)")
    walls, cpus = [], []
    with app.app_context():
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            result = verify()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            db.session.rollback()
            assert result.ok and result.checked == count, result
    elapsed = statistics.median(walls)
    verdict = "within" if elapsed <= BUDGET_S else "OVER"
    print(f"  verify()  : median {elapsed:5.2f} s wall (best {min(walls):.2f} s; CPU {statistics.median(cpus):.2f} s) "
          f"over {repeat} runs = {elapsed / count * 1e6:.1f} µs/entry — {verdict} the {BUDGET_S:.0f} s budget")

    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi"}
    t0 = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "audit", "verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    first = (proc.stdout or proc.stderr).strip().splitlines()[:1]
    verdict = "within" if wall <= BUDGET_S else "OVER"
    print(f"  flask audit verify (subprocess, exit {proc.returncode}): {wall:6.2f} s wall — {verdict} the budget")
    if first:
        print(f"    {first[0]}")


def run(kind: str, n: int, entries: int, repeat: int) -> None:
    url = database_url(kind)
    app = make_app(url)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n== {kind} ==  (load average {load:.1f} on {os.cpu_count()} CPUs)")
    bench_workflow(app, n)
    bench_verify(app, url, entries, repeat)
    from tracker.extensions import db

    with app.app_context():
        db.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="requests (and approvals) to time")
    ap.add_argument("--entries", type=int, default=100_000, help="audit entries to verify")
    ap.add_argument("--repeat", type=int, default=3, help="verify() runs (median reported)")
    ap.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [{"pg": "postgresql", "sqlite": "sqlite"}[args.db]]
    for kind in kinds:
        run(kind, args.n, args.entries, args.repeat)


if __name__ == "__main__":
    main()
