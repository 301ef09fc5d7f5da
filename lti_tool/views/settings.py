"""The course settings page: time zone, course start, time-spent cutoff, privacy floor, at-risk
thresholds, student views, and the state of the course's data sources."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import g, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from lti_tool.activity.rollups import rebuild_learners, summaries_changed
from lti_tool.extensions import db
from lti_tool.i18n import NAMES as LANGUAGE_NAMES
from lti_tool.i18n.text import N_
from lti_tool.i18n.text import gettext as _
from lti_tool.jobs import queue
from lti_tool.kpis import at_risk, course_settings, readiness
from lti_tool.kpis import learners as learners_kpi
from lti_tool.kpis.course_settings import STUDENT_VIEW_NAMES, Settings, SettingsError
from lti_tool.launch.identity import staff_required
from lti_tool.models import ActivityBlock, Course, DataSource
from lti_tool.models.sync import SOURCES
from lti_tool.people.pseudonyms import pseudonym_key
from lti_tool.views.course import _course, bp
from lti_tool.views.learners import class_table

SOURCE_NAMES = {
    "nrps": N_("Roster (LTI Names and Roles)"),
    "canvas": N_("Canvas API"),
    "openedx": N_("Open edX API"),
}
#: The kinds of data source (DataSource.kind) as the page names them.
KIND_NAMES = {
    "canvas": N_("Canvas API"),
    "openedx": N_("Open edX API"),
    "log_folder": N_("Tracking-log folder"),
}
#: A sync run's status (SyncRun.status, a code) as the page shows it.
RUN_STATUS_NAMES = {
    "queued": N_("queued"),
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
}


def source_states(course: Course) -> list[dict[str, Any]]:
    """Per sync source: its latest run and latest successful run for this course."""
    states = []
    runs = queue.runs_by_source(db.session, course.id)
    for source in SOURCES:
        latest, succeeded = runs[source].latest, runs[source].succeeded
        states.append(
            {
                "source": source,
                "name": _(SOURCE_NAMES[source]) if source in SOURCE_NAMES else source,
                "latest": latest,
                "succeeded": succeeded,
            }
        )
    return states


def risk_preview(course: Course, chosen: Settings) -> dict[str, Any]:
    """The at-risk levels the class would have with some settings, beside those it has now;
    nothing is saved."""
    stored = course_settings.load(db.session, course)
    # The class's days are counted in the saved time zone until a save rebuilds them: a new zone
    # is not previewed (the page says so), everything else is.
    trial = dataclasses.replace(chosen, time_zone=stored.time_zone)
    after = learners_kpi.class_data(db.session, course, key=pseudonym_key(), settings=trial)
    current, _rows = class_table(course)
    return {
        "with": at_risk.counts(after.risks),
        "now": at_risk.counts(current.risks),
        "class_size": len(after.members),
        "zone_kept": stored.time_zone if chosen.time_zone != stored.time_zone else None,
    }


def _render(
    course: Course,
    settings: Settings,
    form: dict[str, Any],
    errors: dict[str, str],
    saved: bool,
    preview: dict[str, Any] | None = None,
) -> str:
    sources = []
    if course.platform_id is not None:
        sources = list(
            db.session.scalars(
                select(DataSource)
                .where(DataSource.platform_id == course.platform_id)
                .order_by(DataSource.kind, DataSource.id)
            )
        )
    return render_template(
        "course/settings.html",
        course=course,
        settings=settings,
        form=form,
        errors=errors,
        saved=saved,
        preview=preview,
        missing_high=at_risk.MISSING_HIGH,
        late_signal=at_risk.LATE_SIGNAL,
        views={key: _(name) for key, name in STUDENT_VIEW_NAMES.items()},
        run_status_names={code: _(name) for code, name in RUN_STATUS_NAMES.items()},
        status_names=readiness.STATUS_NAMES,
        kind_names={kind: _(name) for kind, name in KIND_NAMES.items()},
        states=source_states(course),
        data_sources=sources,
        floor_min=course_settings.MIN_PRIVACY_FLOOR,
        language_names=LANGUAGE_NAMES,
        readiness=readiness.checks(db.session, course),
    )


def _as_form(settings: Settings) -> dict[str, Any]:
    return {
        "time_zone": settings.time_zone,
        "language": settings.language or "",
        "starts_on": settings.starts_on.isoformat() if settings.starts_on else "",
        "ends_on": settings.ends_on.isoformat() if settings.ends_on else "",
        "time_cutoff_minutes": settings.time_cutoff_minutes,
        "privacy_floor": settings.privacy_floor,
        "risk_inactive_days": settings.risk_inactive_days,
        "risk_time_percentile": settings.risk_time_percentile,
        "risk_completion_behind": settings.risk_completion_behind,
        "risk_pass_mark": "" if settings.risk_pass_mark is None else f"{settings.risk_pass_mark:g}",
        "student_views": list(settings.student_views),
    }


@bp.get("/settings")
@staff_required
def settings(course_id: int) -> str:
    """The settings form, filled with the course's settings (or the defaults)."""
    course = _course(course_id)
    current = course_settings.load(db.session, course)
    return _render(course, current, _as_form(current), {}, request.args.get("saved") == "1")


@bp.post("/settings")
@staff_required
def save_settings(course_id: int) -> str | tuple[str, int] | Response:
    """Check and save the settings; a bad value re-shows the form with what was typed. With
    `preview=1` (the Preview button) nothing is saved: the form comes back as typed, with the
    at-risk counts these settings would give."""
    course = _course(course_id)
    views = request.form.getlist("student_views")
    form = {**request.form.to_dict(), "student_views": views}
    form.pop("preview", None)
    try:
        chosen = course_settings.parse(request.form.to_dict(), views)
    except SettingsError as problem:
        current = course_settings.load(db.session, course)
        return _render(course, current, form, problem.errors, False), 400
    if request.form.get("preview") == "1":
        current = course_settings.load(db.session, course)
        return _render(course, current, form, {}, False, risk_preview(course, chosen))
    before = course_settings.load(db.session, course).time_zone
    course_settings.save(db.session, course, chosen)
    if chosen.time_zone != before:
        # Days and weeks are the course's calendar days: rebuild them from the stored events.
        learners = db.session.scalars(
            select(ActivityBlock.person_id).where(ActivityBlock.course_id == course.id).distinct()
        )
        rebuild_learners(db.session, course.id, list(learners))
    # The at-risk thresholds, the cutoff and the day are the learner summary's inputs too (its
    # fingerprint sees the settings' updated_at); the activity moved only if rebuilt above.
    summaries_changed(db.session, [course.id])
    db.session.commit()
    return redirect(
        url_for("course.settings", course_id=course.id, saved=1, t=g.session_token), code=303
    )
