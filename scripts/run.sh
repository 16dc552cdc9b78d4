#!/usr/bin/env bash
# Set up, migrate, load the demo data, prepare the PDF fonts and start the app (SQLite
# under instance/ unless DATABASE_URL says otherwise). Idempotent: run it again any time.
#
# Environment: HOST (default 127.0.0.1), PORT (default 5000), DATABASE_URL, SECRET_KEY, ...
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export FLASK_APP=wsgi
.venv/bin/flask db upgrade
.venv/bin/flask seed demo
# Subset CJK fonts for the PDF briefs, into instance/fonts (idempotent; the first run takes
# about half a minute). Without them briefs still render, from the system fonts, but slower.
.venv/bin/flask briefs fonts || echo "[run] warning: brief fonts not prepared (see flask briefs check)" >&2
host=${HOST:-127.0.0.1}
port=${PORT:-5000}
echo "[run] 台州招商项目全周期管理 on http://$host:$port/  (demo logins in README.md; Ctrl-C stops)"
exec .venv/bin/flask run --host "$host" --port "$port"
