"""Figures computed from many rows (the dashboard's, the list's totals line), kept per key
until the data changes: a small in-process LRU keyed by ``data_version()``, so a cached
value can never outlive a change, in this process or any other.

``data_version`` is the audit chain's newest ``seq`` (every change writes an audit entry,
and ``seq`` is given under the chain's lock at commit, in commit order: an id or a
timestamp can be taken by a transaction that commits after a later one, and a cache keyed
on it alone would keep the older figure for good), the newest entry id (the reading
transaction's own changes, chained only at its commit), the stage deadlines' versions (they
move the lights), and the day (the lights and "today" in filters). Read once per request,
with the signed-in user (``with_version``), and again once the request has changed something.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from tracker.core.formatting import today_local
from tracker.extensions import db

# Four LRUs: costly figures (totals, dashboards, filter choices); pages (one entry per page
# of a list or of the API, as people and programs page through them); the cards of record
# pages (six a project page: browsing many projects must not push the lists out); and the
# header of each person on each screen. So paging through thousands of pages never pushes a
# figure out.
_SIZES = {"figures": 256, "pages": 512, "cards": 1536, "headers": 512}
_CACHES: dict[str, OrderedDict[Any, Any]] = {shelf: OrderedDict() for shelf in _SIZES}
_LOCK = threading.Lock()


def scope_key(user: Any) -> Any:
    """What a user's figures depend on of the user: the city sees every unit, a county its own."""
    return "city" if user.is_city else user.unit_id


def version_columns() -> tuple:
    """The data version's parts read from the database, as columns of a select (see
    ``with_version``)."""
    from tracker.audit.models import AuditEntry
    from tracker.progress.models import StageDeadline

    return (select(func.max(AuditEntry.seq)).scalar_subquery(),
            select(func.max(AuditEntry.id)).scalar_subquery(),  # this transaction's own changes
            select(func.sum(StageDeadline.version_id)).scalar_subquery())


def _version(parts) -> tuple:
    return (*parts, today_local(), str(db.engine.url))


def data_version() -> tuple:
    return _version(db.session.execute(select(*version_columns())).one())


def with_version(statement):
    """``statement`` (the first a request runs anyway: the user's load) with the data version's
    columns added, so that the version costs no statement of its own. Give the row's extra
    values to ``keep_version``."""
    return statement.add_columns(*version_columns())


def keep_version(parts) -> None:
    """Keep ``parts`` (``with_version``'s extra values) as this request's data version, unless
    it has one already: a version read later than figures the request has already used
    would key them as newer than they are."""
    from flask import has_request_context, request

    if has_request_context():
        current = request._get_current_object()
        if getattr(current, "_data_version", None) is None:
            current._data_version = (_own_changes(), _version(parts))


def _own_changes() -> int:
    from tracker.audit.operations import recorded

    return recorded(db.session())


def request_version() -> tuple:
    """``data_version`` once per request (a page asks for several figures), kept on the
    request object itself (not ``g``: tests push one app context for many requests). Read
    again once the request has changed something (it recorded an audit entry since): a
    version from before the change must not key figures that show it."""
    from flask import has_request_context, request

    if not has_request_context():
        return data_version()
    current = request._get_current_object()
    kept, changes = getattr(current, "_data_version", None), _own_changes()
    if kept is None or kept[0] != changes:
        db.session.flush()  # the request's own entries get their ids (even under no_autoflush)
        kept = current._data_version = (changes, data_version())
    return kept[1]


def _full_key(key: Any) -> tuple:
    from flask_babel import get_locale

    return (key, request_version(), str(get_locale()))


def has(key: Any, *, shelf: str = "figures") -> bool:
    """Is ``key``'s value kept at the current data version (a view choosing how much to
    read)? A hint only: it may be pushed out before it is asked for."""
    full = _full_key(key)
    with _LOCK:
        return full in _CACHES[shelf]


def cached(key: Any, build: Callable[[], Any], *, shelf: str = "figures") -> Any:
    """``build()``'s value for ``key`` at the current data version (and UI language: labels
    in figures are names in it), on ``shelf`` (one of the LRUs above)."""
    cache, size = _CACHES[shelf], _SIZES[shelf]
    full = _full_key(key)
    with _LOCK:
        if full in cache:
            cache.move_to_end(full)
            return cache[full]
    value = build()
    with _LOCK:
        cache[full] = value
        while len(cache) > size:
            cache.popitem(last=False)
    return value


def clear() -> None:
    with _LOCK:
        for cache in _CACHES.values():
            cache.clear()
