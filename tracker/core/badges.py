"""Small HTML fragments rendered in Python: called per row, a Jinja macro would cost more."""
from __future__ import annotations

from markupsafe import Markup, escape

from tracker.workflow.stages import BY_CODE


def stage_badge(code: str) -> Markup:
    stage = BY_CODE.get(code)
    if stage is None:
        return Markup('<span class="badge">{}</span>').format(code)
    return Markup('<span class="badge {}">{}</span>').format(stage.css, escape(str(stage.label)))
