"""Open edX tracking-log parsing and file reading (lti_tool.tracking_logs.parse)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from lti_tool.activity.video import VIDEO_EVENT_NAMES, video_id
from lti_tool.tracking_logs import parse as tracking_log
from lti_tool.tracking_logs.parse import (
    BAD_LINE_REASONS,
    MAX_LINE_BYTES,
    BadLine,
    NoUser,
    RawLine,
    TrackingEvent,
    TruncatedFile,
    iter_paths,
    open_decompressed,
    parse_line,
    read_lines,
)

COURSE = "course-v1:edX+DemoX+Demo_Course"
OLD_COURSE = "edX/DemoX/Demo_Course"
VIDEO_HASH = "0b9e39477cdb4b3a8e5b9e5f2c2e0c3f"
T0 = datetime(2026, 3, 2, 10, 15, 30, 123456, tzinfo=UTC).timestamp()

BROWSER_PLAY = (
    b'{"username": "learner1", "event_type": "play_video", "ip": "10.0.0.1", '
    b'"agent": "Mozilla/5.0", "host": "courses.example.org", '
    b'"session": "a6b5c4d3e2f1a6b5c4d3e2f1a6b5c4d3", '
    b'"referer": '
    b'"https://courses.example.org/courses/course-v1:edX+DemoX+Demo_Course/courseware/", '
    b'"accept_language": "en", '
    b'"event": "{\\"id\\":\\"i4x-edX-DemoX-video-0b9e39477cdb4b3a8e5b9e5f2c2e0c3f\\",'
    b'\\"currentTime\\":12.3,\\"code\\":\\"html5\\",\\"duration\\":195.0}", '
    b'"event_source": "browser", "context": {"course_id": "course-v1:edX+DemoX+Demo_Course", '
    b'"org_id": "edX", "path": "/event", "user_id": 17}, '
    b'"time": "2026-03-02T10:15:30.123456+00:00", '
    b'"page": "https://courses.example.org/courses/course-v1:edX+DemoX+Demo_Course/courseware/a/b/"}'
)


def server_problem_check(**overrides: Any) -> dict[str, Any]:
    """A server problem_check event as the LMS writes it (payload is an object)."""
    usage_key = "block-v1:edX+DemoX+Demo_Course+type@problem+block@a0effb954cca4759994f1ac9e9434bf4"
    event: dict[str, Any] = {
        "username": "learner2",
        "event_type": "problem_check",
        "ip": "10.0.0.2",
        "agent": "Mozilla/5.0",
        "host": "courses.example.org",
        "referer": f"https://courses.example.org/courses/{COURSE}/courseware/",
        "accept_language": "en",
        "event": {
            "submission": {
                "a0effb954cca4759994f1ac9e9434bf4_2_1": {
                    "input_type": "choicegroup",
                    "question": "Which of these is a fruit?",
                    "response_type": "multiplechoiceresponse",
                    "answer": "Apple",
                    "variant": "",
                    "correct": True,
                }
            },
            "success": "correct",
            "grade": 1,
            "max_grade": 1,
            "attempts": 2,
            "answers": {"a0effb954cca4759994f1ac9e9434bf4_2_1": "choice_1"},
            "correct_map": {"a0effb954cca4759994f1ac9e9434bf4_2_1": {"correctness": "correct"}},
            "state": {"seed": 1, "done": None, "student_answers": {}},
            "problem_id": usage_key,
        },
        "event_source": "server",
        "context": {
            "course_id": COURSE,
            "org_id": "edX",
            "path": f"/courses/{COURSE}/xblock/{usage_key}/handler/xmodule_handler/problem_check",
            "user_id": 18,
            "course_user_tags": {},
            "module": {"display_name": "Fruit question", "usage_key": usage_key},
        },
        "time": "2026-03-02T10:15:30.123456+00:00",
        "page": "x_module",
    }
    event.update(overrides)
    return event


def dumps(obj: Any) -> bytes:
    """One log line for an object."""
    return orjson.dumps(obj)


def reason_of(raw: bytes) -> str:
    """The BadLine reason parse_line gives for a line (fails the test if none)."""
    with pytest.raises(BadLine) as caught:
        parse_line(raw)
    assert caught.value.reason in BAD_LINE_REASONS
    return caught.value.reason


# --- the three line shapes -----------------------------------------------------------------


def test_browser_play_video_with_string_payload() -> None:
    event = parse_line(BROWSER_PLAY)
    assert event == TrackingEvent(
        time=T0,
        course_key=COURSE,
        user_id="17",
        username="learner1",
        name="play_video",
        source="browser",
        data={
            "id": f"i4x-edX-DemoX-video-{VIDEO_HASH}",
            "currentTime": 12.3,
            "code": "html5",
            "duration": 195.0,
        },
        ip="10.0.0.1",  # the top-level `ip`
    )
    assert VIDEO_EVENT_NAMES[event.name] == "play"
    assert video_id(event.data["id"]) == VIDEO_HASH


def test_server_problem_check_with_object_payload() -> None:
    event = parse_line(dumps(server_problem_check()))
    assert event is not None
    assert (event.name, event.source, event.user_id, event.username) == (
        "problem_check",
        "server",
        "18",
        "learner2",
    )
    assert event.course_key == COURSE
    assert event.data["success"] == "correct"
    assert event.data["attempts"] == 2


def test_logging_prefixed_line() -> None:
    prefix = b"2023-05-23 13:53:13,461 INFO 20 [tracking] [user 17] [ip 10.0.0.1] logger.py:41 - "
    event = parse_line(prefix + BROWSER_PLAY)
    assert event == parse_line(BROWSER_PLAY)


def test_logging_prefixed_line_with_anonymous_user_prefix_and_crlf() -> None:
    prefix = b"2023-05-23 13:53:13,461 INFO 20 [tracking] [user None] [ip None] logger.py:41 - "
    event = parse_line(prefix + dumps(server_problem_check()) + b"\r")
    assert event is not None
    assert event.name == "problem_check"


def test_processed_eventtracking_shape() -> None:
    # As in event-routing-backends processors/tests/fixtures/current/*.json.
    processed = {
        "name": "edx.grades.problem.submitted",
        "timestamp": "2026-03-02T10:15:30.123456+00:00",
        "context": {
            "course_id": COURSE,
            "course_user_tags": {},
            "event_source": "server",
            "host": "courses.example.org",
            "ip": "10.0.0.3",
            "org_id": "edX",
            "path": "/courses/x/xblock/y/handler/xmodule_handler/problem_check",
            "session": "",
            "user_id": 19,
            "username": "learner3",
            "module": {"display_name": "Q1", "usage_key": "block-v1:edX+DemoX+Demo_Course"},
        },
        "data": {
            "problem_id": "block-v1:edX+DemoX+Demo_Course+type@problem+block@abc",
            "weighted_earned": 1,
            "weighted_possible": 2,
            "event_transaction_id": "1f4f8a0b-8d5e-4f6c-9a2d-3b1e6c7d8e9f",
        },
    }
    event = parse_line(dumps(processed))
    assert event == TrackingEvent(
        time=T0,
        course_key=COURSE,
        user_id="19",
        username="learner3",
        name="edx.grades.problem.submitted",
        source="server",
        data=processed["data"],
        ip="10.0.0.3",  # the processed shape has it in the context
    )


def test_processed_shape_course_from_context_page() -> None:
    processed = {
        "name": "edx.ui.lms.link_clicked",
        "timestamp": "2026-03-02T10:15:30Z",
        "context": {
            "course_id": "",
            "event_source": "browser",
            "page": f"https://learning.example.org/course/{COURSE}/block-v1:edX+DemoX+x",
            "user_id": "20",
            "username": "learner4",
        },
        "data": {"current_url": "x", "target_url": "y"},
    }
    event = parse_line(dumps(processed))
    assert event is not None
    assert (event.course_key, event.source, event.user_id) == (COURSE, "browser", "20")


# --- names, payloads, sources --------------------------------------------------------------


def test_name_supersedes_event_type_for_mobile_video() -> None:
    mobile = {
        "name": "edx.video.played",
        "event_type": "edx.video.played",
        "event_source": "mobile",
        "username": "learner5",
        "time": "2026-03-02T10:15:30.123456+00:00",
        "context": {
            "course_id": COURSE,
            "user_id": 21,
            "application": {"name": "edx.mobileapp.android", "version": "4.0"},
            "component": "videoplayer",
        },
        "event": {
            "id": f"block-v1:edX+DemoX+Demo_Course+type@video+block@{VIDEO_HASH}",
            "currentTime": 3.0,
            "code": "mobile",
        },
        "page": f"https://courses.example.org/xblock/block-v1:edX+DemoX+Demo_Course+type@video+block@{VIDEO_HASH}",
    }
    event = parse_line(dumps(mobile))
    assert event is not None
    assert (event.name, event.source) == ("edx.video.played", "mobile")
    assert VIDEO_EVENT_NAMES[event.name] == VIDEO_EVENT_NAMES["play_video"] == "play"
    assert video_id(event.data["id"]) == VIDEO_HASH

    mobile["name"] = "edx.video.position.changed"
    renamed = parse_line(dumps(mobile))
    assert renamed is not None
    assert renamed.name == "edx.video.position.changed"  # not the stale event_type


def test_video_event_names_cover_legacy_and_new() -> None:
    pairs = {
        "play": ("play_video", "edx.video.played"),
        "pause": ("pause_video", "edx.video.paused"),
        "seek": ("seek_video", "edx.video.position.changed"),
        "stop": ("stop_video", "edx.video.stopped"),
        "load": ("load_video", "edx.video.loaded"),
        "complete": ("complete_video", "edx.video.completed"),
    }
    for kind, names in pairs.items():
        for name in names:
            assert VIDEO_EVENT_NAMES[name] == kind
    assert len(VIDEO_EVENT_NAMES) == 12


def test_legacy_seek_video_payload_string() -> None:
    seek = orjson.loads(BROWSER_PLAY)
    seek["event_type"] = "seek_video"
    seek["event"] = orjson.dumps(
        {"id": VIDEO_HASH, "old_time": 10.0, "new_time": 42.5, "type": "onSlideSeek"}
    ).decode()
    event = parse_line(dumps(seek))
    assert event is not None
    assert VIDEO_EVENT_NAMES[event.name] == "seek"
    assert (event.data["old_time"], event.data["new_time"]) == (10.0, 42.5)
    assert video_id(event.data["id"]) == VIDEO_HASH


def test_browser_problem_check_url_encoded_payload_gives_empty_data() -> None:
    check = orjson.loads(BROWSER_PLAY)
    check["event_type"] = "problem_check"
    check["event"] = "input_a0effb954cca4759994f1ac9e9434bf4_2_1=choice_1"
    event = parse_line(dumps(check))
    assert event is not None
    assert (event.name, event.source, event.data) == ("problem_check", "browser", {})


@pytest.mark.parametrize("payload", ["{not json", "", None, 42, ["a"], '{"a": 1} trailing'])
def test_payload_that_is_not_an_object_gives_empty_data(payload: Any) -> None:
    line = orjson.loads(BROWSER_PLAY)
    line["event"] = payload
    event = parse_line(dumps(line))
    assert event is not None
    assert event.data == {}


def test_task_events_keep_their_source() -> None:
    task = server_problem_check(
        event_type="edx.grades.subsection.grade_calculated",
        event_source="task",
        username="",
        event={"user_id": "18", "course_id": COURSE, "weighted_total_earned": 3.0},
    )
    task["context"]["user_id"] = None
    event = parse_line(dumps(task))
    assert event is not None
    assert (event.source, event.user_id, event.username) == ("task", "18", None)


def test_missing_event_source_is_empty() -> None:
    line = server_problem_check()
    del line["event_source"]
    event = parse_line(dumps(line))
    assert event is not None
    assert event.source == ""


# --- users -------------------------------------------------------------------------------


def test_blank_username_uses_context_user_id() -> None:
    event = parse_line(dumps(server_problem_check(username="")))
    assert event is not None
    assert (event.user_id, event.username) == ("18", None)


def test_string_user_id_is_kept_and_stripped() -> None:
    line = server_problem_check()
    line["context"]["user_id"] = " 18 "
    event = parse_line(dumps(line))
    assert event is not None
    assert event.user_id == "18"


def test_server_grade_event_with_blank_context_user_uses_payload_user_id() -> None:
    grade = server_problem_check(
        event_type="edx.grades.course.grade_calculated",
        username="",
        event={
            "user_id": 18,
            "course_id": COURSE,
            "percent_grade": 0.75,
            "letter_grade": "Pass",
            "course_edited_timestamp": "2026-03-01T09:00:00+00:00",
        },
    )
    grade["context"]["user_id"] = ""
    event = parse_line(dumps(grade))
    assert event is not None
    assert (event.user_id, event.username, event.name) == (
        "18",
        None,
        "edx.grades.course.grade_calculated",
    )


def test_enrollment_by_management_command_anonymous_username_uses_payload() -> None:
    enrollment = server_problem_check(
        event_type="edx.course.enrollment.activated",
        name="edx.course.enrollment.activated",
        username="anonymous",
        event={"course_id": COURSE, "user_id": 22, "mode": "audit"},
    )
    enrollment["context"]["user_id"] = None
    event = parse_line(dumps(enrollment))
    assert event is not None
    assert (event.user_id, event.username) == ("22", None)


def test_browser_payload_user_id_is_not_trusted() -> None:
    line = orjson.loads(BROWSER_PLAY)
    line["username"] = ""
    line["context"]["user_id"] = None
    line["event"] = orjson.dumps({"id": VIDEO_HASH, "user_id": 99}).decode()
    with pytest.raises(NoUser):
        parse_line(dumps(line))


@pytest.mark.parametrize("username", ["", "   ", "anonymous", None])
def test_no_user_at_all_raises_no_user(username: str | None) -> None:
    page_view = {
        "username": username,
        "event_type": f"/courses/{COURSE}/about",
        "event_source": "server",
        "event": '{"POST": {}, "GET": {}}',
        "context": {"course_id": COURSE, "org_id": "edX", "path": "/", "user_id": ""},
        "time": "2026-03-02T10:15:30+00:00",
    }
    with pytest.raises(NoUser):
        parse_line(dumps(page_view))


def test_username_alone_is_enough() -> None:
    line = orjson.loads(BROWSER_PLAY)
    del line["context"]["user_id"]
    event = parse_line(dumps(line))
    assert event is not None
    assert (event.user_id, event.username) == (None, "learner1")


# --- courses -------------------------------------------------------------------------------


def test_old_style_course_id_kept_as_is() -> None:
    line = server_problem_check()
    line["context"]["course_id"] = f"  {OLD_COURSE} "
    event = parse_line(dumps(line))
    assert event is not None
    assert event.course_key == OLD_COURSE


def test_course_from_payload_when_context_blank() -> None:
    line = server_problem_check(event={"course_id": OLD_COURSE, "user_id": 18, "mode": "honor"})
    line["context"]["course_id"] = ""
    event = parse_line(dumps(line))
    assert event is not None
    assert event.course_key == OLD_COURSE


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (f"https://courses.example.org/courses/{COURSE}/courseware/a/b/", COURSE),
        (f"https://courses.example.org/courses/{OLD_COURSE}/courseware/a/b/", OLD_COURSE),
        (f"https://courses.example.org/courses/{OLD_COURSE}", OLD_COURSE),
        (f"https://courses.example.org/courses/{COURSE}?activate_block_id=x", COURSE),
        ("https://courses.example.org/courses/course-v1:edX%2BDemoX%2BDemo_Course/info", COURSE),
        (f"https://learning.example.org/course/{COURSE}/home", COURSE),
    ],
)
def test_course_from_page_url(page: str, expected: str) -> None:
    line = orjson.loads(BROWSER_PLAY)
    line["context"]["course_id"] = ""
    line["page"] = page
    event = parse_line(dumps(line))
    assert event is not None
    assert event.course_key == expected


@pytest.mark.parametrize("course", [COURSE, OLD_COURSE])
def test_course_from_implicit_page_view_path(course: str) -> None:
    page_view = {
        "username": "learner1",
        "event_type": f"/courses/{course}/courseware/interactive_demonstrations/basic_questions/",
        "ip": "10.0.0.1",
        "agent": "Mozilla/5.0",
        "host": "courses.example.org",
        "referer": "https://courses.example.org/dashboard",
        "accept_language": "en",
        "event": '{"POST": {}, "GET": {}}',
        "event_source": "server",
        "context": {"course_id": "", "org_id": "", "path": "/x", "user_id": 17},
        "time": "2026-03-02T10:15:30.123456",
        "page": None,
    }
    event = parse_line(dumps(page_view))
    assert event is not None
    assert event.course_key == course
    assert event.name == page_view["event_type"]
    assert event.data == {"POST": {}, "GET": {}}


# --- time ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "2013-12-17T15:47:46.151234+00:00",
        "2013-12-17T15:47:46.151234",
        "2013-12-17T15:47:46.151234Z",
        "2013-12-17T16:47:46.151234+01:00",
    ],
)
def test_time_forms_are_utc(stamp: str) -> None:
    line = server_problem_check(time=stamp)
    event = parse_line(dumps(line))
    assert event is not None
    assert event.time == datetime(2013, 12, 17, 15, 47, 46, 151234, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("stamp", ["2013-12-17T15:47:46Z", "2013-12-17T15:47:46"])
def test_time_without_fraction(stamp: str) -> None:
    event = parse_line(dumps(server_problem_check(time=stamp)))
    assert event is not None
    assert event.time == 1387295266.0


# --- lines to skip and bad lines ------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   ", b"\t \r", b"# a comment", b"   # indented {x}"])
def test_blank_and_comment_lines_are_skipped(raw: bytes) -> None:
    assert parse_line(raw) is None


def test_reasons_are_stable_keys() -> None:
    assert BAD_LINE_REASONS == (
        "invalid_utf8",
        "line_too_long",
        "broken_json",
        "wrong_types",
        "missing_time",
        "missing_course",
    )
    assert BadLine("broken_json").reason == "broken_json"


def test_ten_megabyte_line_is_rejected_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_parse(_: Any) -> Any:
        raise AssertionError("parsed a line that is too long")

    monkeypatch.setattr(tracking_log.orjson, "loads", must_not_parse)
    huge = b'{"event": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert reason_of(huge) == "line_too_long"
    assert reason_of(b"   " + huge) == "line_too_long"


def test_line_at_the_limit_is_parsed() -> None:
    line = orjson.loads(BROWSER_PLAY)
    line["agent"] = ""
    base = len(dumps(line))
    line["agent"] = "x" * (MAX_LINE_BYTES - base)
    raw = dumps(line)
    assert len(raw) == MAX_LINE_BYTES
    assert parse_line(raw) is not None
    line["agent"] += "x"
    assert reason_of(dumps(line)) == "line_too_long"


def test_invalid_utf8() -> None:
    assert reason_of(BROWSER_PLAY.replace(b"learner1", b"learner\xff\xfe")) == "invalid_utf8"
    prefix = b"2023-05-23 13:53:13,461 INFO 20 [tracking] [user \xc3] logger.py:41 - "
    assert reason_of(prefix + BROWSER_PLAY) == "invalid_utf8"
    assert reason_of(b"\xff\xfe not json") == "invalid_utf8"


@pytest.mark.parametrize(
    "raw",
    [
        BROWSER_PLAY[:-1],
        b'{"username": "learner1", "event_type": "play_video",}',
        b"this is not json",
        b"2023-05-23 13:53:13,461 INFO 20 [tracking] logger.py:41 - {broken",
        BROWSER_PLAY + b" trailing",
        b'{"a": "\\ud800"}',
    ],
)
def test_broken_json(raw: bytes) -> None:
    assert reason_of(raw) == "broken_json"


@pytest.mark.parametrize(
    "raw",
    [
        BROWSER_PLAY.replace(b"learner1", b"learner\\u0000"),  # a field of the line
        BROWSER_PLAY.replace(b'\\"html5', b'\\"html5\\\\u0000'),  # inside the event string
        BROWSER_PLAY.replace(b"learner1", b"learner\\\\u0000"),  # the text "\u0000" itself
        b"2023-05-23 13:53:13,461 INFO x.py:41 - " + BROWSER_PLAY.replace(b'"en"', b'"\\u0000"'),
    ],
)
def test_an_escaped_nul_anywhere_in_the_line_is_broken_json(raw: bytes) -> None:
    assert b"\\u0000" in raw
    assert reason_of(raw) == "broken_json"
    assert parse_line(raw.replace(b"\\u0000", b"\\u0001")) is not None  # the same line without


@pytest.mark.parametrize(
    "raw",
    [
        b"[1, 2, 3]",
        b'[{"event_type": "play_video"}]',
        b'"play_video"',
        b"42",
        b"null",
        dumps(server_problem_check(event_type=5)),
        dumps(server_problem_check(event_type=None)),
        dumps(server_problem_check(name=["edx.video.played"])),
        dumps(server_problem_check(context="course-v1:edX+DemoX+Demo_Course")),
        dumps(server_problem_check(time=1387295266)),
        dumps(server_problem_check(time={"$date": "2013-12-17T15:47:46Z"})),
        dumps(server_problem_check(event_source=1)),
        dumps(server_problem_check(username=17)),
        dumps(server_problem_check(context={"course_id": COURSE, "user_id": {"id": 1}})),
        dumps(server_problem_check(context={"course_id": 5, "user_id": 18})),
    ],
)
def test_wrong_types(raw: bytes) -> None:
    assert reason_of(raw) == "wrong_types"


@pytest.mark.parametrize("stamp", [None, "", "yesterday", "2013-13-45T99:00:00"])
def test_missing_or_unparseable_time(stamp: str | None) -> None:
    line = server_problem_check(time=stamp)
    assert reason_of(dumps(line)) == "missing_time"
    del line["time"]
    assert reason_of(dumps(line)) == "missing_time"


def test_missing_course() -> None:
    dashboard = server_problem_check(
        event_type="/dashboard", page="https://courses.example.org/dashboard", event="{}"
    )
    dashboard["context"]["course_id"] = ""
    assert reason_of(dumps(dashboard)) == "missing_course"
    del dashboard["context"]
    assert reason_of(dumps(dashboard)) == "missing_course"


# --- video ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_id", "expected"),
    [
        (f"i4x-edX-DemoX-video-{VIDEO_HASH}", VIDEO_HASH),
        (
            "block-v1:edX+DemoX+Demo_Course+type@video+block@5c90cffecd9b48b188cbfea176bf7fe9",
            "5c90cffecd9b48b188cbfea176bf7fe9",
        ),
        (VIDEO_HASH, VIDEO_HASH),
        (f" {VIDEO_HASH} ", VIDEO_HASH),
        (f"i4x://edX/DemoX/video/{VIDEO_HASH}", VIDEO_HASH),
        ("i4x-MITx-6_002x-video-Welcome", "Welcome"),
    ],
)
def test_video_id(raw_id: str, expected: str) -> None:
    assert video_id(raw_id) == expected


# --- reading files -------------------------------------------------------------------------


def sample_lines(count: int) -> list[bytes]:
    """Distinct realistic lines (varying user, time and position so gzip cannot squash them)."""
    template = orjson.loads(BROWSER_PLAY)
    lines = []
    for i in range(count):
        template["context"]["user_id"] = 1000 + i
        template["username"] = f"learner{i}"
        template["time"] = f"2026-03-02T10:{i // 60 % 60:02d}:{i % 60:02d}.{i * 7919 % 10**6:06d}"
        template["event"] = orjson.dumps(
            {"id": VIDEO_HASH, "currentTime": (i * 7.31) % 195, "code": "html5"}
        ).decode()
        template["session"] = hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest()
        lines.append(dumps(template))
    return lines


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    """Write data to path, gzipped if asked."""
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_read_lines_plain_and_gz(tmp_path: Path, gz: bool) -> None:
    lines = sample_lines(50)
    # The name hides the compression: it is detected from the content.
    path = write(tmp_path / "tracking.log", b"\n".join(lines) + b"\n", gz=gz)
    got = list(read_lines(path))
    assert [r.raw for r in got] == lines
    assert [r.number for r in got] == list(range(1, 51))
    offset = 0
    for raw_line, line in zip(got, lines, strict=True):
        offset += len(line) + 1
        assert raw_line.end_offset == offset
    events = [parse_line(r.raw) for r in got]
    assert all(isinstance(e, TrackingEvent) for e in events)


def test_read_lines_crlf(tmp_path: Path) -> None:
    lines = sample_lines(3)
    path = write(tmp_path / "win.log", b"\r\n".join(lines) + b"\r\n")
    got = list(read_lines(path))
    assert [r.raw for r in got] == lines
    assert got[-1].end_offset == path.stat().st_size


@pytest.mark.parametrize("gz", [False, True])
def test_read_lines_resumes_from_offset(tmp_path: Path, gz: bool) -> None:
    lines = sample_lines(20)
    data = b"\n".join(lines) + b"\n" + b"\n" + b"# comment\n"
    path = write(tmp_path / "tracking.log.1", data, gz=gz)
    first = list(read_lines(path))
    stop = first[6]
    rest = list(read_lines(path, start_offset=stop.end_offset, start_line=stop.number))
    assert rest == first[7:]
    assert [r.number for r in rest] == list(range(8, 23))
    assert rest[0].raw == lines[7]
    assert [r.raw for r in rest[-2:]] == [b"", b"# comment"]


def test_read_lines_from_the_end_yields_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "t.log", b"\n".join(sample_lines(3)) + b"\n")
    size = path.stat().st_size
    assert list(read_lines(path, start_offset=size, start_line=3)) == []


def test_unterminated_last_line_waits_until_the_file_grows(tmp_path: Path) -> None:
    lines = sample_lines(4)
    path = tmp_path / "tracking.log"
    path.write_bytes(lines[0] + b"\n" + lines[1] + b"\n" + lines[2][:100])
    got = list(read_lines(path))
    assert [r.raw for r in got] == lines[:2]
    last = got[-1]

    with path.open("ab") as f:
        f.write(lines[2][100:] + b"\r\n" + lines[3])
    more = list(read_lines(path, start_offset=last.end_offset, start_line=last.number))
    assert [(r.number, r.raw) for r in more] == [(3, lines[2])]

    with path.open("ab") as f:
        f.write(b"\n")
    final = list(read_lines(path, start_offset=more[-1].end_offset, start_line=3))
    assert [(r.number, r.raw, r.end_offset) for r in final] == [(4, lines[3], path.stat().st_size)]


def test_truncated_gz_raises_after_the_good_lines(tmp_path: Path) -> None:
    lines = sample_lines(3000)
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    path = write(tmp_path / "tracking.log-20260302.gz", whole[: len(whole) * 2 // 3])
    got: list[RawLine] = []
    with pytest.raises(TruncatedFile):
        for raw_line in read_lines(path):
            got.append(raw_line)
    assert 0 < len(got) < len(lines)
    assert [r.raw for r in got] == lines[: len(got)]
    assert [r.number for r in got] == list(range(1, len(got) + 1))


def test_corrupt_gz_raises_truncated_file(tmp_path: Path) -> None:
    lines = sample_lines(3000)
    whole = bytearray(gzip.compress(b"\n".join(lines) + b"\n"))
    middle = len(whole) // 2
    whole[middle : middle + 64] = bytes(64)
    path = write(tmp_path / "bad.gz", bytes(whole))
    got: list[RawLine] = []
    with pytest.raises(TruncatedFile):
        for raw_line in read_lines(path):
            got.append(raw_line)
    # gzip checks its CRC only at the end, so only the lines before the damage are known good.
    assert got[0].raw == lines[0]


def test_truncated_gz_before_resume_offset(tmp_path: Path) -> None:
    whole = gzip.compress(b"\n".join(sample_lines(3000)) + b"\n")
    path = write(tmp_path / "cut.gz", whole[: len(whole) // 2])
    with pytest.raises(TruncatedFile):
        list(read_lines(path, start_offset=10**9, start_line=99))


def test_overlong_line_in_a_file_keeps_memory_flat_and_numbering(tmp_path: Path) -> None:
    lines = sample_lines(2)
    huge = b'{"event": "' + b"y" * (3 * MAX_LINE_BYTES) + b'"}'
    data = lines[0] + b"\n" + huge + b"\n" + lines[1] + b"\n"
    path = write(tmp_path / "big.log", data)
    got = list(read_lines(path))
    assert [r.number for r in got] == [1, 2, 3]
    assert MAX_LINE_BYTES < len(got[1].raw) < 2 * MAX_LINE_BYTES
    with pytest.raises(BadLine) as caught:
        parse_line(got[1].raw)
    assert caught.value.reason == "line_too_long"
    assert got[2].raw == lines[1]
    assert [r.end_offset for r in got] == [
        len(lines[0]) + 1,
        len(lines[0]) + len(huge) + 2,
        len(data),
    ]


def test_read_lines_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        list(read_lines(tmp_path / "nope.log"))


def test_read_lines_on_a_folder_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        list(read_lines(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_read_lines_unreadable_file_raises_oserror(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.log", b"{}\n")
    path.chmod(0)
    with pytest.raises(PermissionError):
        list(read_lines(path))


# --- fingerprints --------------------------------------------------------------------------


def test_open_decompressed(tmp_path: Path) -> None:
    data = b"\n".join(sample_lines(3000)) + b"\n"
    for path in (write(tmp_path / "p.log", data), write(tmp_path / "z.log", data, gz=True)):
        with open_decompressed(path) as stream:
            assert stream.read(4096) == data[:4096]
            assert stream.read() == data[4096:]
            assert stream.read(10) == b""


def test_open_decompressed_damaged_gz_gives_its_head_then_raises(tmp_path: Path) -> None:
    # Small and cut short: fewer readable bytes than asked for, as a short rotated file can be.
    data = "".join(f"line {i} of a short log\n" for i in range(400)).encode()
    whole = gzip.compress(data)
    cut = write(tmp_path / "cut.log.gz", whole[: len(whole) * 2 // 3])
    with open_decompressed(cut) as stream:
        head = stream.read(len(data))
        assert 0 < len(head) < len(data)
        assert data.startswith(head)
        with pytest.raises(TruncatedFile):
            stream.read(4096)
    with open_decompressed(cut) as stream, pytest.raises(TruncatedFile):
        while stream.read(1024):
            pass
    nothing = write(tmp_path / "header-only.gz", whole[:12])
    with open_decompressed(nothing) as stream, pytest.raises(TruncatedFile):
        stream.read(4096)


# --- paths -----------------------------------------------------------------------------------


def test_iter_paths_walks_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "b_server").mkdir(parents=True)
    (logs / ".git").mkdir()
    for name in [
        "tracking.log",
        "tracking.log-20260301.gz",
        ".tracking.log.swp",
        "a.log",
        "b_server/tracking.log",
        ".git/HEAD",
    ]:
        (logs / name).write_bytes(b"")
    single = tmp_path / ".hidden-but-given.log"
    single.write_bytes(b"")

    got = list(iter_paths([logs, str(single), tmp_path / "missing.log"]))
    assert got == [
        logs / "a.log",
        logs / "b_server" / "tracking.log",
        logs / "tracking.log",
        logs / "tracking.log-20260301.gz",
        single,
        tmp_path / "missing.log",
    ]


# --- read_chunks ---------------------------------------------------------------------------


def readline_reference(data: bytes, limit: int) -> list[tuple[int, bytes, int]]:
    """What reading line by line with readline(limit) gives: (number, raw, end offset).

    The reader before chunks, kept as the oracle: an overlong line is its first `limit` bytes,
    an unterminated last line is not a line yet.
    """
    stream = io.BytesIO(data)
    out, offset = [], 0
    while line := stream.readline(limit):
        if line[-1] == 10:
            offset += len(line)
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        elif len(line) < limit:
            break
        else:
            rest = b""
            while not rest.endswith(b"\n"):
                more = stream.readline(limit)
                if not more:
                    return out
                rest += more
            offset += len(line) + len(rest)
        out.append((len(out) + 1, line, offset))
    return out


@pytest.mark.parametrize("size", [1, 7, 64, 333, 100_000])
@pytest.mark.parametrize("gz", [False, True])
def test_read_chunks_give_the_lines_readline_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, gz: bool
) -> None:
    # A read limit of 60 bytes makes overlong lines cheap: every size meets lines that are
    # short, exactly at the limit, spanning many reads, and ending with "\r\n".
    monkeypatch.setattr(tracking_log, "_READ_LIMIT", 60)
    rng = random.Random(size)
    lines = []
    for _ in range(300):
        length = rng.choice([0, 1, 5, 40, 58, 59, 60, 61, 62, 150, 700])
        lines.append(bytes(rng.choice(b"abc{}\r ") for _ in range(length)))
    data = b"\n".join(lines) + rng.choice([b"\n", b"", b"\r\n", b"tail"])
    path = write(tmp_path / "t.log", data, gz=gz)
    chunks = list(tracking_log.read_chunks(path, size=size))
    got, number = [], 0
    for chunk in chunks:
        for raw in chunk.raw_lines():
            number += 1
            got.append((number, raw))
    expected = readline_reference(data, 60)
    assert got == [(n, raw) for n, raw, _end in expected]
    assert [(r.number, r.raw, r.end_offset) for r in read_lines(path)] == expected
    assert chunks[-1].end_offset == expected[-1][2]
    # Resuming after any line gives the rest.
    stop = expected[len(expected) // 2]
    rest = list(read_lines(path, start_offset=stop[2], start_line=stop[0]))
    assert [(r.number, r.raw, r.end_offset) for r in rest] == expected[stop[0] :]


def test_a_plain_file_chunk_is_read_where_it_is_parsed_and_checks_the_file(tmp_path: Path) -> None:
    lines = sample_lines(20)
    path = write(tmp_path / "tracking.log", b"\n".join(lines) + b"\n")
    [chunk] = tracking_log.read_chunks(path)
    assert chunk.data == b"" and chunk.source is not None  # only where the lines are
    assert chunk.raw_lines() == lines
    # logrotate moved another file into its place: not the lines this chunk meant.
    replacement = write(tmp_path / "new.log", b"\n".join(reversed(lines)) + b"\n")
    replacement.replace(path)
    with pytest.raises(OSError, match="replaced or truncated"):
        chunk.raw_lines()


def test_an_ip_that_is_not_text_is_no_address_and_the_event_stays_good() -> None:
    line = orjson.loads(BROWSER_PLAY)
    for odd in (12345, ["10.0.0.1"], {"ip": "10.0.0.1"}, None, ""):
        event = parse_line(dumps({**line, "ip": odd}))
        assert event is not None and event.ip is None
        assert event.name == "play_video"
