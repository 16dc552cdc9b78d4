"""WSGI entry point: ``gunicorn -w 4 wsgi:app``.

Each worker imports this module after gunicorn forks it (do not use ``--preload``), so the PDF
renderer is warmed up per worker, in a background thread: the first brief a worker serves
costs what a warm one does. One-off commands (``flask audit verify``, ``flask seed demo`` …)
load the app from here too; they skip the warm-up, which would only compete with them.
"""
import sys
from pathlib import Path

from tracker import create_app
from tracker.briefs.service import start_warm_up

app = create_app()

if not (Path(sys.argv[0]).name == "flask" and sys.argv[1:2] != ["run"]):
    start_warm_up(app)
