import unicodedata

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from tracker.auth.models import ROLE_LABELS
from tracker.core.forms import IdSelectField
from tracker.core.input import clean_text
from tracker.core.translations import lazy_gettext as _l


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def no_control_characters(form, field):
    """A username with control or invisible format characters is refused, not cleaned: the
    throttle and the lookup must see one and the same spelling (see canonical_username)."""
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in field.data or ""):
        raise ValidationError(_l("用户名含有无效字符。"))


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请输入用户名。")), Length(max=40),
                                                    no_control_characters], filters=[_strip])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码。")), Length(max=128)])


def role_choices():
    return [(role.value, str(label)) for role, label in ROLE_LABELS.items()]


class ChoiceOnlySelect(SelectField):
    """A select whose submitted value must be one of the offered choices (message beside it)."""

    def pre_validate(self, form):
        if self.data in (None, ""):
            return  # DataRequired says so
        if self.data not in {value for value, _label in self.choices}:
            raise ValidationError(_l("请从列表中选择。"))


class UserForm(FlaskForm):
    """Create a user. The edit form (admin_forms.UserEditForm) drops username and password."""

    username = StringField(
        _l("用户名"),
        validators=[
            DataRequired(_l("请输入用户名。")),
            Length(min=2, max=40, message=_l("用户名为 2 至 40 个字符。")),
            Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("用户名只能包含字母、数字、下划线、点和连字符。")),
        ],
        filters=[clean_text],
    )
    display_name = StringField(
        _l("姓名"),
        validators=[DataRequired(_l("请输入姓名。")), Length(max=40, message=_l("姓名最多 40 个字符。"))],
        filters=[clean_text],
    )
    role = ChoiceOnlySelect(_l("角色"), choices=[], validators=[DataRequired(_l("请选择角色。"))])
    unit_id = IdSelectField(_l("单位"),
                               validators=[DataRequired(_l("请选择单位。"))])
    password = PasswordField(
        _l("初始密码"),
        validators=[DataRequired(_l("请设置初始密码。")), Length(max=128, message=_l("密码不能超过 128 位。"))],
    )
    version = HiddenField()


class PasswordForm(FlaskForm):
    password = PasswordField(
        _l("新密码"),
        validators=[DataRequired(_l("请输入新密码。")), Length(max=128, message=_l("密码不能超过 128 位。"))],
    )



class OwnPasswordForm(FlaskForm):
    """A signed-in user's own password change: the current one, then the new one twice."""

    current_password = PasswordField(
        _l("当前密码"),
        validators=[DataRequired(_l("请输入当前密码。")), Length(max=128, message=_l("密码不能超过 128 位。"))],
    )
    password = PasswordField(
        _l("新密码"),
        validators=[DataRequired(_l("请输入新密码。")), Length(max=128, message=_l("密码不能超过 128 位。"))],
    )
    confirm = PasswordField(
        _l("再次输入新密码"),
        validators=[DataRequired(_l("请再次输入新密码。")), Length(max=128, message=_l("密码不能超过 128 位。"))],
    )

    def validate_confirm(self, field):
        if self.password.data and field.data != self.password.data:
            raise ValidationError(_l("两次输入的新密码不一致。"))
