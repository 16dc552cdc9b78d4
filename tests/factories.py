"""Factories returning model objects (added and flushed, never committed)."""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import event, select

from tracker.auth.models import Unit, User
from tracker.core.uscc import ALPHABET, check_char
from tracker.extensions import db
from tracker.progress import history, lights
from tracker.projects.models import Industry, Investor, Platform, Project, SourceRegion

_seq = itertools.count(1)
PASSWORD = "test-pass-123"


@lru_cache(maxsize=1)
def password_hash() -> str:
    # argon2 is slow on purpose; hash the shared test password once per process.
    from tracker.auth.passwords import hash_password

    return hash_password(PASSWORD)


def uscc(n: int | None = None) -> str:
    """A valid 统一社会信用代码, unique per call."""
    n = next(_seq) if n is None else n
    body = "91331000" + "".join(ALPHABET[(n // 31**i) % 31] for i in range(9))
    return body + check_char(body)


def _get_or_create(model, defaults=None, **keys):
    obj = db.session.execute(select(model).filter_by(**keys)).scalar_one_or_none()
    if obj is None:
        obj = model(**keys, **(defaults or {}))
        db.session.add(obj)
        db.session.flush()
    return obj


@dataclass
class Ref:
    city: Unit
    huangyan: Unit
    linhai: Unit
    industry: Industry
    industry2: Industry
    region: SourceRegion  # 江苏 (长三角)
    region_local: SourceRegion  # 台州市内
    platform: Platform


def reference() -> Ref:
    city = _get_or_create(Unit, {"name": "台州市投资促进中心", "is_city": True, "sort_order": 0}, code="city")
    hy = _get_or_create(Unit, {"name": "黄岩区", "sort_order": 2}, code="huangyan")
    lh = _get_or_create(Unit, {"name": "临海市", "sort_order": 4}, code="linhai")
    ind = _get_or_create(Industry, {"group": "核心产业", "sort_order": 1}, name="新能源")
    ind2 = _get_or_create(Industry, {"group": "未来产业", "sort_order": 7}, name="低空经济")
    reg = _get_or_create(SourceRegion, {"is_yrd": True, "sort_order": 2}, name="江苏")
    reg_local = _get_or_create(SourceRegion, {"sort_order": 5}, name="台州市内")
    plat = _get_or_create(Platform, {"unit_id": hy.id}, name="黄岩经济开发区")
    return Ref(city, hy, lh, ind, ind2, reg, reg_local, plat)


def make_user(role: str = "staff", unit: Unit | None = None, username: str | None = None, **kw) -> User:
    unit = unit or reference().huangyan
    n = next(_seq)
    user = User(
        username=username or f"{role}{n}",
        display_name=kw.pop("display_name", f"测试{role}{n}"),
        role=role,
        unit=unit,
        password_hash=password_hash(),
        is_active_user=kw.pop("is_active", True),
        session_version=1,
        **kw,
    )
    db.session.add(user)
    db.session.flush()
    return user


def make_investor(unit: Unit | None = None, name: str | None = None, **kw) -> Investor:
    ref = reference()
    n = next(_seq)
    inv = Investor(
        name=name or f"测试投资公司{n}",
        uscc=kw.pop("uscc", uscc()),
        source_region=kw.pop("source_region", ref.region),
        country=kw.pop("country", "中国"),
        introduction=kw.pop("introduction", "一家测试企业。"),
        unit=unit or ref.huangyan,
        **kw,
    )
    db.session.add(inv)
    db.session.flush()
    return inv


def make_project(unit: Unit | None = None, name: str | None = None, **kw) -> Project:
    ref = reference()
    unit = unit or ref.huangyan
    n = next(_seq)
    project = Project(
        name=name or f"测试项目{n}",
        investor=kw.pop("investor", None) or make_investor(unit=unit),
        industry=kw.pop("industry", ref.industry),
        unit=unit,
        stage=kw.pop("stage", "signed"),
        signed_on=kw.pop("signed_on", date(2024, 6, 1)),
        contracted_investment=kw.pop("contracted_investment", Decimal("150000")),
        funds_in_place=kw.pop("funds_in_place", Decimal("0")),
        content=kw.pop("content", "年产10GWh固态锂电池"),
        **kw,
    )
    if project.stage_since is None:
        project.stage_since = history.first_stage_since(project.stage, project.signed_on, date.today())
    db.session.add(project)
    db.session.flush()
    # Its first stage event and lights, as the create operation writes them (no planned
    # dates: tests that want them set them).
    history.record_created([project], None, project.signed_on or date.today())
    lights.refresh_project(project)
    db.session.flush()
    return project


def sign_in(client, user: User, *, commit: bool = False) -> User:
    """Sign a test client in as ``user`` the way the login screen does (a live login session
    behind the cookie), without the password round-trip."""
    from tracker.auth.operations import start_session
    from tracker.auth.views import SESSION_SECRET_KEY

    secret = start_session(user)
    db.session.flush()
    if commit:
        db.session.commit()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess[SESSION_SECRET_KEY] = secret
        sess["_fresh"] = True
    return user


@contextmanager
def count_queries(db):
    """The SQL statements run inside the block (a list filled as they run)."""
    statements: list[str] = []

    def listener(conn, cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
