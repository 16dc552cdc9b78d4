"""API tokens: issue (the secret is shown once), revoke, and Bearer authentication.

A token is ``tzt_`` followed by 43 URL-safe characters (256 random bits). Only its SHA-256
hash and a short prefix (to name it in lists and on the command line) are stored; SHA-256
suffices because the secret is random, not a guessable password. Issuing and revoking are
audited. Authentication never looks at the session cookie: the API is for programs, and a
cookie-authenticated API would need CSRF protection.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from tracker.api.models import ApiToken
from tracker.audit.operations import record
from tracker.auth.models import User
from tracker.core import datacache
from tracker.core.db import built_once, utcnow
from tracker.extensions import db

TOKEN_PREFIX = "tzt_"
PREFIX_LENGTH = 12  # "tzt_" + 8 random characters; fits ApiToken.prefix
MAX_TOKEN_LENGTH = 200
# last_used_at is written at most this often per token (it costs a write).
TOUCH_INTERVAL = timedelta(minutes=1)


class TokenError(ValueError):
    """A token operation that cannot be done (unknown or ambiguous prefix …)."""


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_token(user: User, name: str = "", actor: User | None = None) -> str:
    """Create a token for ``user`` and return its secret (shown once, never stored)."""
    name = (name or "").strip()[:60]
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret),
                     prefix=secret[:PREFIX_LENGTH], created_at=utcnow())
    db.session.add(token)
    db.session.flush()
    record(actor, "api_token.create", token, {"user": user.username, "name": name, "prefix": token.prefix})
    return secret


def find_by_prefix(prefix: str) -> ApiToken:
    prefix = (prefix or "").strip()
    if len(prefix) < 6:
        raise TokenError("Give at least the first 6 characters of the token (e.g. tzt_AbCd).")
    rows = db.session.execute(
        select(ApiToken).where(ApiToken.prefix == prefix[:PREFIX_LENGTH])
        if len(prefix) >= PREFIX_LENGTH
        else select(ApiToken).where(ApiToken.prefix.startswith(prefix, autoescape=True))
    ).scalars().all()
    if not rows:
        raise TokenError(f"No token with prefix {prefix}")
    if len(rows) > 1:
        raise TokenError(f"Prefix {prefix} names {len(rows)} tokens; give more characters.")
    return rows[0]


def revoke_token(prefix: str, actor: User | None = None) -> ApiToken:
    """Revoke the token whose prefix is given; revoking twice is a no-op."""
    token = find_by_prefix(prefix)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        record(actor, "api_token.revoke", token, {"prefix": token.prefix, "revoked": [False, True]})
    return token


def revoke_user_tokens(user: User, actor: User | None = None, *, reason: str = "") -> int:
    """Revoke every live token of ``user`` (one audit entry each); returns how many."""
    live = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalars().all()
    now = utcnow()
    for token in live:
        token.revoked_at = now
        record(actor, "api_token.revoke", token,
               {"prefix": token.prefix, "revoked": [False, True], **({"reason": reason} if reason else {})})
    db.session.flush()
    return len(live)


def tokens_for(user: User) -> list[ApiToken]:
    return list(db.session.execute(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    ).scalars())


def bearer_secret(header: str | None) -> str | None:
    """The secret from an ``Authorization: Bearer …`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > MAX_TOKEN_LENGTH or " " in value:
        return None
    return value


@built_once
def _token_statement():
    """Every API request's first statement: the token, its user and the data version."""
    return datacache.with_version(
        select(ApiToken).options(joinedload(ApiToken.user)).where(ApiToken.token_hash == bindparam("token_hash")))


def authenticate(header: str | None) -> User | None:
    """The active user owning the (unrevoked) token in the header, or None."""
    secret = bearer_secret(header)
    if secret is None or not secret.startswith(TOKEN_PREFIX):
        return None
    found = db.session.execute(_token_statement(), {"token_hash": hash_token(secret)}).one_or_none()
    if found is None:
        return None
    row = found[0]
    if row.revoked_at is not None or row.user is None or not row.user.is_active:
        return None
    datacache.keep_version(found[1:])
    _touch(row)
    return row.user


def _touch(token: ApiToken) -> None:
    """Record use, at most once per TOUCH_INTERVAL; best effort (never fails a request)."""
    now = utcnow()
    last: datetime | None = token.last_used_at
    if last is not None and now - last < TOUCH_INTERVAL:
        return
    cutoff = now - TOUCH_INTERVAL
    try:
        with db.session.begin_nested():
            db.session.execute(
                update(ApiToken)
                .where(ApiToken.id == token.id,
                       (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < cutoff))
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    except OperationalError:  # SQLite busy in a read transaction: skip this time
        return
    # Committed with the request's work by the one request lifecycle (core.lifecycle).
