"""What a learner's own page shows beyond the weekly time: their work with its status, the
class's distribution of posted scores, their modules, their days as a calendar, and a typical
learner made of class medians (staff's anonymous preview: never one person's data).

The status of a piece of work follows the LMS: Canvas's own `missing` and `late` flags as the
sync stored them, and the learner's own due date (`cached_due_date`, overrides included).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from lti_tool.activity.rollups import week_start
from lti_tool.activity.sql import driver_rows
from lti_tool.i18n.text import N_, LazyText, lazy_gettext, lazy_ngettext
from lti_tool.kpis.completion import module_progress, modules, modules_of
from lti_tool.kpis.grades import assignments, assignments_with, due_for
from lti_tool.kpis.names import Name, module_name
from lti_tool.models import Assignment, Course, LearnerDay, Submission
from lti_tool.models.types import DbSession

# The order a learner reads their work in: what needs doing first, what is done last.
KINDS = ("missing", "due", "past", "late", "submitted", "excused", "undated")
# Canvas's workflow states of work handed in (graded work was handed in, or marked by staff).
HANDED_IN = ("submitted", "pending_review", "graded")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# "You were most often active on Tuesdays".
WEEKDAY_NAMES = (
    N_("Mondays"),
    N_("Tuesdays"),
    N_("Wednesdays"),
    N_("Thursdays"),
    N_("Fridays"),
    N_("Saturdays"),
    N_("Sundays"),
)


@dataclass(frozen=True)
class WorkItem:
    """One assignment as the learner's page lists it."""

    name: str
    due_at: datetime | None
    points_possible: float | None
    kind: str  # one of KINDS
    status: LazyText  # the status in words: "missing", "due in 3 days", "submitted"…


def due_words(due: datetime, now: datetime, zone: ZoneInfo) -> LazyText:
    """ "due today", "due tomorrow" or "due in N days", counted in calendar days of the course
    time zone (due at 08:00 tomorrow is "due tomorrow" even 20 hours ahead)."""
    days = (due.astimezone(zone).date() - now.astimezone(zone).date()).days
    if days <= 0:
        return lazy_gettext("due today")
    if days == 1:
        return lazy_gettext("due tomorrow")
    return lazy_ngettext("due in %(num)d day", "due in %(num)d days", days)


def work_kind(due: datetime | None, sub: Submission | None, now: datetime) -> str:
    """What a piece of work is for one learner: the LMS's flags first (excused, missing, late),
    then handed in, then by its due date."""
    if sub is not None:
        if sub.excused:
            return "excused"
        if sub.missing:
            return "missing"
        if sub.late:
            return "late"
        if sub.submitted_at is not None or sub.workflow_state in HANDED_IN:
            return "submitted"
    if due is None:
        return "undated"
    # Past its date, not handed in, and the LMS did not call it missing (on paper, no
    # submission asked for): said as it is, not as missing.
    return "due" if due > now else "past"


STATUS_WORDS = {
    "missing": N_("missing"),
    "past": N_("past due, not submitted"),
    "late": N_("late"),
    "submitted": N_("submitted"),
    "excused": N_("excused"),
    "undated": N_("no due date"),
}


def _status(kind: str, due: datetime | None, now: datetime, zone: ZoneInfo) -> LazyText:
    if kind == "due" and due is not None:
        return due_words(due, now, zone)
    return lazy_gettext(STATUS_WORDS[kind])


def _ordered(items: Iterable[WorkItem]) -> list[WorkItem]:
    """Missing first, then what is due (soonest first), then the rest by due date."""
    return sorted(
        items,
        key=lambda w: (
            KINDS.index(w.kind),
            w.due_at is None,
            w.due_at.timestamp() if w.due_at else 0,
        ),
    )


def learner_work(
    session: DbSession, course: Course, person_id: int, now: datetime, zone: ZoneInfo
) -> list[WorkItem]:
    """Every published assignment with the learner's own due date and status."""
    items = []
    for assignment, sub in assignments_with(session, course, person_id):
        due = due_for(assignment, sub)
        kind = work_kind(due, sub, now)
        items.append(
            WorkItem(
                assignment.name,
                due,
                assignment.points_possible,
                kind,
                _status(kind, due, now, zone),
            )
        )
    return _ordered(items)


def typical_work(
    session: DbSession, course: Course, people: set[int], now: datetime, zone: ZoneInfo
) -> list[WorkItem]:
    """Every published assignment as the class has it: at its own due date, the status more
    learners have than any other, with their share (no one's own dates or flags)."""
    subs: dict[int, dict[int, Submission]] = {}
    for sub in session.scalars(
        select(Submission)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id == course.id)
    ):
        if sub.person_id in people:
            subs.setdefault(sub.assignment_id, {})[sub.person_id] = sub
    items = []
    for assignment in assignments(session, course):
        mine = subs.get(assignment.id, {})
        kinds = Counter(work_kind(assignment.due_at, mine.get(p), now) for p in people)
        kind = kinds.most_common(1)[0][0] if kinds else work_kind(assignment.due_at, None, now)
        status = _status(kind, assignment.due_at, now, zone)
        if kinds and kind != "due":
            status = lazy_gettext(
                "%(status)s (%(percent)d %% of the class)",
                status=status,
                percent=round(100 * kinds[kind] / len(people)),
            )
        items.append(
            WorkItem(assignment.name, assignment.due_at, assignment.points_possible, kind, status)
        )
    return _ordered(items)


def work_counts(items: Sequence[WorkItem], now: datetime, days: int = 14) -> dict[str, int]:
    """How many are missing, late, and due in the next `days` days (the page's summary)."""
    soon = now + timedelta(days=days)
    return {
        "missing": sum(1 for w in items if w.kind == "missing"),
        "late": sum(1 for w in items if w.kind == "late"),
        "due_soon": sum(1 for w in items if w.kind == "due" and w.due_at and w.due_at <= soon),
    }


@dataclass(frozen=True)
class Distribution:
    """The class's posted current scores, or None below the privacy floor, and the learner's."""

    scores: list[float] | None
    group: int  # how many learners have a posted score
    mine: float | None


def score_distribution(
    posted: Sequence[float | None], mine: float | None, floor: int
) -> Distribution:
    """The class's posted scores when at least `floor` learners have one, else hidden."""
    scores = [s for s in posted if s is not None]
    return Distribution(scores if len(scores) >= floor else None, len(scores), mine)


@dataclass(frozen=True)
class ModuleRow:
    """One module as the learner's page lists it: items done of those required."""

    name: Name
    done: float
    required: int
    completed_at: datetime | None


def learner_modules(session: DbSession, course: Course, person_id: int) -> list[ModuleRow]:
    """The learner's items done per module, in course order (nothing reported: none done)."""
    rows = []
    for number, (module, found) in enumerate(modules_of(session, course, person_id), 1):
        required = (found.items_required if found else 0) or module.items_required
        done = min(found.items_done, required) if found else 0
        rows.append(
            ModuleRow(
                module_name(module.name, number),
                done,
                required,
                found.completed_at if found else None,
            )
        )
    return [r for r in rows if r.required]


def typical_modules(session: DbSession, course: Course, people: set[int]) -> list[ModuleRow]:
    """Per module: the class's median items done (learners with nothing reported count 0)."""
    progress = module_progress(session, course, people)
    rows = []
    for number, module in enumerate(modules(session, course), 1):
        done = []
        for person_id in people:
            found = progress.get((module.id, person_id))
            required = (found.items_required if found else 0) or module.items_required
            done.append(min(found.items_done, required) if found else 0)
        if module.items_required:
            rows.append(
                ModuleRow(
                    module_name(module.name, number),
                    statistics.median(done) if done else 0,
                    module.items_required,
                    None,
                )
            )
    return rows


def typical_videos(rows: Sequence[dict[str, Any]], people: int) -> list[dict[str, Any]]:
    """Per video: the class's median share watched (learners who never opened it count 0) and
    whether most of the class reached the end; rows are learner_video's."""
    shares: dict[str, Counter[float]] = {}
    ends: Counter[str] = Counter()
    for row in rows:
        shares.setdefault(row["video_id"], Counter())[row["coverage"] or 0.0] += 1
        ends[row["video_id"]] += bool(row["completed"])
    return typical_of_counts(shares, ends, people)


def typical_of_counts(
    shares: Mapping[str, Mapping[float, int]], ends: Mapping[str, int], people: int
) -> list[dict[str, Any]]:
    """typical_videos from the viewings counted: per video, how many had each share watched
    (a share of 0.0 for a viewing without one) and how many reached the end; by video id."""
    return [
        {
            "video_id": video_id,
            "coverage": _padded_median(seen, people),
            "completed": ends.get(video_id, 0) * 2 > people,
        }
        for video_id, seen in sorted(shares.items())
    ]


def _padded_median(seen: Mapping[float, int], people: int) -> float | None:
    """The median of the shares `seen` (share -> how many) padded with zeros to `people`
    values, rounded to 4 places (as statistics.median of the padded list, without making it:
    100,000 values per video)."""
    counted = sum(seen.values())
    size = max(people, counted)
    if not size:
        return None
    ordered = sorted(seen.items())

    def at(index: int) -> float:
        # The zeros the class is padded with come first, then the shares in order.
        position = size - counted
        if index < position:
            return 0.0
        for share, count in ordered:
            position += count
            if index < position:
                return share
        raise IndexError(index)

    middle = size // 2
    median = at(middle) if size % 2 else (at(middle - 1) + at(middle)) / 2
    return round(median, 4)


@dataclass(frozen=True)
class Calendar:
    """Days by weeks: a value per day of the weeks shown (None: after today), and a summary."""

    mondays: list[date]
    values: dict[date, float | None]
    active: int  # days with activity
    days: int  # days shown up to today
    streak: int  # longest run of active days
    busiest: LazyText | None  # the weekday most often active ("Tuesdays")
    last: date | None

    def rows(self) -> list[tuple[date, list[tuple[date, float | None]]]]:
        """Per week (its Monday): its seven days with their values, Monday first."""
        return [
            (
                monday,
                [(d, self.values[d]) for d in (monday + timedelta(days=i) for i in range(7))],
            )
            for monday in self.mondays
        ]


def calendar(mondays: Sequence[date], per_day: dict[date, float], today: date) -> Calendar:
    """The calendar of some weeks from values per day (events, or a share of the class); days
    after today are None (not yet), days without a value 0."""
    values: dict[date, float | None] = {}
    for monday in mondays:
        for offset in range(7):
            day = monday + timedelta(days=offset)
            values[day] = None if day > today else per_day.get(day, 0)
    shown = [d for d, v in values.items() if v is not None]
    active = sorted(d for d in shown if values[d])
    streak = run = 0
    previous: date | None = None
    for day in active:
        run = run + 1 if previous is not None and (day - previous).days == 1 else 1
        streak = max(streak, run)
        previous = day
    weekdays = Counter(d.weekday() for d in active)
    busiest = lazy_gettext(WEEKDAY_NAMES[weekdays.most_common(1)[0][0]]) if weekdays else None
    return Calendar(
        list(mondays),
        values,
        len(active),
        len(shown),
        streak,
        busiest,
        active[-1] if active else None,
    )


def class_share_active(
    session: DbSession, course: Course, people: set[int], first: date, last: date
) -> dict[date, float]:
    """Per day: the share of the class active that day (the typical learner's calendar)."""
    counts: Counter[date] = Counter()
    rows = session.connection().execute(
        select(LearnerDay.day, LearnerDay.person_id).where(
            LearnerDay.course_id == course.id, LearnerDay.day >= first, LearnerDay.day <= last
        )
    )
    for day, person_id in rows:
        if person_id in people:
            counts[day] += 1
    return {d: round(n / len(people), 3) for d, n in counts.items()} if people else {}


def class_active_counts(session: DbSession, course: Course, people: set[int]) -> dict[str, int]:
    """Per day (ISO date), every day of the course: how many of `people` (the class) were
    active, for active_shares."""
    # Every learner-day of the course as the driver gives it: a day is a date, or SQLite's ISO
    # text (either sorts by day; str gives both as ISO text).
    counts: Counter[Any] = Counter()
    rows = driver_rows(
        session,
        select(LearnerDay.day, LearnerDay.person_id).where(LearnerDay.course_id == course.id),
    )
    for day, person_id in rows:
        if person_id in people:
            counts[day] += 1
    return {str(day): count for day, count in sorted(counts.items())}


def active_shares(
    counts: dict[str, int], class_size: int, first: date, last: date
) -> dict[date, float]:
    """class_share_active from the class's counts per day (class_active_counts)."""
    if not class_size:
        return {}
    found = ((date.fromisoformat(day), n) for day, n in counts.items())
    return {d: round(n / class_size, 3) for d, n in found if first <= d <= last}


def course_mondays(
    starts_on: date | None, first_class_week: date | None, today: date
) -> list[date]:
    """The weeks a learner's page shows: from the course start (the settings' date, else the
    class's first week) to this week; just this week when neither is known."""
    start = week_start(starts_on) if starts_on else first_class_week or week_start(today)
    end = max(week_start(today), start)
    return [start + timedelta(days=7 * i) for i in range((end - start).days // 7 + 1)]
