"""The app beside a Flask-Admin peer and a one-SQL limit, at 1k, 10k and 100k projects, on
SQLite and PostgreSQL, interleaved in one run (issue 12).

    .venv/bin/python bench/scale.py                       # 1k, 10k, 100k; both databases
    .venv/bin/python bench/scale.py --sizes 100000 --db pg

For each size and database a child process loads three WSGI apps on the same database:

- **app**: this application, signed in as the city leader (the list with its totals line,
  the project page, ``GET /api/v1/projects``); the measured project is given a dozen audited
  edits and two funds records first (``lived_in``), so its page shows a change history; each
  view of the app twice: as viewed again (what it keeps until the data changes is kept:
  totals, list bodies, the project page's cards, ``core.datacache``) and cold (all of that
  emptied first, as the first view after any change anywhere);
- **peer**: a Flask-Admin ``ModelView`` of the project table, as a Flask team would set it
  up for CRUD screens (50 rows, newest signing first, search on the name, a stage filter,
  related names joined; its pager counts the matching rows on every page; no API);
- **limit**: one hand-written SQL statement and a small Jinja template per page (no totals,
  no permissions): what the machine can do.

Each round calls the three in turn (interleaved, so a slower minute of this VM hits all
three alike), and the rounds go to the sizes of a database in turn too (one child process
per size, all kept open), so the growth from 1k to 100k is read from the same minutes; the
figures are the medians of ``--runs`` rounds after a warm-up, and the ratio app / peer.
Server time through the WSGI call, no network. The databases are those of ``bench/reports.py``
(generated there once per size; 100k is its default database).
Figures only: nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432"
# The figures of one view in a round, in this order: the app, the peer, the limit, the app cold.
APP, PEER, LIMIT, COLD = range(4)
VIEWS = ("list default", "list keyword", "list stage", "project page", "API list")


def _where(size: int) -> tuple[Path, str]:
    """(SQLite directory, PostgreSQL URL) of bench/reports.py's database of ``size`` projects."""
    if size == 100_000:
        return ROOT / "instance" / "bench-reports", f"{PG_BASE}/bench_reports"
    return ROOT / "instance" / f"bench-scale-{size}", f"{PG_BASE}/bench_scale_{size}"


def ensure(size: int, kind: str) -> str:
    directory, pg_url = _where(size)
    env = {**os.environ, "BENCH_REPORTS_DIR": str(directory), "BENCH_REPORTS_PG_URL": pg_url}
    args = [sys.executable, str(ROOT / "bench" / "reports.py"), "--generate-only", "--db",
            "sqlite" if kind == "sqlite" else "pg"]
    if size != 100_000:
        args += ["--n", str(size), "--events", str(size * 10), "--funds", str(size * 2)]
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return f"sqlite:///{directory / 'reports.sqlite'}" if kind == "sqlite" else pg_url


# --- the peer and the limit ---------------------------------------------------------------------

LIMIT_LIST = """<table>{% for r in rows %}<tr><td>{{ r.name }}</td><td>{{ r.investor }}</td><td>{{ r.stage }}</td>
<td>{{ r.signed_on }}</td><td>{{ r.contracted_investment }}</td></tr>{% endfor %}</table>"""
LIMIT_PROJECT = """<h1>{{ p.name }}</h1><dl>{% for k, v in p.items() %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>"""


def peer_and_limit(url: str):
    from flask import Flask, jsonify, render_template_string, request
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from flask_babel import Babel
    from sqlalchemy import Column, create_engine, inspect, text
    from sqlalchemy.orm import scoped_session, sessionmaker

    from tracker.projects.models import Project

    engine = create_engine(url)
    session = scoped_session(sessionmaker(bind=engine))
    peer = Flask("peer")
    peer.config.update(SECRET_KEY="bench", TESTING=True)
    Babel(peer)  # Flask-Admin translates through Flask-Babel when it is installed

    class ProjectView(ModelView):
        can_view_details = True
        page_size = 50
        can_set_page_size = False
        column_list = ("name", "investor", "unit", "industry", "stage", "signed_on", "contracted_investment")
        column_searchable_list = ("name",)
        column_filters = ("stage",)
        column_default_sort = ("signed_on", True)
        # The table's columns only: the app's own pages ask the "has a …" exists columns
        # mapped on Project (tracker/workflow/models.py), which a peer would not have.
        column_details_exclude_list = tuple(p.key for p in inspect(Project).column_attrs
                                            if not isinstance(p.columns[0], Column))

    with warnings.catch_warnings():  # a plain session, as a team without Flask-SQLAlchemy would pass
        warnings.filterwarnings("ignore", "Passing a session object directly", DeprecationWarning)
        Admin(peer, name="peer").add_view(ProjectView(Project, session, endpoint="project"))

    list_sql = text(
        "SELECT p.id, p.name, i.name AS investor, p.stage, p.signed_on, p.contracted_investment FROM project p "
        "JOIN investor i ON i.id = p.investor_id WHERE p.is_archived = :f AND (:stage = '' OR p.stage = :stage) "
        "AND (:q = '' OR p.name LIKE :like) ORDER BY p.signed_on DESC, p.id DESC LIMIT 50")
    project_sql = text("SELECT p.*, i.name AS investor FROM project p JOIN investor i ON i.id = p.investor_id "
                       "WHERE p.id = :id")

    def _rows():
        q = request.args.get("q", "")
        with engine.connect() as conn:
            return conn.execute(list_sql, {"f": False, "stage": request.args.get("stage", ""), "q": q,
                                           "like": f"%{q}%"}).mappings().all()

    @peer.get("/limit/list")
    def limit_list():
        return render_template_string(LIMIT_LIST, rows=_rows())

    @peer.get("/limit/api")
    def limit_api():
        return jsonify([{**r, "signed_on": str(r["signed_on"]), "contracted_investment": str(r["contracted_investment"])}
                        for r in _rows()])

    @peer.get("/limit/project/<int:pid>")
    def limit_project(pid: int):
        with engine.connect() as conn:
            row = conn.execute(project_sql, {"id": pid}).mappings().one()
        return render_template_string(LIMIT_PROJECT, p=row)

    @peer.teardown_appcontext
    def _remove(_exc):
        session.remove()

    return peer


# --- one size on one database (child process) -----------------------------------------------------

def lived_in(app, pid: int) -> None:
    """Give the measured project what a project shows after months of use, made through the
    operations as people make it: a dozen edits and two funds records, each audited (the
    generated projects have a stage history but no change history). Once per database."""
    from datetime import date
    from decimal import Decimal

    from sqlalchemy import func, select

    from tracker.audit.models import AuditEntry
    from tracker.auth.models import User
    from tracker.core.db import writing
    from tracker.extensions import db
    from tracker.funds.operations import add_funds
    from tracker.projects.models import Project
    from tracker.projects.operations import update_project

    with app.app_context(), writing():
        if db.session.execute(select(func.count()).where(AuditEntry.project_id == pid)).scalar() >= 12:
            return
        project = db.session.get(Project, pid)
        actor = db.session.execute(select(User).where(User.username == "manager_city")).scalar_one()
        inv = project.investor
        investor = {"name": inv.name, "uscc": inv.uscc, "source_region_id": inv.source_region_id,
                    "country": inv.country}
        for i in range(12):
            change = ({"contact_phone": f"0576-8888{i:04d}"} if i % 2 else
                      {"content": f"一期建设厂房 {i + 1} 万平方米，引进自动化生产线 {i + 2} 条。"})
            update_project(actor, project, change, investor, project.version_id)
            db.session.commit()
        for k in range(2):
            add_funds(actor, project, date(2026, 3 + k, 10), Decimal(1000 + k), "基准", "", confirm=True)
            db.session.commit()



def child(url: str) -> None:
    """A child process serving one database: it sets up the three apps, says it is ready, then
    runs a round (every view once on each of the three, in turn, and once more on the app cold)
    whenever the parent asks, and answers with the milliseconds of each (see ``measure``). The
    answers go out on the process's original stdout, one JSON line each; whatever else prints
    goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (a library's, a warning's) cannot mix with the answers

    def answer(value) -> None:
        protocol.write(json.dumps(value) + "\n")
        protocol.flush()

    from sqlalchemy import func, select

    from bench._data import make_app, sign_in
    from bench.reports import api_token
    from tracker.core import datacache
    from tracker.extensions import db
    from tracker.projects.models import Project

    app = make_app(url)
    with app.app_context():
        pid = db.session.execute(select(func.max(Project.id))).scalar() // 2
    lived_in(app, pid)
    client = app.test_client()
    sign_in(app, client, "leader")
    token = {"Authorization": f"Bearer {api_token(app, 'leader')}"}
    peer = peer_and_limit(url).test_client()
    keyword = "新能源"
    calls = {
        "list default": ((client, "/projects/", None), (peer, "/admin/project/", None), (peer, "/limit/list", None)),
        "list keyword": ((client, f"/projects/?q={keyword}", None), (peer, f"/admin/project/?search={keyword}", None),
                         (peer, f"/limit/list?q={keyword}", None)),
        "list stage": ((client, "/projects/?stage=construction", None),
                       (peer, "/admin/project/?flt0_0=construction", None), (peer, "/limit/list?stage=construction", None)),
        "project page": ((client, f"/projects/{pid}", None), (peer, f"/admin/project/details/?id={pid}", None),
                         (peer, f"/limit/project/{pid}", None)),
        "API list": ((client, "/api/v1/projects", token), None, (peer, "/limit/api", None)),  # no peer API
    }

    def timed(view: str, i: int, call) -> float:
        who, path, headers = call
        start = time.perf_counter()
        resp = who.get(path, headers=headers or {})
        elapsed = (time.perf_counter() - start) * 1000
        if resp.status_code != 200:
            raise SystemExit(f"{url} {view} #{i}: {path} answered {resp.status_code}")
        return elapsed

    answer("ready")
    for command in sys.stdin:
        if command.strip() != "round":
            break
        # Cold: the app's kept parts emptied before each of its views (untimed), as after a
        # change; then every view once untimed, so the warm calls below find their parts kept.
        cold = {}
        for view, trio in calls.items():
            datacache.clear()
            cold[view] = timed(view, 0, trio[0])
        for view, trio in calls.items():
            timed(view, 0, trio[0])
        times = {view: [timed(view, i, call) if call else None for i, call in enumerate(trio)]
                 for view, trio in calls.items()}
        for view, value in cold.items():
            times[view].append(value)  # at COLD
        answer(times)


class ChildFailed(Exception):
    pass


def _ask(proc: subprocess.Popen, command: str | None = None):
    """Send ``command`` (if any) to a child and read its next answer."""
    try:
        if command is not None:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
        line = proc.stdout.readline()
    except OSError as err:  # its end of the pipe is gone
        raise ChildFailed(str(err)) from None
    if not line:
        raise ChildFailed(f"exit {proc.wait()}")
    return json.loads(line)


def _stop(proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
        proc.wait(timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()


def measure(urls: dict, runs: int, warm: int = 5) -> dict:
    """Medians per database and view of ``runs`` rounds after ``warm``: one child process per
    database (``urls``: key → URL), all set up first, then each round asks every child in turn
    (starting with the next one each round, so no size always follows the same other), so the
    sizes are interleaved as the three apps are within a child: a slower minute of this VM hits
    every size alike, and the growth from 1k to 100k is read from the same minutes. A child
    that fails is reported on stderr and left out (its cells print "—")."""
    children: dict = {}
    times: dict = {}

    def drop(key, why) -> None:
        print(f"  {key[0]} {key[1]:,}: the bench child failed ({why}); left out", file=sys.stderr, flush=True)
        _stop(children.pop(key))
        times.pop(key, None)

    try:
        for key, url in urls.items():
            children[key] = subprocess.Popen([sys.executable, __file__, "--child", url], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, text=True)
            try:
                _ask(children[key])  # ready: one set-up at a time
                times[key] = {}
            except ChildFailed as err:
                drop(key, err)
        for rnd in range(warm + runs):
            keys = list(children)
            turn = rnd % len(keys) if keys else 0
            for key in keys[turn:] + keys[:turn]:
                try:
                    answer = _ask(children[key], "round")
                except ChildFailed as err:
                    drop(key, err)
                    continue
                if rnd < warm:
                    continue
                for view, trio in answer.items():
                    for i, value in enumerate(trio):
                        if value is not None:
                            times[key].setdefault(view, tuple([] for _ in range(COLD + 1)))[i].append(value)
        return {key: {view: [statistics.median(t) if t else None for t in trio] for view, trio in by_view.items()}
                for key, by_view in times.items()}
    finally:
        for proc in children.values():
            _stop(proc)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    ap.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    kinds = ["sqlite", "pg"] if args.db == "both" else [args.db]
    results: dict = {}
    for kind in kinds:
        urls = {(kind, size): ensure(size, kind) for size in args.sizes}
        results.update(measure(urls, args.runs))
        print(f"  {kind:10} {', '.join(f'{size:,}' for size in args.sizes)}: done", flush=True)
    print("\nms, median of interleaved rounds after a warm-up (app / Flask-Admin peer / one SQL + template); "
          "ratio = app ÷ peer.\n'again': the app with its kept parts (the view as seen again until the data "
          "changes); 'cold': the app right after they were emptied (the first view after any change), beside "
          "the same peer and limit figures (they keep nothing)")
    print(f"  {'view':14} {'app':6} {'db':7} " + "  ".join(f"{size:>30,}" for size in args.sizes))
    for view in VIEWS:
        for label, at in (("again", APP), ("cold", COLD)):
            for kind in kinds:
                cells = []
                for size in args.sizes:
                    r = results.get((kind, size), {}).get(view)
                    if not r:
                        cells.append(f"{'—':>30}")
                        continue
                    app_ms, peer_ms, limit_ms = r[at], r[PEER], r[LIMIT]
                    ratio = f"×{app_ms / peer_ms:.2f}" if peer_ms else "  —  "
                    peer_cell = f"{peer_ms:6.1f}" if peer_ms else f"{'—':>6}"  # the API list has no peer
                    cells.append(f"{app_ms:6.1f} / {peer_cell} / {limit_ms:5.1f} {ratio:>6}")
                print(f"  {view if at == APP else '':14} {label:6} {kind:7} " + "  ".join(cells))
        first, last = args.sizes[0], args.sizes[-1]
        for kind in kinds:
            a, b = results.get((kind, first), {}).get(view), results.get((kind, last), {}).get(view)
            if a and b and first != last:
                peer_growth = f"{b[PEER] / a[PEER]:.1f}" if a[PEER] and b[PEER] else "—"
                print(f"  {'':14} {kind:14} growth {first:,} → {last:,}: app ×{b[APP] / a[APP]:.1f} again, "
                      f"×{b[COLD] / a[COLD]:.1f} cold; peer ×{peer_growth}, limit ×{b[LIMIT] / a[LIMIT]:.1f}")

if __name__ == "__main__":
    main()
