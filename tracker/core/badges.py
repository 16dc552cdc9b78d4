"""Small HTML fragments rendered in Python: called per row, a Jinja macro would cost more."""
from __future__ import annotations

from markupsafe import Markup, escape

from tracker.core.translations import get_locale
from tracker.workflow.stages import BY_CODE

_cache: dict[tuple[str, str], Markup] = {}


def stage_badge(code: str) -> Markup:
    key = (str(get_locale()), code)
    badge = _cache.get(key)
    if badge is None:
        stage = BY_CODE.get(code)
        if stage is None:
            return Markup('<span class="badge">{}</span>').format(code)
        badge = _cache[key] = Markup('<span class="badge {}">{}</span>').format(stage.css, escape(str(stage.label)))
    return badge
