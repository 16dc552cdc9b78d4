"""Command-line interface: ``flask seed demo``, ``flask users ...``."""
from __future__ import annotations

import sys

import click
from flask import Flask
from sqlalchemy import select

from tracker.extensions import db


def _read_password(prompt: bool) -> str:
    if sys.stdin.isatty() and prompt:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def register(app: Flask) -> None:
    from tracker.audit.cli import register as register_audit
    from tracker.backup.cli import register as register_backup
    from tracker.briefs.cli import register as register_briefs
    from tracker.core.db import write_intent
    from tracker.ledger.cli import register as register_ledger
    from tracker.progress.cli import register as register_progress

    register_briefs(app)
    register_progress(app)
    register_ledger(app)
    register_audit(app)
    register_backup(app)

    @app.cli.group("seed")
    def seed_group():
        """Load seed data."""

    @seed_group.command("demo")
    def seed_demo():
        """Load the demo data from seeds/ (idempotent)."""
        from tracker.seeding import load_demo

        write_intent.set(True)
        summary = load_demo()
        db.session.commit()
        click.echo("Demo data loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))

    @app.cli.group("users")
    def users_group():
        """Manage user accounts."""

    @users_group.command("create")
    @click.argument("username")
    @click.option("--role", required=True, type=click.Choice(["staff", "manager", "leader", "admin"]))
    @click.option("--unit", "unit_name", required=True, help="Unit name (e.g. 黄岩区) or code")
    @click.option("--name", "display_name", default="", help="Display name")
    def users_create(username, role, unit_name, display_name):
        """Create a user; the password is read from a prompt or stdin."""
        from tracker.auth.models import Unit
        from tracker.auth.operations import UserError, create_user

        write_intent.set(True)
        unit = db.session.execute(
            select(Unit).where((Unit.name == unit_name) | (Unit.code == unit_name))
        ).scalar_one_or_none()
        if unit is None:
            raise click.ClickException(f"Unknown unit: {unit_name}")
        password = _read_password(prompt=True)
        try:
            user = create_user(None, username=username, display_name=display_name or username,
                               role=role, unit=unit, password=password)
        except UserError as err:
            raise click.ClickException(err.message) from None
        db.session.commit()
        click.echo(f"Created user {user.username} ({role}, {unit.name})")

    @users_group.command("set-password")
    @click.argument("username")
    def users_set_password(username):
        """Set a user's password (from a prompt or stdin); ends their sessions."""
        from tracker.auth.operations import UserError, find_user, set_password

        write_intent.set(True)
        user = find_user(username)
        if user is None:
            raise click.ClickException(f"No such user: {username}")
        password = _read_password(prompt=True)
        try:
            set_password(None, user, password)
        except UserError as err:
            raise click.ClickException(err.message) from None
        db.session.commit()
        click.echo(f"Password updated for {user.username}")

    from tracker.api.cli import register as register_api_cli

    register_api_cli(users_group)
