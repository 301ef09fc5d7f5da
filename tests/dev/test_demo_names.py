"""The demo course carries its outline as Open edX course blocks, so its pages show names: every
video, problem and page its activity names has a block (one problem is left unnamed on purpose),
and the demo's counts stay what they were."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from lti_tool.dev.demo_activity import DEMO_VIDEOS
from lti_tool.extensions import db
from lti_tool.kpis import names
from lti_tool.models import Course, CourseBlock, Enrollment, LearnerResource, Video
from tests.helpers.database import dev_app


def test_demo_names_what_its_activity_touches(tmp_path: Path) -> None:
    app = dev_app(tmp_path)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    # The same events as before the demo had an outline: its page views name subsections now,
    # drawn without the random generator, which makes every other choice as it did.
    assert "demo activity: 2522 events" in result.output, result.output
    assert runner.invoke(args=["demo", "load"]).exit_code == 0  # again: nothing doubles
    with app.app_context():
        course = db.session.scalar(select(Course))
        assert course is not None
        assert (
            db.session.scalar(select(func.count()).select_from(Enrollment)) == 27
        )  # 24 + a TA + the LMS users
        blocks = {
            b.block_id: b
            for b in db.session.scalars(
                select(CourseBlock).where(CourseBlock.course_id == course.id)
            )
        }
        chapters = sorted(
            (b.position, b.display_name) for b in blocks.values() if b.block_type == "chapter"
        )
        assert chapters[0] == (0, "Week 1: Getting started with data") and len(chapters) == 6
        videos = dict(
            db.session.execute(
                select(Video.video_id, Video.display_name).where(Video.course_id == course.id)
            ).all()
        )
        assert set(videos) == set(DEMO_VIDEOS) and all(videos.values())
        known = names.course_names(db.session, course)
        opened = db.session.execute(
            select(LearnerResource.kind, LearnerResource.resource_id)
            .where(LearnerResource.course_id == course.id)
            .distinct()
        ).all()
        assert {kind for kind, _id in opened} == {"page", "video", "problem"}
        unnamed = {(kind, rid) for kind, rid in opened if (kind, rid) not in known.known}
        assert unnamed == {("problem", "block-v1:demo+type@problem+block@p8")}
        assert known.name("problem", "block-v1:demo+type@problem+block@p8") == "Problem 8"
        assert known.video("a1b2c3d4e5f60718293a4b5c6d7e8f90") == "Welcome to data science"
