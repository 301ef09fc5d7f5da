"""Synthetic data for the demo course: sessions of page views, videos and problems (fed through
the real EventSink, so the demo's reports come from the same rollups as real data), and what a
Canvas sync would bring (sections, homework and scores, modules and completion, LMS statistics).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from lti_tool.events.sink import EventSink, IncomingEvent
from lti_tool.models import (
    Assignment,
    Course,
    CourseBlock,
    CourseEvent,
    CourseModule,
    Enrollment,
    LmsEnrollment,
    LmsLearnerStats,
    ModuleProgress,
    PersonIdentity,
    Platform,
    Section,
    SectionMember,
    Submission,
    Video,
)
from lti_tool.models.types import DbSession

DEMO_VIDEOS = {  # video id -> duration in seconds
    "a1b2c3d4e5f60718293a4b5c6d7e8f90": 312.0,
    "0f9e8d7c6b5a49382716a5b4c3d2e1f0": 545.0,
    "11223344556677889900aabbccddeeff": 198.0,
    "ffeeddccbbaa00998877665544332211": 421.0,
}
WEEKS = 6
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
    for sub in learners:
        keenness = rng.random()  # some learners engage a lot, some hardly at all
        for day in range(WEEKS * 7):
            if rng.random() > 0.08 + 0.4 * keenness:
                continue
            clock = start + day * 86400 + rng.uniform(8, 21) * 3600
            for event in _session(rng, clock, day // 7):
                name, source, data, at = event
                raw = json.dumps([sub, name, at, data], sort_keys=True).encode()
                sink.add(IncomingEvent(key, sub, "lti_sub", at, name, source, data, raw))
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
        problem = usage_key("problem", f"p{rng.randint(1, 8)}")
        success = "correct" if rng.random() < 0.7 else "incorrect"
        events.append(
            ("problem_check", "server", {"problem_id": problem, "success": success}, clock)
        )
        clock += rng.uniform(30, 300)
    return events


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
                title=f"Homework {week + 1} due",
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
    _enrollment_dates(session, course, start, seed)
    session.commit()
    return True


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
