"""``flask users token USERNAME [--name N]``, ``flask users revoke-token PREFIX``, ``flask users tokens USERNAME``."""
from __future__ import annotations

import click

from tracker.extensions import db


def register(users_group: click.Group) -> None:
    @users_group.command("token")
    @click.argument("username")
    @click.option("--name", "name", default="", help="What the token is for (e.g. 'OA sync').")
    def users_token(username, name):
        """Issue an API token for USERNAME and print it (it is shown only this once)."""
        from tracker.api.auth import issue_token
        from tracker.auth.operations import find_user
        from tracker.core.db import writing

        with writing():
            user = find_user(username)
            if user is None:
                raise click.ClickException(f"No such user: {username}")
            if not user.is_active:
                raise click.ClickException(f"User {username} is deactivated")
            secret = issue_token(user, name)
            db.session.commit()
        click.echo(secret)
        click.echo(f"Token {secret[:12]}… for {user.username}; store it now, it cannot be shown again.", err=True)

    @users_group.command("revoke-token")
    @click.argument("prefix")
    def users_revoke_token(prefix):
        """Revoke the API token starting with PREFIX (as printed by `flask users tokens`)."""
        from tracker.api.auth import TokenError, revoke_token
        from tracker.core.db import writing

        with writing():
            try:
                token = revoke_token(prefix)
            except TokenError as err:
                raise click.ClickException(str(err)) from None
            db.session.commit()
        click.echo(f"Revoked token {token.prefix}")

    @users_group.command("tokens")
    @click.argument("username")
    def users_tokens(username):
        """List USERNAME's API tokens (prefix, name, created, last used, revoked)."""
        from tracker.api.auth import tokens_for
        from tracker.auth.operations import find_user

        user = find_user(username)
        if user is None:
            raise click.ClickException(f"No such user: {username}")
        for t in tokens_for(user):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            click.echo(f"{t.prefix}\t{t.name or '-'}\tcreated {t.created_at:%Y-%m-%d}\tlast used {used}\t{state}")
