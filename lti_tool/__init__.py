"""lti_tool: learning analytics inside the LMS, launched by LTI 1.3."""

from __future__ import annotations

#: The one place the version is written (pyproject.toml reads it).
__version__ = "0.2.0"

import gc
import ipaddress
import os
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask, has_app_context, jsonify, make_response, render_template, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from lti_tool.activity.rollups import CHANGED_COURSES, SHOWN_AGAIN, SUMMARIES_LATER
from lti_tool.config import (
    DEV_SECRET_KEY,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    config_for,
)
from lti_tool.extensions import LazyMigrateCommands, db
from lti_tool.i18n import web as i18n_web
from lti_tool.i18n.text import N_, gettext
from lti_tool.instance_files import instance_folder, private_file
from lti_tool.launch.language import select_language
from lti_tool.models.types import utcnow
from lti_tool.proxy import TrustedProxyFix
from lti_tool.query_args import IdConverter
from lti_tool.request_text import refuse_nul_characters
from lti_tool.templating import RowsEnvironment


def create_app(config: str | Mapping[str, Any] | None = None) -> Flask:
    """Build the application from a config name or a mapping (with optional CONFIG_NAME)."""
    # Building the app imports most of the tool and makes about 90,000 objects that live as
    # long as the process (modules, classes, mappers, routes). Collecting while they are
    # made is wasted work, and freezing them keeps them out of every later full collection,
    # the one at exit included: together about 0.3 s of every `flask` command (bench/README.md).
    # Not under test, where many apps come and go in one process.
    collecting = gc.isenabled()
    gc.disable()
    try:
        app = _build_app(config)
    finally:
        if collecting:
            gc.enable()
    if not app.testing:
        gc.freeze()
    return app


def _build_app(config: str | Mapping[str, Any] | None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("LTI_TOOL_INSTANCE_PATH") or None,
    )
    app.jinja_environment = RowsEnvironment
    overrides: dict[str, Any] = {}
    if isinstance(config, Mapping):
        overrides = dict(config)
        name = overrides.pop("CONFIG_NAME", None)
    else:
        name = config
    config_class = config_for(name)
    app.config.from_object(config_class)
    if config_class is ProductionConfig:
        settings: dict[str, Any] = {}
        ProductionConfig.check(settings)
        app.config.update(settings)
    app.config.update(overrides)
    if config_class is DevelopmentConfig:
        refuse_default_key_off_loopback(app.config.get("SECRET_KEY"), sys.argv, os.environ)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance_folder(app.instance_path)
        path = os.path.join(app.instance_path, "lti_tool.sqlite3")
        # Made here, owner-only, before SQLite opens it (its journal files take its mode).
        private_file(path)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + path

    register_extensions(app)
    i18n_web.init_app(app, select_language)
    # Before the routes are added: their <int:…> ids then stop at what the database holds.
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul_characters)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    # X-Forwarded-* count only from FORWARDED_ALLOW_IPS (the proxy), PROXY_FIX_HOPS deep.
    # (Wrapping wsgi_app is how Flask's docs add middleware; its typing has it as a method only.)
    app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
        app.wsgi_app,
        hops=app.config["PROXY_FIX_HOPS"],
        allow=str(
            app.config.get("FORWARDED_ALLOW_IPS")
            or os.environ.get("FORWARDED_ALLOW_IPS")
            or "127.0.0.1,::1"
        ),
    )
    return app


def listen_host(argv: list[str], environ: Mapping[str, str]) -> str:
    """Where `flask run` listens: its --host, else FLASK_RUN_HOST, else Flask's 127.0.0.1."""
    args = argv[1:]
    if "run" in args:
        rest = args[args.index("run") + 1 :]
        for i, arg in enumerate(rest):
            if arg in ("--host", "-h") and i + 1 < len(rest):
                return rest[i + 1]
            if arg.startswith("--host="):
                return arg.split("=", 1)[1]
    return environ.get("FLASK_RUN_HOST") or "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach a server listening on host."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def refuse_default_key_off_loopback(
    secret_key: str | None, argv: list[str], environ: Mapping[str, str]
) -> None:
    """The development configuration's public default key signs sessions only on loopback."""
    host = listen_host(argv, environ)
    if secret_key == DEV_SECRET_KEY and not is_loopback(host):
        raise ConfigError(
            f"The development configuration refuses to listen on {host} with the default "
            "SECRET_KEY (anyone can forge sessions with it): set SECRET_KEY in the environment "
            "to a long random value, or listen on 127.0.0.1."
        )


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations, security headers and log redaction."""
    from lti_tool import security
    from lti_tool.logging_setup import configure_json_logging, init_logging, init_request_ids

    db.init_app(app)
    app.cli.add_command(LazyMigrateCommands(app))
    security.init_app(app)
    init_logging()
    init_request_ids(app)
    if app.config.get("LOG_JSON") and not app.testing:
        configure_json_logging(app.config.get("LOG_LEVEL", "INFO"))
    app.jinja_env.globals["now_utc"] = lambda: utcnow().strftime("%Y-%m-%d %H:%M UTC")


def register_blueprints(app: Flask) -> None:
    """Attach the LTI, page, API, admin and (development only) the dev-platform blueprints."""
    from lti_tool import api, launch
    from lti_tool.kpis import reports
    from lti_tool.people.pseudonyms import pseudonym_key
    from lti_tool.views import course, home

    # Keyed reports read the app's pseudonym key through this hook: kpis import no Flask.
    reports.default_key = pseudonym_key
    app.register_blueprint(launch.bp)
    app.register_blueprint(api.api_bp)
    app.register_blueprint(api.xapi_bp)
    app.register_blueprint(course.bp)
    app.register_blueprint(home.bp)
    from lti_tool import admin

    admin.init_app(app)
    if app.config.get("DEV_PLATFORM_ENABLED"):
        from lti_tool.dev import platform as dev_lms

        app.register_blueprint(dev_lms.bp)


IMPLICIT = ("HEAD", "OPTIONS")  # methods Flask adds to routes by itself


# Each error page's title, and what it says when the code that raised it said nothing more
# (werkzeug's defaults are written for developers), in words the catalogs translate.
ERROR_WORDS = {
    400: (N_("Bad request"), N_("The request could not be understood.")),
    401: (N_("Not signed in"), N_("Open the tool from your course in the LMS to sign in.")),
    403: (N_("Not allowed"), N_("You are not allowed to see this page.")),
    404: (N_("Not found"), N_("There is no such page.")),
    405: (N_("Not allowed this way"), N_("This page cannot be used this way.")),
    413: (N_("Too large"), N_("What was sent is too large.")),
    429: (N_("Too many requests"), N_("Too many requests in a short time: wait a moment.")),
    500: (N_("Something went wrong"), N_("Something went wrong on our side; nothing was lost.")),
    503: (N_("Not available now"), N_("The tool is not available right now: try again soon.")),
}


def register_errorhandlers(app: Flask) -> None:
    """Render HTTP errors as small pages that say what happened."""

    def render_error(error: HTTPException) -> Any:
        # Routing errors (a path or a method no route has, e.g. TRACE) come before any blueprint
        # is known: API paths still answer in JSON, and a 405 says what is allowed (RFC 9110).
        code = error.code or 500
        # Werkzeug gives a set: a stable order, with the methods every route has at the end.
        allowed = sorted(
            getattr(error, "valid_methods", None) or [], key=lambda m: (m in IMPLICIT, m)
        )
        if request.path.startswith(("/api/", "/xapi/")):
            message = error.description or error.name
            if code == 404 and request.blueprint is None:
                message = f"There is no endpoint {request.method} {request.path}."
            elif code == 405 and allowed:
                usable = ", ".join(m for m in allowed if m not in IMPLICIT)
                message = f"{request.method} is not allowed on {request.path}; use {usable}."
            response = jsonify({"error": message})
            response.status_code = code
        else:
            # The code that raised it translated its own description; werkzeug's default words
            # (written for developers) give way to ours.
            title, default = ERROR_WORDS.get(code, (error.name, error.description or ""))
            description = error.description
            if description == type(error).description:
                description = gettext(default)
            page = render_template(
                "error.html",
                error=error,
                title=gettext(title),
                description=description,
                back_url=_back_url(code),
            )
            response = make_response(page, code)
        if code == 405 and allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    for code in (400, 401, 403, 404, 405, 413, 429, 500, 503):
        app.register_error_handler(code, render_error)


def _back_url(code: int) -> str | None:
    """The way back to the course from an error page, when the request carries a live session."""
    if code >= 500 or request.path.startswith("/admin"):
        return None  # a broken database must not break the error page; admin has its own bar
    from lti_tool.launch.identity import course_home_url

    return course_home_url()


def register_commands(app: Flask) -> None:
    """Add the `flask` command groups."""
    from lti_tool.cli import register

    register(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL, a busy timeout and foreign keys for SQLite; other databases are left alone."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Session, "before_commit")
def _refresh_summaries(session: Session) -> None:
    """Write the summary tables of the courses whose data this commit changes, inside it (see
    lti_tool.activity.rollups.touch_courses): once per change, not per worker and request; a
    small write's commit (rollups.summaries_later) marks them stale instead."""
    # Only the app's own session: the key is made (if need be) in that one's transaction.
    if not has_app_context() or session is not db.session():
        return
    if session.info.get(CHANGED_COURSES) or session.info.get(SHOWN_AGAIN):
        from lti_tool.kpis.learner_summary import refresh_changed
        from lti_tool.people.pseudonyms import pseudonym_key_uncommitted

        refresh_changed(session, pseudonym_key_uncommitted())
    # A small write's "mark, do not rewrite" (rollups.summaries_later) ends with its commit;
    # every summary's refresh above has read it.
    session.info.pop(SUMMARIES_LATER, None)
