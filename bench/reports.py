"""Leaders' numbers at scale: dashboard, home page, summary API, filtered list, 通报 PDF.

    .venv/bin/python bench/reports.py                    # SQLite and PostgreSQL, 100,000 projects
    .venv/bin/python bench/reports.py --db pg --runs 30
    .venv/bin/python bench/reports.py --rebuild          # regenerate the cached databases

The database is built by the migrations (``flask db upgrade``), loaded with the demo data
(reference lists, users) and then with ``--n`` synthetic projects (10 county units + city,
industries, source regions with a 长三角 share, size bands 10亿/50亿/百亿, signing dates
2019–2026, stages spread by age) and their stage history (``--events`` events, ≈10 per
project: advances, corrections back, pauses and resumes, terminations), milestones with
planned and actual dates, funds records (``--funds``), 增资 projects, pending and rejected
requests, unit targets; ``due_on``/``red_on`` by ``tracker.progress.lights.refresh``.
Consistency: ``Project.stage``/``paused_from_stage`` are the last event's, ``counts_as``
follows ``history.counts_as``, ``stage_since`` follows ``history.next_stage_since`` (the
last event's date, except after a correction back or a resume), ``funds_in_place`` is the
sum of the project's records. Bulk Core inserts (COPY on PostgreSQL).

Generation takes minutes, so the databases are kept between runs: a file for SQLite
(``instance/bench-reports/reports.sqlite``) and a database for PostgreSQL
(``BENCH_REPORTS_PG_URL``, default ``…/bench_reports``), reused while the generation
parameters match (``--rebuild`` forces a new one); the migrations still run on them.
``BENCH_REPORTS_DIR`` moves the cache (e.g. to try an index on a copy of the SQLite file).
About 6–7 minutes per database on this 2-CPU machine; ≈270 MB for SQLite.

Measured with the Flask test client, signed in: *cold* is the first request after
``tracker.reports.figures.clear_cache()`` (median of ``--cold`` runs, templates already
compiled), *warm* the median and p95 of ``--runs`` repeated requests; start-up's objects frozen
out of the garbage collector (``gc.freeze()``), as in a web process. Queries are the SQL
statements per request (warm / cold), "SQL ms" the time spent in them in a warm request,
"CPU ms" bench/list_page.py's CPU check just before the page (≈5.5 ms when this machine is
idle: other work slows every figure by that factor). Figures only: nothing here asserts a
timing. For a figure over budget (or above 300 ms without a budget) the slowest statements
of one warm and one cold request are printed with their plan (EXPLAIN ANALYZE on
PostgreSQL, EXPLAIN QUERY PLAN on SQLite); ``--profile`` adds a cProfile of a warm request.
On PostgreSQL, ``PGOPTIONS="-c jit=off"`` shows the figures without JIT compilation.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import os
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402

from bench._data import make_app, sign_in  # noqa: E402
from bench.list_page import cpu_check, pct  # noqa: E402

CACHE_DIR = Path(os.environ.get("BENCH_REPORTS_DIR", ROOT / "instance" / "bench-reports"))
PG_URL = os.environ.get("BENCH_REPORTS_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_reports")
GENERATOR_VERSION = 2  # bump when the generated data changes shape (forces a rebuild)

# --- Generation -------------------------------------------------------------------------------

# Days from reaching a stage to reaching the next (typical range); a share of projects is slow.
STEP_DAYS = {"signed": (30, 150), "registered": (30, 200), "land_secured": (30, 250),
             "construction": (300, 1000), "completed": (30, 200), "production": (300, 1000)}
# Funds in place as a share of the contracted investment, by the furthest stage reached.
FUNDS_SHARE = {"registered": (0.02, 0.15), "land_secured": (0.05, 0.3), "construction": (0.15, 0.6),
               "completed": (0.4, 0.9), "production": (0.6, 1.0), "full_capacity": (0.8, 1.1)}
KEEP_STAFF = {"huangyan": "staff_hy", "linhai": "staff_lh", "yuhuan": "staff_yh", "taizhouwan": "staff_tzw",
              "city": "staff_city"}


def _params(args) -> dict:
    return {"n": args.n, "events": args.events, "funds": args.funds, "seed": args.seed, "version": GENERATOR_VERSION}


def _database(kind: str, rebuild: bool, params: dict) -> tuple[str, bool]:
    """(url, fresh): the cached database if its generation parameters match, else a new one."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    meta_path = CACHE_DIR / f"{kind}.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        meta = {}
    if kind == "sqlite":
        path = CACHE_DIR / "reports.sqlite"
        url = f"sqlite:///{path}"
        if not rebuild and meta.get("params") == params and meta.get("complete") and path.exists():
            return url, False
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        return url, True
    base, _, name = PG_URL.rpartition("/")
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists and not rebuild and meta.get("params") == params and meta.get("complete"):
            admin.dispose()
            return PG_URL, False
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    meta_path.unlink(missing_ok=True)
    return PG_URL, True


def _mark_complete(kind: str, params: dict, seconds: float, counts: dict) -> None:
    (CACHE_DIR / f"{kind}.json").write_text(json.dumps(
        {"params": params, "complete": True, "generated_in_s": round(seconds, 1), "counts": counts,
         "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}, indent=1))


def _bulk(session, table, rows: list[dict]) -> None:
    """Insert rows (dicts with the same keys): COPY on PostgreSQL, executemany on SQLite."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        cols = list(rows[0])
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                f'COPY "{table.name}" ({", ".join(cols)}) FROM STDIN') as copy:
            for r in rows:
                copy.write_row([r[c] for c in cols])
    else:
        conn.execute(table.insert(), rows)


def _day(rng: random.Random, start: date, end: date) -> date:
    span = (end - start).days
    return start + timedelta(days=rng.randint(0, span)) if span > 0 else start


def _dates_between(rng: random.Random, start: date, end: date, k: int) -> list[date]:
    return sorted(_day(rng, start, end) for _ in range(k))


def _project_history(rng: random.Random, signed_on: date, today: date, target_events: int, side: str):
    """(events, stage, paused_from, stage_since, actual) for one signed project.

    Main-line advances at a pace drawn from STEP_DAYS (30 % of projects slow), then pairs of
    a correction back + advance again or a pause + resume inside the stays at a stage until
    about ``target_events``, then optionally a final pause or termination (``side``)."""
    from tracker.progress.history import counts_as, next_stage_since
    from tracker.workflow.stages import MAIN_CODES

    slow = rng.uniform(1.2, 2.5) if rng.random() < 0.3 else 1.0
    reached = [("signed", signed_on)]
    day = signed_on
    for code in MAIN_CODES[2:]:
        lo, hi = STEP_DAYS[reached[-1][0]]
        day = day + timedelta(days=int(rng.randint(lo, hi) * slow))
        if day > today:
            break
        reached.append((code, day))
    extra = target_events - len(reached) - (1 if side else 0)
    pairs = max(0, (extra + rng.randint(0, 1)) // 2)  # rounded either way: the total stays ≈ target
    per_stay = [0] * len(reached)
    for _ in range(pairs):
        per_stay[rng.randrange(len(reached))] += 1
    events: list[tuple[str, str | None, str, date]] = []  # kind, from, to, effective_on
    last_day = signed_on
    for i, (code, on) in enumerate(reached):
        events.append(("create" if i == 0 else "advance", None if i == 0 else reached[i - 1][0], code, on))
        end = reached[i + 1][1] if i + 1 < len(reached) else today
        days = _dates_between(rng, on, end, 2 * per_stay[i])
        for a, b in zip(days[::2], days[1::2], strict=True):
            if i > 0 and rng.random() < 0.5:
                prev = reached[i - 1][0]
                events += [("back", code, prev, a), ("advance", prev, code, b)]
            else:
                events += [("pause", code, "paused", a), ("resume", "paused", code, b)]
        last_day = days[-1] if days else on
    stage = reached[-1][0]
    if side:
        on = _day(rng, last_day, today)
        events.append(("pause" if side == "paused" else "terminate", stage, side, on))
    # Replay: counts_as, stage_since and the milestones' actual dates as the app keeps them.
    out, since, pause_on, actual, paused_from = [], None, None, {}, None
    for kind, frm, to, on in events:
        if kind in ("create", "advance"):
            actual[to] = on
        target = (signed_on if to == "signed" else actual.get(to)) if kind == "back" else None
        if kind == "back":  # stages after the target did not happen yet
            for code in MAIN_CODES[MAIN_CODES.index(to) + 1:]:
                actual.pop(code, None)
        since = next_stage_since(kind=kind, effective_on=on, current_since=since, target_actual_on=target,
                                 paused_on=pause_on)
        if to == "paused":
            pause_on, paused_from = on, frm
        out.append((kind, frm, to, counts_as(to, frm, frm if to == "paused" else None), on))
    final = events[-1][2]
    return out, final, paused_from if final == "paused" else None, since, actual


def generate(app, n: int, n_events: int, n_funds: int, seed: int) -> dict:
    """Fill the migrated, demo-loaded database behind ``app``; returns row counts."""
    from tracker.auth.models import Unit, User
    from tracker.core.db import writing
    from tracker.core.formatting import today_local
    from tracker.extensions import db
    from tracker.funds.models import FundsRecord
    from tracker.progress import lights
    from tracker.progress.models import StageEvent
    from tracker.projects import tally
    from tracker.projects.models import Industry, Investor, Project, SourceRegion
    from tracker.seeding import load_demo
    from tracker.targets.models import UnitTarget
    from tracker.workflow.models import Milestone, StageRequest
    from tracker.workflow.stages import MAIN_CODES

    rng = random.Random(seed)
    today = today_local()
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    with app.app_context(), writing():
        load_demo()
        db.session.commit()
        units = {u.code: u.id for u in db.session.execute(select(Unit)).scalars()}
        city = units["city"]
        users = {u.username: u.id for u in db.session.execute(select(User)).scalars()}
        industries = db.session.execute(select(Industry.id).order_by(Industry.sort_order)).scalars().all()
        regions = db.session.execute(select(SourceRegion.id, SourceRegion.is_yrd)).all()
        yrd = [r.id for r in regions if r.is_yrd]
        other = [r.id for r in regions if not r.is_yrd] or yrd
        limits = lights.deadlines(db.session)
        first_inv = db.session.execute(select(func.coalesce(func.max(Investor.id), 0))).scalar() + 1
        first_proj = db.session.execute(select(func.coalesce(func.max(Project.id), 0))).scalar() + 1

        n_inv = max(1, n * 3 // 10)
        _bulk(db.session, Investor.__table__, [{
            "id": first_inv + i, "name": f"报表基准投资公司{i:06d}", "uscc": None,
            "source_region_id": rng.choice(yrd) if rng.random() < 0.4 else rng.choice(other),
            "country": "中国", "introduction": "", "unit_id": rng.choice(list(units.values())),
            "version_id": 1, "created_at": now, "updated_at": now} for i in range(n_inv)])
        print(f"  investors {n_inv:,} ({time.perf_counter() - t0:.0f} s)", flush=True)

        county = [u for code, u in units.items() if code != "city"]
        unit_pool = county * 19 + [city] * 10  # ≈5 % city-level projects
        staff_of = {units[c]: users[u] for c, u in KEEP_STAFF.items() if c in units and u in users}
        n_neg = n // 20
        avg_signed = (n_events - n_neg * 1.2) / max(1, n - n_neg)  # events per signed project
        spread = 4
        first_day, last_day = date(2019, 1, 1), min(today, date(2026, 11, 30))
        by_unit: dict[int, list[int]] = {}
        projects, events, milestones, funds = [], [], [], []
        counts = {"projects": 0, "stage_events": 0, "milestones": 0, "funds_records": 0}
        funds_left = n_funds

        def flush() -> None:
            _bulk(db.session, Project.__table__, projects)
            _bulk(db.session, StageEvent.__table__, events)
            _bulk(db.session, Milestone.__table__, milestones)
            _bulk(db.session, FundsRecord.__table__, funds)
            counts["projects"] += len(projects)
            counts["stage_events"] += len(events)
            counts["milestones"] += len(milestones)
            counts["funds_records"] += len(funds)
            projects.clear(), events.clear(), milestones.clear(), funds.clear()
            db.session.commit()

        for i in range(n):
            pid = first_proj + i
            unit = rng.choice(unit_pool)
            roll = rng.random()
            inv = (rng.randint(20, 999) * 100 if roll < 0.70 else rng.randint(100, 499) * 1000 if roll < 0.90
                   else rng.randint(500, 999) * 1000 if roll < 0.97 else rng.randint(100, 300) * 10000)
            row = {"id": pid, "name": f"报表基准项目{i:06d}", "investor_id": first_inv + rng.randrange(n_inv),
                   "industry_id": rng.choice(industries), "unit_id": unit, "platform_id": None,
                   "owner_id": staff_of.get(unit) if unit in staff_of and rng.random() < 0.2 else None,
                   "contracted_investment": Decimal(inv), "content": "报表基准测试数据", "status_reason": "",
                   "is_archived": rng.random() < 0.01, "is_provincial_major": inv >= 500_000 and rng.random() < 0.5,
                   "is_qianxiang_wanyi": False, "is_yrd_major": False, "increase_of_id": None,
                   "contact_phone": "", "version_id": 1}
            if i < n_neg:  # in negotiation (some given up)
                on = _day(rng, date(2025, 1, 1), today)
                evs = [("create", None, "negotiating", "negotiating", on)]
                if rng.random() < 0.2:
                    evs.append(("terminate", "negotiating", "terminated", "terminated", _day(rng, on, today)))
                stage, paused_from, since, actual, signed = evs[-1][2], None, evs[-1][4], {}, None
            else:
                # Signings grow over the years (more recent dates more likely).
                signed = _day(rng, first_day, last_day) if rng.random() < 0.6 else _day(rng, date(2022, 1, 1), last_day)
                target = max(1, round(rng.gauss(avg_signed, spread)))
                side = "paused" if rng.random() < 0.05 else "terminated" if rng.random() < 0.04 else ""
                evs, stage, paused_from, since, actual = _project_history(rng, signed, today, target, side)
                if unit in by_unit and rng.random() < 0.02:  # 增资 of an earlier project of the unit
                    row["increase_of_id"] = rng.choice(by_unit[unit][-500:])
                by_unit.setdefault(unit, []).append(pid)
            last_on = evs[-1][4]
            row.update(stage=stage, paused_from_stage=paused_from, signed_on=signed, stage_since=since,
                       expected_resume_on=last_on + timedelta(days=180) if stage == "paused" else None,
                       created_at=datetime.combine(evs[0][4], datetime.min.time(), timezone.utc),
                       updated_at=datetime.combine(last_on, datetime.min.time(), timezone.utc))
            for kind, frm, to, cnt, on in evs:
                events.append({"project_id": pid, "kind": kind, "from_stage": frm, "to_stage": to, "counts_as": cnt,
                               "effective_on": on, "request_id": None, "actor_id": None, "recorded_at": now})
            if signed is not None:
                plan = lights.default_plan(signed, limits) if rng.random() < 0.75 else {}
                for code in MAIN_CODES[2:]:
                    if code in plan or code in actual:
                        milestones.append({"project_id": pid, "stage": code, "planned_on": plan.get(code),
                                           "actual_on": actual.get(code)})
            # Funds in place: records from the registration on, a share growing with the stage.
            furthest = max(actual, key=MAIN_CODES.index) if actual else None
            total = Decimal(0)
            if furthest in FUNDS_SHARE and funds_left > 0 and rng.random() < 0.9:
                k = min(funds_left, rng.randint(1, 5))
                share = rng.uniform(*FUNDS_SHARE[furthest])
                parts = [rng.random() + 0.1 for _ in range(k)]
                for day, part in zip(_dates_between(rng, actual["registered"], today, k), parts, strict=True):
                    amount = max(Decimal(1), Decimal(round(inv * share * part / sum(parts), 2)).quantize(Decimal("0.01")))
                    total += amount
                    funds.append({"project_id": pid, "received_on": day, "amount": amount, "note": "基准",
                                  "evidence": "", "attachment_id": None, "recorded_by_id": None,
                                  "created_at": now})
                funds_left -= k
            row["funds_in_place"] = total
            projects.append(row)
            if len(projects) == 5000:
                flush()
                if (i + 1) % 20000 == 0:
                    print(f"  projects {i + 1:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
        flush()
        tally.fold(0)  # a row each in the project tally, as any bulk insert: summed up
        if db.engine.dialect.name == "postgresql":
            for table in ("project", "investor"):
                db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))
        db.session.commit()

        # Requests: pending (the managers' approvals) and rejected (the staff's home page).
        reqs, taken = [], set()
        managers = {units[c]: users[m] for c, m in (("huangyan", "manager_hy"), ("linhai", "manager_lh"),
                                                   ("city", "manager_city")) if c in units and m in users}
        candidates = db.session.execute(select(Project.id, Project.unit_id, Project.stage).where(
            Project.id >= first_proj, Project.unit_id.in_(list(staff_of)), Project.is_archived.is_(False),
            Project.stage.in_(MAIN_CODES[1:-1]))).all()
        rng.shuffle(candidates)
        for pid, unit, stage in candidates[:600]:
            pending = len(reqs) < 400
            nxt = MAIN_CODES[MAIN_CODES.index(stage) + 1]
            decider = managers.get(unit, users.get("manager_city"))
            reqs.append({"project_id": pid, "kind": "advance", "from_stage": stage, "to_stage": nxt,
                         "status": "pending" if pending else "rejected",
                         "actual_date": today - timedelta(days=rng.randint(0, 30)), "values": {},
                         "reason": "", "comment": "基准", "requested_by_id": staff_of[unit],
                         "requested_at": now - timedelta(days=rng.randint(0, 20)),
                         "decided_by_id": None if pending else decider,
                         "decided_at": None if pending else now, "decision_comment": "" if pending else "材料不全"})
            taken.add(pid)
        db.session.execute(StageRequest.__table__.insert(), reqs)
        # Targets per county unit and year.
        targets = [{"unit_id": u, "year": y, "projects_10yi": rng.randint(150, 300),
                    "projects_10yi_yrd": rng.randint(40, 120), "investment": Decimal(rng.randint(300, 900) * 10000),
                    "started": rng.randint(300, 700), "funds": Decimal(rng.randint(100, 400) * 10000),
                    "updated_by_id": users.get("admin"), "updated_at": now, "version_id": 1}
                   for u in county for y in (2024, 2025, 2026)]
        existing = set(db.session.execute(select(UnitTarget.unit_id, UnitTarget.year)).tuples())
        db.session.execute(UnitTarget.__table__.insert(),
                           [t for t in targets if (t["unit_id"], t["year"]) not in existing])
        db.session.commit()
        print(f"  rows written ({time.perf_counter() - t0:.0f} s); lights …", flush=True)
        changed = 0
        for start in range(first_proj, first_proj + n, 5000):  # PostgreSQL: ≤ 65,535 parameters
            changed += lights.refresh(db.session, list(range(start, min(start + 5000, first_proj + n))))
        db.session.commit()
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            # A settled database: statistics, and (PostgreSQL) the visibility map that
            # index-only scans need, as autovacuum would have made them.
            conn.execute(text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
        counts.update(lit_refreshed=changed, requests=len(reqs), targets=len(targets))
        return counts


def check_consistency(app) -> list[str]:
    """Problems (empty when none): stage = last event's, funds = Σ records."""
    from tracker.extensions import db

    sql = {
        "stage != last event": """
            SELECT count(*) FROM project p JOIN stage_event e ON e.id = (
              SELECT e2.id FROM stage_event e2 WHERE e2.project_id = p.id
              ORDER BY e2.effective_on DESC, e2.id DESC LIMIT 1)
            WHERE e.to_stage <> p.stage OR (p.stage = 'paused' AND e.from_stage <> p.paused_from_stage)""",
        # (SQLite keeps NUMERIC as floating point: compare to the cent.)
        "funds != sum of records": """
            SELECT count(*) FROM project p WHERE abs(p.funds_in_place - coalesce(
              (SELECT sum(amount) FROM funds_record f WHERE f.project_id = p.id), 0)) > 0.005""",
    }
    out = []
    with app.app_context():
        for label, q in sql.items():
            bad = db.session.execute(text(q)).scalar()
            if bad:
                out.append(f"{label}: {bad}")
        db.session.rollback()
    return out


# --- Measuring ------------------------------------------------------------------------------------

class Statements:
    """SQL statements per request (and each one's time, for the diagnosis)."""

    def __init__(self, engine):
        self.rows: list[tuple[str, object, float]] = []
        self._start: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._start.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        started = self._start.pop() if self._start else time.perf_counter()
        self.rows.append((statement, parameters, (time.perf_counter() - started) * 1000))

    def clear(self) -> None:
        self.rows.clear()


def api_token(app, username: str) -> str:
    from tracker.api.auth import issue_token
    from tracker.auth.models import User
    from tracker.core.db import writing
    from tracker.extensions import db

    with app.app_context(), writing():
        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        secret = issue_token(user, "bench-reports")
        db.session.commit()
    return secret


def _clear_cache() -> None:
    from tracker.reports import figures

    figures.clear_cache()


def measure(call, stmts: Statements, runs: int, cold_runs: int) -> dict:
    """Cold (first call after clearing the figures cache) and warm timings of ``call``."""
    status = call()  # untimed: templates compiled, statement caches filled
    cold, cold_q, slowest = [], 0, []
    for _ in range(cold_runs):
        _clear_cache()
        stmts.clear()
        t = time.perf_counter()
        call()
        cold.append((time.perf_counter() - t) * 1000)
        cold_q = len(stmts.rows)
        slowest = sorted(stmts.rows, key=lambda r: -r[2])[:3]
    call()
    warm, warm_q, warm_sql, warm_slowest = [], 0, [], []
    for _ in range(runs):
        stmts.clear()
        t = time.perf_counter()
        call()
        warm.append((time.perf_counter() - t) * 1000)
        warm_q = len(stmts.rows)
        warm_sql.append(sum(r[2] for r in stmts.rows))
        warm_slowest = sorted(stmts.rows, key=lambda r: -r[2])[:3]
    return {"status": status, "warm": statistics.median(warm), "p95": pct(warm, 95),
            "cold": statistics.median(cold), "warm_q": warm_q, "cold_q": cold_q, "slowest": slowest,
            "warm_sql": statistics.median(warm_sql), "warm_slowest": warm_slowest, "call": call}


def explain(app, statement: str, parameters) -> str:
    """The plan of one statement (EXPLAIN ANALYZE / EXPLAIN QUERY PLAN), as text."""
    from tracker.extensions import db

    with app.app_context():
        conn = db.session.connection()
        raw = conn.connection.driver_connection
        cur = raw.cursor()
        try:
            if conn.dialect.name == "postgresql":
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                lines = [r[0] for r in cur.fetchall()]
            else:
                cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                lines = [f"{'  ' * 0}{r[-1]}" for r in cur.fetchall()]
        except Exception as err:  # noqa: BLE001 - a diagnosis must not stop the benchmark
            lines = [f"(EXPLAIN failed: {err})"]
        finally:
            cur.close()
            db.session.rollback()
    return "\n".join(lines)


def _bulletin(app, quarter: tuple[int, int]) -> tuple[str, object]:
    """The 通报 PDF job function if it exists: (status, callable building one PDF or None)."""
    try:
        mod = importlib.import_module("tracker.reports.bulletin")
    except ImportError:
        return "bulletin: not available (tracker/reports/bulletin.py missing)", None
    fn = getattr(mod, "make_bulletin", None)
    if fn is None:
        return "bulletin: not available (no make_bulletin in tracker/reports/bulletin.py)", None
    return f"make_bulletin{inspect.signature(fn)}", fn


def run(kind: str, args) -> list[dict]:
    params = _params(args)
    url, fresh = _database(kind, args.rebuild, params)
    t0 = time.perf_counter()
    app = make_app(url)
    if fresh:
        print(f"\n== {kind}: generating {args.n:,} projects, ~{args.events:,} stage events, ~{args.funds:,} funds records …",
              flush=True)
        counts = generate(app, args.n, args.events, args.funds, args.seed)
        seconds = time.perf_counter() - t0
        _mark_complete(kind, params, seconds, counts)
        print(f"  generated in {seconds:.0f} s: {counts}")
    else:
        meta = json.loads((CACHE_DIR / f"{kind}.json").read_text())
        print(f"\n== {kind}: cached database ({url}; generated in {meta['generated_in_s']:.0f} s on "
              f"{meta['generated_at']}: {meta['counts']}) — --rebuild to regenerate")
    problems = check_consistency(app) if (fresh or args.check) else []
    if problems:
        print("  INCONSISTENT:", "; ".join(problems))
    elif fresh or args.check:
        print("  consistency checked: stage = last event's, funds_in_place = Σ records")
    if args.generate_only:
        return []
    from tracker.extensions import db
    from tracker.progress.models import StageEvent
    from tracker.projects.models import Project

    with app.app_context():
        n_proj = db.session.execute(select(func.count(Project.id))).scalar()
        n_ev = db.session.execute(select(func.count(StageEvent.id))).scalar()
        lit = db.session.execute(select(func.count(Project.id)).where(Project.due_on < func.current_date())).scalar()
        db.session.rollback()
        engine = db.engine
    print(f"  {n_proj:,} projects, {n_ev:,} stage events, {lit:,} with due_on past")
    stmts = Statements(engine)
    results = []
    client = app.test_client()
    token = api_token(app, "leader")
    logged_in = [None]

    def page(username: str, path: str, headers: dict | None = None):
        def call():
            if headers is None and logged_in[0] != username:
                sign_in(app, client, username)
                logged_in[0] = username
            resp = client.get(path, headers=headers or {})
            return resp.status_code
        return call

    cases = [
        ("dashboard, city leader", page("leader", "/reports/"), 300),
        ("dashboard, county manager (黄岩)", page("manager_hy", "/reports/"), 300),
        ("dashboard, leader, as_of 2024-12-31", page("leader", "/reports/?year=2024&as_of=2024-12-31"), 300),
        ("dashboard, manager, as_of 2024-12-31", page("manager_hy", "/reports/?year=2024&as_of=2024-12-31"), 300),
        ("home /today/, staff (黄岩)", page("staff_hy", "/today/"), 100),
        ("home /today/, manager (黄岩)", page("manager_hy", "/today/"), 100),
        ("home /today/, city leader", page("leader", "/today/"), 100),
        ("summary API year=2024", page("", "/api/v1/reports/summary?year=2024",
                                       {"Authorization": f"Bearer {token}"}), 200),
        ("summary API year=2024 as_of 2024-06-30",
         page("", "/api/v1/reports/summary?year=2024&as_of=2024-06-30", {"Authorization": f"Bearer {token}"}), 200),
        # The list, the project page and the API list (issue 12: ≤ 30 ms, project page ≤ 15 ms).
        ("list default, leader", page("leader", "/projects/"), 30),
        ("list keyword 新能源, leader", page("leader", "/projects/?q=%E6%96%B0%E8%83%BD%E6%BA%90"), 30),
        ("list keyword 电池 (2 chars), leader", page("leader", "/projects/?q=%E7%94%B5%E6%B1%A0"), 30),
        ("list stage=construction, leader", page("leader", "/projects/?stage=construction"), 30),
        ("list default, staff (黄岩)", page("staff_hy", "/projects/"), 30),
        ("project page, leader", page("leader", f"/projects/{n_proj // 2}"), 15),
        ("API list, leader", page("", "/api/v1/projects", {"Authorization": f"Bearer {token}"}), 30),
        ("list lit=any&sort=late, leader", page("leader", "/projects/?lit=any&sort=late"), None),
        ("list reached=construction 2024, leader",
         page("leader", "/projects/?reached=construction&signed_from=2024-01-01&signed_to=2024-12-31"), None),
        ("list reached=construction 2024 as_of, leader",
         page("leader", "/projects/?reached=construction&signed_from=2024-01-01&signed_to=2024-12-31"
                        "&as_of=2024-12-31"), None),
        ("list lit=red, staff (黄岩)", page("staff_hy", "/projects/?lit=red&sort=late"), None),
    ]
    if args.only:
        cases = [c for c in cases if any(word in c[0] for word in args.only)]
    # As a web process does once started (wsgi.py): the garbage collector's full passes leave
    # out what start-up made, instead of walking it inside whichever request triggers one.
    gc.collect()
    gc.freeze()
    print(f"  (CPU check before: {cpu_check():.1f} ms; load {os.getloadavg()[0]:.1f})")
    for label, call, budget in cases:
        cpu = cpu_check()
        r = measure(call, stmts, args.runs, args.cold)
        r["cpu"] = cpu
        if label.startswith("summary API") and r["status"] == 404:
            # The endpoint is not there yet: time the function behind it.
            from tracker.auth.models import User
            from tracker.reports import figures

            as_of = date(2024, 6, 30) if "as_of" in label else None

            def direct(as_of=as_of):
                with app.test_request_context(), app.app_context():
                    user = db.session.execute(select(User).where(User.username == "leader")).scalar_one()
                    figures.summary(user, figures.year_query(2024, as_of=as_of))
                    db.session.rollback()
                return 200
            r = measure(direct, stmts, args.runs, args.cold)
            label += " (404: figures.summary() directly)"
        r.update(page=label, db=kind, budget=budget)
        results.append(r)
        _print_row(r)
    # 通报 PDF (job function of tracker/reports/bulletin.py)
    note, fn = _bulletin(app, (2026, 3))
    if args.only and not any(word in "通报 PDF bulletin" for word in args.only):
        pass
    elif fn is None:
        print(f"  TODO {note}")  # TODO: time the 通报 once tracker/reports/bulletin.py exists
        results.append({"page": "通报 PDF (bulletin: not available)", "db": kind, "budget": 5000, "status": None})
    else:
        results += _time_bulletin(app, fn, note, kind, stmts, args)
    print(f"  (CPU check after: {cpu_check():.1f} ms)")
    if args.explain:
        seen = set()
        for r in results:
            limit = r.get("budget") or 300  # pages without a budget: explain what takes > 300 ms
            over = r.get("warm") is not None and (r["warm"] > limit or r["cold"] > limit)
            if not over:
                continue
            for which in ("warm_slowest", "slowest"):
                for statement, parameters, ms in (r.get(which) or [])[:2]:
                    key = " ".join(statement.split())
                    if ms < 20 or key in seen:
                        continue
                    seen.add(key)
                    print(f"\n  -- {r['page']} ({kind}), {'warm' if which == 'warm_slowest' else 'cold'} request: "
                          f"{ms:.1f} ms --\n  {key[:1500]}")
                    print("    " + explain(app, statement, parameters).replace("\n", "\n    "))
    if args.profile:
        import cProfile
        import io
        import pstats

        for r in results:
            if r.get("budget") and r.get("warm") and r["warm"] > r["budget"] and r.get("call"):
                r["call"]()  # (after another user's login the figures may have to be built again)
                prof = cProfile.Profile()
                prof.enable()
                r["call"]()
                prof.disable()
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
                print(f"\n  -- profile of one warm request: {r['page']} ({kind}) --")
                print("\n".join("  " + line for line in buf.getvalue().splitlines()[:60]))
    with app.app_context():
        db.engine.dispose()
    return results


def _time_bulletin(app, fn, note: str, kind: str, stmts: Statements, args) -> list[dict]:
    """The 通报 job function for a quarter, as the job runs it (a fake job context: the
    leader's quarter 2026 Q3), plus its two halves: the figures (``build_bulletin``) and
    the layout in the PDF worker pool (``render_bulletin``)."""
    from types import SimpleNamespace

    from tracker.auth.models import User
    from tracker.briefs import fonts, service
    from tracker.extensions import db
    from tracker.reports import bulletin

    print(f"  bulletin: {note}")
    params = {"kind": "quarter", "year": 2026, "part": 3, "as_of": None, "issue": "3", "problems": ""}
    with app.app_context():
        font_dir = service.font_dir()
        if not fonts.manifest_files(font_dir):
            print(f"  preparing fonts in {font_dir} …")
            fonts.build(font_dir, echo=lambda *a: None)
        user_id = db.session.execute(select(User.id).where(User.username == "leader")).scalar_one()
        db.session.rollback()
    ctx = SimpleNamespace(job_id=0, kind="bulletin", params=params, user_id=user_id, locale="zh_CN",
                          progress=lambda *a, **k: None)
    pages, size, worker, slow = [0], [0], [], [False]

    def job():
        with app.test_request_context(), app.app_context():
            ctx.user = db.session.get(User, user_id)
            out = fn(ctx)
            size[0] = len(getattr(out, "data", b"") or b"")
            db.session.rollback()
        return 200

    def build():
        with app.test_request_context(), app.app_context():
            bulletin.build_bulletin(db.session.get(User, user_id), bulletin.from_params(params))
            db.session.rollback()
        return 200

    held = {}

    def render():
        # One request context kept for all runs: the built bulletin's objects stay attached.
        if "b" not in held:
            held["ctx"] = app.test_request_context()
            held["ctx"].push()
            held["b"] = bulletin.build_bulletin(db.session.get(User, user_id), bulletin.from_params(params))
        result = bulletin.render_bulletin(held["b"])
        pages[0] = result.pages
        worker.append(result.seconds * 1000)
        slow[0] = slow[0] or result.slow_path
        return 200

    out = []
    runs, cold = max(1, args.pdf_runs), max(1, min(args.cold, args.pdf_runs))
    for label, call, budget in (("通报 PDF job, 2026 Q3, city leader", job, 5000),
                                ("  通报 figures (build_bulletin)", build, None),
                                ("  通报 layout (render_bulletin)", render, None)):
        try:
            r = measure(call, stmts, runs, cold)
        except Exception as err:  # noqa: BLE001 - report, keep measuring the rest
            print(f"  {label}: failed: {type(err).__name__}: {err}")
            r = {"status": 500}
        r.update(page=label, db=kind, budget=budget)
        _print_row(r)
        out.append(r)
    if "ctx" in held:
        db.session.rollback()
        held["ctx"].pop()
    print(f"  (通报: {pages[0]} pages, {size[0] / 1024:,.0f} KB; layout in the PDF worker process: median "
          f"{statistics.median(worker) if worker else 0:.0f} ms; fontTools fallback: {'YES' if slow[0] else 'no'}; "
          f"{len(held['b'].red) if 'b' in held else '?'} red-list rows)")
    return out


def _fmt(v, unit="") -> str:
    return "—" if v is None else f"{v:.0f}{unit}" if v >= 100 else f"{v:.1f}{unit}"


def _print_row(r: dict) -> None:
    warm, cold, budget = r.get("warm"), r.get("cold"), r.get("budget")
    within = ("—" if budget is None or warm is None or r.get("status") not in (200, None)
              else "yes" if warm <= budget else "NO")
    q = "—" if r.get("warm_q") is None else f"{r['warm_q']}/{r['cold_q']}"
    status = r.get("status")
    flag = "" if status in (200, None) else f" [HTTP {status}]"
    print(f"  {r['page'][:44] + flag:50} {r['db']:10} {_fmt(warm):>8} {_fmt(r.get('p95')):>8} {_fmt(cold):>8}"
          f" {q:>9} {_fmt(r.get('warm_sql')):>7} {('≤ ' + str(budget)) if budget else '—':>7} {within:>6}"
          f" {_fmt(r.get('cpu')):>6}", flush=True)


HEADER = (f"  {'page':50} {'db':10} {'warm ms':>8} {'p95 ms':>8} {'cold ms':>8} {'SQL w/c':>9} {'SQL ms':>7}"
          f" {'budget':>7} {'within':>6} {'CPU ms':>6}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="projects")
    ap.add_argument("--events", type=int, default=1_000_000, help="stage events (about)")
    ap.add_argument("--funds", type=int, default=200_000, help="funds records (at most)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--runs", type=int, default=20, help="warm runs per page (median, p95)")
    ap.add_argument("--cold", type=int, default=3, help="cold runs per page (median)")
    ap.add_argument("--pdf-runs", type=int, default=3)
    ap.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    ap.add_argument("--rebuild", action="store_true", help="regenerate the cached database(s)")
    ap.add_argument("--generate-only", action="store_true", help="build (or reuse) the database(s), measure nothing")
    ap.add_argument("--check", action="store_true", help="check the cached data's consistency again")
    ap.add_argument("--no-explain", dest="explain", action="store_false",
                    help="do not print the plans of the slowest statements of pages over budget")
    ap.add_argument("--profile", action="store_true", help="cProfile one warm request of each page over budget")
    ap.add_argument("--only", nargs="*", help="only the pages whose label contains one of these words")
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [{"pg": "postgresql", "sqlite": "sqlite"}[args.db]]
    results = []
    print(HEADER)
    for kind in kinds:
        results += run(kind, args)
    print(f"\nSummary ({os.cpu_count()} CPUs; warm = median of {args.runs}, cold = median of {args.cold} "
          f"first requests after clear_cache(); SQL w/c = statements per request warm/cold; "
          "SQL ms = time in SQL of a warm request; CPU ms = bench/list_page.py's CPU check just before "
          "(≈5.5 ms on this machine when idle: a higher figure means other work slowed everything by that factor))")
    print(HEADER)
    for r in results:
        _print_row(r)


if __name__ == "__main__":
    main()
