"""Display helpers (Jinja filters): money in 万元/亿元, dates in Asia/Shanghai, reference
names in the page's language."""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from markupsafe import Markup

from tracker.core.translations import get_locale

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


def _trim(amount: Decimal, places: int) -> str:
    """``amount`` rounded to ``places`` decimals without trailing zeros: 5.20 → '5.2'."""
    q = Decimal(1).scaleb(-places)
    text = f"{amount.quantize(q, rounding=ROUND_HALF_UP):,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def money_en(value: Decimal | int | None) -> str:
    """A 万元 amount as an English reader writes it: 52000 → '¥5.2 billion', 5200 → 'RMB 52
    million', 8 → 'RMB 80,000' (1 亿元 = 100 million; 1 万元 = 10,000)."""
    if value is None:
        return "—"
    yuan = Decimal(value) * 10000
    if abs(yuan) >= Decimal(10) ** 9:
        return f"¥{_trim(yuan / Decimal(10) ** 9, 2)} billion"
    if abs(yuan) >= Decimal(10) ** 6:
        return f"RMB {_trim(yuan / Decimal(10) ** 6, 2)} million"
    return f"RMB {_trim(yuan, 0)}"


def money(value: Decimal | int | None, strong: bool = False) -> Markup:
    """A 万元 amount with its unit in the page's language: '5.20 亿元' or '¥5.2 billion'
    (never '5.20 × 100M CNY'). ``strong`` bolds the figure, as the totals lines do."""
    if value is None:
        return Markup("—")
    if _is_zh():
        figure, unit = yi(value), " 亿元"
    else:
        figure, unit = money_en(value), ""
    if strong:
        return Markup("<strong>{}</strong>{}").format(figure, unit)
    return Markup("{}{}").format(figure, unit)


def ui_is_zh() -> bool:
    """For templates: whether the page is in Chinese (e.g. to add a 万元 figure beside 亿元)."""
    return _is_zh()


def ref_name(obj) -> str:
    """A unit/industry/region/platform by name: its ``name_en`` in the English UI when one
    is set, else the Chinese name (never blank because an English name is missing)."""
    if obj is None:
        return "—"
    english = getattr(obj, "name_en", "") or ""
    if english and not _is_zh():
        return english
    return getattr(obj, "name", None) or str(obj)


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
    app.jinja_env.filters.update(yi=yi, wan=wan, local_dt=local_dt, cn_date=cn_date,
                                 money=money, money_en=money_en, ref_name=ref_name)
    app.jinja_env.globals.update(ref_name=ref_name, ui_is_zh=ui_is_zh)
