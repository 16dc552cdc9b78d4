#!/usr/bin/env bash
# Set up everything the app and its tests need on this machine. Idempotent and quick when
# nothing changed, so `make run` and `make test` call it every time.
#
#   1. Debian packages: CJK fonts and HarfBuzz's subsetter (fast PDF briefs), Pango
#      (WeasyPrint), Chromium (end-to-end tests), poppler-utils (PDF checks in tests),
#      postgresql-client (pg_dump/pg_restore for `flask backup` on PostgreSQL).
#      Installed with apt-get when missing (as root); skipped when all are present.
#   2. .venv with the pinned Python packages (requirements-dev.txt includes requirements.txt);
#      skipped when the requirement files have not changed since the last install.
#   3. Compiled translations (tracker/translations/*/LC_MESSAGES/messages.mo).
#
# Environment: PYTHON (default python3), SKIP_APT=1 to skip the system-package step.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
APT_PACKAGES=(
  fonts-noto-cjk
  fonts-wqy-microhei
  libharfbuzz-subset0
  libpango-1.0-0
  libpangoft2-1.0-0
  chromium
  poppler-utils
  postgresql-client
)

say() { printf '[setup] %s\n' "$*"; }

# --- 1. system packages -------------------------------------------------------------
system_packages() {
  if [ "${SKIP_APT:-0}" = 1 ]; then
    say "SKIP_APT=1: not checking system packages"
    return
  fi
  if ! command -v dpkg >/dev/null 2>&1; then
    say "not a Debian system: install the equivalents of ${APT_PACKAGES[*]} yourself"
    return
  fi
  local wanted=("${APT_PACKAGES[@]}") missing=() pkg
  # A Python without ensurepip (Debian's own python3) needs python3-venv for the virtualenv.
  if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    wanted+=(python3-venv)
  fi
  for pkg in "${wanted[@]}"; do
    dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  local cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    say "missing system packages: ${missing[*]}"
    say "install them as root, then run this again:"
    say "  sudo sh -c '$cmd'"
    exit 1
  fi
  say "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q </dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# --- 2. virtualenv and Python packages ----------------------------------------------------
python_packages() {
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements.sha256" want
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements-dev.txt </dev/null
  echo "$want" >"$stamp"
}

# --- 3. translations ------------------------------------------------------------------------
translations() {
  local po mo stale=0
  for po in tracker/translations/*/LC_MESSAGES/messages.po; do
    [ -e "$po" ] || continue
    mo="${po%.po}.mo"
    if [ ! -f "$mo" ] || [ "$po" -nt "$mo" ]; then stale=1; fi
  done
  if [ "$stale" = 1 ]; then
    "$VENV/bin/pybabel" -q compile -d tracker/translations
  fi
}

# --- 4. axe-core for the accessibility test (npm registry; skipped without npm) ------------
AXE_VERSION=4.14.1
axe_core() {
  local dir=.tools/axe-core-$AXE_VERSION
  [ -f "$dir/node_modules/axe-core/axe.min.js" ] && return
  if ! command -v npm >/dev/null 2>&1; then
    say "npm not found: the accessibility test (tests/e2e/test_accessibility.py) will be skipped"
    return
  fi
  say "installing axe-core $AXE_VERSION into $dir"
  mkdir -p "$dir"
  npm install --silent --no-audit --no-fund --prefix "$dir" "axe-core@$AXE_VERSION" </dev/null \
    || say "axe-core could not be installed: the accessibility test will be skipped"
}

system_packages
python_packages
translations
axe_core
