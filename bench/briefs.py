"""PDF briefs: how fast and how big, on this machine.

    .venv/bin/python bench/briefs.py             # demo data (31-project ceremony), SQLite
    .venv/bin/python bench/briefs.py --runs 9

Prints: one brief warm (median; rendered in a warm worker process of the pool, as the web app
does), the first brief in a fresh process (cold: the pool starts on demand; and after the web
process's background warm-up, as wsgi.py does at boot), the 31-project ceremony booklet (as a
request would render it, and as a job from queued to done), the signing-order sheet, PDF sizes
and peak memory; nothing is taken from the cache of finished PDFs. Budgets (issue #4): brief ≤ 0.2 s warm, first brief ≤ 1 s, 31-project booklet
≤ 3 s, one-page brief ≤ 300 KB.
Uses the prepared fonts in instance/fonts (`flask briefs fonts`), building them if missing.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_peak_mb(pids) -> float:
    """The largest peak resident size among the pool's worker processes."""
    peaks = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


def _first_brief(url: str, project_id: int, warm: bool) -> None:
    """Child process: time the first brief after the app has started (cold: the worker pool
    starts on this brief; or after the background warm-up wsgi.py starts at boot)."""
    t0 = time.perf_counter()
    from tracker import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "PDF_CACHE_FILES": 0, "PDF_BRIEF_CACHE_FILES": 0})  # a layout, not a cached PDF
    warm_seconds = 0.0
    if warm:
        from tracker.briefs.service import start_warm_up

        tw = time.perf_counter()
        start_warm_up(app).join()
        warm_seconds = time.perf_counter() - tw
    started = time.perf_counter()
    with app.app_context():
        from tracker.briefs import service
        from tracker.extensions import db
        from tracker.projects.models import Project

        project = db.session.get(Project, project_id)
        t1 = time.perf_counter()
        result = service.brief_pdf(project)
        t2 = time.perf_counter()
    print(json.dumps({
        "app_start": started - t0 - warm_seconds, "warm_up": warm_seconds, "first_total": t2 - t1,
        "render_in_worker": result.seconds, "pages": result.pages,
    }))


def _prepare(url: str):
    from bench._data import make_app

    app = make_app(url)
    with app.app_context():
        from sqlalchemy import func, select

        from tracker.ceremonies.models import CeremonySigning
        from tracker.extensions import db
        from tracker.seeding import load_demo

        load_demo()
        db.session.commit()
        ceremony_id, count = db.session.execute(
            select(CeremonySigning.ceremony_id, func.count())
            .group_by(CeremonySigning.ceremony_id).order_by(func.count().desc()).limit(1)
        ).one()
    return app, ceremony_id, count


def _booklet_jobs(app, ceremony_id: int, runs: int) -> list[float]:
    """Queued → done for the booklet job, through the runner and a worker process (the first
    run includes the worker building its app)."""
    from sqlalchemy import select

    from tracker.auth.models import User
    from tracker.core.db import writing
    from tracker.extensions import db
    from tracker.jobs import operations as ops
    from tracker.jobs.models import Job
    from tracker.jobs.runner import JobRunner

    runner = JobRunner(app)
    times = []
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "staff_city")).scalar_one()
        user_id = user.id
        db.session.rollback()
    for _ in range(runs):
        with app.app_context():
            started = time.perf_counter()
            with writing():
                job = ops.submit(db.session.get(User, user_id), "booklet", title="bench",
                                 params={"ceremony_id": ceremony_id})
                job_id = job.id
                db.session.commit()
            status = "queued"
            while status in ("queued", "running"):
                runner.tick()
                db.session.rollback()
                status = db.session.execute(select(Job.status).where(Job.id == job_id)).scalar_one()
                db.session.rollback()
                time.sleep(0.01)
            if status != "done":
                sys.exit(f"booklet job ended {status}")
            times.append(time.perf_counter() - started)
    runner.stop()
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--first", nargs=3, metavar=("URL", "PROJECT_ID", "WARM"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.first:
        _first_brief(args.first[0], int(args.first[1]), args.first[2] == "warm")
        return

    import tempfile

    tmp = tempfile.mkdtemp(prefix="tracker-bench-briefs-")
    url = f"sqlite:///{tmp}/bench.db"
    app, ceremony_id, count = _prepare(url)
    app.config["JOB_RESULT_DIR"] = f"{tmp}/job-results"
    # Every figure is a layout: no PDF is served from the cache of finished ones (the job's
    # worker takes this configuration too).
    app.config.update(PDF_CACHE_FILES=0, PDF_BRIEF_CACHE_FILES=0)
    from tracker.briefs import fonts, service
    from tracker.jobs.pool import get_pool

    with app.app_context():
        font_dir = service.font_dir()
        if not fonts.manifest_files(font_dir):
            print(f"preparing fonts in {font_dir} …")
            fonts.build(font_dir, echo=lambda *a: None)

        from sqlalchemy import select

        from tracker.ceremonies.models import Ceremony, CeremonySigning
        from tracker.extensions import db
        from tracker.projects.models import Project

        ceremony = db.session.get(Ceremony, ceremony_id)
        first_signing = db.session.execute(
            select(CeremonySigning).where(CeremonySigning.ceremony_id == ceremony_id)
            .order_by(CeremonySigning.position)).scalars().first()
        project = db.session.get(Project, first_signing.project_id)

        # First brief in a fresh process: cold, and after the worker's background warm-up.
        def first_in_fresh_process(mode):
            child = subprocess.run([sys.executable, __file__, "--first", url, str(project.id), mode],
                                   capture_output=True, text=True, cwd=ROOT, check=True)
            return json.loads(child.stdout.strip().splitlines()[-1])

        first = first_in_fresh_process("cold")
        first_warm = first_in_fresh_process("warm")

        in_worker = {}

        def timed(fn, runs, key=None):
            times, worker_times, result = [], [], None
            for _ in range(runs):
                t = time.perf_counter()
                result = fn()
                times.append(time.perf_counter() - t)
                worker_times.append(result.seconds)
            if key:
                in_worker[key] = statistics.median(worker_times)
            return statistics.median(times), min(times), result

        service.brief_pdf(project)  # start the pool and warm it up
        brief_med, brief_min, brief = timed(lambda: service.brief_pdf(project), args.runs, "brief")
        bi_med, _, bilingual = timed(lambda: service.brief_pdf(project, bilingual=True), 3)

        rare = db.session.get(Project, project.id)
        rare_name = rare.name
        rare.name = rare_name + "龘堃喆𠮷"  # not committed: only for the size of a rare-character brief
        rare_brief = service.brief_pdf(rare)
        rare.name = rare_name
        db.session.rollback()

        book_med, book_min, booklet = timed(lambda: service.booklet_pdf(ceremony), max(3, args.runs // 2), "booklet")
        order_med, _, order = timed(lambda: service.order_pdf(ceremony), 3)
        worker_peak = _worker_peak_mb(get_pool().pids())
    jobs = _booklet_jobs(app, ceremony_id, 3)

    load = os.getloadavg()  # other work on this machine slows the wall-clock figures
    kb = lambda r: f"{len(r.pdf) / 1024:,.0f} KB"
    print(f"\nPDF briefs — {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
          f", prepared fonts: {len(fonts.manifest_files(font_dir))} files in {font_dir}")
    print(f"  one brief, warm            median {brief_med:.3f} s   (min {brief_min:.3f} s, {args.runs} runs)"
          f"   budget ≤ 0.2 s   {brief.pages} page, {kb(brief)}   in the worker {in_worker['brief']:.3f} s")
    print(f"  first brief after start    {first_warm['first_total']:.3f} s after the web process's background"
          f" warm-up (start_warm_up at boot: {first_warm['warm_up']:.2f} s)   budget ≤ 1 s")
    print(f"                             {first['first_total']:.3f} s cold: the worker pool starts on this brief"
          f" (fork server imports WeasyPrint and the app, a worker lays out a sample)"
          f"   (app start before it {first['app_start']:.2f} s; a served process never sees this:"
          f" wsgi.py waits for the warm-up before serving)")
    print(f"  {count}-project booklet        median {book_med:.3f} s   (min {book_min:.3f} s)   budget ≤ 3 s"
          f"   {booklet.pages} pages, {kb(booklet)}   in the worker {in_worker['booklet']:.3f} s")
    print(f"  {count}-project booklet job    queued → done {jobs[0]:.3f} s first (the worker builds its app),"
          f" then {statistics.median(jobs[1:]):.3f} s")
    print(f"  signing-order sheet        median {order_med:.3f} s   {order.pages} pages, {kb(order)}")
    print(f"  bilingual brief            median {bi_med:.3f} s   {bilingual.pages} page, {kb(bilingual)}")
    print(f"  sizes: brief {kb(brief)} (budget ≤ 300 KB), with 龘堃喆𠮷 {kb(rare_brief)}, bilingual {kb(bilingual)},"
          f" booklet {kb(booklet)}, order sheet {kb(order)}")
    print(f"  peak memory: this process {_peak_mb():.0f} MB, largest worker process {worker_peak:.0f} MB")
    slow = [r for r in (brief, bilingual, rare_brief, booklet, order) if r.slow_path]
    missing = set().union(*(r.missing for r in (brief, bilingual, rare_brief, booklet, order)))
    print(f"  fontTools fallback taken: {'YES' if slow else 'no'};  characters without a glyph: "
          f"{''.join(sorted(missing)) or 'none'}")


if __name__ == "__main__":
    main()
