"""WTForms for rendering, the input schemas for rules: the glue between the two.

A view renders a WTForms form (labels, widgets, the values typed, CSRF) and validates the
posted values through the thing's input schema with ``validate_form``; the schema's messages
are shown beside the form's fields, and a required field's asterisk comes from the schema.
"""
from __future__ import annotations

from typing import Any

from flask import request
from wtforms import SelectField
from wtforms.validators import ValidationError

from tracker.core.input import InputError, Schema, form_values, required_fields, validate
from tracker.core.translations import lazy_gettext as _l


def mark_required(form: Any, schema: type[Schema]) -> None:
    for name in required_fields(schema):
        if name in form:
            form[name].flags.required = True


def show_errors(form: Any, errors: dict[str, str]) -> None:
    """Messages beside their fields; one for a field the form does not show goes on top."""
    for name, message in errors.items():
        target = form[name] if name in form else None
        if target is None:
            form.form_errors.append(message)
        else:
            target.errors = [*target.errors, message]


def validate_form(form: Any, schema: type[Schema], *, context: dict[str, Any] | None = None,
                  skip: tuple[str, ...] = ()) -> Any:
    """The schema's typed values from the posted form, or None with the messages shown."""
    try:
        return validate(schema, form_values(schema, request.form, skip=skip), context=context)
    except InputError as err:
        show_errors(form, err.errors)
        return None


def optional_select(raw):
    """'' → None; anything non-numeric becomes -1, which no choice has."""
    if raw in ("", None, "None"):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


class IdSelectField(SelectField):
    """A select of row ids with an optional blank first choice ("" → None). Forms validated
    by WTForms (reference data) refuse an id that is not offered; schema-validated forms
    check the pick in the schema's ``Choice``."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=optional_select, choices=[], **kwargs)

    def pre_validate(self, form):
        if self.data is None:
            return
        if self.data not in {value for value, _label in self.choices if value != ""}:
            raise ValidationError(_l("请从列表中选择。"))
