"""argon2id password hashing (OWASP parameters via argon2-cffi's RFC 9106 low-memory profile)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
# A hash to verify against when the user does not exist, so timing does not reveal it.
_DUMMY = _hasher.hash("not-a-real-password")

MIN_LENGTH = 8


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def password_problem(password: str) -> str | None:
    """A human reason the password is unacceptable, or None."""
    from flask_babel import gettext as _

    if len(password) < MIN_LENGTH:
        return _("密码至少 %(n)d 位。", n=MIN_LENGTH)
    if len(password) > 128:
        return _("密码不能超过 128 位。")
    if password.isdigit() or password.isalpha():
        return _("密码需同时包含字母和数字或符号。")
    return None
