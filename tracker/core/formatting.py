"""Display helpers (Jinja filters): money in 万元/亿元, dates in Asia/Shanghai."""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask_babel import get_locale

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def _is_zh() -> bool:
    loc = get_locale()
    return loc is None or loc.language == "zh"


def yi(value: Decimal | int | None, places: int = 2) -> str:
    """万元 → 亿元 with grouping, e.g. 1234567 → '123.46'."""
    if value is None:
        return "—"
    q = Decimal(1).scaleb(-places)
    amount = (Decimal(value) / Decimal(10000)).quantize(q, rounding=ROUND_HALF_UP)
    return f"{amount:,.{places}f}"


def wan(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    if amount == amount.to_integral():
        return f"{amount:,.0f}"
    return f"{amount:,.2f}"


def local_dt(value: datetime | None) -> str:
    if value is None:
        return "—"
    loc = value.astimezone(LOCAL_TZ)
    if _is_zh():
        return f"{loc.year}年{loc.month}月{loc.day}日 {loc:%H:%M}"
    return loc.strftime("%Y-%m-%d %H:%M")


def cn_date(value: date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ).date()
    if _is_zh():
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


def today_local() -> date:
    return datetime.now(LOCAL_TZ).date()


def register(app) -> None:
    app.jinja_env.filters.update(yi=yi, wan=wan, local_dt=local_dt, cn_date=cn_date)
