"""Admin pages: login, the dashboard, sync health, the access log and ingest tokens."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute

from lti_tool import audit, platforms
from lti_tool.admin import auth, bp, safe_next
from lti_tool.admin.auth import current_scope, require_global
from lti_tool.api.tokens import create_token, reads_all_platforms, revoke_token
from lti_tool.config import setting
from lti_tool.extensions import db
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.text import ngettext, shown
from lti_tool.jobs.queue import COURSE_FINDERS, queue_run
from lti_tool.launch import admin_entry
from lti_tool.launch.identity import revoke_sessions
from lti_tool.models import (
    AccessLog,
    ActivityBlock,
    AdminUser,
    ApiToken,
    Course,
    CourseSettings,
    DataSource,
    Enrollment,
    JobSlot,
    LaunchError,
    LtiDeployment,
    LtiStoreEntry,
    Person,
    Platform,
    SyncRun,
)
from lti_tool.models.api import SCOPE_REPORTS_READ, SCOPES
from lti_tool.models.sync import FAILED, QUEUED, RUNNING, SUCCEEDED
from lti_tool.models.types import utcnow
from lti_tool.query_args import id_arg, is_digits, page_arg
from lti_tool.views.settings import RUN_STATUS_NAMES

log = logging.getLogger(__name__)
PAGE_SIZE = 100
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


def scoped_courses(query: Select[Any], column: QueryableAttribute[Any] = Course.id) -> Select[Any]:
    """Limit a query to the administrator's courses, whose ids are in `column` (Course.id,
    or a course_id column such as AccessLog.course_id): every page's one scoping rule."""
    scope = current_scope()
    if scope.is_global:
        return query
    return query.where(scope.courses(column))


def visible_course(course_id: int) -> Course:
    """A course the administrator may see, else 404 (another deployment's course is unknown)."""
    course = db.session.get(Course, course_id)
    if course is None or not current_scope().sees_course(db.session, course.id):
        abort(404, description=_("There is no such course in your administration area."))
    return course


# --- login ---------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Sign in with e-mail and password; throttled per e-mail from this client address, per
    client address, and (a higher ceiling) per e-mail from every address."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.admin is not None:
            return redirect(target, code=303)
        return render_template("admin/login.html", next=target, email="")
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    keys = auth.throttle_keys(email, request.remote_addr)
    auth.serialise_attempts(db.session, keys["email"])
    wait = auth.retry_after(db.session, keys, auth.Limits.from_config())
    if wait is not None:
        log.warning("admin login throttled (client %s)", request.remote_addr)
        minutes = max(1, round(wait / 60))
        html = render_template(
            "admin/login.html",
            next=target,
            email=email,
            error=ngettext(
                "Too many failed sign-ins for this address or from this network. Try again in "
                "about %(num)d minute.",
                "Too many failed sign-ins for this address or from this network. Try again in "
                "about %(num)d minutes.",
                minutes,
            ),
        )
        return html, 429, {"Retry-After": str(wait)}
    user = auth.authenticate(db.session, email, password) if email and password else None
    auth.record_attempt(db.session, keys, succeeded=user is not None)
    if user is None:
        db.session.commit()
        log.info("admin login refused (client %s)", request.remote_addr)
        html = render_template(
            "admin/login.html",
            next=target,
            email=email,
            error=_("Wrong e-mail address or password (or the account is disabled)."),
        )
        return html, 401
    user.last_login_at = utcnow()
    audit.record(db.session, "sign_in", "", actor=user.email, admin_user_id=user.id)
    db.session.commit()
    log.info("admin %s signed in (client %s)", user.id, request.remote_addr)
    g.admin_new_session = auth.new_session(
        admin=user.id, pw=auth.password_mark(user), gen=user.session_generation or 0
    )
    return redirect(target, code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the admin session on the server: every session of this administrator, in every
    browser, and any copy of its cookie (a launch's session ends with its cookie)."""
    scope = g.admin
    if scope is not None and scope.admin_id is not None:
        user = db.session.get(AdminUser, scope.admin_id)
        if user is not None:
            auth.end_sessions(user)
    audit.record(db.session, "sign_out", "")
    db.session.commit()
    g.admin_new_session = auth.new_session()
    return redirect(url_for("admin.login"), code=303)


@bp.get("/enter")
def enter() -> ResponseReturnValue:
    """The Administration link of an LMS administrator's launch: a one-time, short-lived ticket."""
    ticket = admin_entry.read_launch_ticket(request.args.get("ticket", ""))
    if ticket is None:
        abort(
            403,
            description=_(
                "This administration link has expired or was already used: open the tool from "
                "your LMS again to get a new one."
            ),
        )
    entry = LtiStoreEntry(
        key="admin-ticket:" + ticket["jti"], value=True, expires_at=utcnow() + timedelta(hours=1)
    )
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        abort(403, description=_("This administration link was already used."))
    deployment = db.session.get(LtiDeployment, ticket["deployment"])
    if deployment is None or not deployment.admin_launch_enabled or not deployment.enabled:
        abort(403, description=_("Administration by LMS launch is not switched on here."))
    person = db.session.get(Person, ticket["person"])
    name = (person.name or person.email) if person else None
    launch = {"deployment": deployment.id, "person": ticket["person"], "name": name}
    audit.record(
        db.session,
        "sign_in",
        f"deployment {deployment.deployment_id} ({deployment.id}), by LMS launch",
        actor=f"{name or 'LMS administrator'} (by launch)",
        platform_id=deployment.registration.platform_id,
    )
    db.session.commit()
    g.admin_new_session = auth.new_session(launch=launch)
    return redirect(url_for("admin.dashboard"), code=303)


# --- pages ---------------------------------------------------------------------------------------


@bp.get("/")
def dashboard() -> str:
    """What is here, with the figures that need attention."""
    scope = current_scope()
    platforms = select(func.count()).select_from(Platform)
    if not scope.is_global:
        platforms = platforms.where(Platform.id == scope.platform_id)
    # Data sources serve every course of a platform: the whole tool's administrators' business.
    sources = select(func.count()).select_from(DataSource) if scope.is_global else None
    courses = scoped_courses(select(func.count()).select_from(Course))
    since = utcnow() - timedelta(days=1)
    failures = scoped_courses(
        select(func.count())
        .select_from(SyncRun)
        .where(SyncRun.status == FAILED, SyncRun.finished_at >= since),
        SyncRun.course_id,
    )
    deployment = db.session.get(LtiDeployment, scope.deployment_id) if scope.deployment_id else None
    return render_template(
        "admin/dashboard.html",
        scope=scope,
        deployment=deployment,
        figures={
            "platforms": db.session.scalar(platforms),
            "courses": db.session.scalar(courses),
            "sources": db.session.scalar(sources) if sources is not None else None,
            "failures": db.session.scalar(failures),
        },
        admins=(
            list(db.session.scalars(select(AdminUser).order_by(AdminUser.email)))
            if scope.is_global
            else []
        ),
    )


def _latest_runs(course_ids: list[int], status: str | None = None) -> dict[tuple[int, str], Any]:
    """The latest run per (course, source), optionally of one status."""
    if not course_ids:
        return {}
    latest = select(func.max(SyncRun.id)).where(SyncRun.course_id.in_(course_ids))
    if status:
        latest = latest.where(SyncRun.status == status)
    latest = latest.group_by(SyncRun.course_id, SyncRun.source)
    rows = db.session.scalars(select(SyncRun).where(SyncRun.id.in_(latest)))
    return {(r.course_id, r.source): r for r in rows}


@bp.get("/sync")
def sync_health() -> str:
    """Per course and source: the last run, the last failure and its error, the next run."""
    from lti_tool.jobs.scheduler import slot_start

    courses = list(
        db.session.scalars(scoped_courses(select(Course).order_by(Course.id)).limit(2000))
    )
    by_id = {c.id: c for c in courses}
    ids = list(by_id)
    scheduled: dict[str, set[int]] = {}
    for source, finder in COURSE_FINDERS.items():
        try:
            scheduled[source] = set(finder(db.session)) & set(ids)
        except Exception as exc:  # one broken source must not hide the others' health
            db.session.rollback()
            log.warning("course finder of %s failed: %s", source, type(exc).__name__)
            scheduled[source] = set()
    last = _latest_runs(ids)
    last_ok = _latest_runs(ids, SUCCEEDED)
    last_failed = _latest_runs(ids, FAILED)
    interval = float(setting("SYNC_INTERVAL_MINUTES", "60")) * 60
    now = utcnow()
    next_slot = slot_start(now, interval) + timedelta(seconds=interval)
    pairs = set(last) | {(c, s) for s, found in scheduled.items() for c in found}
    rows = []
    for course_id, source in sorted(pairs):
        run = last.get((course_id, source))
        if run is not None and run.status == QUEUED:
            upcoming = _("queued: the scheduler picks it up within a minute")
        elif run is not None and run.status == RUNNING:
            upcoming = _("running now")
        elif course_id in scheduled.get(source, set()):
            upcoming = f"{next_slot:%Y-%m-%d %H:%M} UTC"
        else:
            upcoming = _("not scheduled (no source configured for it)")
        rows.append(
            {
                "course": by_id[course_id],
                "source": source,
                "last": run,
                "last_ok": last_ok.get((course_id, source)),
                "last_failed": last_failed.get((course_id, source)),
                "next": upcoming,
            }
        )
    jobs = db.session.execute(
        select(JobSlot.job, func.max(JobSlot.claimed_at))
        .group_by(JobSlot.job)
        .order_by(JobSlot.job)
    ).all()
    return render_template(
        "admin/sync.html",
        rows=rows,
        jobs=jobs,
        interval_minutes=f"{interval / 60:g}",
        run_status_names={code: _(name) for code, name in RUN_STATUS_NAMES.items()},
    )


@bp.get("/access-log")
def access_log() -> str:
    """Who viewed learners' contact details, when, in which course (newest first)."""
    page = page_arg()
    subject = db.aliased(Person)
    query = scoped_courses(
        select(AccessLog, Course, subject)
        .outerjoin(Course, Course.id == AccessLog.course_id)
        .outerjoin(subject, subject.id == AccessLog.subject_person_id)
        .order_by(AccessLog.at.desc(), AccessLog.id.desc()),
        AccessLog.course_id,
    )
    course_id = id_arg("course")
    if course_id:
        query = query.where(AccessLog.course_id == course_id)
    rows = db.session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return render_template(
        "admin/access_log.html",
        rows=rows[:PAGE_SIZE],
        page=page,
        more=len(rows) > PAGE_SIZE,
        course_id=course_id,
    )


# --- ingest tokens -------------------------------------------------------------------------------


def _visible_tokens() -> list[ApiToken]:
    """Every token for a global administrator; for a deployment's, the tokens bound to its
    courses (tokens of a platform, of every course or of all platforms are the whole tool's)."""
    query = select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    return list(db.session.scalars(scoped_courses(query, ApiToken.course_id)))


def _tokens_page(status: int = 200, **context: Any) -> ResponseReturnValue:

    courses = list(db.session.scalars(scoped_courses(select(Course).order_by(Course.id))))
    context.setdefault("form", {})
    scope = current_scope()
    platforms = list(db.session.scalars(select(Platform).order_by(Platform.name)))
    html = render_template(
        "admin/tokens.html",
        tokens=_visible_tokens(),
        courses=courses,
        platforms=platforms if scope.is_global else [],
        scopes=SCOPES,
        scope=current_scope(),
        reads_all_platforms=reads_all_platforms,
        **context,
    )
    return html, status


@bp.get("/tokens")
def tokens() -> ResponseReturnValue:
    """Ingest and report tokens: list, create, revoke."""
    return _tokens_page()


@bp.post("/tokens")
def token_create() -> ResponseReturnValue:
    """Make a token and show it once."""

    fields = ("name", "scope", "course", "platform", "may_create_courses", "all_platforms")
    form = {k: request.form.get(k, "").strip() for k in fields}
    all_platforms = form["all_platforms"] == "on"
    if len(form["name"]) > 200:
        return _tokens_page(400, form=form, error=_("Name: at most 200 characters."))
    if not form["course"] or form["platform"] or all_platforms:
        # A token beyond one course reads or writes other deployments' courses.
        require_global()
    course = platform = None
    if form["course"]:
        if not form["course"].isdigit():
            return _tokens_page(400, form=form, error=_("Choose a course from the list."))
        course = visible_course(int(form["course"]))
    if form["platform"]:
        if not form["platform"].isdigit():
            return _tokens_page(400, form=form, error=_("Choose a platform from the list."))
        platform = db.session.get(Platform, int(form["platform"]))
        if platform is None:
            return _tokens_page(400, form=form, error=_("Choose a platform from the list."))
    if form["scope"] == SCOPE_REPORTS_READ and not (course or platform or all_platforms):
        return _tokens_page(
            400,
            form=form,
            error=_(
                "A reports:read token reads learners' names and e-mails: choose its course or "
                "its platform, or tick “All platforms” if it must read every platform's courses."
            ),
        )
    try:
        new = create_token(
            db.session,
            form["name"],
            form["scope"],
            course,
            platform=platform,
            may_create_courses=form["may_create_courses"] == "on",
            all_platforms=all_platforms,
        )
    except ValueError as exc:
        db.session.rollback()
        return _tokens_page(400, form=form, error=str(exc))
    db.session.commit()
    log.info("admin created API token %s (%s)", new.row.id, new.row.scope)
    return _tokens_page(201, created=new.token, created_row=new.row)


@bp.post("/tokens/<int:token_id>/revoke")
def token_revoke(token_id: int) -> ResponseReturnValue:
    """Revoke a token: refused from the next request on."""

    if token_id not in {t.id for t in _visible_tokens()}:
        abort(404, description=_("There is no such token in your administration area."))
    try:
        revoke_token(db.session, token_id=token_id)
    except LookupError as exc:
        return _tokens_page(400, error=str(exc))
    db.session.commit()
    return redirect(url_for("admin.tokens"), code=303)


def _scoped_launch_errors(query: Select[Any]) -> Select[Any]:
    """A deployment's administrator sees the refused launches whose id_token named its
    deployment, for its client id on its platform. Refused logins (no id_token yet) and launches
    whose claims could not be read name no deployment we can trust: the whole tool's."""
    scope = current_scope()
    if scope.is_global:
        return query
    deployment = db.session.get(LtiDeployment, scope.deployment_id)
    if deployment is None:  # deleted since the session began: nothing to show
        return query.where(LaunchError.id.is_(None))
    claimed = LaunchError.claims[("body", DEPLOYMENT_CLAIM)].as_string()
    return query.where(
        LaunchError.platform_id == scope.platform_id,
        LaunchError.client_id == deployment.registration.client_id,
        claimed == deployment.deployment_id,
    )


@bp.get("/launch-errors")
def launch_errors() -> str:
    """Refused launches, newest first: when, which platform, why, and the claims received."""
    page = page_arg()
    query = _scoped_launch_errors(select(LaunchError).order_by(LaunchError.id.desc()))
    rows = list(db.session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    names = dict(db.session.execute(select(Platform.id, Platform.name)).tuples().all())
    return render_template(
        "admin/launch_errors.html",
        rows=rows[:PAGE_SIZE],
        names=names,
        page=page,
        more=len(rows) > PAGE_SIZE,
    )


@bp.post("/sync/<int:course_id>/<source>")
def sync_queue(course_id: int, source: str) -> ResponseReturnValue:
    """Queue a sync of one course and source for the scheduler (the page never waits)."""

    course = visible_course(course_id)  # another deployment's course: 404, nothing queued
    try:
        queue_run(db.session, course.id, source, trigger="page")
    except ValueError:
        abort(404, description=_("There is no source %(source)s to sync.", source=repr(source)))
    audit.record(
        db.session,
        "sync_requested",
        f"{source} sync of course {course.id}",
        platform_id=course.platform_id,
        course_id=course.id,
    )
    db.session.commit()
    return redirect(url_for("admin.sync_health"), code=303)


@bp.get("/courses")
def courses(status: int = 200, **context: Any) -> ResponseReturnValue:
    """The courses in scope: platform, learners, last activity, retention period."""

    page = page_arg()
    learners = (
        select(Enrollment.course_id, func.count().label("n"))
        .where(Enrollment.course_role == "learner", Enrollment.status == "active")
        .group_by(Enrollment.course_id)
        .subquery()
    )
    last_day = (
        select(ActivityBlock.course_id, func.max(ActivityBlock.day).label("day"))
        .group_by(ActivityBlock.course_id)
        .subquery()
    )
    query = scoped_courses(
        select(Course, Platform.name, learners.c.n, last_day.c.day, CourseSettings.retention_days)
        .outerjoin(Platform, Platform.id == Course.platform_id)
        .outerjoin(learners, learners.c.course_id == Course.id)
        .outerjoin(last_day, last_day.c.course_id == Course.id)
        .outerjoin(CourseSettings, CourseSettings.course_id == Course.id)
        .order_by(Course.id)
    )
    rows = db.session.execute(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    html = render_template(
        "admin/courses.html",
        rows=rows[:PAGE_SIZE],
        page=page,
        more=len(rows) > PAGE_SIZE,
        owners=_attachable_platforms(),
        **context,
    )
    return html, status


def _attachable_platforms() -> list[Platform]:
    """Platforms a standing-alone course may be given to (administrators of the whole tool)."""
    if not current_scope().is_global:
        return []

    found = db.session.scalars(select(Platform).order_by(Platform.name))
    return [p for p in found if platforms.trusted(p)]


@bp.post("/courses/<int:course_id>/sessions/revoke")
def course_sessions_revoke(course_id: int) -> ResponseReturnValue:
    """End every session of a course (a deployment's administrator: of its own courses)."""

    course = visible_course(course_id)
    revoke_sessions(db.session, course=course)
    db.session.commit()
    return redirect(url_for("admin.courses"), code=303)


@bp.post("/courses/<int:course_id>/attach")
def course_attach(course_id: int) -> ResponseReturnValue:
    """Give a course that arrived with no platform to a platform, as `flask course attach`."""

    require_global()
    course = db.session.get(Course, course_id)
    if course is None:
        abort(404, description=_("There is no such course."))
    raw = request.form.get("platform", "")
    # A number past any id would overflow the database's integer: no such platform.
    platform = db.session.get(Platform, int(raw)) if is_digits(raw) and len(raw) < 10 else None
    if platform is None:
        return courses(status=400, error=_("Choose the platform the course belongs to."))
    try:
        platforms.attach_course(db.session, course, platform)
    except platforms.PlatformError as exc:
        db.session.rollback()
        return courses(status=400, error=_("Course %(id)s: %(why)s.", id=course_id, why=shown(exc)))
    db.session.commit()
    return redirect(url_for("admin.courses"), code=303)
