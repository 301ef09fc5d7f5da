"""kpis.names: videos, problems and pages by their course names (else "Video N" in course
order), event types and activity labels in plain words."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.kpis import names
from lti_tool.kpis.reports import REPORTS, to_csv
from lti_tool.models import (
    Course,
    CourseBlock,
    LearnerResource,
    Person,
    Video,
    VideoLearnerViews,
    WeeklyActivity,
)

# Open edX usage keys as the course blocks API gives them; video events name a video by the
# last part (its url_name, 32 hex), problem_check by the whole key, courseware URLs a
# subsection by its url_name.
ROOT = "block-v1:edX+DemoX+2026+type@course+block@course"
WEEK1 = "block-v1:edX+DemoX+2026+type@chapter+block@week1"
WEEK2 = "block-v1:edX+DemoX+2026+type@chapter+block@week2"
LESSON1 = "block-v1:edX+DemoX+2026+type@sequential+block@lesson1"
LESSON2 = "block-v1:edX+DemoX+2026+type@sequential+block@lesson2"
UNIT1 = "block-v1:edX+DemoX+2026+type@vertical+block@unit1"
UNIT2 = "block-v1:edX+DemoX+2026+type@vertical+block@unit2"
HEX_A = "f00dfeedbeefcafe0123456789abcdef"  # sorts last, comes first in the course
HEX_B = "0b9e39477cdb4b3a8e5b9e5f2c2e0c3f"
HEX_C = "7777777777777777aaaaaaaaaaaaaaaa"
HEX_D = "1234567890abcdef1234567890abcdef"  # in events only
PROBLEM = "block-v1:edX+DemoX+2026+type@problem+block@d1b84dcd39b0423d9e288f27f0f7f242"


def video_key(hex_id: str) -> str:
    return f"block-v1:edX+DemoX+2026+type@video+block@{hex_id}"


def outline() -> list[tuple[str, str, str, str | None, int | None]]:
    """A course of two weeks; listed out of course order, as a query may return them."""
    return [
        (video_key(HEX_B), "video", "", UNIT2, 0),  # week 2: the third video
        (UNIT2, "vertical", "Unit", LESSON2, 0),
        (LESSON2, "sequential", "", WEEK2, 0),
        (WEEK2, "chapter", "Week 2: Cleaning", ROOT, 1),
        (video_key(HEX_C), "video", "", UNIT1, 1),  # week 1, second: the second video
        (PROBLEM, "problem", "Spot the untidy column", UNIT1, 2),
        (video_key(HEX_A), "video", "Welcome to data science", UNIT1, 0),
        (UNIT1, "vertical", "Unit", LESSON1, 0),
        (LESSON1, "sequential", "Tidy tables", WEEK1, 0),
        (WEEK1, "chapter", "Week 1: Getting started", ROOT, 0),
        (ROOT, "course", "Demo", None, None),
    ]


def test_a_block_names_the_video_problem_and_page_its_events_use() -> None:
    seen = [("video", HEX_A), ("problem", PROBLEM), ("page", "lesson1")]
    known = names.build_names(outline(), seen)
    assert known.video(HEX_A) == "Welcome to data science"
    assert known.name("problem", PROBLEM) == "Spot the untidy column"
    assert known.name("page", "lesson1") == "Tidy tables"
    shown = known.shown("video", HEX_A)
    assert (shown.text, shown.id, shown.known) == ("Welcome to data science", HEX_A, True)


def test_unnamed_ones_are_numbered_in_course_order_with_the_id_behind() -> None:
    # HEX_D is in no block: it comes after the course's three videos.
    seen = [("video", HEX_D), ("video", HEX_B), ("video", HEX_C), ("page", "lesson2")]
    known = names.build_names(outline(), seen)
    assert known.video(HEX_C) == "Video 2"  # the second video of week 1
    assert known.video(HEX_B) == "Video 3"  # week 2's
    assert known.video(HEX_D) == "Video 4"
    assert known.name("page", "lesson2") == "Page 2"
    shown = known.shown("video", HEX_B)
    assert (shown.text, shown.id, shown.known) == ("Video 3", HEX_B, False)
    assert known.video("never-seen") == "Unnamed video"
    # Pages list them in course order; ids no block holds after, unknown ones last.
    videos = ["never-seen", HEX_D, HEX_B, HEX_A, HEX_C]
    assert sorted(videos, key=lambda v: known.rank("video", v)) == [
        HEX_A,
        HEX_C,
        HEX_B,
        HEX_D,
        "never-seen",
    ]


def test_without_blocks_the_order_of_first_appearance_counts() -> None:
    seen = [("video", HEX_C), ("problem", PROBLEM), ("video", HEX_A), ("page", "lesson9")]
    known = names.build_names([], seen, {HEX_B: "From the LMS", HEX_D: None})
    # HEX_B has a name of its own and takes no number.
    assert [known.video(v) for v in (HEX_C, HEX_A, HEX_D)] == ["Video 1", "Video 2", "Video 3"]
    assert known.video(HEX_B) == "From the LMS"  # Video.display_name, when no block names it
    assert known.name("problem", PROBLEM) == "Problem 1"
    assert known.name("page", "lesson9") == "Page 1"


def test_event_types_in_plain_words() -> None:
    assert names.event_words("problem_check") == "checked an answer"
    assert names.event_words("play_video") == "played a video"
    assert names.event_words("pause_video") == "paused a video"
    assert names.event_words("edx.video.played") == "played a video"
    assert names.event_words("seq_goto") == "opened a unit"
    # Unknown types: readable, never the code itself.
    assert names.event_words("edx.forum.thread.created") == "forum thread created"
    assert names.event_words("http://adlnet.gov/expapi/verbs/experienced") == "experienced"
    assert names.event_words("labStepDone") == "lab step done"
    assert names.event_words(f"edx.bookmark.{HEX_A}.added") == "bookmark added"
    # A page view (a tracking log names it by its URL) says which page it opened.
    known = names.build_names(outline(), [("page", "lesson1"), ("video", HEX_C)])
    url = "/courses/course-v1:edX+DemoX+2026/courseware/week1/lesson1/"
    assert known.event(url, None, "activity") == ("opened Tidy tables", None)
    assert names.event_words("/courses/course-v1:edX+DemoX+2026/progress") == (
        "opened a course page"
    )
    words, thing = known.event("play_video", HEX_C, "video")
    assert words == "played a video" and thing == names.Shown("Video 2", HEX_C, False)


def test_activity_labels_in_plain_words() -> None:
    assert names.activity_label("ATTEMPTED_PROBLEM") == "Attempted a problem"
    assert names.activity_label("ACTIVE") == "Active"
    assert names.activity_label("PLAYED_VIDEO") == "Played a video"
    assert names.activity_label("POSTED_FORUM") == "Posted in the forum"
    assert names.activity_label("SUBMITTED_LAB") == "Submitted lab"
    assert names.sentence("opened Week 1") == "Opened Week 1"


def test_course_names_reads_blocks_videos_and_first_appearance(app: Flask) -> None:
    with app.app_context():
        course = Course(lti_context_id="names-1")
        person = Person(name="P")
        db.session.add_all([course, person])
        db.session.flush()
        db.session.add_all(
            [
                CourseBlock(
                    course_id=course.id,
                    block_id=b,
                    block_type=t,
                    display_name=n,
                    parent_id=p,
                    position=i,
                )
                for b, t, n, p, i in outline()
            ]
        )
        db.session.add(Video(course_id=course.id, video_id=HEX_D, display_name="Lab tour"))
        for resource, first in (("zzz", 20.0), ("aaa", 30.0)):  # seen: zzz first
            db.session.add(
                LearnerResource(
                    course_id=course.id,
                    person_id=person.id,
                    resource_id=resource,
                    kind="video",
                    first_time=first,
                    events=1,
                )
            )
        db.session.commit()
        course = db.session.scalar(select(Course).where(Course.lti_context_id == "names-1"))
        known = names.course_names(db.session, course)
        assert known.video(HEX_A) == "Welcome to data science"
        assert known.video(HEX_D) == "Lab tour"
        assert (known.video("zzz"), known.video("aaa")) == ("Video 4", "Video 5")
        assert names.module_name("", 3) == "Module 3" and names.module_name("Intro", 1) == "Intro"


def test_reports_keep_ids_and_add_names_beside_them(app: Flask) -> None:
    with app.app_context():
        course = Course(lti_context_id="names-2", lms_course_id="course-v1:edX+DemoX+2026")
        person = Person(name="P")
        db.session.add_all([course, person])
        db.session.flush()
        for block_id, kind, name, parent, position in outline():
            db.session.add(
                CourseBlock(
                    course_id=course.id,
                    block_id=block_id,
                    block_type=kind,
                    display_name=name,
                    parent_id=parent,
                    position=position,
                )
            )
        for video in (HEX_A, HEX_B):
            db.session.add(Video(course_id=course.id, video_id=video, duration=60.0))
            db.session.add(
                VideoLearnerViews(
                    course_id=course.id, person_id=person.id, video_id=video, runs=b"[0,11]"
                )
            )
        db.session.add(
            WeeklyActivity(
                course_id=course.id,
                week_start=date(2026, 3, 2),
                label="ATTEMPTED_PROBLEM",
                person_id=person.id,
            )
        )
        db.session.commit()
        course = db.session.scalar(select(Course).where(Course.lti_context_id == "names-2"))
        expected = {HEX_A: "Welcome to data science", HEX_B: "Video 3"}
        for report in ("video-summary", "video-timeline", "learner-video"):
            rows = REPORTS[report].run(db.session, course)
            assert rows and {r["video_id"]: r["video_name"] for r in rows} == expected
            fields = REPORTS[report].fields
            assert fields[fields.index("video_id") + 1] == "video_name"
            # JSON rows read in the same order: the name right after the id.
            keys = list(rows[0])
            assert keys[keys.index("video_id") + 1] == "video_name"
            header, *lines = to_csv(rows, fields).splitlines()
            assert "video_id,video_name" in header
            assert any(f"{HEX_B},Video 3," in line for line in lines)
        [weekly] = REPORTS["weekly-activity"].run(db.session, course)
        assert (weekly["label"], weekly["label_name"]) == (
            "ATTEMPTED_PROBLEM",
            "Attempted a problem",
        )
