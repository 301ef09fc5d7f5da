"""Synthetic activity for the demo course: sessions of page views, videos and problems.

Fed through the real EventSink, so the demo's reports come from the same rollups as real data.
"""

from __future__ import annotations

import json
import random
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import Course, Enrollment, PersonIdentity, Platform
from lti_tool.sync.events import EventSink, IncomingEvent

DEMO_VIDEOS = {  # video id -> duration in seconds
    "a1b2c3d4e5f60718293a4b5c6d7e8f90": 312.0,
    "0f9e8d7c6b5a49382716a5b4c3d2e1f0": 545.0,
    "11223344556677889900aabbccddeeff": 198.0,
    "ffeeddccbbaa00998877665544332211": 421.0,
}
WEEKS = 6


def load_demo_activity(session: Session, platform: Platform, course: Course, seed: int = 7) -> int:
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
            for event in _session(rng, clock):
                name, source, data, at = event
                raw = json.dumps([sub, name, at, data], sort_keys=True).encode()
                sink.add(IncomingEvent(key, sub, "lti_sub", at, name, source, data, raw))
    counts = sink.finish()
    session.commit()
    return counts.received


def _session(rng: random.Random, clock: float) -> list[tuple[str, str, dict, float]]:
    """One study session: a few pages, a video watched (maybe not to the end), a problem."""
    events: list[tuple[str, str, dict, float]] = []
    for _ in range(rng.randint(1, 4)):
        events.append(("/courses/demo/courseware", "server", {}, clock))
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
        problem = f"block-v1:demo+type@problem+block@p{rng.randint(1, 8)}"
        success = "correct" if rng.random() < 0.7 else "incorrect"
        events.append(
            ("problem_check", "server", {"problem_id": problem, "success": success}, clock)
        )
        clock += rng.uniform(30, 300)
    return events
