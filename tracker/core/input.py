"""The input layer: one schema per thing a user submits, shared by every entry point.

A schema (a pydantic model, ``class ProjectCreate(Schema)``) holds the rules of its input:
lengths, amounts and their ranges, dates and their bounds, the USCC check, reference names →
ids, and the rules between fields. The HTML forms (``form_values`` picks the schema's fields
from ``request.form``), the JSON API (the decoded body), the seed loader and the Excel import
all call ``validate(Schema, data, context=...)`` and get either typed values or an
``InputError`` mapping each field to one message, in the UI language — the same message
whichever way the value came in. The OpenAPI document is generated from the same schemas.

Values are parsed here, once: text is cleaned (control characters dropped, full-width ASCII
folded), amounts accept ``12,500`` and full-width digits but refuse NaN, exponents and values
out of range, dates accept ``2024-12-20``, ``2024/12/20``, ``2024.12.20`` and ``2024年12月20日``.
Every field is optional at the pydantic level and runs its validator on a missing value too
(``validate_default``), so a required field's message is ours, not pydantic's.

Database rules (duplicates, scope, versions) stay in the operations: a schema only knows
what the caller puts in ``context`` (the reference choices the user may pick from).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from tracker.core.translations import gettext as _
from tracker.core.translations import lazy_gettext as _l

EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 12, 31)
MAX_AMOUNT = Decimal("1e10")  # 万元: a trillion yuan; anything larger is a unit mistake
MAX_ID = 2**31 - 1  # ids are 32-bit integers; larger ones cannot exist
MAX_NAME_LOOKUP = 120  # longer "names" cannot be in a reference list

# Control characters other than newline/tab never belong in our text (NUL breaks PostgreSQL).
_CONTROL = {c for c in map(chr, range(32)) if c not in "\n\t"} | {"\x7f"}
_CN_DATE = re.compile(r"^(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?$")


class InputError(Exception):
    """Input that breaks a rule: ``errors`` maps a field name to one message for the user.

    Not a ValueError on purpose: raised from a schema's cross-field validator it must pass
    through pydantic (which would turn a ValueError into an anonymous "value_error")."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class Problem(ValueError):
    """Raised by a parser: the message shown beside the field."""


# --- Parsers: the one place that turns typed or sent text into values ----------------------


def clean_text(value: Any) -> Any:
    """Strip, drop control characters, unify line ends. Non-text values pass unchanged."""
    if not isinstance(value, str):
        return value
    value = "".join(ch for ch in value if ch not in _CONTROL)
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def fold_width(value: str) -> str:
    """NFKC-fold full-width digits and letters (１２３ → 123); CJK is left untouched."""
    return unicodedata.normalize("NFKC", value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and clean_text(value) == "")


def parse_text(value: Any, max_length: int) -> str:
    if not isinstance(value, str):
        raise Problem(_("应为文字。"))
    text = clean_text(value)
    if len(text) > max_length:
        raise Problem(_("不能超过 %(n)d 个字（现有 %(m)d 个）。", n=max_length, m=len(text)))
    return text


def parse_amount(value: Any, *, maximum: Decimal = MAX_AMOUNT, places: int = 2) -> Decimal:
    """A non-negative decimal from text (``12,500``, ``１２５００``) or a JSON number."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal, float)):
        raise Problem(_("请输入数字，例如 12500 或 12500.5。"))
    if isinstance(value, str):
        raw = fold_width(clean_text(value)).replace(",", "").replace("，", "").replace(" ", "")
        if not raw or any(ch not in "0123456789.-+" for ch in raw):
            raise Problem(_("请输入数字，例如 12500 或 12500.5。"))
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise Problem(_("请输入数字，例如 12500 或 12500.5。")) from None
    elif isinstance(value, float):
        number = Decimal(repr(value)) if value == value and abs(value) != float("inf") else Decimal("NaN")
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise Problem(_("请输入有效的数字。"))
    if number < 0:
        raise Problem(_("金额不能为负数。"))
    if number > maximum:
        raise Problem(_("数值过大（上限 %(max)s），请检查单位是否为万元。", max=f"{maximum:,.0f}"))
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise Problem(_("最多保留 %(n)d 位小数。", n=places))
    return number.quantize(Decimal(1).scaleb(-places))


def parse_integer(value: Any, *, minimum: int = 0, maximum: int = MAX_ID) -> int:
    if _is_int(value):
        number = value
    elif isinstance(value, str):
        raw = fold_width(clean_text(value)).replace(",", "")
        digits = raw[1:] if raw[:1] in "+-" else raw
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 12):
            raise Problem(_("请输入整数。"))
        number = int(raw)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        number = int(value)
    else:
        raise Problem(_("请输入整数。"))
    if not minimum <= number <= maximum:
        raise Problem(_("应在 %(a)s 至 %(b)s 之间。", a=minimum, b=maximum))
    return number


def parse_date(value: Any) -> date:
    """A date from ``2024-12-20``, ``2024/12/20``, ``2024.12.20``, ``2024年12月20日`` (full-width
    digits too) or a date/datetime object (Excel cells), within 1990–2100."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str):
        match = _CN_DATE.match(fold_width(clean_text(value)))
        try:
            if match is None:
                raise ValueError
            day = date(*(int(part) for part in match.groups()))
        except ValueError:
            raise Problem(_("日期格式不正确，请按 2024-12-20 的格式填写。")) from None
    else:
        raise Problem(_("日期格式不正确，请按 2024-12-20 的格式填写。"))
    if not EARLIEST <= day <= LATEST:
        raise Problem(_("日期超出合理范围（1990 至 2100 年）。"))
    return day


def parse_uscc(value: Any) -> str:
    """A 统一社会信用代码 (GB 32100): 18 characters, no I/O/S/V/Z, a correct check character.
    Spaces and hyphens people paste between groups are dropped; lower case is raised."""
    from tracker.core import uscc as rules

    if not isinstance(value, str):
        raise Problem(_("应为文字。"))
    code = "".join(ch for ch in fold_width(clean_text(value)).upper() if not ch.isspace() and ch not in "-－")
    if len(code) != 18:
        raise Problem(_("统一社会信用代码应为 18 位（当前 %(n)d 位）。", n=len(code)))
    bad = [ch for ch in code if ch not in rules.ALPHABET]
    if bad:
        raise Problem(_("统一社会信用代码含无效字符“%(ch)s”（只用数字和大写字母，不含 I、O、S、V、Z）。", ch=bad[0]))
    if not rules.is_valid(code):
        raise Problem(_("统一社会信用代码校验位不正确，请逐位核对。"))
    return code


def parse_phone(value: Any) -> str:
    """A telephone number as people write it: digits with + - ( ) spaces and 转 (extension)."""
    if not isinstance(value, str):
        raise Problem(_("应为文字。"))
    text = fold_width(clean_text(value))
    digits = sum(ch.isdigit() for ch in text)
    if len(text) > 30 or digits < 5 or any(not (ch.isdigit() or ch in "+-() 转") for ch in text):
        raise Problem(_("电话号码格式不正确，例如 0576-88888888 或 13800000000。"))
    return text


def parse_flag(value: Any) -> bool:
    """A check box (present → on) or a JSON boolean."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value in ("y", "on", "1", "true", "True"):
        return True
    if isinstance(value, str) and value in ("", "0", "false", "False", "n", "off"):
        return False
    raise Problem(_("应为 true 或 false。"))


def int_arg(raw: Any) -> int | None:
    """A non-negative integer typed or sent by a user in a query string or hidden field (a
    page, a year, a version), or None for anything else: signs, spaces, full-width digits,
    and numbers above ``MAX_ID``."""
    if isinstance(raw, str) and raw and raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= MAX_ID:
        return int(raw)
    return None


def id_arg(raw: Any) -> int | None:
    """A row id (1 … MAX_ID) as text or a JSON integer, or None."""
    number = raw if _is_int(raw) and 0 <= raw <= MAX_ID else int_arg(raw)
    return number or None


# --- Reference choices (产业, 落户地 …): what a user may pick, by id or by name ------------------


@dataclass
class Choices:
    """The rows a user may pick for one field: ids with labels, and the names (or codes) an
    API caller or a spreadsheet may use instead of ids."""

    options: list[tuple[int, str]] = dataclass_field(default_factory=list)
    names: dict[str, int] = dataclass_field(default_factory=dict)
    noun: Any = ""

    @classmethod
    def of(cls, rows: Iterable[Any], *, label: Callable[[Any], str] | None = None,
           name_columns: tuple[str, ...] = ("name",), noun: Any = "") -> Choices:
        out = cls(noun=noun)
        for row in rows:
            out.options.append((row.id, label(row) if label else row.name))
            for column in name_columns:
                value = getattr(row, column, None)
                if value:
                    out.names.setdefault(str(value).lower(), row.id)
        return out

    @property
    def ids(self) -> set[int]:
        return {value for value, _label in self.options}

    def resolve(self, value: Any) -> int:
        number = id_arg(value) if (_is_int(value) or (isinstance(value, str) and value.isdigit())) else None
        if number is not None and number in self.ids:
            return number
        if isinstance(value, str) and not value.isdigit():
            name = clean_text(value)
            if len(name) <= MAX_NAME_LOOKUP and name.lower() in self.names:
                return self.names[name.lower()]
            raise Problem(_("没有名为“%(name)s”的%(noun)s，请从列表中选择（名称或编号）。",
                            name=name[:40], noun=self.noun or _("选项")))
        if not (_is_int(value) or isinstance(value, str)):
            raise Problem(_("应为名称（文字）或编号（整数）。"))
        raise Problem(_("请从列表中选择。"))


# --- Field types -------------------------------------------------------------------------------


def _validator(parse: Callable[[Any, ValidationInfo], Any], required: Any, empty: Any = None):
    """Missing or blank → the required message or ``empty``; otherwise ``parse``, whose
    Problem (or PydanticCustomError) becomes the field's message."""
    def check(value: Any, info: ValidationInfo) -> Any:
        if _blank(value):
            if required:
                raise PydanticCustomError("required", "{message}", {"message": str(required)})
            return empty
        try:
            return parse(value, info)
        except Problem as problem:
            raise PydanticCustomError("invalid", "{message}", {"message": str(problem)}) from None

    return check


REQUIRED = object()  # marks a field that must not be left empty (forms show an asterisk)


def required_fields(schema: type[BaseModel]) -> set[str]:
    return {name for name, info in schema.model_fields.items() if REQUIRED in info.metadata}


def typed(python_type: Any, parse: Callable[[Any, ValidationInfo], Any], json_schema: dict[str, Any],
          required: Any = None, empty: Any = None, description: Any = None) -> Any:
    """A field type: ``parse`` turns a non-blank value into ``python_type`` (raising Problem)."""
    schema = dict(json_schema)
    if description:
        schema["description"] = str(description)
    # Every field may be left out (default None); validate_default runs the check anyway.
    marks = (REQUIRED,) if required else ()
    return Annotated[python_type, Field(default=None), PlainValidator(_validator(parse, required, empty)),
                     WithJsonSchema(schema), *marks]


def Text(max_length: int, *, required: Any = None, description: Any = None) -> Any:
    return typed(str, lambda v, _i: parse_text(v, max_length),
                  {"type": ["string", "null"], "maxLength": max_length},
                  required, "", description)


def Line(max_length: int, *, required: Any = None, description: Any = None) -> Any:
    """Single-line text (names, signatories): newlines and tabs fold into spaces."""
    return typed(str, lambda v, _i: " ".join(parse_text(v, max_length).split()),
                  {"type": ["string", "null"], "maxLength": max_length}, required, "", description)


def Amount(*, maximum: Decimal = MAX_AMOUNT, places: int = 2, required: Any = None,
           description: Any = None) -> Any:
    return typed(Decimal | None, lambda v, _i: parse_amount(v, maximum=maximum, places=places),
                  {"type": ["number", "string", "null"], "minimum": 0, "maximum": float(maximum),
                   "pattern": r"^[0-9０-９,，.]+$"}, required, None, description)


def Integer(*, minimum: int = 0, maximum: int = MAX_ID, required: Any = None,
            description: Any = None) -> Any:
    return typed(int | None, lambda v, _i: parse_integer(v, minimum=minimum, maximum=maximum),
                  {"type": ["integer", "null"], "minimum": minimum, "maximum": maximum},
                  required, None, description)


def Day(*, required: Any = None, description: Any = None) -> Any:
    return typed(date | None, lambda v, _i: parse_date(v),
                  {"type": ["string", "null"], "format": "date"}, required, None, description)


def Uscc(*, required: Any = None, description: Any = None) -> Any:
    return typed(str | None, lambda v, _i: parse_uscc(v),
                  {"type": ["string", "null"], "maxLength": 24,
                   "description": str(description or _l("统一社会信用代码（18 位）"))},
                  required, None, None)


def Phone(*, required: Any = None, description: Any = None) -> Any:
    return typed(str, lambda v, _i: parse_phone(v), {"type": ["string", "null"], "maxLength": 30},
                  required, "", description)


def Version(*, description: Any = None) -> Any:
    """The record version a form or client read (a hidden field, never typed): a value that is
    not a plain id cannot match any version, so the save is refused as stale (409)."""

    def parse(value: Any, _info: ValidationInfo) -> int:
        if not (_is_int(value) or isinstance(value, str)):
            raise Problem(_("应为整数。"))
        number = id_arg(value)
        return -1 if number is None else number

    return typed(int | None, parse, {"type": ["integer", "null"], "minimum": 1,
                                     "description": str(description or _l("读取时的版本号（防止覆盖他人的修改）"))})


def Flag(*, description: Any = None) -> Any:
    return typed(bool, lambda v, _i: parse_flag(v), {"type": ["boolean", "null"]}, None, False, description)


def Pattern(regex: str, *, max_length: int = 40, message: Any = None, description: Any = None) -> Any:
    """Text matching ``regex`` (e.g. an id or the word ``yrd``)."""
    compiled = re.compile(regex)

    def parse(value: Any, _info: ValidationInfo) -> str:
        text = parse_text(value, max_length)
        if not compiled.fullmatch(text):
            raise Problem(str(message or _("取值无效。")))
        return text

    return typed(str | None, parse, {"type": ["string", "null"], "pattern": regex, "maxLength": max_length},
                  None, None, description)


def OneOf(codes: Iterable[str], *, required: Any = None, description: Any = None) -> Any:
    allowed = tuple(codes)

    def parse(value: Any, _info: ValidationInfo) -> str:
        if not isinstance(value, str) or clean_text(value) not in allowed:
            raise Problem(_("请从列表中选择（可选：%(codes)s）。", codes=", ".join(allowed)))
        return clean_text(value)

    return typed(str | None, parse, {"type": ["string", "null"], "enum": [*allowed, None]},
                  required, None, description)


def Choice(*, required: Any = None, description: Any = None) -> Any:
    """A reference row by id (forms) or by name/code (API, import), checked against
    ``context["choices"][field name]``: a row the user may not pick is refused like a typo."""

    def parse(value: Any, info: ValidationInfo) -> int:
        choices = (info.context or {}).get("choices", {}).get(info.field_name)
        if choices is None:
            raise AssertionError(f"no choices in the context for {info.field_name}")
        return choices.resolve(value)

    return typed(int | None, parse,
                  {"type": ["integer", "string", "null"], "minimum": 1, "maximum": MAX_ID,
                   "maxLength": MAX_NAME_LOOKUP}, required, None, description)


# --- Schemas and validation ------------------------------------------------------------------


class Schema(BaseModel):
    """Base of every input schema: unknown fields are refused, every field is validated even
    when missing (so required fields say our message), values are typed after validation."""

    model_config = ConfigDict(extra="forbid", validate_default=True, arbitrary_types_allowed=True)

    def values(self, *names: str) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (names or type(self).model_fields)}


def _messages(err: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in err.errors(include_url=False):
        loc = ".".join(str(part) for part in item["loc"]) or "body"
        kind = item["type"]
        if kind in ("required", "invalid"):
            message = item["ctx"]["message"]
        elif kind == "extra_forbidden":
            message = _("未知字段。")
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            message = _("应为对象。")
        else:  # pydantic's own checks (e.g. a list where text belongs)
            message = _("格式不正确。")
        out.setdefault(loc[:80], message)
    return out


def validate(schema: type[Schema], data: Any, *, context: Mapping[str, Any] | None = None) -> Any:
    """Typed values of ``schema`` from ``data`` (a dict), or InputError naming each bad field."""
    if not isinstance(data, Mapping):
        raise InputError({"body": _("应为对象。")})
    try:
        return schema.model_validate(dict(data), context=dict(context or {}))
    except ValidationError as err:
        raise InputError(_messages(err)) from None


def form_values(schema: type[Schema], formdata: Mapping[str, Any], *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The schema's fields as a browser posted them (an unticked box is absent → off).

    Only the schema's own fields are read, so extra form inputs (csrf_token, buttons) and
    attempts to post fields the form does not offer are ignored, never assigned.
    """
    skipped = set(skip)
    return {name: formdata.get(name) for name in schema.model_fields if name not in skipped}


def flatten(data: Mapping[str, Any], nested: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """API bodies nest some fields (``investor: {name, uscc}``) that schemas keep flat
    (``investor_name``): ``nested`` maps the object's keys to the schema's names. Unknown keys
    inside keep a dotted name, so they are refused as unknown fields."""
    out = {k: v for k, v in data.items() if k not in nested}
    for key, names in nested.items():
        if key not in data:
            continue
        inner = data[key]
        if not isinstance(inner, Mapping):
            raise InputError({key: _("应为对象，例如 {\"name\": \"…\"}。")})
        for inner_key, value in inner.items():
            out[names.get(inner_key, f"{key}.{inner_key}")] = value
    return out


def unflatten_errors(errors: Mapping[str, str], nested: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Error keys back in the API's names (``investor_name`` → ``investor.name``)."""
    back = {flat: f"{key}.{inner}" for key, names in nested.items() for inner, flat in names.items()}
    return {back.get(k, k): v for k, v in errors.items()}
