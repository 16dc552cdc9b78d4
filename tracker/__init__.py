"""台州招商项目全周期管理 — investment-project pipeline tracker."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, g, has_request_context, jsonify, request, session
from flask_login import current_user
from sqlalchemy import text

import config as app_config
from tracker.core import pieces
from tracker.core.db import write_intent
from tracker.extensions import babel, csrf, db, limiter, login_manager

ROOT = Path(__file__).resolve().parent.parent


def _select_locale():
    if not has_request_context():
        return "zh_CN"
    lang = session.get("lang")
    if lang in ("zh_CN", "en"):
        return lang
    return "zh_CN"


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        instance_path=str(app_config.INSTANCE_DIR),
    )
    app.config.from_mapping(app_config.load(overrides))
    from tracker.core.sessions import ScreenSessionInterface
    app.session_interface = ScreenSessionInterface()
    if app.config.get("TRUST_PROXY"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.config.setdefault("UPLOAD_DIR", str(Path(app.instance_path) / "uploads"))  # outside static
    _engine_options(app)

    db.init_app(app)
    if app.config.get("LOAD_MIGRATIONS", True):
        # Imported here: Flask-Migrate pulls in Alembic (a few tenths of a second), which the
        # PDF/job worker processes never need (they pass LOAD_MIGRATIONS=False).
        from flask_migrate import Migrate
        Migrate(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    pieces.init_app(app)
    babel.init_app(app, locale_selector=_select_locale,
                   default_translation_directories=str(ROOT / "tracker" / "translations"))
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    from tracker.core import request_guards
    request_guards.install(app)  # before the blueprints: their <int:…> rules take its id converter

    _import_models()
    _register_blueprints(app)
    _register_request_hooks(app)

    from tracker.core import errors, formatting, security
    errors.register(app)
    formatting.register(app)
    security.register(app)
    _register_template_globals(app)

    from tracker.core import lifecycle
    lifecycle.install(app)  # after every blueprint and route: it wraps each view

    from tracker.cli import register as register_cli
    register_cli(app)
    return app


def _engine_options(app: Flask) -> None:
    """PostgreSQL: no JIT. The report queries (an as-of stage per project) look expensive
    to the planner, which then spends longer compiling them than running them (measured
    1.1–1.8 s of 3 s statements in bench/reports.py). Cursors describe their columns only
    when asked (core.pg_cursor)."""
    uri = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    if uri.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", "-c jit=off")
        if make_url(uri).get_driver_name() == "psycopg":  # the cursor class is psycopg 3's
            from tracker.core.pg_cursor import LazyDescriptionCursor

            connect_args.setdefault("cursor_factory", LazyDescriptionCursor)
        options["connect_args"] = connect_args
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _import_models() -> None:
    # Every model module, so metadata is complete for Alembic and relationships resolve.
    import tracker.api.models
    import tracker.audit.models
    import tracker.auth.models
    import tracker.ceremonies.models
    import tracker.funds.models
    import tracker.jobs.models
    import tracker.progress.models
    import tracker.projects.models
    import tracker.projects.tally
    import tracker.targets.models
    import tracker.workflow.models  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from tracker.api.views import bp as api_bp
    from tracker.auth.account_views import bp as account_bp
    from tracker.auth.admin_views import bp as admin_bp
    from tracker.auth.views import bp as auth_bp
    from tracker.briefs.views import bp as briefs_bp
    from tracker.ceremonies.views import bp as ceremonies_bp
    from tracker.funds.views import bp as funds_bp
    from tracker.home.views import bp as home_bp
    from tracker.jobs.views import bp as jobs_bp
    from tracker.ledger.views import bp as ledger_bp
    from tracker.progress.views import bp as progress_bp
    from tracker.projects.investor_views import bp as investors_bp
    from tracker.projects.reference_views import bp as reference_bp
    from tracker.projects.views import bp as projects_bp
    from tracker.reports.bulletin_views import bp as bulletin_bp
    from tracker.reports.views import bp as reports_bp
    from tracker.targets.views import bp as targets_bp
    from tracker.workflow.attachment_views import bp as attachments_bp
    from tracker.workflow.views import bp as workflow_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(projects_bp)
    app.register_blueprint(investors_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(reference_bp)
    app.register_blueprint(ceremonies_bp)
    app.register_blueprint(briefs_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(workflow_bp)
    app.register_blueprint(attachments_bp)
    app.register_blueprint(jobs_bp)
    for blueprint in (home_bp, reports_bp, targets_bp, progress_bp, funds_bp, bulletin_bp, ledger_bp):
        app.register_blueprint(blueprint)

    @app.get("/healthz")
    def healthz():
        try:
            db.session.execute(text("SELECT 1"))
            return jsonify(status="ok", db="ok")
        except Exception:  # noqa: BLE001 - any database failure is "down"
            db.session.rollback()
            return jsonify(status="error", db="error"), 503

    @app.get("/favicon.ico")
    def favicon():
        # Browsers ask for /favicon.ico whatever the page links; the icon is an SVG.
        from flask import redirect, url_for
        return redirect(url_for("static", filename="favicon.svg"), 301)

    @app.get("/")
    def index():
        from flask import redirect, url_for

        from tracker.auth.views import home_for
        if current_user.is_authenticated:
            return redirect(home_for(current_user))
        return redirect(url_for("auth.login"))


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def mark_write_intent():
        # SQLite: transactions of state-changing requests begin IMMEDIATE (see core.db).
        g._write_token = write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.teardown_request
    def clear_write_intent(exc):
        token = g.pop("_write_token", None)
        if token is not None:
            write_intent.reset(token)


def _register_template_globals(app: Flask) -> None:
    from tracker.core.badges import stage_badge
    from tracker.core.permissions import can
    from tracker.workflow import stages

    app.jinja_env.globals.update(can=can, stages=stages, stage_badge=stage_badge)

    @app.context_processor
    def inject_locale():
        return {"current_lang": _select_locale()}
