"""``flask ledger import FILE`` and ``flask ledger export -o FILE``, as a named user (their
scope and rights, as on the screens).

Import: the dry run's outcome counts; with any bad row, the error list (row, column, reason)
and exit status 1, writing nothing. ``--dry-run`` stops after the check.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask


def _user(username: str):
    from sqlalchemy import select

    from tracker.auth.models import User
    from tracker.extensions import db

    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.is_active:
        raise click.ClickException(f"no active user {username!r}")
    return user


def _unit_id(user, unit: str | None) -> int | None:
    if not unit:
        return None
    from tracker.core.input import Problem
    from tracker.projects.choices import units

    try:
        return units(user).resolve(unit)
    except Problem as problem:
        raise click.ClickException(str(problem)) from None


def register(app: Flask) -> None:
    @app.cli.group("ledger")
    def ledger_group():
        """The Excel ledger (台账): import and export."""

    @ledger_group.command("import")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--user", "username", required=True, help="import as this user (their unit scope)")
    @click.option("--unit", default=None, help="落户地 for rows that leave it blank (name, code or id)")
    @click.option("--dry-run", is_flag=True, help="check only; write nothing")
    @click.option("--confirm-amounts", is_flag=True, help="amounts checked (我已核对金额单位)")
    def import_command(file: Path, username: str, unit: str | None, dry_run: bool, confirm_amounts: bool):
        """Import a ledger (.xlsx, .xls, .csv): all rows or none."""
        from tracker.core.db import write_intent
        from tracker.core.permissions import can
        from tracker.extensions import db
        from tracker.ledger.operations import commit_import, plan_import
        from tracker.ledger.read import LedgerFileError

        token = write_intent.set(not dry_run)
        try:
            user = _user(username)
            if not can("project.create", user=user):
                raise click.ClickException(f"user {username!r} may not create projects")
            try:
                plan = plan_import(user, file.name, file.read_bytes(), unit_id=_unit_id(user, unit),
                                   confirm_amounts=confirm_amounts)
            except LedgerFileError as err:
                click.echo(err.message, err=True)
                sys.exit(1)
            counts = plan.counts
            click.echo(f"{file.name}: {len(plan.outcomes)} row(s): new {counts['new']}, update {counts['update']}, "
                       f"unchanged {counts['unchanged']}, error {counts['error']}")
            if not plan.ok:
                for row_no, column, message in plan.errors:
                    click.echo(f"row {row_no}\t{column}\t{message}", err=True)
                if not plan.outcomes:
                    click.echo("no data rows", err=True)
                db.session.rollback()
                click.echo("nothing imported", err=True)
                sys.exit(1)
            if dry_run:
                db.session.rollback()
                click.echo("dry run: nothing written")
                return
            done = commit_import(user, plan)
            db.session.commit()
            click.echo(f"imported: new {done['new']}, updated {done['update']}")
        finally:
            write_intent.reset(token)

    @ledger_group.command("export")
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="the file to write: .xlsx or .csv")
    @click.option("--user", "username", required=True, help="export what this user sees")
    @click.option("--year", type=int, default=None, help="signing year")
    @click.option("--unit", default=None, help="落户地 (name, code or id)")
    @click.option("--stage", default=None, help="stage code (signed, construction …)")
    def export_command(output: Path, username: str, year: int | None, unit: str | None, stage: str | None):
        """Export the project list as a 台账 (the list page's scope for that user)."""
        from tracker.core.permissions import can
        from tracker.ledger.export import iter_rows, write_csv, write_xlsx
        from tracker.projects.queries import ProjectFilters
        from tracker.workflow.stages import CODES

        user = _user(username)
        if not can("project.export", user=user):
            raise click.ClickException(f"user {username!r} may not export projects")
        args = {"year": str(year or ""), "unit": str(_unit_id(user, unit) or ""), "stage": stage or ""}
        if stage and stage not in CODES:
            raise click.ClickException(f"unknown stage {stage!r}: one of {', '.join(CODES)}")
        filters = ProjectFilters.from_args(args)
        if output.suffix.lower() == ".csv":
            with output.open("wb") as out:
                done = write_csv(iter_rows(user, filters), out)
        elif output.suffix.lower() == ".xlsx":
            done = write_xlsx(iter_rows(user, filters), str(output))
        else:
            raise click.ClickException("the output file must end in .xlsx or .csv")
        click.echo(f"{output}: {done.rows} project(s), 协议投资额 {done.investment:.2f} 万元")
