"""Forms and list filters of the user-administration screens."""
from __future__ import annotations

from dataclasses import dataclass

from tracker.auth.forms import PasswordForm, UserForm
from tracker.auth.models import Role
from tracker.core.input import clean_text, int_arg
from tracker.core.pagination import page_arg

PER_PAGE = 50


class UserCreateForm(UserForm):
    """Username, display name, role, unit and the initial password."""


class UserEditForm(UserForm):
    """Display name, role and unit; the username never changes, passwords are reset apart."""

    username = None
    password = None


class PasswordResetForm(PasswordForm):
    """The new password an administrator sets for a user."""


@dataclass
class UserFilters:
    q: str = ""
    unit: int | None = None
    role: str = ""
    active: str = ""  # "" all, "1" active only, "0" deactivated only
    page: int = 1

    @classmethod
    def from_args(cls, args) -> UserFilters:
        q = (clean_text(args.get("q", "")) or "")[:50]
        role = args.get("role", "")
        active = args.get("active", "")
        return cls(
            q=q,
            unit=int_arg(args.get("unit")),
            role=role if role in {r.value for r in Role} else "",
            active=active if active in ("1", "0") else "",
            page=page_arg(args.get("page")),
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.unit or self.role or self.active)

    def as_args(self, **override) -> dict:
        args = {"q": self.q, "unit": self.unit, "role": self.role, "active": self.active}
        args.update(override)
        return {k: v for k, v in args.items() if v not in ("", None)}
