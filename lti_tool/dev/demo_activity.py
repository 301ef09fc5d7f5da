"""Synthetic data for the demo course: sessions of page views, videos and problems (fed through
the real EventSink, so the demo's reports come from the same rollups as real data), and what a
Canvas sync would bring (sections, homework and scores, modules and completion, LMS statistics).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from sqlalchemy import select

from lti_tool.activity.countries import last_countries
from lti_tool.activity.rollups import week_start
from lti_tool.events.sink import EventSink, IncomingEvent
from lti_tool.models import (
    Assignment,
    Course,
    CourseBlock,
    CourseEvent,
    CourseModule,
    CourseSettings,
    Enrollment,
    LmsEnrollment,
    LmsLearnerStats,
    ModuleProgress,
    PersonIdentity,
    Platform,
    ScoreSnapshot,
    Section,
    SectionMember,
    Submission,
    SyncRun,
    Video,
)
from lti_tool.models.sync import DEMO_TRIGGER
from lti_tool.models.types import DbSession

#: The demo course's pass mark (percent), as its staff would have set it.
DEMO_PASS_MARK = 50.0
DEMO_VIDEOS = {  # video id -> duration in seconds
    "a1b2c3d4e5f60718293a4b5c6d7e8f90": 312.0,
    "0f9e8d7c6b5a49382716a5b4c3d2e1f0": 545.0,
    "11223344556677889900aabbccddeeff": 198.0,
    "ffeeddccbbaa00998877665544332211": 421.0,
}
WEEKS = 6
# Where the demo's learners study from: public addresses of universities and registries (their
# countries come from the same offline table as real logs'), one learner after another; one is
# on a private network, whose country is unknown. Countries with fewer learners than the privacy
# floor show as "Other countries".
DEMO_ADDRESSES = (
    ["8.8.4.4"] * 7  # United States
    + ["130.206.1.2"] * 6  # Spain
    + ["158.38.0.1"] * 5  # Norway
    + ["132.248.1.1", "132.248.1.1", "200.7.6.134", "131.111.150.25", "1.0.16.1"]
    + ["10.0.0.8"]
)
# The demo course's outline, as an Open edX sync stores it (CourseBlock): week sections
# (chapters) of subsections (the pages courseware URLs name), each a unit of videos and
# problems. Videos and problems carry the ids the demo's events use: a video block's url_name
# is the video events' 32-hex id, a problem's usage key the problem_check's problem_id. One
# problem has no name, as an author may leave it: the pages call it "Problem 8".
DEMO_KEY = "demo"  # the course part of the demo's usage keys and courseware URLs
OutlineItem = tuple[str, str, str]  # block type, url_name (a video's: its events' id), name
OutlinePage = tuple[str, str, tuple[OutlineItem, ...]]  # subsection url_name, name, items
OutlineWeek = tuple[str, str, tuple[OutlinePage, ...]]  # chapter url_name, name, subsections
DEMO_OUTLINE: tuple[OutlineWeek, ...] = (
    (
        "week-1",
        "Week 1: Getting started with data",
        (
            (
                "w1-tour",
                "Welcome and course tour",
                (
                    ("video", "a1b2c3d4e5f60718293a4b5c6d7e8f90", "Welcome to data science"),
                    ("problem", "p1", "Quick check: what is a dataset?"),
                ),
            ),
            ("w1-notebook", "Your first notebook", (("problem", "p2", "Loading a CSV file"),)),
        ),
    ),
    (
        "week-2",
        "Week 2: Cleaning data",
        (
            (
                "w2-tidy",
                "Tidy tables",
                (
                    ("video", "0f9e8d7c6b5a49382716a5b4c3d2e1f0", "Cleaning a messy table"),
                    ("problem", "p3", "Spot the untidy column"),
                ),
            ),
            ("w2-missing", "Missing values", (("problem", "p4", "Filling the gaps"),)),
        ),
    ),
    (
        "week-3",
        "Week 3: Describing data",
        (
            (
                "w3-histograms",
                "Summaries and histograms",
                (
                    ("video", "11223344556677889900aabbccddeeff", "Reading a histogram"),
                    ("problem", "p5", "Where is the peak?"),
                ),
            ),
            ("w3-quartiles", "Medians and quartiles", (("problem", "p6", "Which is the median?"),)),
        ),
    ),
    (
        "week-4",
        "Week 4: Relationships",
        (
            (
                "w4-lines",
                "Scatter plots and lines",
                (
                    ("video", "ffeeddccbbaa00998877665544332211", "Fitting a straight line"),
                    ("problem", "p7", "Slope and intercept"),
                ),
            ),
            ("w4-causation", "Correlation is not causation", (("problem", "p8", ""),)),
        ),
    ),
    (
        "week-5",
        "Week 5: Classification",
        (("w5-neighbours", "Nearest neighbours", ()), ("w5-accuracy", "Measuring accuracy", ())),
    ),
    (
        "week-6",
        "Week 6: Your project",
        (("w6-question", "Choosing a question", ()), ("w6-results", "Presenting results", ())),
    ),
)


def usage_key(block_type: str, name: str) -> str:
    """The usage key of one of the demo course's blocks."""
    return f"block-v1:{DEMO_KEY}+type@{block_type}+block@{name}"


def page_url(week: int, page: int) -> str:
    """The courseware URL of a week's page, as a tracking log names a page view."""
    chapter, _title, pages = DEMO_OUTLINE[min(week, len(DEMO_OUTLINE) - 1)]
    return f"/courses/{DEMO_KEY}/courseware/{chapter}/{pages[page % len(pages)][0]}/"


def load_demo_blocks(session: DbSession, course: Course) -> bool:
    """Give the demo course what an Open edX sync would bring: its outline as course blocks,
    and its videos' names. Idempotent: a course with blocks is left alone."""
    if session.scalar(select(CourseBlock.block_id).where(CourseBlock.course_id == course.id)):
        return False
    root = usage_key("course", "course")

    def add(block_type: str, name: str, title: str, parent: str | None, position: int) -> str:
        key = usage_key(block_type, name)
        session.add(
            CourseBlock(
                course_id=course.id,
                block_id=key,
                block_type=block_type,
                display_name=title,
                parent_id=parent,
                position=position,
                duration=DEMO_VIDEOS.get(name),
            )
        )
        return key

    add("course", "course", course.title or "Demo course", None, 0)
    for week, (chapter, chapter_title, pages) in enumerate(DEMO_OUTLINE):
        chapter_key = add("chapter", chapter, chapter_title, root, week)
        for index, (page, page_title, items) in enumerate(pages):
            page_key = add("sequential", page, page_title, chapter_key, index)
            unit = add("vertical", f"{page}-unit", page_title, page_key, 0)
            for position, (block_type, name, title) in enumerate(items):
                add(block_type, name, title, unit, position)
                if block_type == "video":
                    video = session.get(Video, (course.id, name))
                    if video is None:
                        video = Video(course_id=course.id, video_id=name)
                        session.add(video)
                    video.display_name, video.duration = title, DEMO_VIDEOS[name]
    session.commit()
    return True


def load_demo_activity(
    session: DbSession, platform: Platform, course: Course, seed: int = 7
) -> int:
    """Generate ~6 weeks of activity for the course's active learners; returns events received."""
    rng = random.Random(seed)
    learners = session.execute(
        select(PersonIdentity.value)
        .join(Enrollment, Enrollment.person_id == PersonIdentity.person_id)
        .where(
            Enrollment.course_id == course.id,
            Enrollment.course_role == "learner",
            PersonIdentity.kind == "lti_sub",
            PersonIdentity.platform_id == platform.id,
        )
        .order_by(PersonIdentity.value)
    ).scalars()
    sink = EventSink(session, platform)
    key = course.lms_course_id or course.lti_context_id or str(course.id)
    start = time.time() - WEEKS * 7 * 86400
    latest: dict[tuple[str, str, str], tuple[float, str]] = {}
    for number, sub in enumerate(learners):
        keenness = rng.random()  # some learners engage a lot, some hardly at all
        for day in range(WEEKS * 7):
            if rng.random() > 0.08 + 0.4 * keenness:
                continue
            clock = start + day * 86400 + rng.uniform(8, 21) * 3600
            for event in _session(rng, clock, day // 7):
                name, source, data, at = event
                raw = json.dumps([sub, name, at, data], sort_keys=True).encode()
                sink.add(IncomingEvent(key, sub, "lti_sub", at, name, source, data, raw))
                address = DEMO_ADDRESSES[number % len(DEMO_ADDRESSES)]
                latest[(key, "lti_sub", sub)] = (at, address)
    sink.add_countries(last_countries(latest))
    counts = sink.finish()
    session.commit()
    return counts.received


def _session(
    rng: random.Random, clock: float, week: int
) -> list[tuple[str, str, dict[str, Any], float]]:
    """One study session: a few of the week's pages, a video watched (maybe not to the end), a
    problem. (The pages follow from the week, not the generator: the demo's events stay the
    same in number whatever pages they open.)"""
    events: list[tuple[str, str, dict[str, Any], float]] = []
    for page in range(rng.randint(1, 4)):
        events.append((page_url(week, page), "server", {}, clock))
        clock += rng.uniform(20, 240)
    video, duration = rng.choice(list(DEMO_VIDEOS.items()))
    position = 0.0
    while position < duration and rng.random() < 0.85:
        watch = min(duration - position, rng.uniform(30, 180))
        base = {"id": video, "duration": duration, "code": "html5"}
        events.append(("play_video", "browser", {**base, "currentTime": position}, clock))
        clock += watch
        position += watch
        events.append(("pause_video", "browser", {**base, "currentTime": position}, clock))
        clock += rng.uniform(2, 30)
    for _ in range(rng.randint(0, 2)):
        number = rng.randint(1, 8)
        success = "correct" if rng.random() < 0.7 else "incorrect"
        data = {"problem_id": usage_key("problem", f"p{number}"), "success": success}
        events.append(
            ("problem_check", "server", {**data, **_answer(number, success, clock)}, clock)
        )
        clock += rng.uniform(30, 300)
    return events


# Each demo problem's question, its answers (the right one first) and its response type.
DEMO_ANSWERS: dict[int, tuple[str, tuple[str, ...], str]] = {
    1: ("What is a dataset?", ("A table of observations", "A chart", "A single number"), "choice"),
    2: ("How do you load a CSV file?", ("With pandas", "By hand", "With a chart"), "choice"),
    3: ("Which column is untidy?", ("Date and city", "Temperature", "Station"), "choice"),
    4: ("Fill a gap with…", ("the median", "zero", "the next value"), "choice"),
    5: ("When do visits peak?", ("Week 3", "Week 1", "Week 5"), "choice"),
    6: ("The median of 3, 7, 9?", ("7", "6.5", "9"), "numerical"),
    7: ("The slope of y = 2.5x + 1?", ("2.5", "1", "25"), "numerical"),
    8: ("Does correlation prove causation?", ("No", "Yes"), "choice"),
}


def _answer(number: int, success: str, clock: float) -> dict[str, Any]:
    """A check's answer in the tracking log's shape: the right one when it succeeded, else a
    wrong one chosen by the clock (no random draw: the demo's other figures stay as they were)."""
    question, answers, kind = DEMO_ANSWERS[number]
    index = 0 if success == "correct" else 1 + int(clock) % (len(answers) - 1)
    part = f"p{number}_2_1"
    submission: dict[str, Any] = {
        "answer": answers[index],
        "correct": index == 0,
        "question": question,
        "variant": "",
        "response_type": "multiplechoiceresponse" if kind == "choice" else "numericalresponse",
        "input_type": "choicegroup" if kind == "choice" else "formulaequationinput",
    }
    raw = f"choice_{index}" if kind == "choice" else answers[index]
    return {
        "answers": {part: raw},
        "submission": {part: submission},
        "correct_map": {part: {"correctness": success}},
    }


def load_demo_lms(session: DbSession, course: Course, seed: int = 11) -> bool:
    """Give the demo course what a Canvas sync would bring: two sections, weekly homework with
    due dates and scores, weekly modules with completion, and per-learner LMS statistics.

    Idempotent: a course that already has sections is left alone. Returns True when it loaded.
    """
    if session.scalar(select(Section.id).where(Section.course_id == course.id).limit(1)):
        return False
    rng = random.Random(seed)
    people = list(
        session.scalars(
            select(Enrollment.person_id)
            .where(Enrollment.course_id == course.id, Enrollment.course_role == "learner")
            .order_by(Enrollment.person_id)
        )
    )
    now = datetime.now(UTC)
    start = (now - timedelta(days=WEEKS * 7)).replace(hour=0, minute=0, second=0, microsecond=0)
    sections = [
        Section(course_id=course.id, lms_section_id=f"demo-{n}", name=name)
        for n, name in enumerate(("Section A (Tuesday lab)", "Section B (Thursday lab)"))
    ]
    session.add_all(sections)
    session.flush()
    for index, person_id in enumerate(people):
        session.add(SectionMember(section_id=sections[index % 2].id, person_id=person_id))
    ability = {person_id: rng.random() for person_id in people}
    assignments = []
    for week in range(WEEKS + 1):  # the last one is due next week
        due = start + timedelta(days=7 * week + 6, hours=23, minutes=59)
        assignment = Assignment(
            course_id=course.id,
            lms_assignment_id=f"demo-hw-{week + 1}",
            name=f"Homework {week + 1}",
            due_at=due,
            points_possible=10.0,
            position=week + 1,
        )
        session.add(assignment)
        assignments.append(assignment)
        session.add(
            CourseEvent(
                course_id=course.id,
                source="canvas",
                lms_id=assignment.lms_assignment_id,
                kind="due",
                title=assignment.name,
                at=due,
            )
        )
    session.add(
        CourseEvent(
            course_id=course.id,
            source="staff",
            kind="exam",
            title="Midterm",
            at=start + timedelta(days=7 * 3 + 2, hours=10),
        )
    )
    modules = []
    for week in range(WEEKS):
        module = CourseModule(
            course_id=course.id,
            lms_module_id=f"demo-module-{week + 1}",
            name=DEMO_OUTLINE[week][1],
            position=week + 1,
            items_required=4,
        )
        session.add(module)
        modules.append(module)
    session.flush()
    for person_id in people:
        skill = ability[person_id]
        earned = possible = 0.0
        late = missing = on_time = 0
        for assignment in assignments:
            if assignment.due_at is None or assignment.due_at > now:
                continue  # not due yet
            possible += 10.0
            # Missing work gathers among the weakest, as in a real class: a typical learner
            # misses about one homework in ten, a strong one almost none.
            if rng.random() < 0.6 * (1 - skill) ** 3:
                missing += 1
                session.add(
                    Submission(assignment_id=assignment.id, person_id=person_id, missing=True)
                )
                continue
            score = round(min(10.0, max(0.0, rng.gauss(4 + 6 * skill, 1.5))), 1)
            is_late = rng.random() < 0.2 * (1 - skill)
            late += is_late
            on_time += not is_late
            earned += score
            session.add(
                Submission(
                    assignment_id=assignment.id,
                    person_id=person_id,
                    score=score,
                    submitted_at=assignment.due_at - timedelta(hours=rng.uniform(-30, 48)),
                    graded_at=assignment.due_at + timedelta(days=2),
                    late=is_late,
                    workflow_state="graded",
                )
            )
        done_total = 0
        for week, module in enumerate(modules):
            opened = start + timedelta(days=7 * week)
            if opened > now:
                continue
            # Most learners finish most items; the weakest fall behind week after week.
            done = min(4, int(rng.random() * 1.5 + 1 + skill * 3.2))
            done_total += done
            session.add(
                ModuleProgress(
                    module_id=module.id,
                    person_id=person_id,
                    items_required=4,
                    items_done=done,
                    state="completed" if done == 4 else "started" if done else "unlocked",
                    completed_at=opened + timedelta(days=rng.uniform(1, 6)) if done == 4 else None,
                )
            )
        graded = earned / (possible - 10.0 * missing) * 100 if possible > 10.0 * missing else None
        session.add(
            LmsLearnerStats(
                course_id=course.id,
                person_id=person_id,
                source="canvas",
                total_activity_seconds=int(3600 * (1 + 20 * skill * rng.uniform(0.6, 1.4))),
                last_activity_at=now - timedelta(hours=rng.uniform(2, 24 * 12 * (1 - skill))),
                current_score=round(graded, 1) if graded is not None else None,
                final_score=round(earned / possible * 100, 1) if possible else None,
                page_views=int(50 + 600 * skill),
                participations=int(5 + 40 * skill),
                missing=missing,
                late=late,
                on_time=on_time,
                requirements=4 * len(modules),
                requirements_done=done_total,
            )
        )
    _demo_history(session, course, start, now)
    _enrollment_dates(session, course, start, seed)
    session.commit()
    return True


def _demo_history(session: DbSession, course: Course, start: datetime, now: datetime) -> None:
    """What a tool that had synced the demo course every week would hold besides: each week's
    score snapshot (graded work only, as Canvas's current score), the pass mark staff set, and
    the sync run the data stands for (marked as demo data, since no LMS is connected)."""
    graded: dict[int, list[tuple[datetime, float]]] = {}
    for person_id, score, when in session.execute(
        select(Submission.person_id, Submission.score, Submission.graded_at)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.course_id == course.id, Submission.score.is_not(None))
    ):
        graded.setdefault(person_id, []).append((when, score))
    monday = week_start(start.date())
    while monday <= now.date():
        taken = min(now, datetime.combine(monday + timedelta(days=6), dt_time(23), UTC))
        for person_id, scores in graded.items():
            known = [score for when, score in scores if when <= taken]
            if known:
                value = round(sum(known) / (10.0 * len(known)) * 100, 1)
                session.add(
                    ScoreSnapshot(
                        course_id=course.id,
                        person_id=person_id,
                        week_start=monday,
                        score=value,
                        posted_score=value,
                        taken_at=taken,
                    )
                )
        monday += timedelta(days=7)
    if session.get(CourseSettings, course.id) is None:
        session.add(CourseSettings(course_id=course.id, risk_pass_mark=DEMO_PASS_MARK))
    session.add(
        SyncRun(
            course_id=course.id,
            source="canvas",
            status="succeeded",
            trigger=DEMO_TRIGGER,
            queued_at=now,
            started_at=now,
            finished_at=now,
            counts={"demo": True},
        )
    )


def _enrollment_dates(session: DbSession, course: Course, start: datetime, seed: int) -> None:
    """When each enrollment was made, as a Canvas sync keeps it: staff three weeks before the
    start, most learners in the two weeks before it, some in the first weeks of the course."""
    rng = random.Random(seed + 1)  # its own generator: the other demo figures stay as they were
    for person_id, role in session.execute(
        select(Enrollment.person_id, Enrollment.course_role)
        .where(Enrollment.course_id == course.id)
        .order_by(Enrollment.person_id)
    ):
        learner = role == "learner"
        days = rng.triangular(-14, 24, -2) if learner else -21.0
        session.add(
            LmsEnrollment(
                course_id=course.id,
                person_id=person_id,
                created_at=start + timedelta(days=days, hours=rng.uniform(8, 20)),
                mode="student" if learner else "other",
            )
        )
