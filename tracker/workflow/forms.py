"""Forms of the stage workflow screens.

The rules (which moves exist, what each requires, how values are parsed) live in
``tracker.workflow.stages`` and ``tracker.workflow.operations``; these forms only carry the
input and show the operation's messages beside the fields. The request form is built per
move from ``Move.requirements`` so the screen, the API and the tests read the same table.
"""
from __future__ import annotations

from typing import ClassVar

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField

from tracker.core.translations import lazy_gettext as _l
from tracker.workflow.stages import BY_CODE, MILESTONE_CODES, Move, Requirement


class _Marked:
    """No-op validator that marks a field as required (the asterisk); the operation checks."""

    field_flags: ClassVar[dict[str, bool]] = {"required": True}

    def __call__(self, form, field):  # pragma: no cover - nothing to check here
        return None


# The label of the date a request carries, by kind of move.
DATE_LABELS = {
    "advance": _l("实际日期"),
    "skip": _l("实际日期"),
    "back": _l("更正生效日期"),
    "pause": _l("暂缓日期"),
    "resume": _l("恢复日期"),
    "terminate": _l("终止日期"),
}

REQUIREMENT_HINTS = {
    "uscc": _l("18 位，校验位须正确"),
    "amount": _l("单位：万元"),
    "area": _l("单位：亩"),
    "date": _l("格式：2024-12-20"),
}


class StageRequestForm(FlaskForm):
    to_stage = HiddenField()
    actual_date = StringField(_l("实际日期"), validators=[_Marked()], render_kw={"type": "date"})
    comment = TextAreaField(_l("补充说明"), render_kw={"maxlength": 2000, "rows": 3})
    attachments = MultipleFileField(
        _l("附件"), render_kw={"accept": "application/pdf,image/jpeg,image/png,.pdf,.jpg,.jpeg,.png"}
    )
    # Shown only when the operation warns about the registered capital (``amount_warnings``).
    confirm_amounts = BooleanField(_l("我已核对金额单位"))

    requirement_keys: tuple[str, ...] = ()


def _requirement_field(req: Requirement):
    if req.key == "reason":
        return TextAreaField(req.label, validators=[_Marked()], render_kw={"maxlength": 2000, "rows": 3})
    kw: dict = {}
    if req.kind == "date":
        kw = {"type": "date"}
    elif req.kind in ("amount", "area"):
        kw = {"inputmode": "decimal", "maxlength": 20}
    elif req.kind == "uscc":
        kw = {"maxlength": 24, "autocomplete": "off", "spellcheck": "false"}
    else:
        kw = {"maxlength": 200}
    return StringField(req.label, validators=[_Marked()], render_kw=kw)


def request_form_for(move: Move | None, **kwargs) -> StageRequestForm:
    """A request form carrying the fields ``move`` requires (none when move is None)."""

    class Form(StageRequestForm):
        pass

    keys = []
    for req in (move.requirements if move else ()):
        setattr(Form, req.key, _requirement_field(req))
        keys.append(req.key)
    Form.requirement_keys = tuple(keys)
    form = Form(**kwargs)
    if move is not None:
        form.actual_date.label.text = str(DATE_LABELS.get(move.kind, _l("实际日期")))
    return form


class DecisionForm(FlaskForm):
    """Approve or reject (two buttons, one comment box). A rejection needs a comment."""

    request_id = HiddenField()
    next = HiddenField()
    comment = TextAreaField(_l("审批意见"), render_kw={"maxlength": 2000, "rows": 2})


class WithdrawForm(FlaskForm):
    request_id = HiddenField()


class PlannedDatesForm(FlaskForm):
    """One date per milestone stage, plus the value the user saw (to detect a parallel edit)."""

    @classmethod
    def build(cls, **kwargs) -> PlannedDatesForm:
        class Form(cls):
            pass

        for code in MILESTONE_CODES:
            setattr(Form, f"planned_{code}", StringField(BY_CODE[code].label, render_kw={"type": "date"}))
            setattr(Form, f"seen_{code}", HiddenField())
        return Form(**kwargs)

    def planned(self, code: str):
        return self[f"planned_{code}"]

    def seen(self, code: str):
        return self[f"seen_{code}"]
