"""``flask backup create -o FILE`` and ``flask backup restore FILE``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask


def register(app: Flask) -> None:
    @app.cli.group("backup")
    def backup_group():
        """Consistent backups (database, uploads, manifest) and their restore."""

    @backup_group.command("create")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="The archive to write (.tar.gz); replaced atomically if it exists.")
    def backup_create(output: Path):
        """Snapshot the database while the app runs, with uploads/ and a manifest.

        SQLite is copied with its online backup API, PostgreSQL with pg_dump (one snapshot).
        The manifest holds the row count of every table and the audit chain's last ID:HASH,
        read from the same snapshot. No keys are included: keep SECRET_KEY and AUDIT_KEY
        (instance/secret_key, instance/audit_key) safe separately.
        """
        from tracker.backup.operations import BackupError, create_backup

        try:
            manifest = create_backup(output)
        except BackupError as err:
            raise click.ClickException(str(err)) from None
        rows = sum(manifest["tables"].values())
        audit = manifest["audit"]
        click.echo(f"Backup written to {output}: {len(manifest['tables'])} tables, {rows} rows, "
                   f"{manifest['uploads']['files']} uploaded files")
        if audit:
            click.echo(f"audit anchor: {audit['checkpoint']}")

    @backup_group.command("restore")
    @click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    def backup_restore(archive: Path):
        """Restore ARCHIVE into an empty database and upload folder, then check it.

        Refuses a database that already holds tables, or an upload folder with files. After
        loading, compares every table's row count with the manifest and verifies the audit
        chain against the manifest's anchor.
        """
        from tracker.audit.anchors import anchor_problem, parse_anchor
        from tracker.audit.verify import verify
        from tracker.backup.operations import BackupError, restore_backup

        try:
            report = restore_backup(archive)
        except BackupError as err:
            raise click.ClickException(str(err)) from None
        manifest = report.manifest
        click.echo(f"Restored {archive} (taken {manifest['created_at']}): {len(report.tables)} tables, "
                   f"{sum(report.tables.values())} rows, {report.uploads} uploaded files; "
                   f"row counts match the manifest.")
        if not report.key_matches:
            click.echo("WARNING: the configured AUDIT_KEY is not the key this audit log was written with. "
                       "Set AUDIT_KEY (or put the old instance/audit_key back) before checking the log.",
                       err=True)
            sys.exit(1)
        result = verify()
        audit = manifest.get("audit")
        problem = None if result.ok else f"audit entry #{result.first_bad_id}: {result.reason}"
        if problem is None and audit:
            problem = anchor_problem(parse_anchor(audit["checkpoint"]))
        if problem:
            click.echo(f"FAILED: {problem}", err=True)
            sys.exit(1)
        click.echo(f"audit log: {result.checked} entries verified"
                   + (f", anchor {audit['anchor']} found" if audit else ""))
        if manifest.get("alembic_revision"):
            click.echo("Run `flask db upgrade` if this release's schema is newer than the backup's "
                       f"({manifest['alembic_revision']}).")
