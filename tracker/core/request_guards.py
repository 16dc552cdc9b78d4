"""Odd input refused once, for every route, before any view sees it.

- Ids in URLs: Werkzeug's ``int`` converter accepts any number of digits, and the database then
  fails on the value (PostgreSQL above 2^31 - 1, SQLite above 2^63 - 1) with a 500. Here
  ``<int:…>`` matches only ids a row can have (``MAX_ID``), so a larger one is simply a 404,
  on every screen and API route, present and future.
- Text that is not UTF-8: Werkzeug keeps invalid percent-encoded bytes of a query string or an
  urlencoded form as literal text (``%FF%FE%FD`` arrives as "%FF%FE%FD" and would be saved as
  that), decodes multipart fields with ``errors="replace"`` (U+FFFD), and fails with a 500 on
  raw non-UTF-8 bytes in a query string. Here the raw query string and urlencoded body are
  decoded strictly, and multipart fields are checked for U+FFFD; anything that was not UTF-8
  text is refused with a 400 and a message, so nothing half-decoded is ever saved. (JSON
  bodies are decoded strictly by the API's parser.)
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Flask, abort, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from tracker.core.input import MAX_ID
from tracker.core.translations import gettext as _

REPLACEMENT = "\ufffd"


class IdConverter(IntegerConverter):
    """``<int:…>`` limited to ``0 … MAX_ID`` unless a rule says otherwise (``max=…``).

    An id out of range is a 404 raised here, not a failed match (Werkzeug's ValidationError):
    a failed match would let the router answer 405 for a method another rule of the same path
    accepts (PATCH /api/v1/projects/99999999999 → 405 instead of 404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=None, signed=signed)
        self.id_max = MAX_ID if max is None else max

    def to_python(self, value: str):
        number = super().to_python(value)
        if number > self.id_max:
            raise NotFound()
        return number


def _is_utf8_query(raw: bytes) -> bool:
    try:
        parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _has_replacement(values) -> bool:
    return any(REPLACEMENT in key or any(REPLACEMENT in v for v in values.getlist(key)) for key in values)


def refuse_undecodable_input() -> None:
    """400 when the query string or the form held bytes that were not UTF-8 (see above)."""
    bad = not _is_utf8_query(request.query_string)
    if not bad and request.method not in ("GET", "HEAD", "OPTIONS"):
        if request.mimetype == "application/x-www-form-urlencoded":
            # Cached: the form parser reads the same bytes afterwards (bounded by MAX_CONTENT_LENGTH).
            bad = not _is_utf8_query(request.get_data(cache=True))
        elif request.mimetype == "multipart/form-data":
            bad = _has_replacement(request.form)
    if bad:
        # The error page must not trip over the same bytes (full_path decodes them strictly).
        request.args = request.parameter_storage_class()
        request.full_path = request.path
        abort(400, description=_("提交的内容含有无法识别的字符（不是 UTF-8 编码的文字），未保存。请检查后重新输入。"))


def install(app: Flask) -> None:
    """Call before the blueprints are registered: their rules take the converter then."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_undecodable_input)
