"""What one statement costs the web process: built on every call or built once
(``core.db.built_once``), beside the bare driver (issue 12).

    .venv/bin/python bench/statements.py            # PostgreSQL, bench/scale.py's 10,000 projects
    .venv/bin/python bench/statements.py --db sqlite --n 3000

For a few statements of the project page (the milestones; the funds records with their loader
options; the project with what its cards show) it prints the CPU time (this thread's, not
the wall clock: the database's own work is not in it) of one execution: built each time as
the views used to, through the same statement built once, and, for the milestones, the
driver alone with the same SQL. Figures only: nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_us(fn, n: int) -> float:
    for i in range(50):  # warm: SQLAlchemy's compiled cache, the driver's prepared statements
        fn(i)
    started = time.thread_time()
    for i in range(n):
        fn(i)
    return (time.thread_time() - started) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("pg", "sqlite"), default="pg")
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    from sqlalchemy import bindparam, select, text
    from sqlalchemy.orm import joinedload

    from bench._data import make_app
    from bench.scale import ensure
    from tracker.auth.models import name_only
    from tracker.extensions import db
    from tracker.funds.models import FundsRecord
    from tracker.funds.views import _records_of
    from tracker.projects.models import Project
    from tracker.projects.views import _HEADER, _RELATIONS, _project_related
    from tracker.workflow.models import Milestone
    from tracker.workflow.operations import milestone_rows

    app = make_app(ensure(10_000, args.db))
    with app.app_context():
        s, top = db.session, db.session.execute(select(Project.id).order_by(Project.id.desc())).scalar()

        def pid(i: int) -> int:
            return 1 + (i * 7919) % top

        def each_milestones(i):
            return s.execute(select(Milestone).where(Milestone.project_id == pid(i))).scalars().all()

        def once_milestones(i):  # as the app reads them: built once, read as rows
            return milestone_rows([pid(i)])

        def each_funds(i):
            return s.execute(
                select(FundsRecord).options(name_only(FundsRecord.recorded_by), joinedload(FundsRecord.attachment))
                .where(FundsRecord.project_id == pid(i))
                .order_by(FundsRecord.received_on.desc(), FundsRecord.id.desc()).limit(5).offset(0)).scalars().all()

        def once_funds(i):
            return s.execute(_records_of(), {"project_id": pid(i), "limit": 5, "offset": 0}).scalars().all()

        def each_project(i):
            s.expunge_all()
            return s.get(Project, pid(i), options=[*_HEADER, *_RELATIONS])

        def once_project(i):
            s.expunge_all()
            return s.execute(_project_related(), {"id": pid(i)}).unique().scalar_one_or_none()

        sql = str(select(*Milestone.__table__.c).where(Milestone.__table__.c.project_id == bindparam("p"))
                  .compile(db.engine))  # %(p)s on PostgreSQL, ? on SQLite
        raw = s.connection().connection.dbapi_connection

        def driver_milestones(i):
            cursor = raw.cursor()
            cursor.execute(sql, {"p": pid(i)} if args.db == "pg" else (pid(i),))
            return cursor.fetchall()

        s.execute(text("SELECT 1"))
        print(f"== {args.db}, 10,000 projects: CPU µs per execution (this thread), {args.n} each")
        print(f"  {'statement':44} {'built each time':>16} {'built once':>11}")
        for label, each, once in (("milestones (one table)", each_milestones, once_milestones),
                                  ("funds records (two loader options)", each_funds, once_funds),
                                  ("project with its cards' relations", each_project, once_project)):
            print(f"  {label:44} {cpu_us(each, args.n):16.0f} {cpu_us(once, args.n):11.0f}")
        print(f"  {'milestones, the driver alone':44} {cpu_us(driver_milestones, args.n):16.0f}")


if __name__ == "__main__":
    main()
