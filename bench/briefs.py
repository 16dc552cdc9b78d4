"""PDF briefs: how fast and how big, on this machine.

    .venv/bin/python bench/briefs.py             # demo data (31-project ceremony), SQLite
    .venv/bin/python bench/briefs.py --runs 9

Prints: one brief warm (median), the first brief in a fresh process (WeasyPrint import, font
set-up and first layout, measured in a subprocess), the 31-project ceremony booklet, the
signing-order sheet, PDF sizes and peak memory. Budgets (issue #4): brief ≤ 0.2 s warm,
first brief ≤ 1 s, 31-project booklet ≤ 3 s, one-page brief ≤ 300 KB.
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


def _first_brief(url: str, project_id: int, warm: bool) -> None:
    """Child process: time the first brief after the app has started (cold, or after the
    worker's background warm-up has finished)."""
    t0 = time.perf_counter()
    from tracker import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
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
        import weasyprint  # noqa: F401 - its import is part of the first brief

        t2 = time.perf_counter()
        result = service.brief_pdf(project)
        t3 = time.perf_counter()
        from tracker.briefs.render import get_renderer

        setup = get_renderer(service.font_dir()).setup_seconds
    print(json.dumps({
        "app_start": started - t0 - warm_seconds, "warm_up": warm_seconds,
        "import_weasyprint": t2 - t1, "font_setup": setup if not warm else 0.0,
        "first_render": t3 - t2 - (setup if not warm else 0.0), "first_total": t3 - t1, "pages": result.pages,
        "peak_mb": _peak_mb(),
    }))


def _prepare(url: str):
    from bench._data import make_app

    app = make_app(url)
    with app.app_context():
        from sqlalchemy import func, select

        from tracker.ceremonies.models import CeremonySigning
        from tracker.extensions import db

        try:
            from tracker.seeding import load_demo
        except ImportError:  # pragma: no cover - the demo loader lands with the seed data
            sys.exit("tracker.seeding.load_demo is needed for the 31-project demo ceremony")
        load_demo()
        db.session.commit()
        ceremony_id, count = db.session.execute(
            select(CeremonySigning.ceremony_id, func.count())
            .group_by(CeremonySigning.ceremony_id).order_by(func.count().desc()).limit(1)
        ).one()
    return app, ceremony_id, count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--first", nargs=3, metavar=("URL", "PROJECT_ID", "WARM"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.first:
        _first_brief(args.first[0], int(args.first[1]), args.first[2] == "warm")
        return

    import tempfile

    url = f"sqlite:///{tempfile.mkdtemp(prefix='tracker-bench-briefs-')}/bench.db"
    app, ceremony_id, count = _prepare(url)
    from tracker.briefs import fonts, service

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

        cpu = {}

        def timed(fn, runs, key=None):
            times, cpus, result = [], [], None
            for _ in range(runs):
                t, c = time.perf_counter(), time.process_time()  # CPU of all threads: the render thread too
                result = fn()
                times.append(time.perf_counter() - t)
                cpus.append(time.process_time() - c)
            if key:
                cpu[key] = statistics.median(cpus)
            return statistics.median(times), min(times), result

        service.brief_pdf(project)  # warm up this process
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

    load = os.getloadavg()  # other work on this machine slows the wall-clock figures
    kb = lambda r: f"{len(r.pdf) / 1024:,.0f} KB"
    print(f"\nPDF briefs — {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
          f", prepared fonts: {len(fonts.manifest_files(font_dir))} files in {font_dir}")
    print(f"  one brief, warm            median {brief_med:.3f} s   (min {brief_min:.3f} s, {args.runs} runs)"
          f"   budget ≤ 0.2 s   {brief.pages} page, {kb(brief)}   CPU {cpu['brief']:.3f} s")
    print(f"  first brief after start    {first['first_total']:.3f} s cold   = import WeasyPrint "
          f"{first['import_weasyprint']:.3f} + fonts {first['font_setup']:.3f} + layout {first['first_render']:.3f}"
          f"   budget ≤ 1 s   (app start before it {first['app_start']:.2f} s)")
    print(f"                             {first_warm['first_total']:.3f} s after the worker's background warm-up"
          f" (start_warm_up: {first_warm['warm_up']:.2f} s at boot)")
    print(f"  {count}-project booklet        median {book_med:.3f} s   (min {book_min:.3f} s)   budget ≤ 3 s"
          f"   {booklet.pages} pages, {kb(booklet)}   CPU {cpu['booklet']:.3f} s")
    print(f"  signing-order sheet        median {order_med:.3f} s   {order.pages} pages, {kb(order)}")
    print(f"  bilingual brief            median {bi_med:.3f} s   {bilingual.pages} page, {kb(bilingual)}")
    print(f"  sizes: brief {kb(brief)} (budget ≤ 300 KB), with 龘堃喆𠮷 {kb(rare_brief)}, bilingual {kb(bilingual)},"
          f" booklet {kb(booklet)}, order sheet {kb(order)}")
    print(f"  peak memory: this process {_peak_mb():.0f} MB (after the booklets), "
          f"fresh process after its first brief {first['peak_mb']:.0f} MB")
    slow = [r for r in (brief, bilingual, rare_brief, booklet, order) if r.slow_path]
    missing = set().union(*(r.missing for r in (brief, bilingual, rare_brief, booklet, order)))
    print(f"  fontTools fallback taken: {'YES' if slow else 'no'};  characters without a glyph: "
          f"{''.join(sorted(missing)) or 'none'}")


if __name__ == "__main__":
    main()
