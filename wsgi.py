"""WSGI entry point: ``gunicorn -w 4 wsgi:app``.

Each worker imports this module after gunicorn forks it (do not use ``--preload``), so each
web process starts its own PDF worker pool (warm processes that render briefs and run jobs,
see tracker/jobs/pool.py) and its job runner, in the background: the first brief a worker
serves costs what a warm one does, and queued jobs (booklets) are taken from the database.
One-off commands (``flask audit verify``, ``flask seed demo`` …) load the app from here too;
they start neither, which would only compete with them.
"""
import sys
from pathlib import Path

from tracker import create_app
from tracker.briefs.service import start_warm_up
from tracker.jobs.runner import start_runner

app = create_app()


def flask_command(argv: list[str]) -> str | None:
    """The ``flask`` subcommand in ``argv`` (``flask --app wsgi run`` → ``run``)."""
    args, i = argv[1:], 0
    while i < len(args):
        if args[i] in ("--app", "-A", "--env-file", "-e"):
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i]
    return None


if Path(sys.argv[0]).name != "flask" or flask_command(sys.argv) == "run":
    start_warm_up(app)
    start_runner(app)
