"""The workflow screens, one module each, on the one ``workflow`` blueprint:

- ``request_views``   the stage-change request form (申请变更阶段) and withdrawing it;
- ``decision_views``  approve / reject and the approval queue (待我审批);
- ``inbox_views``     the requester's inbox (消息);
- ``milestone_views`` planned milestone dates;
- ``nav_counts``      the header's badge counts.

What the project page shows of the workflow is built by ``panel`` (the stage panel) and
``timeline`` (the change history) and handed to its template by the project view.

Each route: load → 404 → permission (``core.permissions.require``) → form → one operation
from ``tracker.workflow.operations`` → redirect or render; the request lifecycle
(``core.lifecycle``) commits a response below 400 once and rolls back anything else. The
operations hold the rules; errors they raise map to statuses: Invalid → 422 with messages
beside the fields, NotAllowed → 403, Conflict → 409 (input kept), LookupError → 404.
"""
from __future__ import annotations

# Importing the route modules registers their routes on the blueprint.
from tracker.workflow import decision_views, inbox_views, milestone_views, nav_counts, request_views  # noqa: F401
from tracker.workflow.blueprint import bp

__all__ = ["bp"]
