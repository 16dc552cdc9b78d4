"""Translations: the UI's source strings are Chinese; every one must have an English
translation, so untranslated UI cannot land. Refresh the catalogue with ``make i18n-update``
(extract + update), translate the new or fuzzy entries in
tracker/translations/en/LC_MESSAGES/messages.po, then ``make i18n-compile``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
EN_PO = ROOT / "tracker" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
EN_MO = EN_PO.with_suffix(".mo")
# Must match the Makefile's i18n-extract target.
KEYWORDS = ["_l", "lazy_gettext"]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    args = ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot)]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    CommandLineInterface().run([*args, str(ROOT)])
    with pot.open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def english():
    with EN_PO.open("rb") as fh:
        return read_po(fh, locale="en")


def _where(message) -> str:
    return ", ".join(f"{path}:{line}" if line else path for path, line in message.locations[:3])


def test_extraction_finds_the_ui(extracted):
    ids = {m.id for m in extracted if m.id}
    assert len(ids) > 100
    assert "台州招商项目全周期管理" in ids  # templates
    assert "用户名或密码不正确。" in ids  # Python (gettext)
    assert "金额不能为负数。" in ids  # Python (lazy_gettext)


def test_every_msgid_has_an_english_translation(extracted, english):
    problems = []
    for message in extracted:
        if not message.id:
            continue
        entry = english.get(message.id, message.context)
        key = message.id if isinstance(message.id, str) else message.id[0]
        if entry is None:
            problems.append(f"missing      {key!r}  ({_where(message)})")
        elif entry.fuzzy:
            problems.append(f"fuzzy        {key!r}  ({_where(message)})")
        elif not (entry.string if isinstance(entry.string, str) else all(entry.string)):
            problems.append(f"untranslated {key!r}  ({_where(message)})")
    assert not problems, (
        f"{len(problems)} UI strings lack an English translation; run `make i18n-update`, "
        f"translate them in {EN_PO.relative_to(ROOT)}, then `make i18n-compile`:\n" + "\n".join(problems)
    )


def test_translations_keep_the_placeholders(english):
    errors = [f"{m.id!r}: {', '.join(map(str, errs))}" for m, errs in english.check()]
    assert not errors, "\n".join(errors)


def test_compiled_catalogue_is_current():
    assert EN_MO.exists() and EN_MO.stat().st_mtime >= EN_PO.stat().st_mtime, (
        "The compiled English catalogue is missing or older than messages.po: run "
        "scripts/setup.sh (make test does) or `make i18n-compile`."
    )


def _login_page(client) -> str:
    # The `db` fixture keeps one app context pushed for the whole test, so requests share
    # `g`, where Flask-Babel caches the locale; forget it as a fresh request would.
    from flask_babel import refresh

    refresh()
    return client.get("/login").get_data(as_text=True)


def test_switching_language_shows_english(client):
    page = _login_page(client)
    assert 'lang="zh-CN"' in page
    assert "请使用单位分配的账号登录" in page

    resp = client.post("/language/en", data={"next": "/login"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/login")

    page = _login_page(client)
    assert 'lang="en"' in page
    assert "Sign in with the account your office gave you" in page
    assert "Taizhou Investment Project Tracker" in page
    assert "请使用单位分配的账号登录" not in page

    client.post("/language/zh_CN", data={"next": "/login"})
    assert "请使用单位分配的账号登录" in _login_page(client)


def test_unknown_language_is_ignored(client):
    client.post("/language/xx", data={"next": "/login"})
    assert 'lang="zh-CN"' in _login_page(client)


def test_language_chosen_on_the_login_page_survives_login(client, db, ref):
    """Logging in starts a new session (no fixation) but keeps the language the user chose."""
    from flask_babel import refresh

    from tests import factories

    user = factories.make_user(role="staff", unit=ref.huangyan)
    db.session.commit()
    client.post("/language/en", data={"next": "/login"})
    resp = client.post("/login", data={"username": user.username, "password": factories.PASSWORD})
    assert resp.status_code == 302
    refresh()
    page = client.get("/projects/").get_data(as_text=True)
    assert 'lang="en"' in page
    assert "Signed projects" in page


def test_the_request_translations_follow_a_forced_locale(app):
    """The catalog is looked up once per request (core.translations) yet force_locale, as the
    PDF jobs and the ledger's Chinese headings use it, still switches language and back."""
    from flask import render_template_string, session
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"):
        session["lang"] = "en"
        assert gettext("您已退出登录。") != "您已退出登录。"
        english = gettext("您已退出登录。")
        with force_locale("zh_CN"):
            assert gettext("您已退出登录。") == "您已退出登录。"
            assert render_template_string("{{ _('您已退出登录。') }}") == "您已退出登录。"
        assert gettext("您已退出登录。") == english
        assert render_template_string("{{ _('您已退出登录。') }}") == english
    with app.test_request_context("/"):  # a new request starts from its own language
        assert gettext("您已退出登录。") == "您已退出登录。"
