"""Creating and restoring backups (see the package docstring).

Why not copy the files: a ``cp`` of a running SQLite database misses what is still in the WAL
(and ``audit verify`` on such a copy happily checks the shorter chain). SQLite's backup API
copies a consistent state; ``pg_dump`` reads one snapshot. The manifest's counts and audit
anchor come from that same state — the SQLite copy, or on PostgreSQL a repeatable-read
transaction whose snapshot ``pg_dump --snapshot`` reuses — so a backup taken during writes
still matches its manifest exactly.

The archive holds no keys: ``SECRET_KEY`` and ``AUDIT_KEY`` are kept apart from backups (whoever
holds a backup and the audit key could rewrite the chain). The manifest names the audit key
by its fingerprint so a restore can tell when the configured key is not the one the chain
was written with.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, inspect, select, table, text
from sqlalchemy.engine import Connection, Engine

from tracker.audit.anchors import sign
from tracker.audit.hashing import audit_key, key_fingerprint
from tracker.audit.operations import last_chained
from tracker.extensions import db

FORMAT = "tracker-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
UPLOADS = "uploads"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict[str, Any]
    tables: dict[str, int]
    uploads: int
    key_matches: bool


# --- What a database holds -------------------------------------------------------------------


def describe(conn: Connection) -> dict[str, Any]:
    """Row count per table, schema revision and the audit chain's newest entry."""
    names = sorted(n for n in inspect(conn).get_table_names() if not n.startswith("sqlite_"))
    counts = {n: conn.execute(select(func.count()).select_from(table(n))).scalar_one() for n in names}
    revision = None
    if "alembic_version" in names:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    audit = None
    if "audit_entry" in names:
        last = last_chained(conn)
        if last is not None:
            _seq, entry_id, digest = last
            audit = {"last_id": entry_id, "last_hash": digest, "anchor": f"{entry_id}:{digest}",
                     "checkpoint": str(sign(entry_id, digest))}
    return {"tables": counts, "alembic_revision": revision, "audit": audit}


def _dialect(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("the SQLite database must be a file")
    return Path(database)


# --- PostgreSQL client programs ----------------------------------------------------------------


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client (apt-get install postgresql-client)")
    return path


def _tool_major(path: str) -> int:
    """The major version of a client program, from e.g. ``pg_dump (PostgreSQL) 15.20 (Debian …)``."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    if not match:
        raise BackupError(f"cannot read a version from {out.strip()!r}")
    return int(match.group(1))


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq URI for the client programs (no password in argv: it goes to PGPASSWORD)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BackupError(f"{what} failed (exit {proc.returncode}): " + " / ".join(detail[-3:]))


# --- Create ----------------------------------------------------------------------------------


def _snapshot_sqlite(engine: Engine, dest: Path) -> dict[str, Any]:
    source = sqlite3.connect(_sqlite_path(engine), timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)  # one step: a consistent copy, WAL content included
        target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        target.close()
        source.close()
    copy = create_engine(f"sqlite:///{dest}")
    try:
        with copy.connect() as conn:
            facts = describe(conn)
    finally:
        copy.dispose()
    facts["database"] = {"dialect": "sqlite", "file": SQLITE_MEMBER, "sqlite_version": sqlite3.sqlite_version}
    return facts


def _snapshot_postgresql(engine: Engine, dest: Path) -> dict[str, Any]:
    pg_dump = _pg_tool("pg_dump")
    uri, env = _libpq(engine)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
            client = _tool_major(pg_dump)
            if client < server:
                raise BackupError(f"pg_dump {client} cannot dump a PostgreSQL {server} server: install "
                                  f"postgresql-client-{server}")
            facts = describe(conn)  # the same snapshot pg_dump reads
            _run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                  f"--file={dest}", f"--dbname={uri}"], env, "pg_dump")
    facts["database"] = {"dialect": "postgresql", "file": PG_MEMBER, "server_major": server,
                         "pg_dump_major": client}
    return facts


def _upload_files(folder: Path) -> list[Path]:
    """Regular files under the upload folder (no links, no unfinished ``.part`` files)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not p.is_symlink() and not p.name.endswith(".part"))


def _upload_dir() -> Path:
    from tracker.workflow.attachments import upload_dir

    return upload_dir()


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members readable by their owner only, with no user or group names of this machine."""
    return info.replace(mode=0o600, uid=0, gid=0, uname="", gname="", deep=False)


def create_backup(output: Path) -> dict[str, Any]:
    """Write the archive to ``output`` (atomically, mode 0600); return its manifest."""
    engine = db.engine
    kind = _dialect(engine)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=output.parent) as tmp:
        snapshot = Path(tmp) / (SQLITE_MEMBER if kind == "sqlite" else PG_MEMBER)
        facts = (_snapshot_sqlite if kind == "sqlite" else _snapshot_postgresql)(engine, snapshot)
        # Files after the database: every attachment row in the snapshot has its file by now
        # (files are complete before their row is written); newer files are harmless extras.
        folder = _upload_dir()
        files = _upload_files(folder)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **facts,
            "audit_key_fingerprint": key_fingerprint(audit_key()),
            "uploads": {"files": len(files), "bytes": sum(p.stat().st_size for p in files)},
        }
        partial = Path(tmp) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now().timestamp())
            tar.addfile(info, io.BytesIO(data))
            tar.add(snapshot, arcname=snapshot.name, recursive=False, filter=_private)
            for path in files:
                tar.add(path, arcname=f"{UPLOADS}/{path.relative_to(folder).as_posix()}", recursive=False,
                        filter=_private)
        os.chmod(partial, 0o600)
        os.replace(partial, output)
    return manifest


# --- Restore ---------------------------------------------------------------------------------


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest = json.loads(member.read()) if member else None
    except (KeyError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"not a backup made by `flask backup create` (no {MANIFEST} of format {FORMAT})")
    return manifest


def _tables_in(engine: Engine) -> list[str]:
    if engine.dialect.name == "sqlite":
        path = _sqlite_path(engine)
        if not path.exists() or path.stat().st_size == 0:
            return []
        conn = sqlite3.connect(path)
        try:
            return [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'")]
        finally:
            conn.close()
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        )).scalars())


def _check_empty(engine: Engine, folder: Path) -> None:
    tables = _tables_in(engine)
    if tables:
        where = engine.url.render_as_string(hide_password=True)
        raise BackupError(f"the database {where} is not empty (it holds {', '.join(sorted(tables)[:3])}"
                          f"{' …' if len(tables) > 3 else ''}): "
                          f"restore only into an empty database (createdb a new one, or point DATABASE_URL "
                          f"at a new SQLite file)")
    if _upload_files(folder):
        raise BackupError(f"the upload folder {folder} is not empty: restore only into an empty instance folder")


def _restore_sqlite(engine: Engine, snapshot: Path) -> None:
    target_path = _sqlite_path(engine)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    engine.dispose()
    source, target = sqlite3.connect(snapshot), sqlite3.connect(target_path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _restore_postgresql(engine: Engine, snapshot: Path, manifest: dict[str, Any]) -> None:
    pg_restore = _pg_tool("pg_restore")
    made_with = manifest["database"].get("pg_dump_major", 0)
    if _tool_major(pg_restore) < made_with:
        raise BackupError(f"this backup was made by pg_dump {made_with}: pg_restore {_tool_major(pg_restore)} "
                          f"cannot read it; install postgresql-client-{made_with}")
    uri, env = _libpq(engine)
    engine.dispose()
    _run([pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={uri}", str(snapshot)], env, "pg_restore")


def restore_backup(archive: Path) -> RestoreReport:
    """Load ``archive`` into the configured (empty) database and upload folder; check counts."""
    engine = db.engine
    kind = _dialect(engine)
    folder = _upload_dir()
    try:
        tar = tarfile.open(archive, "r:gz")
    except (OSError, tarfile.TarError) as err:
        raise BackupError(f"cannot read {archive}: {err}") from None
    with tar, tempfile.TemporaryDirectory(prefix=".restore-") as tmp:
        manifest = _read_manifest(tar)
        made_on = manifest["database"]["dialect"]
        if made_on != kind:
            raise BackupError(f"this is a {made_on} backup; the configured database is {kind}")
        _check_empty(engine, folder)
        member = manifest["database"]["file"]
        wanted = [m for m in tar.getmembers()
                  if m.name == member or (m.name.startswith(f"{UPLOADS}/") and m.isfile())]
        tar.extractall(tmp, members=wanted, filter="data")  # "data": no links, paths stay inside
        snapshot = Path(tmp) / member
        if not snapshot.is_file():
            raise BackupError(f"the archive lacks {member}")
        if kind == "sqlite":
            _restore_sqlite(engine, snapshot)
        else:
            _restore_postgresql(engine, snapshot, manifest)
        uploads = _move_uploads(Path(tmp) / UPLOADS, folder)
    engine.dispose()
    with engine.connect() as conn:
        found = describe(conn)["tables"]
    if found != manifest["tables"]:
        differ = sorted(k for k in set(found) | set(manifest["tables"]) if found.get(k) != manifest["tables"].get(k))
        raise BackupError("the restored row counts differ from the manifest: " + ", ".join(
            f"{k} {found.get(k)} (manifest {manifest['tables'].get(k)})" for k in differ))
    key_matches = manifest.get("audit_key_fingerprint") == key_fingerprint(audit_key())
    return RestoreReport(manifest, found, uploads, key_matches)


def _move_uploads(extracted: Path, folder: Path) -> int:
    if not extracted.is_dir():
        return 0
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    moved = 0
    for path in sorted(extracted.rglob("*")):
        if path.is_file():
            dest = folder / path.relative_to(extracted)
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(str(path), dest)
            os.chmod(dest, 0o600)
            moved += 1
    return moved
