"""one-character keyword index: each name's characters join its pairs in the gram tables

A keyword of one character (港, 药, a surname) read every project and investor name (a plain
LIKE: 100–185 ms at 100,000 projects). The gram tables now also hold each name's distinct
single characters, so one character is looked up like two: a key, not a scan. A gram of one
character never equals a pair, so the two lookups cannot mix.

Revision ID: e2f3a4b5c6d7
Revises: d1e2f3a4b5c6
Create Date: 2026-12-07 10:00:00

"""
from alembic import op

revision = "e2f3a4b5c6d7"
down_revision = "d1e2f3a4b5c6"
branch_labels = None
depends_on = None

TABLES = ("project", "investor")

# PostgreSQL: the set of grams of a name (lower-cased as the search compares), widths 1 and 2.
PG_GRAMS = """
CREATE FUNCTION search_grams(name text) RETURNS SETOF text LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT DISTINCT substr(lower(name), i, w)
  FROM generate_series(1, char_length(lower(name))) AS i, (VALUES (1), (2)) AS widths(w)
  WHERE i + w - 1 <= char_length(lower(name))
$$
"""
# The previous revision's function (pairs only), for the downgrade.
PG_PAIRS = """
CREATE FUNCTION search_pairs(name text) RETURNS SETOF text LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT DISTINCT substr(lower(name), i, 2) FROM generate_series(1, char_length(lower(name)) - 1) AS i
$$
"""


def _pg_trigger_functions(name: str, grams_of: str) -> list[str]:
    """The previous revision's trigger functions, calling ``grams_of`` (the triggers stay)."""
    grams = f"{name}_name_gram"
    return [
        f"""CREATE OR REPLACE FUNCTION {grams}_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {grams}(gram, id) SELECT {grams_of}(r.name), r.id FROM new_rows AS r ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""",
        f"""CREATE OR REPLACE FUNCTION {grams}_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM {grams} WHERE id = OLD.id;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO {grams}(gram, id) SELECT {grams_of}(NEW.name), NEW.id ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$""",
    ]


def _sqlite_triggers(name: str, singles: bool) -> list[str]:
    """The insert and rename triggers: a name's pairs, and with ``singles`` its characters."""
    grams = f"{name}_name_gram"

    def grams_of(row: str) -> str:
        pairs = f"SELECT lower(substr({row}.name, n, 2)), {row}.id FROM search_seq WHERE n < length({row}.name)"
        ones = f"SELECT lower(substr({row}.name, n, 1)), {row}.id FROM search_seq WHERE n <= length({row}.name)"
        return f"{pairs} UNION {ones}" if singles else pairs

    return [
        f"CREATE TRIGGER {grams}_ai AFTER INSERT ON {name} BEGIN "
        f"INSERT OR IGNORE INTO {grams}(gram, id) {grams_of('new')}; END",
        f"CREATE TRIGGER {grams}_au AFTER UPDATE OF name ON {name} WHEN old.name IS NOT new.name BEGIN "
        f"DELETE FROM {grams} WHERE id = old.id; INSERT OR IGNORE INTO {grams}(gram, id) {grams_of('new')}; END",
    ]


# No write between a fill (or an emptying) and the functions that keep the tables after it:
# both tables locked up front (reads go on), investor first, the order writes take them in
# (a project's investor is written before it), so a write waiting on the lock cannot deadlock.
PG_LOCK = "LOCK TABLE investor, project IN SHARE MODE"


def _switch(singles: bool) -> None:
    """Single characters in (upgrade) or out (downgrade): first what keeps the tables (the
    trigger functions, or SQLite's triggers), then the rows already there."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(PG_LOCK)
        op.execute(PG_GRAMS if singles else PG_PAIRS)
    for name in TABLES:
        grams = f"{name}_name_gram"
        if postgresql:
            for statement in _pg_trigger_functions(name, "search_grams" if singles else "search_pairs"):
                op.execute(statement)
            op.execute(f"INSERT INTO {grams}(gram, id) SELECT g, id FROM {name}, search_grams(name) AS g "
                       f"WHERE char_length(g) = 1 ON CONFLICT DO NOTHING" if singles
                       else f"DELETE FROM {grams} WHERE char_length(gram) = 1")
            op.execute(f"ANALYZE {grams}")
        else:
            op.execute(f"DROP TRIGGER {grams}_ai")
            op.execute(f"DROP TRIGGER {grams}_au")
            for statement in _sqlite_triggers(name, singles):
                op.execute(statement)
            op.execute(f"INSERT OR IGNORE INTO {grams}(gram, id) SELECT lower(substr(t.name, s.n, 1)), t.id "
                       f"FROM {name} AS t JOIN search_seq AS s ON s.n <= length(t.name)" if singles
                       else f"DELETE FROM {grams} WHERE length(gram) = 1")
    if postgresql:
        op.execute("DROP FUNCTION search_pairs(text)" if singles else "DROP FUNCTION search_grams(text)")


def upgrade():
    _switch(singles=True)


def downgrade():
    _switch(singles=False)
