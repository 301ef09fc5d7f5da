"""The sums the class's videos, typical-learner, content, problems and names figures and the
overview's weekly counts are made of, kept with the page summary (page CLASS_SUMS) and
followed through a change: an ingest that replaced a few learners' rows adds their change to
the stored sums (since) instead of reading every viewing, active day, opened resource, problem
check and week of the class again (of_class).

The sums: the class's video sums (lti_tool.kpis.video_sums.VideoSums, active days included),
per (resource, kind) how many of the class opened it (resources.resource_reach's counts), per
problem its checks' sums (lti_tool.kpis.problem_sums), per (week, label) how many of the class
it had (activity.week_counts); and, of every learner of the course,
when each resource was first met and how many viewed each video (names.seen_resources).
Stored with what `since` must check before it adds to them (state): the activity they are
of, the class they were counted over and the videos' durations they were counted with.

A course's first ingest has no stored sums to follow, and its rows are all new: they are added
up as the rebuilds write them (Added, start_adding), and the class's sums taken of those
(of_added) rather than of every row read back (at 100,000 learners and 10 million events,
11 of a first refresh's 20 seconds).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import event, literal, select
from sqlalchemy.orm import Session, SessionTransaction

from lti_tool.activity import replaced
from lti_tool.activity.rollups import Adding, RollupRows
from lti_tool.kpis import (
    activity,
    course_settings,
    names,
    problem_sums,
    problems,
    resources,
    roster,
    student,
    video_engagement,
)
from lti_tool.kpis.activity import Week
from lti_tool.kpis.problem_sums import ProblemSums
from lti_tool.kpis.roster import Totals
from lti_tool.kpis.video_sums import VideoSums, add_counts, of_alike, of_viewings
from lti_tool.models import (
    Course,
    LearnerDay,
    LearnerProblem,
    LearnerResource,
    VideoLearnerViews,
    WeeklyActivity,
)
from lti_tool.models.types import DbSession, utcnow


@dataclass
class Sums:
    """The class's video sums, per (resource id, kind) how many of it opened it, per problem
    its checks' sums, per (week, label) how many of it it had; and the course's resources first
    met and videos viewed."""

    videos: VideoSums = field(default_factory=VideoSums)
    opened: Counter[tuple[str, str]] = field(default_factory=Counter)
    problems: dict[str, ProblemSums] = field(default_factory=dict)
    # Of every learner of the course, not the class only (names.seen_resources): per (kind,
    # resource id) when one first met it, per video how many viewed it.
    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    viewed: Counter[str] = field(default_factory=Counter)
    weeks: Counter[Week] = field(default_factory=Counter)

    def add(self, other: Sums, sign: int = 1) -> None:
        """Add (sign 1) or take out (-1) another's video, resource and week sums (not the
        problems': since counts checks in and out); what comes to nothing is dropped."""
        self.videos.add(other.videos, sign)
        add_counts(self.opened, other.opened, sign)
        add_counts(self.weeks, other.weeks, sign)


def of_class(
    session: DbSession, course: Course, people: set[int], durations: Mapping[str, float | None]
) -> tuple[Sums, dict[str, Any], list[dict[str, Any]]]:
    """The class's sums from all its rows, with the videos page's figures
    (video_engagement.class_videos) and the content page's reach rows (resources.resource_reach)
    they come with."""
    # One read of the course's viewings for the class's video sums and every learner's
    # videos viewed (names.video_viewers's counts: staff's too).
    runs = video_engagement.course_runs(session, course)
    found = video_engagement.class_videos(session, course, people, durations, runs)
    viewed = Counter(video_id for _person, video_id, _runs in runs)
    videos: VideoSums = found.pop("sums")
    videos.active = Counter(student.class_active_counts(session, course, people))
    counted, first = resources.opened_and_first_met(session, course)
    reach = resources.resource_reach(session, course, people, counted)
    opened = Counter({(row["resource"], row["kind"]): row["learners"] for row in reach})
    checked = problem_sums.of_rows(
        row for row in problems.check_rows(session, course) if row[0] in people
    )
    weeks = activity.week_counts(session, course, people)
    return Sums(videos, opened, checked, first, viewed, weeks), found, reach


#: session.info's sums of the rows this transaction's rebuilds wrote of courses that had no
#: activity before it, by course id (Added): a course's first ingest (a MOOC's history, say)
#: then has its class's sums without every row it just wrote read back.
ADDED = "lti_tool.class_sums.added"
#: The rollup tables the sums are of: a course with no row in any of them has no activity.
_ROLLUPS = (VideoLearnerViews, LearnerDay, LearnerResource, LearnerProblem, WeeklyActivity)


@dataclass
class RowCounts:
    """A batch of rollup rows counted where they are made (count_rows, in a worker): per
    (video, packed runs) the viewings, per ISO day the learners active, per (resource, kind)
    how many opened it and per (kind, resource) the earliest first time, per (week as ISO
    text, label) the learners, the problem rows counted in, and each learner's activity totals
    (roster.totals_of_rows) at a cutoff on a day, as JSON (a tenth of the memory of lists)."""

    viewings: Counter[tuple[str, bytes]]
    days: Counter[str]
    opened: Counter[tuple[str, str]]
    first_met: dict[tuple[str, str], float]
    weeks: Counter[Week]
    problems: problem_sums.RowSums
    totals: dict[int, bytes]


def count_rows(cutoff: int, today: date, rows: RollupRows) -> RowCounts:
    """A batch's RowCounts, the learners' totals at `cutoff` minutes on `today`."""
    first: dict[tuple[str, str], float] = {}
    _keep_earliest(first, (((kind, res), at) for _c, _p, res, kind, at, _e in rows.resources))
    checked = problem_sums.RowSums()
    # (As replaced.read gives them: person, problem, attempts, correct at, first and last
    # time, packed answers.)
    checked.add(row[1:7] + row[8:] for row in rows.problems)
    viewed = Counter(person for _course, person, _video, _runs in rows.videos)
    days = [
        (person, day, events, last, gaps) for _c, person, day, events, _f, last, gaps in rows.days
    ]
    return RowCounts(
        Counter((video_id, runs) for _course, _person, video_id, runs in rows.videos),
        Counter(day for _person, day, *_counts in days),
        Counter((resource, kind) for _c, _p, resource, kind, _at, _events in rows.resources),
        first,
        Counter((week, label) for _course, week, label, _person in rows.weeks),
        checked,
        {
            person: orjson.dumps(totals)
            for person, totals in roster.totals_of_rows(days, viewed, cutoff, today).items()
        },
    )


def _keep_earliest(
    first: dict[tuple[str, str], float], met: Iterable[tuple[tuple[str, str], float]]
) -> None:
    """Keep in `first`, per (kind, resource), the earliest of its time and those `met`."""
    for key, at in met:
        if at < first.get(key, at + 1):
            first[key] = at


def _no_counts() -> RowCounts:
    """RowCounts of no rows."""
    return RowCounts(Counter(), Counter(), Counter(), {}, Counter(), problem_sums.RowSums(), {})


@dataclass
class Added:
    """The sums of the rows this transaction's rebuilds wrote of a course that had none: the
    batches' RowCounts added up (`counts`, their learners' totals at `cutoff` on `today`), of
    every learner written (`people`, staff too), each written once (else `spoiled`)."""

    mark: str
    cutoff: int
    today: date
    people: set[int] = field(default_factory=set)
    spoiled: bool = False
    totals_taken: bool = False
    counts: RowCounts = field(default_factory=_no_counts)

    def add(self, rows: RollupRows) -> None:
        """Add the rows a rebuild just wrote of some learners, counted (rows.counts)."""
        theirs: RowCounts | None = rows.counts
        if theirs is None or self.spoiled or not self.people.isdisjoint(rows.people):
            # A learner written again: what their first rows added is not taken out here.
            self.spoiled = True
            return
        self.people.update(rows.people)
        mine = self.counts
        add_counts(mine.viewings, theirs.viewings)
        add_counts(mine.days, theirs.days)
        add_counts(mine.opened, theirs.opened)
        _keep_earliest(mine.first_met, theirs.first_met.items())
        add_counts(mine.weeks, theirs.weeks)
        mine.problems.merge(theirs.problems)
        mine.totals.update(theirs.totals)


def _viewed(viewings: Mapping[tuple[str, Any], int]) -> Counter[str]:
    """Per video, how many viewed it, from the viewings counted per (video, packed runs)."""
    found: Counter[str] = Counter()
    for (video_id, _packed), count in viewings.items():
        found[video_id] += count
    return found


def _by_video(viewings: Mapping[tuple[str, Any], int]) -> dict[str, Counter[bytes | str]]:
    """The viewings counted per (video, packed runs) as video_sums.of_alike takes them."""
    found: dict[str, Counter[bytes | str]] = {}
    for (video_id, packed), count in viewings.items():
        counted = found.get(video_id)
        if counted is None:
            counted = found[video_id] = Counter()
        counted[packed] = count
    return found


def start_adding(session: DbSession, course_ids: Iterable[int]) -> Adding:
    """Before a rebuild of some courses' learners: start adding up the rows it writes of each
    course that has no activity yet and that this transaction has not changed otherwise
    (Added); per course, what rollups.rebuild counts each batch of its rows with (in the
    workers) and gives it to, counted."""
    records: dict[int, Added] = session.info.setdefault(ADDED, {})
    for course_id in course_ids:
        if course_id in session.info.get(replaced.REPLACED, {}):
            continue  # changed before (by whatever: adding up already, or not)
        if any(
            session.scalar(
                select(literal(1)).where(model.__table__.c.course_id == course_id).limit(1)
            )
            for model in _ROLLUPS
        ):
            continue
        course = session.get(Course, course_id)
        if course is None:
            continue
        mark = replaced.activity_mark(course.updated_at)
        settings = course_settings.load(session, course)
        cutoff, today = settings.time_cutoff_minutes, settings.today(utcnow())
        records[course_id] = Added(mark, cutoff, today)
    return {
        course_id: (functools.partial(count_rows, found.cutoff, found.today), found.add)
        for course_id, found in records.items()
        if not found.spoiled
    }


def _added(session: DbSession, course: Course) -> Added | None:
    """The course's sums of the rows this transaction wrote, when they are of all its rows:
    it had none before, and its rebuilds, each learner's once, are all that changed them."""
    found: Added | None = session.info.get(ADDED, {}).get(course.id)
    if found is None or found.spoiled:
        return None
    if replaced.noted_once(session, course.id) != (found.mark, found.people):
        return None
    return found


def viewed_since_none(session: DbSession, course: Course) -> set[str] | None:
    """Every video anyone viewed, when the course had no activity before this transaction
    and its rebuilds' rows were added up (of_added); else None."""
    found = _added(session, course)
    return None if found is None else {video_id for video_id, _packed in found.counts.viewings}


def totals_added(
    session: DbSession, course: Course, cutoff: int, today: date
) -> dict[int, Totals] | None:
    """Every learner's activity totals (roster.totals_of) at this cutoff on this day, when
    the course had no activity before this transaction and its rebuilds' rows were counted
    (at that cutoff, on that day); else None. Handed over once: the memory is let go."""
    found = _added(session, course)
    if found is None or (found.cutoff, found.today) != (cutoff, today) or found.totals_taken:
        return None
    totals, found.counts.totals, found.totals_taken = found.counts.totals, {}, True
    return {person: orjson.loads(packed) for person, packed in totals.items()}


def of_added(
    session: DbSession, course: Course, people: set[int], durations: Mapping[str, float | None]
) -> Sums | None:
    """The class's sums of a course whose every row this transaction wrote, from the rows as
    they were written (Added) less those of the learners not of the class (staff, who left:
    read back); None when the course had rows before or they changed otherwise. Handed over
    once: the memory is let go."""
    found = _added(session, course)
    if found is None:
        return None
    counts = found.counts
    # (Spoiled for any later refresh of the same transaction, which then reads the rows.)
    found.spoiled, found.counts = True, _no_counts()
    viewings = counts.viewings
    videos = of_alike(_by_video(viewings), durations)
    videos.active = Counter(counts.days)
    sums = Sums(
        videos,
        Counter(counts.opened),
        counts.problems.sums(),
        dict(counts.first_met),
        _viewed(viewings),
        Counter(counts.weeks),
    )
    others = sorted(found.people - people)
    if not others:
        return sums
    theirs = replaced.read(session, course.id, others)
    sums.add(_of_rows(theirs, others, durations), -1)
    again = count_out(sums.problems, chain.from_iterable(theirs.problems[p] for p in others))
    if again:  # (a problem whose latest check or a group's latest answer was theirs)
        counted = problems.checks_of(session, course, sorted(again), people)
        sums.problems.update(problem_sums.of_checks(counted))
    return sums


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    """Drop a transaction's sums at its end, committed or rolled back."""
    if transaction.parent is None:
        session.info.pop(ADDED, None)


def since(
    session: DbSession,
    course: Course,
    people: set[int],
    stored: Mapping[str, Any],
    durations: Mapping[str, float | None],
) -> Sums | None:
    """The class's sums now, from those `stored` (as state() wrote them) and the rows this
    transaction replaced (lti_tool.activity.replaced): theirs less what the replaced rows and
    the learners who left the class added, plus the rows now of the learners replaced or new
    to the class (when nothing was replaced, those who left and joined it alone). None when
    that would not be exact: the stored sums are of other activity than the replaced rows
    were, a video's duration moved (every share and completion of it with it; a video new to
    the course is no matter), or a learner left the class whose rows were not kept."""
    record = replaced.taken(session, course.id)
    before = set(stored["people"])
    if record is None and replaced.replaced_since(session, course.id, stored["activity"]) == set():
        # No activity changed since the sums (a launch enrolled learners or took some out of
        # the class): the rows of those who left are as they were.
        record = replaced.Replaced(
            stored["activity"], replaced.read(session, course.id, sorted(before - people))
        )
    if record is None or record.mark != stored["activity"]:
        return None
    # A video new to the course has nothing in the sums: only the others' durations matter.
    settled = orjson.loads(orjson.dumps(durations))
    if any(settled.get(video) != was for video, was in stored["durations"].items()):
        return None
    kept = record.rows
    if not (before - people) <= kept.days.keys():
        return None
    affected = kept.days.keys() | (people ^ before)
    sums = Sums(
        VideoSums.from_json(stored["videos"]),
        Counter({(resource, kind): count for resource, kind, count in stored["opened"]}),
        {problem: ProblemSums.from_json(found) for problem, found in stored["problems"].items()},
        {(kind, resource): at for kind, resource, at in stored["first_seen"]},
        Counter(stored["viewed"]),
        Counter({(week, label): count for week, label, count in stored["weeks"]}),
    )
    gone = [person for person in affected if person in before]
    now = [person for person in affected if person in people]
    # The rows now of the class's learners affected and of everyone replaced (staff too: the
    # resources first met and the videos viewed are the course's).
    rows = replaced.now(session, course.id, sorted(set(now) | kept.days.keys()))
    # A learner replaced keeps most of their rows: those the same before and after are
    # neither taken out nor added (the sums add up).
    old, new = _less_shared(kept, rows, set(gone) & set(now))
    sums.add(_of_rows(old, gone, durations), -1)
    sums.add(_of_rows(new, now, durations))
    again = follow_problems(
        sums.problems,
        chain.from_iterable(kept.problems[p] for p in gone),
        chain.from_iterable(rows.problems[p] for p in now),
    )
    # The problems whose most recent check or answer went: counted again from their rows.
    counted = problems.checks_of(session, course, sorted(again), people)
    sums.problems.update(problem_sums.of_checks(counted))
    _seen_since(session, course, sums, kept, rows)
    return sums


def _seen_since(
    session: DbSession, course: Course, sums: Sums, before: replaced.Rows, now: replaced.Rows
) -> None:
    """The resources first met and the videos viewed, from the rows of everyone replaced as
    they were (`before`) and are (`now`): a resource whose first meeting was one of the rows
    replaced is looked up again (that learner's may be later now, or gone)."""
    first = sums.first_seen
    # Looked up again: where a replaced row met a resource first, unless the same learner
    # still meets it as early (as a rebuild of more events keeps it).
    again = set()
    for person in before.days:
        met = {(kind, resource): at for resource, kind, at in now.resources[person]}
        for resource, kind, at in before.resources[person]:
            key = (kind, resource)
            if first.get(key) == at and not met.get(key, at + 1) <= at:
                again.add(key)
    for person in before.days:
        add_counts(sums.viewed, dict.fromkeys((v for v, _runs in before.viewings[person]), 1), -1)
        add_counts(sums.viewed, dict.fromkeys((v for v, _runs in now.viewings[person]), 1))
        for resource, kind, at in now.resources[person]:
            key = (kind, resource)
            if key not in again and (key not in first or at < first[key]):
                first[key] = at
    # (Looked up by resource: a scan of the course's every learner's resources, none if none.)
    found = names.first_seen(session, course, sorted({r for _kind, r in again})) if again else {}
    for key in again:
        if key in found:
            first[key] = found[key]
        else:
            first.pop(key, None)


def follow_problems(
    found: dict[str, ProblemSums],
    before: Iterable[tuple[Any, ...]],
    after: Iterable[tuple[Any, ...]],
) -> set[str]:
    """Follow the problems' sums through some learners' problem rows replaced: those `before`
    out, those `after` in; the problems to count again from their rows (taken out of the
    sums). A learner's row of a problem the same before and after is left as it is, one that
    changed is replaced in the sums (ProblemSums.replace: a learner replaced keeps most of
    their rows, and their own later check takes the place of their earlier one)."""
    old = {(row[0], row[1]): row for row in before}
    new = {(row[0], row[1]): row for row in after}
    for key in new.keys() - old.keys():
        check = problems.check_of(new[key])
        sums = found.get(check.problem_id)
        if sums is None:
            sums = found[check.problem_id] = ProblemSums()
        sums.add(check)
    again: set[str] = set()
    for key in old.keys() & new.keys():
        problem = key[1]
        if old[key] == new[key] or problem in again:
            continue
        held = found.get(problem)
        if held is None or not held.replace(
            problems.check_of(old[key]), problems.check_of(new[key])
        ):
            again.add(problem)
            found.pop(problem, None)
    gone = [old[key] for key in old.keys() - new.keys() if key[1] not in again]
    return again | count_out(found, gone)


def count_out(found: dict[str, ProblemSums], rows: Iterable[tuple[Any, ...]]) -> set[str]:
    """Count some learners' problem rows out of the sums; the problems to count again from
    their rows (taken out of the sums), as ProblemSums.take_out says."""
    again: set[str] = set()
    for check in map(problems.check_of, rows):
        problem = check.problem_id
        if problem in again:
            continue
        held = found.get(problem)
        if held is None or not held.take_out(check):
            again.add(problem)
            found.pop(problem, None)
        elif not held.learners:
            del found[problem]
    return again


def _less_shared(
    before: replaced.Rows, after: replaced.Rows, people: set[int]
) -> tuple[replaced.Rows, replaced.Rows]:
    """Some learners' rows as they were and are, less the viewings, days, resources and weeks
    each had the same in both (each of a learner's is one of its table's keys: none twice)."""
    old: dict[str, dict[int, list[Any]]] = {}
    new: dict[str, dict[int, list[Any]]] = {}
    for kind in ("viewings", "days", "resources", "weeks"):
        was, now = getattr(before, kind), getattr(after, kind)
        old[kind], new[kind] = dict(was), dict(now)
        for person in people:
            mine, theirs = was[person], now[person]
            shared = set(mine).intersection(theirs)
            if shared:
                old[kind][person] = [row for row in mine if row not in shared]
                new[kind][person] = [row for row in theirs if row not in shared]
    return replace(before, **old), replace(after, **new)


def _of_rows(rows: replaced.Rows, people: list[int], durations: Mapping[str, float | None]) -> Sums:
    """The sums of some learners' rows."""
    return Sums(
        of_viewings(
            # By video: of_viewings works a video's viewings together (they come by learner).
            sorted(
                chain.from_iterable(rows.viewings[person] for person in people), key=itemgetter(0)
            ),
            durations,
            chain.from_iterable(rows.days[person] for person in people),
        ),
        Counter(
            (resource, kind)
            for person in people
            for resource, kind, _first in rows.resources[person]
        ),
        weeks=Counter(
            (str(week), label) for person in people for week, label in rows.weeks[person]
        ),
    )


def state(
    session: DbSession,
    course: Course,
    people: set[int],
    sums: Sums,
    durations: Mapping[str, float | None],
) -> dict[str, Any]:
    """The sums as stored, with what since() checks: the activity they are of, the class and
    the durations they were counted with."""
    mark = session.scalar(select(Course.updated_at).where(Course.id == course.id))
    return {
        "activity": replaced.activity_mark(mark),
        "people": sorted(people),
        "durations": dict(durations),
        "videos": sums.videos.as_json(),
        "opened": sorted(
            [resource, kind, count] for (resource, kind), count in sums.opened.items()
        ),
        "problems": {problem: found.as_json() for problem, found in sorted(sums.problems.items())},
        "first_seen": sorted([*key, at] for key, at in sums.first_seen.items()),
        "viewed": dict(sorted(sums.viewed.items())),
        "weeks": sorted([week, label, count] for (week, label), count in sums.weeks.items()),
    }
