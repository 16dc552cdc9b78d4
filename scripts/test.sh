#!/usr/bin/env bash
# Set up and run the whole test suite on SQLite and on PostgreSQL; both must pass.
#
#   scripts/test.sh              ruff, then both databases (what `make test` and CI run)
#   scripts/test.sh sqlite       SQLite only
#   scripts/test.sh pg           PostgreSQL only
#   scripts/test.sh all -k login extra arguments go to pytest
#
# Environment:
#   TEST_PG_URL      PostgreSQL URL for the PostgreSQL run
#                    (default postgresql+psycopg://postgres@127.0.0.1:5432/test; with
#                    several pytest workers each uses <database>_gw<N>, created on demand)
#   PYTEST_WORKERS   pytest-xdist workers (default 2; 0 runs in one process)
set -euo pipefail
cd "$(dirname "$0")/.."

which=${1:-all}
[ $# -gt 0 ] && shift
case "$which" in
  all|sqlite|pg) ;;
  *) echo "usage: $0 [all|sqlite|pg] [pytest args...]" >&2; exit 2 ;;
esac

scripts/setup.sh

PG_URL=${TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
WORKERS=${PYTEST_WORKERS:-2}
PYTEST=(.venv/bin/python -m pytest)
if [ "$WORKERS" != 0 ]; then PYTEST+=(-n "$WORKERS"); fi
LOGDIR=$(mktemp -d)
trap 'rm -rf "$LOGDIR"' EXIT

say() { printf '[test] %s\n' "$*"; }

ensure_postgres() {
  local host port
  host=$(sed -E 's#^[^@]*@([^:/]+).*#\1#' <<<"$PG_URL")
  port=$(sed -E 's#^[^@]*@[^:/]+:([0-9]+).*#\1#;t;s#.*#5432#' <<<"$PG_URL")
  command -v pg_isready >/dev/null 2>&1 || return 0
  pg_isready -q -h "$host" -p "$port" && return 0
  if [ "$(id -u)" -eq 0 ] && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    say "starting PostgreSQL"
    local v
    for v in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    done
    for _ in $(seq 1 30); do
      pg_isready -q -h "$host" -p "$port" && return 0
      sleep 1
    done
  fi
  say "PostgreSQL is not answering on $host:$port; start it (see README.md)"
}

ensure_redis() {
  # The suite keeps login-throttle counters in memory; Redis is started for parity with
  # production set-ups and for tests that opt in to it.
  command -v redis-cli >/dev/null 2>&1 || return 0
  redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -eq 0 ] && command -v redis-server >/dev/null 2>&1; then
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
}

declare -A RESULT SUMMARY
run_suite() {  # name, then env assignments for `env`
  local name=$1; shift
  local log="$LOGDIR/$name.log" rc
  say "=== $name ==="
  set +e
  env "$@" "${PYTEST[@]}" "${PYTEST_ARGS[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  RESULT[$name]=$rc
  # `|| true`: a quiet run (-q, -qq) may print no summary line, and grep's miss must not end
  # the script under `set -e` before the results are reported.
  SUMMARY[$name]=$(grep -E '^=*.*[0-9]+ (passed|failed|error|errors|skipped)' "$log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true)
}

PYTEST_ARGS=("$@")
status=0
if [ "$which" = all ]; then
  say "=== ruff ==="
  if .venv/bin/ruff check --quiet .; then say "ruff: OK"; else say "ruff: FAILED (see above)"; status=1; fi
fi
if [ "$which" = all ] || [ "$which" = sqlite ]; then
  run_suite sqlite -u TEST_DATABASE_URL
fi
if [ "$which" = all ] || [ "$which" = pg ]; then
  ensure_postgres
  ensure_redis
  run_suite postgresql TEST_DATABASE_URL="$PG_URL"
fi

passed=0 failed=0 skipped=0
for name in sqlite postgresql; do
  [ -n "${RESULT[$name]+x}" ] || continue
  rc=${RESULT[$name]}
  line=${SUMMARY[$name]:-no summary: pytest was asked to be quieter than its summary line}
  if [ "$rc" = 0 ]; then say "$name: OK ($line)"; else say "$name: FAILED, pytest exit $rc ($line)"; status=1; fi
  n() { grep -oE "[0-9]+ $1" <<<"$line" | grep -oE '^[0-9]+' || echo 0; }
  passed=$((passed + $(n passed)))
  failed=$((failed + $(n failed) + $(n 'errors?')))
  skipped=$((skipped + $(n skipped)))
  # A run that failed without pytest counting a failure (collection error, crash) still fails.
  if [ "$rc" != 0 ] && [ "$(n failed)" = 0 ] && [ "$(n 'errors?')" = 0 ]; then failed=$((failed + 1)); fi
done
if [ "$passed$failed$skipped" = 000 ] && [ "$status" = 0 ]; then
  echo "total: not counted (no pytest summary); all runs exited 0"
else
  echo "total: $passed passed, $failed failed, $skipped skipped"
fi
exit $status
