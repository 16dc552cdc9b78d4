"""WSGI entry point: ``gunicorn -w 4 wsgi:app``.

Each worker imports this module after gunicorn forks it (do not use ``--preload``), so each
web process starts its own PDF worker pool (warm processes that render briefs and run jobs,
see tracker/jobs/pool.py) and its job runner. It starts serving once a PDF worker is warm
(``PDF_WARM_UP_WAIT`` at most), so the first brief it serves costs what a warm one does, and
queued jobs (booklets) are taken from the database.
One-off commands (``flask audit verify``, ``flask seed demo`` …) load the app from here too;
they start neither, which would only compete with them.
"""
import gc
import os
import sys

from tracker import create_app
from tracker.briefs.service import start_warm_up
from tracker.jobs.runner import serving, start_runner

app = create_app()


if serving(sys.argv, dict(os.environ)):
    # Serve once a PDF worker is warm (about 1.4 s after start; bounded): the first brief a
    # process serves then costs what a warm one does, instead of waiting for the pool to start.
    start_warm_up(app).join(timeout=app.config["PDF_WARM_UP_WAIT"])
    start_runner(app)
    # What start-up made and keeps (the app, SQLAlchemy's mappers, the imported modules:
    # ~150,000 objects) stays for the process's life: after one collection of start-up's own
    # garbage, keep it out of the collector's full passes, which otherwise walk it all
    # (~90 ms each) inside whichever request happened to trigger one.
    gc.collect()
    gc.freeze()
