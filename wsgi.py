"""WSGI entry point: ``gunicorn -w 4 wsgi:app``.

Each worker imports this module after gunicorn forks it (unless ``--preload`` is used), so the
PDF renderer is warmed up per worker, in a background thread: the first brief a worker serves
costs what a warm one does.
"""
from tracker import create_app
from tracker.briefs.service import start_warm_up

app = create_app()
start_warm_up(app)
