"""The add-funds form: rendering only (labels, widgets, the values typed, CSRF); the rules
are ``FundsInput``'s and the operation's."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from tracker.core.translations import lazy_gettext as _l
from tracker.funds.schemas import EVIDENCE_MAX, NOTE_MAX


class FundsForm(FlaskForm):
    received_on = StringField(_l("到账日期"), render_kw={"type": "date"})
    amount = StringField(_l("到位金额"), render_kw={"inputmode": "decimal", "maxlength": 24,
                                                  "autocomplete": "off", "placeholder": _l("如 3000 或 5.2亿")})
    amount_unit = SelectField(_l("金额单位"), choices=[SelectChoice("wan", _l("万元")), SelectChoice("yi", _l("亿元"))],
                              default="wan", validate_choice=False)
    note = TextAreaField(_l("说明"), render_kw={"maxlength": NOTE_MAX, "rows": 2})
    evidence = StringField(_l("凭证编号"), render_kw={"maxlength": EVIDENCE_MAX,
                                                  "placeholder": _l("银行回单号、验资报告编号等")})
    file = FileField(_l("凭证扫描件（PDF/JPG/PNG，可选）"), render_kw={"accept": ".pdf,.jpg,.jpeg,.png"})
    confirm = BooleanField(_l("确认超过协议投资额"))
