"""At risk: a level per learner (`high`, `watch` or none), each with its reasons in plain words
(design §7, README "The at-risk rule"); thresholds from the course's settings.

The signals:

- **inactivity**: no activity for `risk_inactive_days` days or more (the latest of the tool's
  activity and the LMS's last_activity_at), or no activity recorded at all;
- **missing work**: `MISSING_HIGH` or more assignments past due with nothing handed in (Canvas's
  `missing` flag on the synced submissions; for Open edX, a graded subsection past its due date
  in which the learner attempted none of the problems);
- **late or missing work** (below that): one assignment missing, or `LATE_SIGNAL` or more
  handed in late (Canvas's `late` flag);
- **completion behind** the class median by more than `risk_completion_behind` items;
- **score below the pass mark** (`risk_pass_mark`, when set): the score staff see;
- **little time**: time below the `risk_time_percentile`-th percentile of the class (the tool's
  time spent, else Canvas's activity time), counted only when the learner's completion or score
  is also below the class median: time alone never flags a learner who is keeping up.

High: inactivity or missing work, or two of the other signals. Watch: exactly one other signal.
A learner in the `highly_engaged` segment of the last complete week is never high (watch at
most, and the reasons say why): the two figures then describe the same weeks without
contradicting each other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import median
from typing import NamedTuple

from sqlalchemy import or_, select

from lti_tool.i18n import formats
from lti_tool.i18n.text import N_, Joined, LazyText, lazy_gettext, lazy_ngettext
from lti_tool.kpis.completion import Progress
from lti_tool.kpis.course_settings import Settings
from lti_tool.kpis.formatting import hmm_apart
from lti_tool.kpis.grades import assignments, due_for, staff_current_score
from lti_tool.kpis.names import Name, assignment_name
from lti_tool.kpis.roster import Member, percentile
from lti_tool.models import Assignment, Course, CourseBlock, LearnerResource, Submission
from lti_tool.models.types import DbSession

HIGH, WATCH = "high", "watch"
#: The levels as people read them (the codes stay `high` and `watch` in CSV, the API, the CLI).
LEVEL_NAMES = {HIGH: lazy_gettext("High"), WATCH: lazy_gettext("Watch")}
#: Missing assignments from which missing work alone makes a learner high.
MISSING_HIGH = 2
#: Late submissions from which lateness is a signal (one late hand-in is not).
LATE_SIGNAL = 2
#: The segment that caps the level at watch (kpis.engagement).
ENGAGED = "highly_engaged"
#: How many assignment names a reason lists before "and N more".
NAMES_SHOWN = 3


@dataclass
class Work:
    """A learner's past-due work that is missing or was handed in late (assignment names, in
    due-date order)."""

    missing: list[Name] = field(default_factory=list)
    late: list[Name] = field(default_factory=list)


@dataclass(frozen=True)
class Risk:
    """A learner's level (HIGH, WATCH or None) and the reasons for it (in the language of where
    they are shown: English in CSV, the API and the CLI)."""

    level: str | None = None
    reasons: tuple[LazyText, ...] = ()


NOT_AT_RISK = Risk()
#: What a learner's time for the rule is: the tool's time spent, else the LMS's activity time.
TOOL_TIME, LMS_TIME = N_("time spent"), N_("LMS activity time")
#: Work of a learner with none missing or late (read only).
_NO_WORK = Work()


class Thresholds(NamedTuple):
    """The class's figures each learner is measured against: the median items done and score
    (None without any), the little-time threshold (None when the rule is off or nobody has a
    time) and what that time is (time_metric's message)."""

    middle_done: float | None
    middle_score: float | None
    time: float | None
    what: str


def thresholds(
    members: dict[int, Member], progress: dict[int, Progress], settings: Settings
) -> Thresholds:
    """The class's Thresholds under these settings."""
    scores = [score for m in members.values() if (score := staff_current_score(m.lms)) is not None]
    times, what = time_metric(members)
    done = [p.done for p in progress.values()]
    return thresholds_of(done, scores, list(times.values()), what, settings)


def thresholds_of(
    done: Sequence[float], scores: list[float], times: list[float], what: str, settings: Settings
) -> Thresholds:
    """The class's Thresholds from its learners' items done (of those with requirements),
    current scores (of those with one) and times for the rule (`what` they are)."""
    share = settings.risk_time_percentile
    return Thresholds(
        middle_done=median(done) if done else None,
        middle_score=median(scores) if scores else None,
        time=percentile(times, share / 100) if times and share > 0 else None,
        what=what,
    )


def level_rank(level: str | None) -> int:
    """2 for high, 1 for watch, 0 for none: the order staff should look in."""
    return 2 if level == HIGH else 1 if level == WATCH else 0


def time_metric(
    members: dict[int, Member], what: str | None = None
) -> tuple[dict[int, float], str]:
    """Each learner's time for the rule, and what it is (a message: translate where shown): the
    tool's method, else Canvas's; `what`: the one the class's is (some of its learners'
    times, measured as the class's are)."""
    if what == TOOL_TIME or (what is None and any(m.active_days for m in members.values())):
        return {p: m.time_total for p, m in members.items()}, TOOL_TIME
    lms = {
        p: float(m.lms.total_activity_seconds)
        for p, m in members.items()
        if m.lms is not None and m.lms.total_activity_seconds is not None
    }
    return lms, LMS_TIME


def _openedx_missing(
    session: DbSession,
    course: Course,
    due: list[Assignment],
    people: set[int],
    before: float | None = None,
) -> dict[int, list[Name]]:
    """Open edX: per learner, the graded subsections past due in which they attempted none of
    the problems (subsections without problems, or not in the synced outline, are skipped);
    with `before` (epoch seconds), counting only attempts made before it."""
    children: dict[str, list[str]] = defaultdict(list)
    kinds: dict[str, str] = {}
    graded: set[str] = set()
    rows = session.execute(
        select(
            CourseBlock.block_id, CourseBlock.block_type, CourseBlock.parent_id, CourseBlock.graded
        ).where(CourseBlock.course_id == course.id)
    )
    for block_id, kind, parent, is_graded in rows:
        kinds[block_id] = kind
        if parent is not None:
            children[parent].append(block_id)
        if kind == "sequential" and is_graded:
            graded.add(block_id)
    problems: dict[str, set[str]] = {}  # subsection -> its problems (any depth)
    for assignment in due:
        if assignment.lms_assignment_id not in graded:
            continue
        found: set[str] = set()
        stack = list(children.get(assignment.lms_assignment_id, ()))
        while stack:
            block = stack.pop()
            if kinds.get(block) == "problem":
                found.add(block)
            stack.extend(children.get(block, ()))
        if found:
            problems[assignment.lms_assignment_id] = found
    if not problems:
        return {}
    every = sorted(set().union(*problems.values()))
    attempted: dict[int, set[str]] = defaultdict(set)
    # The learner_resource rollup holds each problem a learner checked an answer of (a server
    # problem_check, the event Insights counts as an attempt), keyed by its usage key.
    for start in range(0, len(every), 500):
        for person_id, resource, first in session.execute(
            select(
                LearnerResource.person_id, LearnerResource.resource_id, LearnerResource.first_time
            ).where(
                LearnerResource.course_id == course.id,
                LearnerResource.kind == "problem",
                LearnerResource.resource_id.in_(every[start : start + 500]),
            )
        ):
            if before is None or first < before:
                attempted[person_id].add(resource)
    missing: dict[int, list[Name]] = defaultdict(list)
    for assignment in due:
        wanted = problems.get(assignment.lms_assignment_id)
        if wanted is None:
            continue
        for person_id in people:
            if not wanted & attempted.get(person_id, set()):
                missing[person_id].append(assignment.name or lazy_gettext("a graded subsection"))
    return missing


def past_due_work(
    session: DbSession, course: Course, people: set[int], now: datetime, *, dated: bool = False
) -> dict[int, Work]:
    """Per learner: the assignments missing (past due, nothing handed in) and those handed in
    late. Canvas: the synced submissions' own `missing` and `late` flags (Canvas applies each
    learner's due date and excuses); Open edX: graded subsections past due (see
    _openedx_missing), for assignments no submission was synced for.

    `dated`: as things stood at `now` in the past, from dated facts only (the at-risk
    backtest): work handed in late after `now` was still missing then, work not yet due then
    was not missing, and Open edX problems count only if attempted before `now`.
    """
    listed = assignments(session, course)
    names = {a.id: assignment_name(a.name, number) for number, a in enumerate(listed, 1)}
    order = {a.id: index for index, a in enumerate(listed)}
    work: dict[int, Work] = defaultdict(Work)
    # Only the flagged submissions: a large course has learners times assignments of them.
    flagged: list[tuple[int, int, bool]] = []
    rows = session.execute(
        select(Submission, Assignment)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(
            Assignment.course_id == course.id,
            Submission.excused.is_not(True),
            or_(Submission.missing.is_(True), Submission.late.is_(True)),
        )
    )
    for submission, assignment in rows:
        if submission.person_id not in people or assignment.id not in order:
            continue
        missing = bool(submission.missing)
        if dated:
            due_then = due_for(assignment, submission)
            handed_in = submission.submitted_at
            if due_then is None or due_then >= now:
                continue  # not due yet then
            if not missing and handed_in is not None and handed_in >= now:
                missing = True  # handed in late, but only after then
        flagged.append((order[assignment.id], submission.person_id, missing))
    for position, person_id, missing in sorted(flagged):
        name = names[listed[position].id]
        (work[person_id].missing if missing else work[person_id].late).append(name)
    due = {a.id: a for a in listed if a.due_at is not None and a.due_at < now}
    if due:
        # Assignments the LMS reported submissions for are judged by those (Canvas); the others
        # may be Open edX graded subsections.
        reported = set(
            session.scalars(
                select(Submission.assignment_id)
                .where(Submission.assignment_id.in_(list(due)))
                .distinct()
            )
        )
        unreported = [a for a in due.values() if a.id not in reported]
        if unreported:
            before = now.timestamp() if dated else None
            found = _openedx_missing(session, course, unreported, people, before)
            for person_id, missing_names in found.items():
                work[person_id].missing.extend(missing_names)
    return dict(work)


def _listing(names: Sequence[Name]) -> LazyText | Joined:
    """Names joined for a reason: at most NAMES_SHOWN, then "and N more"."""
    shown = Joined(names[:NAMES_SHOWN])
    rest = len(names) - NAMES_SHOWN
    if rest > 0:
        return lazy_gettext("%(names)s and %(rest)s more", names=shown, rest=rest)
    return shown


def _work_signal(work: Work) -> tuple[LazyText | None, LazyText | None]:
    """(the missing-work reason, which makes a learner high; the late-or-missing reason, one
    other signal); None where the work gives no such signal."""
    missing, late = work.missing, work.late
    if not missing and len(late) < LATE_SIGNAL:
        return None, None  # (most learners: nothing built for them)
    late_words = lazy_ngettext(
        "%(num)d assignment handed in late (%(names)s)",
        "%(num)d assignments handed in late (%(names)s)",
        len(late),
        names=_listing(late),
    )
    if len(missing) >= MISSING_HIGH:
        listed = _listing(missing)
        if late:
            return lazy_ngettext(
                "%(num)d assignment missing, past due with nothing handed in (%(names)s; rule: "
                "%(rule)s or more), and %(late)s",
                "%(num)d assignments missing, past due with nothing handed in (%(names)s; rule: "
                "%(rule)s or more), and %(late)s",
                len(missing),
                names=listed,
                rule=MISSING_HIGH,
                late=late_words,
            ), None
        return lazy_ngettext(
            "%(num)d assignment missing, past due with nothing handed in (%(names)s; rule: "
            "%(rule)s or more)",
            "%(num)d assignments missing, past due with nothing handed in (%(names)s; rule: "
            "%(rule)s or more)",
            len(missing),
            names=listed,
            rule=MISSING_HIGH,
        ), None
    if missing:
        if late:
            return None, lazy_gettext(
                "1 assignment missing, past due with nothing handed in (%(name)s), and %(late)s",
                name=missing[0],
                late=late_words,
            )
        return None, lazy_gettext(
            "1 assignment missing, past due with nothing handed in (%(name)s)", name=missing[0]
        )
    if len(late) >= LATE_SIGNAL:
        return None, lazy_gettext(
            "%(late)s (rule: %(rule)s or more)", late=late_words, rule=LATE_SIGNAL
        )
    return None, None


def _time_reason(
    what: str, times: tuple[float, float], share: int, behind_done: bool, low_score: bool
) -> LazyText:
    """The little-time reason: the learner's time and the threshold (seconds), beside what is
    behind (completion, score or both)."""
    if behind_done and low_score:
        behind_what = lazy_gettext("completion and score")
    elif behind_done:
        behind_what = lazy_gettext("completion")
    else:
        behind_what = lazy_gettext("score")
    mine_shown, threshold_shown = hmm_apart(*times)
    return lazy_gettext(
        "%(what)s %(time)s in total, in the bottom %(share)s %% of the class (below "
        "%(threshold)s), with %(behind)s below the class median",
        what=lazy_gettext(what),
        time=mine_shown,
        share=share,
        threshold=threshold_shown,
        behind=behind_what,
    )


def _engaged_reason(segment_week: date | None) -> LazyText:
    """Why a learner who would be high is watch: highly engaged in the last complete week."""
    if segment_week:
        return lazy_gettext(
            "Watch, not High: highly engaged in the last complete week (from %(week)s), among "
            "the most active of the class",
            week=segment_week.isoformat(),
        )
    return lazy_gettext(
        "Watch, not High: highly engaged in the last complete week, among the most active of "
        "the class"
    )


def assess(
    members: dict[int, Member],
    progress: dict[int, Progress],
    settings: Settings,
    today: date,
    *,
    work: dict[int, Work] | None = None,
    segments: dict[int, str] | None = None,
    segment_week: date | None = None,
    limits: Thresholds | None = None,
) -> dict[int, Risk]:
    """Person id -> their level and its reasons (NOT_AT_RISK when neither high nor watch);
    `limits`: the class's thresholds when the caller has them (`members` may then be some of
    the class, measured against the whole class's)."""
    work = work or {}
    limits = limits or thresholds(members, progress, settings)
    segments = segments or {}
    # Reasons of each kind per learner: those that make a learner high on their own, and the
    # others, which make them high two at a time.
    grave: dict[int, list[LazyText]] = {p: [] for p in members}
    other: dict[int, list[LazyText]] = {p: [] for p in members}
    limit = settings.risk_inactive_days
    for person_id, member in members.items():
        if member.last_active is None:
            grave[person_id].append(lazy_gettext("no activity recorded"))
        else:
            days = (today - member.last_active.astimezone(settings.zone).date()).days
            if days >= limit:
                grave[person_id].append(
                    lazy_ngettext(
                        "no activity for %(num)d day (rule: %(rule)s or more)",
                        "no activity for %(num)d days (rule: %(rule)s or more)",
                        days,
                        rule=limit,
                    )
                )
        missing, late_or_missing = _work_signal(work.get(person_id, _NO_WORK))
        if missing:
            grave[person_id].append(missing)
        if late_or_missing:
            other[person_id].append(late_or_missing)
    middle_done = limits.middle_done
    if middle_done is not None:
        behind_limit = settings.risk_completion_behind
        for person_id, mine in progress.items():
            behind = middle_done - mine.done
            if behind > behind_limit and person_id in other:
                other[person_id].append(
                    lazy_ngettext(
                        "%(num)d item done, %(behind)s behind the class median of %(median)s "
                        "(rule: more than %(rule)s)",
                        "%(num)d items done, %(behind)s behind the class median of %(median)s "
                        "(rule: more than %(rule)s)",
                        mine.done,
                        behind=formats.LazyNumber(behind),
                        median=formats.LazyNumber(middle_done),
                        rule=behind_limit,
                    )
                )
    scores = {
        p: score for p, m in members.items() if (score := staff_current_score(m.lms)) is not None
    }
    mark = settings.risk_pass_mark
    if mark is not None:
        for person_id, score in scores.items():
            if score < mark:
                other[person_id].append(
                    lazy_gettext(
                        "current score %(score)s %% below the pass mark of %(mark)s %%",
                        score=formats.LazyNumber(score),
                        mark=formats.LazyNumber(mark),
                    )
                )
    times, what = time_metric(members, limits.what)
    share = settings.risk_time_percentile
    threshold = limits.time
    if threshold is not None:
        for person_id, seconds in times.items():
            if seconds >= threshold:
                continue
            # Little time counts only beside something behind: a learner keeping up with the
            # class on completion and score is not at risk for working quickly.
            behind_done, low_score = _behind(progress.get(person_id), scores.get(person_id), limits)
            if not (behind_done or low_score):
                continue
            other[person_id].append(
                _time_reason(what, (seconds, threshold), share, behind_done, low_score)
            )
    result: dict[int, Risk] = {}
    for person_id in members:
        reasons = grave[person_id] + other[person_id]
        if grave[person_id] or len(other[person_id]) >= 2:
            level: str | None = HIGH
        elif other[person_id]:
            level = WATCH
        else:
            result[person_id] = NOT_AT_RISK
            continue
        if level == HIGH and segments.get(person_id) == ENGAGED:
            level = WATCH
            reasons.append(_engaged_reason(segment_week))
        result[person_id] = Risk(level, tuple(reasons))
    return result


def _behind(done: Progress | None, score: float | None, limits: Thresholds) -> tuple[bool, bool]:
    """Whether a learner is behind the class median on completion, and on score."""
    middle_done, middle_score = limits.middle_done, limits.middle_score
    behind_done = done is not None and middle_done is not None and done.done < middle_done
    low_score = score is not None and middle_score is not None and score < middle_score
    return behind_done, low_score


def time_reason_moved(
    members: dict[int, Member],
    progress: dict[int, Progress],
    limits: Thresholds,
    before: float | None,
) -> set[int]:
    """The learners whose little-time reason differs under the threshold `before` and under
    the class's now (limits.time), the rest of the limits the same: it is given or taken
    away (their time lies between the two), or words the two otherwise (the reason shows
    their time and the threshold to the minute, or finer where they are that close)."""
    if limits.time == before:
        return set()
    times, _what = time_metric(members, limits.what)
    return reason_moved(
        times, progress, lambda person: staff_current_score(members[person].lms), limits, before
    )


def reason_moved(
    times: Mapping[int, float],
    progress: Mapping[int, Progress],
    score_of: Callable[[int], float | None],
    limits: Thresholds,
    before: float | None,
) -> set[int]:
    """time_reason_moved of some learners' times for the rule (`score_of` gives a learner's
    current score as staff see it)."""
    now = limits.time
    moved = set()
    for person_id, seconds in times.items():
        was = before is not None and seconds < before
        is_now = now is not None and seconds < now
        if not (was or is_now):
            continue
        if not any(_behind(progress.get(person_id), score_of(person_id), limits)):
            continue
        if was != is_now or (
            before is not None
            and now is not None
            and hmm_apart(seconds, before) != hmm_apart(seconds, now)
        ):
            moved.add(person_id)
    return moved


def counts(risks: dict[int, Risk], people: set[int] | None = None) -> dict[str, int]:
    """How many learners are high and watch (of some people, else of all)."""
    found = {HIGH: 0, WATCH: 0}
    for person_id, risk in risks.items():
        if risk.level is not None and (people is None or person_id in people):
            found[risk.level] += 1
    return found
