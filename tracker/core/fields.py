"""Input cleaning and validators shared by every form."""
from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from wtforms import DecimalField
from wtforms.validators import ValidationError

from tracker.core.input import MAX_ID  # ids above it cannot exist (32-bit keys)

# Control characters other than newline/tab never belong in our text (NUL breaks PostgreSQL).
_CONTROL = {c for c in map(chr, range(32)) if c not in "\n\t"} | {"\x7f"}


def int_arg(raw: str | None) -> int | None:
    """A non-negative integer typed or sent by a user (an id, a version, a year), or None for
    anything else: signs, spaces, full-width digits, and numbers above ``MAX_ID``."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_ID:
        return int(raw)
    return None


def clean_text(value):
    """Strip, drop control characters, fold full-width ASCII (ＡＢＣ１２３) to half-width."""
    if value is None:
        return value
    if not isinstance(value, str):
        return value
    value = "".join(ch for ch in value if ch not in _CONTROL)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.strip()


def fold_width(value: str) -> str:
    """NFKC-fold full-width digits and letters, leave CJK untouched."""
    return unicodedata.normalize("NFKC", value)


class AmountField(DecimalField):
    """A non-negative amount; accepts full-width digits and thousands separators.

    Rejects NaN, infinities, exponents (1e309) and amounts above ``maximum`` with a message
    beside the field instead of a server error.
    """

    def __init__(self, label=None, validators=None, maximum=Decimal("1e10"), places=2, **kwargs):
        super().__init__(label, validators, places=places, **kwargs)
        self.maximum = Decimal(maximum)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = fold_width(clean_text(valuelist[0]) or "").replace(",", "").replace("，", "")
        self.raw_text = raw
        if raw == "":
            self.data = None
            return
        try:
            if any(ch not in "0123456789.-+" for ch in raw):
                raise InvalidOperation
            value = Decimal(raw)
        except InvalidOperation:
            self.data = None
            raise ValueError(_l("请输入数字，例如 12500 或 12500.5。")) from None
        if not value.is_finite():
            self.data = None
            raise ValueError(_l("请输入有效的数字。"))
        self.data = value

    def pre_validate(self, form):
        if self.data is None:
            return
        if self.data < 0:
            raise ValidationError(_l("金额不能为负数。"))
        if self.data > self.maximum:
            raise ValidationError(_l("数值过大（上限 %(max)s），请检查单位是否为万元。", max=f"{self.maximum:,.0f}"))
        exp = self.data.as_tuple().exponent
        if isinstance(exp, int) and -exp > (self.places or 0):
            raise ValidationError(_l("最多保留 %(n)d 位小数。", n=self.places))
