"""Is this course ready for analytics? Checks of what the figures depend on, each with a status
(ok, to fix, not applicable), what was found and, when something is missing, how to fix it in
plain words. The settings page shows them, the overview counts what is to fix, and the
`readiness` report exports them.

Checks: a roster source that syncs (the NRPS service a launch recorded, or a Canvas or Open
edX API, and its last sync succeeded); activity arriving (the last event per source); videos
with lengths and names; assignments with due dates; modules with completion requirements; a
class at least as large as the privacy floor; a time zone chosen (not the default, UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from lti_tool.activity.blocks import SOURCE, TIME, decode
from lti_tool.i18n.text import N_, LazyText, english, lazy_gettext, lazy_ngettext, using
from lti_tool.kpis import completion, course_settings, grades
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.names import CourseNames, Name, assignment_name, course_names, module_name
from lti_tool.kpis.roster import class_member_ids
from lti_tool.models import (
    ActivityBlock,
    Course,
    DataSource,
    LmsCourseActivityDay,
    LmsLearnerActivityHour,
    LmsLearnerStats,
    Platform,
    SyncRun,
    Video,
)
from lti_tool.models.sync import DEMO_TRIGGER, FAILED, SUCCEEDED
from lti_tool.models.types import DbSession, utcnow

OK, TO_FIX, NOT_APPLICABLE = "ok", "to fix", "not applicable"
FIELDS = ("course", "check", "status", "detail", "fix")
# Activity older than this is not "arriving" any more.
STALE_DAYS = 7
# How far back the event store is searched for each source's last event: a course's blocks are
# read day by day, newest first, and a source silent for longer is "not seen lately".
WINDOW_DAYS = 60
# How many names a detail lists before "and N more".
NAMED = 5

# Names, details and fixes are lazily translated: the checks are shown in each viewer's language
# (the report, CSV and API in English).
SOURCE_NAMES = {
    "nrps": lazy_gettext("Roster: LTI Names and Roles"),
    "canvas": lazy_gettext("Roster and gradebook: Canvas API"),
    "openedx": lazy_gettext("Roster and course structure: Open edX API"),
}
# The event store's sources (blocks' `source` column) by where they come from; "task" events
# (the LMS's grading) are not learner activity, and come with the others.
EVENT_GROUPS = {
    "browser": "tracking-logs",
    "server": "tracking-logs",
    "mobile": "tracking-logs",
    "xapi": "xapi",
    "lab": "event-api",
}
ACTIVITY_NAMES = {
    "tracking-logs": lazy_gettext("Activity: Open edX tracking logs"),
    "xapi": lazy_gettext("Activity: xAPI statements"),
    "event-api": lazy_gettext("Activity: the event API"),
    "lms": lazy_gettext("Activity: the LMS's own analytics (Canvas)"),
}
# Each ends with "If the course has ended, nothing needs fixing." (a fix of a stale source).
ACTIVITY_FIXES = {
    "tracking-logs": lazy_gettext(
        "Check that the LMS's tracking logs are still copied to the log folder and ingested "
        "(the scheduler's log folders, or flask ingest tracking-logs). If the course has ended, "
        "nothing needs fixing."
    ),
    "xapi": lazy_gettext(
        "Check that the LRS or learning tool still sends statements to this tool's "
        "/xapi/statements, and that its token has not been revoked. If the course has ended, "
        "nothing needs fixing."
    ),
    "event-api": lazy_gettext(
        "Check that the learning tool still posts events to /api/v1/events, and that its token "
        "has not been revoked. If the course has ended, nothing needs fixing."
    ),
    "lms": lazy_gettext(
        "Sync the Canvas API (Sync now under Data freshness on the overview); if it fails, an "
        "administrator checks the Canvas source on the administration pages. If the course has "
        "ended, nothing needs fixing."
    ),
}


#: The statuses as people read them.
STATUS_NAMES = {
    OK: lazy_gettext("ok"),
    TO_FIX: lazy_gettext("to fix"),
    NOT_APPLICABLE: lazy_gettext("not applicable"),
}


@dataclass(frozen=True)
class Check:
    """One readiness check: what it looks at, its status, what was found, how to fix it."""

    key: str  # stable: roster, roster:nrps, activity, activity:xapi, videos, …
    name: LazyText | str
    status: str  # OK | TO_FIX | NOT_APPLICABLE (a code: the page shows STATUS_NAMES)
    detail: LazyText | str
    fix: LazyText | str = ""  # empty unless the status is TO_FIX


def _listed(names: Sequence[Any]) -> LazyText | str:
    """A few names, then how many more."""
    shown = ", ".join(str(name) for name in names[:NAMED])
    if len(names) <= NAMED:
        return shown
    more = len(names) - NAMED
    return lazy_ngettext(
        "%(names)s and %(num)d more", "%(names)s and %(num)d more", more, names=shown
    )


def _ago(then: datetime, now: datetime) -> LazyText:
    """How long ago, in days (or "today"), with the date."""
    days = (now - then).days
    when = then.strftime("%Y-%m-%d")
    if days <= 0:
        return lazy_gettext("today (%(day)s)", day=when)
    return lazy_ngettext("%(num)d day ago (%(day)s)", "%(num)d days ago (%(day)s)", days, day=when)


def configured_sources(session: DbSession, course: Course) -> list[str]:
    """The sync sources set up for the course: NRPS when a launch recorded its service, Canvas
    or Open edX when the platform has that API enabled and the course its LMS id (the
    scheduler's rule: lti_tool.jobs.queue.COURSE_FINDERS)."""
    platform = session.get(Platform, course.platform_id) if course.platform_id else None
    if platform is None or not platform.enabled:
        return []
    found = ["nrps"] if course.nrps_memberships_url else []
    if course.lms_course_id:
        kinds = set(
            session.scalars(
                select(DataSource.kind).where(
                    DataSource.platform_id == platform.id, DataSource.enabled.is_(True)
                )
            )
        )
        found.extend(kind for kind in ("canvas", "openedx") if kind in kinds)
    return found


def roster_checks(session: DbSession, course: Course) -> list[Check]:
    """Per configured sync source: whether its last finished sync succeeded; one check to fix
    when none is configured."""
    sources = configured_sources(session, course)
    demo = session.scalar(
        select(SyncRun)
        .where(SyncRun.course_id == course.id, SyncRun.trigger == DEMO_TRIGGER)
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    if not sources and demo is not None:
        when = demo.finished_at.strftime("%Y-%m-%d %H:%M UTC") if demo.finished_at else ""
        return [
            Check(
                "roster",
                lazy_gettext("Roster source"),
                OK,
                lazy_gettext(
                    "Demo data, loaded %(when)s as if synced from Canvas: no LMS is connected to "
                    "this demo course.",
                    when=when,
                ),
            )
        ]
    if not sources:
        return [
            Check(
                "roster",
                lazy_gettext("Roster source"),
                TO_FIX,
                lazy_gettext(
                    "The tool has no roster service from a launch (LTI Names and Roles) and no "
                    "Canvas or Open edX API connected for this course."
                ),
                lazy_gettext(
                    "Launch the tool once from the course in the LMS (the launch records its "
                    "roster service), or ask an administrator to connect the Canvas or Open edX "
                    "API."
                ),
            )
        ]
    checks = []
    for source in sources:
        name = SOURCE_NAMES[source]
        last = session.scalar(
            select(SyncRun)
            .where(
                SyncRun.course_id == course.id,
                SyncRun.source == source,
                SyncRun.status.in_((SUCCEEDED, FAILED)),
            )
            .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
            .limit(1)
        )
        if last is None:
            checks.append(
                Check(
                    f"roster:{source}",
                    name,
                    TO_FIX,
                    lazy_gettext("Set up, but never synced."),
                    lazy_gettext(
                        "Press Sync now for it under Data freshness on the overview (the "
                        "scheduler also syncs it on its next round)."
                    ),
                )
            )
        elif last.status == FAILED:
            when = last.finished_at.strftime("%Y-%m-%d %H:%M UTC") if last.finished_at else ""
            checks.append(
                Check(
                    f"roster:{source}",
                    name,
                    TO_FIX,
                    lazy_gettext(
                        "The last sync failed %(when)s: %(error)s",
                        when=when,
                        error=last.error_shown or lazy_gettext("no reason given"),
                    ),
                    lazy_gettext(
                        "An administrator checks this source's address and credentials on the "
                        "administration pages; then press Sync now on the overview."
                    ),
                )
            )
        else:
            when = last.finished_at.strftime("%Y-%m-%d %H:%M UTC") if last.finished_at else ""
            members = (last.counts or {}).get("members")
            detail = (
                lazy_ngettext(
                    "Last synced %(when)s, %(num)d member.",
                    "Last synced %(when)s, %(num)d members.",
                    members,
                    when=when,
                )
                if isinstance(members, int)
                else lazy_gettext("Last synced %(when)s.", when=when)
            )
            checks.append(Check(f"roster:{source}", name, OK, detail))
    return checks


def last_activity(session: DbSession, course: Course, now: datetime) -> dict[str, datetime]:
    """The time of the newest learner event per source group (EVENT_GROUPS, and "lms"), over
    the last WINDOW_DAYS days of the event store; the LMS's analytics over all time."""
    found: dict[str, float] = {}
    wanted = set(EVENT_GROUPS.values())
    days = session.scalars(
        select(ActivityBlock.day)
        .where(
            ActivityBlock.course_id == course.id,
            ActivityBlock.day >= (now - timedelta(days=WINDOW_DAYS)).date(),
        )
        .distinct()
        .order_by(ActivityBlock.day.desc())
    ).all()
    for day in days:
        # A source seen on a day has its newest event on that day (days come newest first).
        seen_today: dict[str, float] = {}
        for data in session.scalars(
            select(ActivityBlock.data).where(
                ActivityBlock.course_id == course.id, ActivityBlock.day == day
            )
        ):
            columns = decode(data)
            for at, source in zip(columns[TIME], columns[SOURCE], strict=True):
                group = EVENT_GROUPS.get(source)
                if group is not None and group not in found and at > seen_today.get(group, 0):
                    seen_today[group] = at
        found.update(seen_today)
        if wanted <= set(found):
            break
    result = {group: datetime.fromtimestamp(at, UTC) for group, at in found.items()}
    lms = [
        session.scalar(
            select(func.max(LmsLearnerActivityHour.hour)).where(
                LmsLearnerActivityHour.course_id == course.id
            )
        ),
        session.scalar(
            select(func.max(LmsLearnerStats.last_activity_at)).where(
                LmsLearnerStats.course_id == course.id
            )
        ),
    ]
    last_day = session.scalar(
        select(func.max(LmsCourseActivityDay.day)).where(
            LmsCourseActivityDay.course_id == course.id
        )
    )
    if last_day is not None:
        lms.append(datetime.combine(last_day, time(23, 59), UTC))
    known = [_aware(at) for at in lms if at is not None]
    if known:
        result["lms"] = max(known)
    return result


def _aware(at: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite's may come back naive)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def activity_checks(session: DbSession, course: Course, now: datetime) -> list[Check]:
    """Per source that sent activity lately: whether its last event is recent; one check to
    fix when no source did."""
    found = last_activity(session, course, now)
    if not found:
        newest = session.scalar(
            select(func.max(ActivityBlock.day)).where(ActivityBlock.course_id == course.id)
        )
        detail = (
            lazy_gettext(
                "No learner activity in the last %(days)d days (the last was on %(day)s).",
                days=WINDOW_DAYS,
                day=str(newest),
            )
            if newest is not None
            else lazy_gettext("No learner activity has arrived yet.")
        )
        return [
            Check(
                "activity",
                lazy_gettext("Activity arriving"),
                TO_FIX,
                detail,
                lazy_gettext(
                    "Activity comes from Open edX tracking logs, xAPI statements, the event API "
                    "or the Canvas API's analytics: ask an administrator to set one of them up."
                ),
            )
        ]
    checks = []
    for group in ACTIVITY_NAMES:
        at = found.get(group)
        if at is None:
            continue
        detail = lazy_gettext("Last event %(ago)s.", ago=_ago(at, now))
        if now - at <= timedelta(days=STALE_DAYS):
            checks.append(Check(f"activity:{group}", ACTIVITY_NAMES[group], OK, detail))
        else:
            fix = ACTIVITY_FIXES[group]
            checks.append(Check(f"activity:{group}", ACTIVITY_NAMES[group], TO_FIX, detail, fix))
    return checks


def video_check(session: DbSession, course: Course, known: CourseNames | None = None) -> Check:
    """Every video of the course has a known length and its own name."""
    known = known if known is not None else course_names(session, course)
    videos = [rid for kind, rid in known.names if kind == "video"]
    name = lazy_gettext("Videos have lengths and names")
    if not videos:
        return Check(
            "videos", name, NOT_APPLICABLE, lazy_gettext("No videos are known in this course.")
        )
    lengths = dict(
        session.execute(select(Video.video_id, Video.duration).where(Video.course_id == course.id))
        .tuples()
        .all()
    )
    no_length = [known.video(v) for v in videos if not lengths.get(v)]
    no_name = [known.video(v) for v in videos if ("video", v) not in known.known]
    if not no_length and not no_name:
        return Check(
            "videos",
            name,
            OK,
            lazy_ngettext(
                "The video has a length and a name.",
                "All %(num)d videos have a length and a name.",
                len(videos),
            ),
        )
    lengths_part = lazy_gettext(
        "%(some)d of %(all)d have no known length: %(names)s",
        some=len(no_length),
        all=len(videos),
        names=_listed(no_length),
    )
    names_part = lazy_gettext(
        "%(some)d of %(all)d have no name: %(names)s",
        some=len(no_name),
        all=len(videos),
        names=_listed(no_name),
    )
    if no_length and no_name:
        detail = lazy_gettext("%(first)s; %(second)s.", first=lengths_part, second=names_part)
    else:
        detail = lazy_gettext("%(first)s.", first=lengths_part if no_length else names_part)
    return Check(
        "videos",
        name,
        TO_FIX,
        detail,
        lazy_gettext(
            "Give each video a display name and a length in the LMS (Open edX: the video's "
            "settings) and sync the course structure; xAPI statements can carry both. Without a "
            "length, completion is guessed from where viewers stop."
        ),
    )


def _every_one_has(
    key: str,
    name: LazyText,
    found: int,
    lacking: Sequence[Name],
    none_known: LazyText,
    all_have: LazyText,
    some_lack: str,
    fix: LazyText,
) -> Check:
    """Not applicable when none of the `found` items is known, OK when none lacks what the check
    looks for, else to fix, naming those in `lacking` (`some_lack`: an N_ message with
    %(some)d, %(all)d and %(names)s)."""
    if not found:
        return Check(key, name, NOT_APPLICABLE, none_known)
    if not lacking:
        return Check(key, name, OK, all_have)
    detail = lazy_gettext(some_lack, some=len(lacking), all=found, names=_listed(lacking))
    return Check(key, name, TO_FIX, detail, fix)


def assignment_check(session: DbSession, course: Course) -> Check:
    """Every published assignment has a due date (late, missing and the due markers use it)."""
    found = grades.assignments(session, course)
    return _every_one_has(
        "assignments",
        lazy_gettext("Assignments have due dates"),
        len(found),
        [assignment_name(a.name, n) for n, a in enumerate(found, 1) if a.due_at is None],
        lazy_gettext("No assignments are known."),
        lazy_ngettext(
            "The assignment has a due date.",
            "All %(num)d assignments have a due date.",
            len(found),
        ),
        N_("%(some)d of %(all)d have no due date: %(names)s."),
        lazy_gettext(
            "Give them due dates in the LMS; the next sync brings them (late and missing work, "
            "and the due markers on the charts, need them)."
        ),
    )


def module_check(session: DbSession, course: Course) -> Check:
    """Every module has items with a completion requirement (completion counts only those)."""
    mods = completion.modules(session, course)
    return _every_one_has(
        "modules",
        lazy_gettext("Modules have completion requirements"),
        len(mods),
        [module_name(m.name, n) for n, m in enumerate(mods, 1) if not m.items_required],
        lazy_gettext("No modules are known."),
        lazy_ngettext(
            "The module has requirements.", "All %(num)d modules have requirements.", len(mods)
        ),
        N_("%(some)d of %(all)d have no completion requirement: %(names)s."),
        lazy_gettext(
            "In the LMS, add completion requirements to their items (view, submit, score at "
            "least …); the next sync brings them, and completion counts them."
        ),
    )


def class_check(
    session: DbSession, course: Course, floor: int, class_size: int | None = None
) -> Check:
    """The class is at least as large as the privacy floor (else students see no class
    figures); `class_size` when the caller has it (the course summary's: counting the class
    reads every learner-day's person, a second at 100,000 learners)."""
    size = len(class_member_ids(session, course)) if class_size is None else class_size
    name = lazy_gettext("Class above the privacy floor")
    if size >= floor:
        return Check(
            "class",
            name,
            OK,
            lazy_ngettext(
                "%(num)d learner; the privacy floor is %(floor)d.",
                "%(num)d learners; the privacy floor is %(floor)d.",
                size,
                floor=floor,
            ),
        )
    return Check(
        "class",
        name,
        TO_FIX,
        lazy_ngettext(
            "%(num)d learner; class figures are hidden from students below %(floor)d.",
            "%(num)d learners; class figures are hidden from students below %(floor)d.",
            size,
            floor=floor,
        ),
        lazy_gettext(
            "Sync the roster so that every learner counts; students see class figures once "
            "%(floor)d learners are in the class.",
            floor=floor,
        ),
    )


def time_zone_check(zone: str) -> Check:
    """A time zone was chosen for the course (days and weeks are counted in it)."""
    name = lazy_gettext("Time zone set")
    if zone != course_settings.Settings().time_zone:
        return Check(
            "time-zone",
            name,
            OK,
            lazy_gettext("Days and weeks are counted in %(zone)s.", zone=zone),
        )
    return Check(
        "time-zone",
        name,
        TO_FIX,
        lazy_gettext("Days and weeks are counted in %(zone)s, the default.", zone=zone),
        lazy_gettext(
            "Choose the course's time zone under Days and weeks on the settings page, so that "
            "days start at the course's midnight; if the course really keeps UTC, ignore this."
        ),
    )


def checks(
    session: DbSession,
    course: Course,
    now: datetime | None = None,
    known: CourseNames | None = None,
    class_size: int | None = None,
) -> list[Check]:
    """Every readiness check of a course, in the order a page shows them (with the course's
    names and its class's size when the caller has them)."""
    moment = now or utcnow()
    settings = course_settings.load(session, course)
    return [
        *roster_checks(session, course),
        *activity_checks(session, course, moment),
        video_check(session, course, known),
        assignment_check(session, course),
        module_check(session, course),
        class_check(session, course, settings.privacy_floor, class_size),
        time_zone_check(settings.time_zone),
    ]


def to_fix(found: list[Check]) -> list[Check]:
    """The checks whose status is to fix."""
    return [c for c in found if c.status == TO_FIX]


def readiness(session: DbSession, course: Course) -> list[dict[str, Any]]:
    """The `readiness` report: per check, its status, what was found and how to fix it."""
    label = course_label(course)
    with using(english()):  # a report is English, wherever it is asked for
        return [
            {
                "course": label,
                "check": str(c.name),
                "status": c.status,
                "detail": str(c.detail),
                "fix": str(c.fix),
            }
            for c in checks(session, course)
        ]
