"""The upload form of the ledger import."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField

from tracker.core.forms import IdSelectField
from tracker.core.translations import lazy_gettext as _l


class ImportForm(FlaskForm):
    file = FileField(_l("台账文件（.xlsx、.xls 或 .csv）"))
    unit_id = IdSelectField(_l("未填落户地的行导入到"))
    confirm_amounts = BooleanField(_l("我已核对金额单位"))
