"""The at-risk flag's own track record: for each past week, the flags the rule would have raised
at that week's end from the data dated up to then, compared with how the course turned out.

The outcome of a learner is "final score below the pass mark, or did not complete": the final
score is the LMS's (Canvas `final_score`, Open edX's course grade), judged when a pass mark is
set; completion is judged once the course has ended (its end date passed). A course with
neither has no outcome yet, and no track record.

What each week's flags may use, all dated up to that week's end (the last moment of its Sunday
in the course time zone):

- activity: the tool's learner-days up to that Sunday, and Canvas's per-hour page views before
  that moment (Canvas's own `last_activity_at` and activity time are today's: not used);
- work: assignments due before then, missing or late as they stood then (work handed in late
  after then was still missing then);
- completion: the modules completed before then (Canvas's `completed_at`);
- scores: the score snapshot of that week or the last one before it (lti_tool.sync.
  score_snapshots keeps them from the first grades sync on); before the first snapshot, scores
  are left out and the page says so;
- segments: that week's own, which is complete at its end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select

from lti_tool.activity.rollups import week_start
from lti_tool.i18n import formats
from lti_tool.i18n.text import LazyText, lazy_gettext
from lti_tool.kpis import course_settings
from lti_tool.kpis.at_risk import assess, past_due_work
from lti_tool.kpis.completion import Progress, learner_progress, modules
from lti_tool.kpis.engagement import problem_attempts, week_segments
from lti_tool.kpis.grades import staff_current_score, staff_score
from lti_tool.kpis.labels import course_label
from lti_tool.kpis.roster import Member, add_activity, load_members
from lti_tool.models import (
    Course,
    CourseModule,
    LmsLearnerActivityHour,
    ModuleProgress,
    ScoreSnapshot,
)
from lti_tool.models.types import DbSession, utcnow

FIELDS = (
    "course",
    "week_start",
    "flagged",
    "flagged_with_outcome",
    "with_outcome",
    "precision",
    "recall",
)
#: The most weeks a track record goes back.
MAX_WEEKS = 104


@dataclass(frozen=True)
class Snapshot:
    """A week's score snapshot in the shape the at-risk rule reads LMS statistics in."""

    current_score: float | None
    unposted_current_score: float | None
    total_activity_seconds: None = None


@dataclass
class Week:
    """One week's flags against the outcome."""

    week_start: date
    flagged: int
    flagged_with_outcome: int
    with_outcome: int
    scores_used: bool
    people: frozenset[int] = frozenset()  # who was flagged

    @property
    def precision(self) -> float | None:
        """Of the learners flagged, the share who turned out badly (None: nobody flagged)."""
        return self.flagged_with_outcome / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        """Of the learners who turned out badly, the share flagged (None: nobody did)."""
        return self.flagged_with_outcome / self.with_outcome if self.with_outcome else None


@dataclass
class Backtest:
    """A course's track record: the weeks, and how far ahead the flag came."""

    available: bool
    # Words in the language of wherever they are shown (the Backtest is cached for every viewer).
    why_not: LazyText | str = ""
    outcome: LazyText | str = ""  # the outcome in words
    provisional: bool = False  # the course has not ended: the outcome is today's final score
    weeks: list[Week] = field(default_factory=list)
    judged: int = 0  # learners whose outcome is known
    with_outcome: int = 0
    # Per learner with the outcome who was ever flagged: weeks from their first flag to the end.
    lead_weeks: list[int] = field(default_factory=list)
    scores_from: date | None = None  # the first week with a score snapshot

    @property
    def median_lead(self) -> float | None:
        """The median of lead_weeks (None when no such learner)."""
        return median(self.lead_weeks) if self.lead_weeks else None


def final_score(stats: Any) -> float | None:
    """The final score staff see (unposted where given), else the current one (Open edX's
    course grade, which counts work not done)."""
    if stats is None:
        return None
    final = staff_score(stats.unposted_final_score, stats.final_score)
    return final if final is not None else staff_current_score(stats)


def outcomes(
    members: dict[int, Member],
    progress: dict[int, Progress],
    settings: course_settings.Settings,
    ended: bool,
) -> dict[int, bool]:
    """Person -> True when they turned out badly, for the learners whose outcome is known."""
    mark = settings.risk_pass_mark
    result: dict[int, bool] = {}
    for person_id, member in members.items():
        parts: list[bool] = []
        score = final_score(member.lms)
        if mark is not None and score is not None:
            parts.append(score < mark)
        mine = progress.get(person_id)
        if ended and mine is not None and mine.required:
            parts.append(mine.done < mine.required)
        if parts:
            result[person_id] = any(parts)
    return result


def _outcome_words(settings: course_settings.Settings, ended: bool) -> LazyText:
    if settings.risk_pass_mark is None:
        return lazy_gettext("not completing the course")
    # Written where shown: 55.5 in English, 55,5 in Spanish and Norwegian.
    mark = formats.LazyNumber(settings.risk_pass_mark)
    if ended:
        return lazy_gettext(
            "a final score below the pass mark of %(mark)s %% or not completing the course",
            mark=mark,
        )
    return lazy_gettext(
        "a final score below the pass mark of %(mark)s %% (today's final score)", mark=mark
    )


def _why_no_outcome(settings: course_settings.Settings) -> LazyText:
    if settings.ends_on:
        return lazy_gettext(
            "This course has no outcome to judge the flags by yet. It ends on %(day)s, and no "
            "pass mark is set for judging final scores. Set the course end, or a pass mark, in "
            "Settings.",
            day=formats.LazyDay(settings.ends_on),
        )
    return lazy_gettext(
        "This course has no outcome to judge the flags by yet. Its end date is not set, and no "
        "pass mark is set for judging final scores. Set the course end, or a pass mark, in "
        "Settings."
    )


def course_weeks(
    settings: course_settings.Settings, members: dict[int, Member], today: date, ended: bool
) -> list[date]:
    """The weeks judged: from the course start (else the first active week) to the last
    complete week, or the week the course ended in."""
    first_active = min((w for m in members.values() for w in m.weeks), default=None)
    first = week_start(settings.starts_on) if settings.starts_on else first_active
    last = week_start(today) - timedelta(days=7)
    if ended and settings.ends_on is not None:
        last = min(last, week_start(settings.ends_on))
    if first is None or first > last:
        return []
    count = (last - first).days // 7 + 1
    return [last - timedelta(days=7 * n) for n in reversed(range(min(count, MAX_WEEKS)))]


def progress_until(
    session: DbSession, course: Course, people: set[int], moment: datetime
) -> dict[int, Progress]:
    """Items done and required per learner, counting only modules completed before `moment`
    (the LMS dates a module's completion, not its items); empty without module requirements."""
    mods = modules(session, course)
    required = sum(m.items_required for m in mods)
    if not required:
        return {}
    done: dict[int, int] = defaultdict(int)
    rows = session.execute(
        select(
            ModuleProgress.person_id,
            ModuleProgress.items_required,
            CourseModule.items_required,
        )
        .join(CourseModule, CourseModule.id == ModuleProgress.module_id)
        .where(
            CourseModule.course_id == course.id,
            CourseModule.removed.is_(False),
            ModuleProgress.completed_at < moment,
        )
    )
    for person_id, own, module_required in rows:
        done[person_id] += own or module_required
    return {p: Progress(min(done.get(p, 0), required), required) for p in people}


def _snapshots(session: DbSession, course: Course) -> dict[int, list[tuple[date, Snapshot]]]:
    """Person -> their score snapshots, oldest first."""
    found: dict[int, list[tuple[date, Snapshot]]] = defaultdict(list)
    for person_id, monday, score, posted in session.execute(
        select(
            ScoreSnapshot.person_id,
            ScoreSnapshot.week_start,
            ScoreSnapshot.score,
            ScoreSnapshot.posted_score,
        )
        .where(ScoreSnapshot.course_id == course.id)
        .order_by(ScoreSnapshot.week_start)
    ):
        found[person_id].append((monday, Snapshot(posted, score)))
    return found


def _lms_last_active(session: DbSession, course: Course, moment: datetime) -> dict[int, datetime]:
    """Person -> their last hour with Canvas page views before `moment`."""
    return {
        person_id: last
        for person_id, last in session.execute(
            select(LmsLearnerActivityHour.person_id, func.max(LmsLearnerActivityHour.hour))
            .where(
                LmsLearnerActivityHour.course_id == course.id,
                LmsLearnerActivityHour.hour < moment,
            )
            .group_by(LmsLearnerActivityHour.person_id)
        )
    }


def members_then(
    session: DbSession,
    course: Course,
    class_now: dict[int, Member],
    settings: course_settings.Settings,
    week: date,
    snapshots: dict[int, list[tuple[date, Snapshot]]],
) -> dict[int, Member]:
    """The class as the data dated up to the end of `week` shows it."""
    sunday = week + timedelta(days=6)
    moment = datetime.combine(week + timedelta(days=7), time.min, settings.zone)
    members: dict[int, Member] = {}
    for person_id, now in class_now.items():
        member = Member(
            person_id=person_id,
            learner=now.learner,
            name=now.name,
            email=now.email,
            pseudonymous=now.pseudonymous,
            sections=now.sections,
        )
        earlier = [snap for monday, snap in snapshots.get(person_id, ()) if monday <= week]
        member.lms = earlier[-1] if earlier else None
        members[person_id] = member
    for person_id, last in _lms_last_active(session, course, moment).items():
        if person_id in members:
            members[person_id].last_active = last
    add_activity(session, course, members, settings.time_cutoff_minutes, sunday, until=sunday)
    return members


def backtest(
    session: DbSession, course: Course, *, key: bytes, now: datetime | None = None
) -> Backtest:
    """The course's track record (see the module docstring)."""
    settings = course_settings.load(session, course)
    moment = now or utcnow()
    today = settings.today(moment)
    class_now = load_members(
        session, course, key=key, cutoff_minutes=settings.time_cutoff_minutes, today=today
    )
    ended = settings.ends_on is not None and settings.ends_on < today
    judged = outcomes(class_now, learner_progress(session, course, class_now), settings, ended)
    if not judged:
        return Backtest(available=False, why_not=_why_no_outcome(settings))
    weeks = course_weeks(settings, class_now, today, ended)
    result = Backtest(
        available=True,
        outcome=_outcome_words(settings, ended),
        provisional=not ended,
        judged=len(judged),
        with_outcome=sum(judged.values()),
    )
    if not weeks:
        result.why_not = lazy_gettext("No complete week of the course has passed yet.")
        return result
    snapshots = _snapshots(session, course)
    result.scores_from = min((s[0][0] for s in snapshots.values() if s), default=None)
    attempts = problem_attempts(session, course, weeks)
    first_flag: dict[int, date] = {}
    people = set(judged)
    for week in weeks:
        members = members_then(session, course, class_now, settings, week, snapshots)
        end = datetime.combine(week + timedelta(days=7), time.min, settings.zone)
        risks = assess(
            members,
            progress_until(session, course, set(members), end),
            settings,
            week + timedelta(days=6),
            work=past_due_work(session, course, set(members), end, dated=True),
            segments=week_segments(members, week, attempts),
            segment_week=week,
        )
        flagged = {p for p in people if risks[p].level is not None}
        for person_id in flagged:
            first_flag.setdefault(person_id, week)
        result.weeks.append(
            Week(
                week_start=week,
                flagged=len(flagged),
                flagged_with_outcome=sum(judged[p] for p in flagged),
                with_outcome=result.with_outcome,
                scores_used=result.scores_from is not None and result.scores_from <= week,
                people=frozenset(flagged),
            )
        )
    last = weeks[-1]
    result.lead_weeks = sorted(
        (last - first_flag[p]).days // 7 for p, bad in judged.items() if bad and p in first_flag
    )
    return result


def report_rows(course: Course, found: Backtest) -> list[dict[str, Any]]:
    """A track record's weeks as `risk-backtest` rows."""
    label = course_label(course)
    return [
        {
            "course": label,
            "week_start": week.week_start.isoformat(),
            "flagged": week.flagged,
            "flagged_with_outcome": week.flagged_with_outcome,
            "with_outcome": week.with_outcome,
            "precision": None if week.precision is None else round(week.precision, 3),
            "recall": None if week.recall is None else round(week.recall, 3),
        }
        for week in found.weeks
    ]


def backtest_rows(
    session: DbSession, course: Course, *, key: bytes, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The `risk-backtest` report: one row per judged week (none without an outcome)."""
    return report_rows(course, backtest(session, course, key=key, now=now))
