# The two commands a newcomer needs (see README.md):
#   make run    set up, migrate, load the demo data, start the app on http://127.0.0.1:5000/
#   make test   set up, run the whole suite on SQLite and on PostgreSQL
.PHONY: setup run test test-sqlite test-pg i18n-extract i18n-update i18n-compile bench bench-reports

POT := /tmp/tracker-messages.pot

setup:
	scripts/setup.sh

run:
	scripts/run.sh

test:
	scripts/test.sh all

test-sqlite:
	scripts/test.sh sqlite

test-pg:
	scripts/test.sh pg

# Translations: msgids are the Chinese source strings; tracker/translations/en holds English.
i18n-extract: setup
	.venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -c TRANSLATORS: --add-location=file --sort-by-file --no-wrap --project=tracker --version=1 -o $(POT) .

i18n-update: i18n-extract
	.venv/bin/pybabel update -i $(POT) -d tracker/translations -l en --no-wrap --ignore-obsolete

i18n-compile: setup
	.venv/bin/pybabel compile -d tracker/translations

bench: setup
	.venv/bin/python bench/list_page.py --rest 60
	.venv/bin/python bench/workflow.py
	.venv/bin/python bench/briefs.py

# 100,000 projects and 1,000,000 stage events on SQLite and PostgreSQL (generated once, about
# 7 minutes each, then reused): dashboard, home page, summary API, lists, the 通报 PDF.
bench-reports: setup
	.venv/bin/python bench/reports.py
