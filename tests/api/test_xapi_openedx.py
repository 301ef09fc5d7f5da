"""Open edX's own xAPI statements (event-routing-backends v10.0.1) count like tracking logs.

The statements are built here in the shapes event-routing-backends' transformers document
(processors/xapi/transformer.py, constants.py, event_transformers/*.py): an account actor whose
name is the learner's xAPI uuid (not the LTI sub), the course URL in
context.contextActivities.parent (none on enrollment statements: their object is the course),
`en-US` course names, the transformer-version and session-id extensions, deterministic uuid5
statement ids. The values are made up.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from typing import Any

import orjson
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from lti_tool.activity.blocks import stored_events
from lti_tool.api import xapi
from lti_tool.extensions import db
from lti_tool.kpis.reports import REPORTS
from lti_tool.models import (
    Course,
    EnrollmentChange,
    LearnerProblem,
    PersonIdentity,
    XapiStatement,
)
from tests.helpers.api import bearer, make_token
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform

LMS = "https://lms.example.com"
COURSE = "course-v1:ExampleU+CS101+2025_T1"
CCX = "ccx-v1:ExampleU+CS101+2025_T1+ccx@3"
OLD = "ExampleU/CS101/2025_T1"
PROBLEM = "block-v1:ExampleU+CS101+2025_T1+type@problem+block@3fc5461f86764ad7bdbdf6cbdde61e66"
SEQUENCE_ID = "19a30717eff543078a5d94ae9d6c18a5"
SEQUENCE = f"block-v1:ExampleU+CS101+2025_T1+type@sequential+block@{SEQUENCE_ID}"
VIDEO_ID = "0b9e39477cf34507a7a48f74be381fdd"
HEADERS = {"X-Experience-API-Version": "1.0.3"}

COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
RESOURCE = "http://id.tincanapi.com/activitytype/resource"


def verb(iri: str) -> dict[str, Any]:
    return {"id": iri, "display": {"en": iri.rsplit("/", 1)[-1]}}


EVALUATED = verb("https://w3id.org/xapi/acrossx/verbs/evaluated")
ATTEMPTED = verb("http://adlnet.gov/expapi/verbs/attempted")
ANSWERED = verb("http://adlnet.gov/expapi/verbs/answered")
POSTED = verb("https://w3id.org/xapi/acrossx/verbs/posted")
REGISTERED = verb("http://adlnet.gov/expapi/verbs/registered")
UNREGISTERED = verb("http://id.tincanapi.com/verb/unregistered")
EARNED = verb("http://id.tincanapi.com/verb/earned")
PASSED = verb("http://adlnet.gov/expapi/verbs/passed")
NAVIGATED = verb("https://w3id.org/xapi/dod-isd/verbs/navigated")
PLAYED = verb("https://w3id.org/xapi/video/verbs/played")


def learner(n: int) -> str:
    """A learner's xAPI uuid (ExternalId type 'xapi')."""
    return str(uuid.UUID(int=n, version=4))


def account(user: str) -> dict[str, Any]:
    return {"objectType": "Agent", "account": {"homePage": LMS, "name": user}}


def course_parent(course: str = COURSE) -> dict[str, Any]:
    return {
        "parent": [
            {
                "id": f"{LMS}/course/{course}",
                "objectType": "Activity",
                "definition": {"name": {"en-US": "Intro to CS"}, "type": COURSE_TYPE},
            }
        ]
    }


TRANSFORMER = "https://w3id.org/xapi/openedx/extension/transformer-version"


def extensions(**more: Any) -> dict[str, Any]:
    return {
        TRANSFORMER: "event-routing-backends@10.0.0",
        "https://w3id.org/xapi/openedx/extensions/session-id": "6ad0a24d8303f49d14409a669d430b6f",
        **more,
    }


def erb(
    actor: dict[str, Any],
    the_verb: dict[str, Any],
    stamp: str,
    obj: dict[str, Any],
    context: dict[str, Any],
    result: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A statement as event-routing-backends builds it, id = uuid5(verb, actor-timestamp)."""
    name = f"{the_verb}-{actor}-{stamp}"
    body: dict[str, Any] = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, name)),
        "version": "1.0.3",
        "timestamp": stamp,
        "actor": actor,
        "verb": the_verb,
        "object": obj,
        "context": context,
    }
    if result is not None:
        body["result"] = result
    return body


def server_problem_check(
    actor: dict[str, Any], stamp: str, problem: str = PROBLEM, course: str = COURSE
) -> dict[str, Any]:
    """problem_check (server): evaluated, a cmi.interaction with the grade as result."""
    return erb(
        actor,
        EVALUATED,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{problem}",
            "definition": {
                "type": INTERACTION,
                "interactionType": "choice",
                "description": {"en-US": "Which are prime?"},
                "extensions": {"http://id.tincanapi.com/extension/attempt-id": 2},
            },
        },
        {"contextActivities": course_parent(course), "extensions": extensions()},
        {
            "success": False,
            "response": '["2", "9"]',
            "score": {"min": 0, "max": 1, "raw": 0, "scaled": 0},
        },
    )


def browser_problem_check(actor: dict[str, Any], stamp: str) -> dict[str, Any]:
    """problem_check (browser): attempted, no result."""
    return erb(
        actor,
        ATTEMPTED,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{PROBLEM}",
            "definition": {"type": INTERACTION, "interactionType": "other"},
        },
        {"contextActivities": course_parent(), "extensions": extensions()},
    )


def forum_post(actor: dict[str, Any], stamp: str) -> dict[str, Any]:
    """edx.forum.thread.created: posted, a discussion object."""
    return erb(
        actor,
        POSTED,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/api/discussion/v1/threads/64abcdfee68f35002fd013c6",
            "definition": {
                "type": "http://id.tincanapi.com/activitytype/discussion",
                "name": {"en": "Week 1 questions"},
            },
        },
        {
            "contextActivities": course_parent(),
            "extensions": extensions(
                **{"https://w3id.org/xapi/acrossx/extensions/type": "discussion"}
            ),
        },
    )


def enrollment(
    actor: dict[str, Any], stamp: str, the_verb: dict[str, Any] = REGISTERED, course: str = COURSE
) -> dict[str, Any]:
    """edx.course.enrollment.activated (registered) / deactivated (unregistered): the object is
    the course, and there is no contextActivities."""
    return erb(
        actor,
        the_verb,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/course/{course}",
            "definition": {
                "type": COURSE_TYPE,
                "name": {"en": "Intro to CS"},
                "extensions": {"https://w3id.org/xapi/acrossx/extensions/type": "audit"},
            },
        },
        {"extensions": extensions()},
    )


def subsection_grade(actor: dict[str, Any], stamp: str) -> dict[str, Any]:
    """edx.grades.subsection.grade_calculated: earned, with the score."""
    return erb(
        actor,
        EARNED,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{SEQUENCE}",
            "definition": {"type": RESOURCE},
        },
        {"contextActivities": course_parent(), "extensions": extensions()},
        {"success": True, "score": {"min": 0.0, "max": 3.0, "raw": 3.0, "scaled": 1.0}},
    )


def course_passed(actor: dict[str, Any], stamp: str) -> dict[str, Any]:
    """edx.course.grade.passed.first_time: passed, the course object, no contextActivities."""
    return erb(
        actor,
        PASSED,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/course/{COURSE}",
            "definition": {"type": COURSE_TYPE, "name": {"en": "Intro to CS"}, "extensions": {}},
        },
        {"extensions": extensions()},
    )


def next_selected(actor: dict[str, Any], stamp: str) -> dict[str, Any]:
    """edx.ui.lms.sequence.next_selected: navigated to the sequence's next unit."""
    return erb(
        actor,
        NAVIGATED,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{SEQUENCE}",
            "definition": {
                "type": RESOURCE,
                "extensions": {"https://w3id.org/xapi/acrossx/extensions/total-items": 10},
            },
        },
        {
            "contextActivities": course_parent(),
            "extensions": extensions(
                **{
                    "http://id.tincanapi.com/extension/starting-position": 4,
                    "http://id.tincanapi.com/extension/ending-point": "next unit",
                }
            ),
        },
    )


def play_video(actor: dict[str, Any], stamp: str, course: str, block: str) -> dict[str, Any]:
    """play_video: played, the video profile's time and length."""
    return erb(
        actor,
        PLAYED,
        stamp,
        {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{block}",
            "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"},
        },
        {
            "contextActivities": course_parent(course),
            "extensions": extensions(**{"https://w3id.org/xapi/video/extensions/length": 195.0}),
        },
        {"extensions": {"https://w3id.org/xapi/video/extensions/time": 0.033}},
    )


def erb_token(runner: FlaskCliRunner, platform: FakePlatform) -> str:
    """event-routing-backends' LRS secret: bound to the LMS's platform, creating its courses."""
    return make_token(runner, "erb", bind_platform=platform.name, may_create_courses=True)


def send(client: FlaskClient, token: str, statements: list[dict[str, Any]]) -> Any:
    return client.post("/xapi/statements", json=statements, headers={**bearer(token), **HEADERS})


def report(app: Flask, name: str, course_key: str) -> list[dict[str, Any]]:
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.lms_course_id == course_key))
        assert course is not None, course_key
        return REPORTS[name].run(db.session, course)


def weekly(app: Flask, course_key: str = COURSE) -> dict[str, int]:
    return {r["label"]: r["count"] for r in report(app, "weekly-activity", course_key)}


def stored_statements(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(XapiStatement)) or 0


# --- what counts as what -------------------------------------------------------------------


def test_openedx_statements_count_in_weekly_activity_as_their_tracking_log_events(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    # One learner per kind of statement, all in the week of Monday 2025-02-03.
    older_server = server_problem_check(account(learner(7)), "2025-02-04T10:00:00+00:00")
    older_server["verb"] = ANSWERED  # before v10: answered, with the grade as result
    older_browser = browser_problem_check(account(learner(8)), "2025-02-04T10:00:01+00:00")
    older_browser["verb"] = ANSWERED  # before v10: answered, without a result
    statements = [
        server_problem_check(account(learner(1)), "2025-02-03T14:39:26.906232+00:00"),
        browser_problem_check(account(learner(2)), "2025-02-03T14:39:26.580443+00:00"),
        forum_post(account(learner(3)), "2025-02-03T09:23:10.354202+00:00"),
        enrollment(account(learner(4)), "2025-02-03T06:36:01.917775+00:00"),
        enrollment(account(learner(4)), "2025-02-05T06:36:01+00:00", UNREGISTERED),
        subsection_grade(account(learner(5)), "2025-02-03T20:37:44.920732+00:00"),
        course_passed(account(learner(5)), "2025-02-03T20:37:45+00:00"),
        next_selected(account(learner(6)), "2025-02-03T14:06:42.424987+00:00"),
        older_server,
        older_browser,
    ]
    response = send(client, erb_token(runner, platform), statements)
    assert response.status_code == 200, response.json
    assert weekly(app) == {
        # 1, 2 (a browser check is activity), 3, 6 (navigation), 7, 8; not the enrollment
        # (4) nor the grades (5)
        "ACTIVE": 6,
        "ATTEMPTED_PROBLEM": 2,  # the server checks: evaluated (1), answered with a result (7)
        "POSTED_FORUM": 1,
    }
    with app.app_context():
        names = Counter((e.name, e.source, e.label) for e in stored_events(db.session))
    assert names == {
        ("problem_check", "server", "ATTEMPTED_PROBLEM"): 2,
        ("problem_check", "browser", None): 2,
        ("edx.forum.thread.created", "server", "POSTED_FORUM"): 1,
        ("edx.course.enrollment.activated", "server", None): 1,
        ("edx.course.enrollment.deactivated", "server", None): 1,
        ("edx.grades.subsection.grade_calculated", "task", None): 1,
        ("edx.course.grade.now_passed", "task", None): 1,
        (f"/courses/{COURSE}/courseware/{SEQUENCE_ID}/", "xapi", None): 1,
    }


def test_problems_and_navigation_reach_the_resources_report(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    other_problem = PROBLEM.replace("3fc5461f", "aaaa0000")
    statements = [
        server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00"),
        server_problem_check(account(learner(2)), "2025-02-03T15:00:00+00:00"),
        server_problem_check(account(learner(2)), "2025-02-03T15:01:00+00:00", other_problem),
        browser_problem_check(account(learner(3)), "2025-02-03T15:02:00+00:00"),  # no resource
        next_selected(account(learner(1)), "2025-02-03T14:06:42+00:00"),
        next_selected(account(learner(3)), "2025-02-03T15:03:00+00:00"),
        forum_post(account(learner(3)), "2025-02-03T15:04:00+00:00"),  # no resource
        enrollment(account(learner(4)), "2025-02-03T06:36:01+00:00"),  # not a learner of it
    ]
    assert send(client, erb_token(runner, platform), statements).status_code == 200
    rows = [(r["resource"], r["kind"], r["learners"]) for r in report(app, "resources", COURSE)]
    # The problem under the id a tracking-log problem_check gives (its usage key), the
    # subsection under the id a courseware page view gives (its url_name).
    assert sorted(rows) == sorted(
        [(PROBLEM, "problem", 2), (other_problem, "problem", 1), (SEQUENCE_ID, "page", 2)]
    )


def test_the_sub_questions_of_a_problem_are_not_attempts_of_their_own() -> None:
    # A problem with two questions: the problem's statement (a GroupActivity with the score),
    # then one per question, pointing at it.
    group = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
    group["object"]["objectType"] = "GroupActivity"
    question = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
    question["id"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, "child"))
    question["object"]["id"] += "_2_1"
    question["context"]["statement"] = {"objectType": "StatementRef", "id": group["id"]}
    question["context"]["contextActivities"] = {
        "parent": [group["object"]],
        "grouping": course_parent()["parent"],
    }
    assert xapi.event_fields(group)[:2] == ("problem_check", "server")
    assert xapi.event_fields(group)[2]["problem_id"] == PROBLEM
    assert xapi.event_fields(question)[:2] == (EVALUATED["id"], "xapi")
    assert xapi.course_reference(question) == (COURSE, True)


# --- which course -----------------------------------------------------------------------------


def test_ccx_and_org_course_run_courses_are_found_by_their_keys(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    ccx_video = f"ccx-block-v1:ExampleU+CS101+2025_T1+ccx@3+type@video+block@{VIDEO_ID}"
    ccx_problem = PROBLEM.replace(
        "block-v1:ExampleU+CS101+2025_T1", "ccx-block-v1:ExampleU+CS101+2025_T1+ccx@3"
    )
    no_parent = server_problem_check(
        account(learner(2)), "2025-02-03T10:05:00+00:00", ccx_problem, CCX
    )
    del no_parent["context"]["contextActivities"]  # the course from the ccx usage key alone
    old_style = next_selected(account(learner(3)), "2025-02-03T10:06:00+00:00")
    old_style["context"]["contextActivities"] = course_parent(OLD)
    old_style["object"]["id"] = f"{LMS}/xblock/i4x://ExampleU/CS101/sequential/{SEQUENCE_ID}"
    statements = [
        play_video(account(learner(1)), "2025-02-03T10:00:00+00:00", CCX, ccx_video),
        no_parent,
        old_style,
        enrollment(account(learner(4)), "2025-02-03T10:07:00+00:00", course=OLD),
    ]
    assert [xapi.course_reference(s) for s in statements] == [
        (CCX, True),
        (CCX, True),
        (OLD, True),
        (OLD, True),
    ]
    assert send(client, erb_token(runner, platform), statements).status_code == 200
    with app.app_context():
        keys = {c.lms_course_id for c in db.session.scalars(select(Course))}
    assert keys == {CCX, OLD}  # not a course keyed by the whole URL
    assert weekly(app, CCX) == {"ACTIVE": 2, "ATTEMPTED_PROBLEM": 1, "PLAYED_VIDEO": 1}
    assert weekly(app, OLD) == {"ACTIVE": 1}
    rows = {(r["resource"], r["kind"]) for r in report(app, "resources", OLD)}
    assert rows == {(SEQUENCE_ID, "page")}
    # a generic course IRI is still no Open edX key
    assert xapi.openedx_course_key("https://lab.example.org/courses/physics") is None


# --- batches --------------------------------------------------------------------------------


def test_a_batch_with_one_bad_statement_stores_nothing(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    token = erb_token(runner, platform)
    good = [
        server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00"),
        forum_post(account(learner(2)), "2025-02-03T09:23:10+00:00"),
        next_selected(account(learner(3)), "2025-02-03T14:06:42+00:00"),
    ]
    no_object_id = forum_post(account(learner(4)), "2025-02-03T09:30:00+00:00")
    del no_object_id["object"]["id"]
    response = send(client, token, [*good, no_object_id])
    assert response.status_code == 400
    assert [e["index"] for e in response.json["errors"]] == [3]
    assert "object.id is required" in response.json["errors"][0]["message"]
    twice = send(client, token, [*good, good[0]])  # the same id twice in one batch
    assert (
        twice.status_code == 400 and "repeated in the batch" in twice.json["errors"][0]["message"]
    )
    with app.app_context():
        assert stored_events(db.session) == []
        assert db.session.scalar(select(func.count()).select_from(Course)) == 0
    assert stored_statements(app) == 0
    assert send(client, token, good).status_code == 200
    assert stored_statements(app) == 3


def test_a_stored_id_resent_with_other_content_is_409_and_the_batch_is_not_stored(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    token = erb_token(runner, platform)
    first = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
    assert send(client, token, [first]).status_code == 200
    changed = {**first, "result": {**first["result"], "success": True}}
    new = forum_post(account(learner(2)), "2025-02-03T09:23:10+00:00")
    response = send(client, token, [new, changed])
    assert response.status_code == 409
    assert response.json["errors"] == [
        {
            "index": 1,
            "message": f"statement {first['id']} was already stored with different content "
            "(a statement id cannot be reused)",
        }
    ]
    assert stored_statements(app) == 1
    assert weekly(app) == {"ACTIVE": 1, "ATTEMPTED_PROBLEM": 1}  # no forum post
    # the same statement again is a repeat, accepted and not counted twice
    assert send(client, token, [first, new]).status_code == 200
    assert stored_statements(app) == 2
    assert weekly(app) == {"ACTIVE": 2, "ATTEMPTED_PROBLEM": 1, "POSTED_FORUM": 1}


# --- who -------------------------------------------------------------------------------------


def test_mbox_and_mbox_sha1sum_actors_reach_the_learner_who_launched(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    context = {CLAIM + "context": {"id": COURSE, "title": "Intro to CS"}}
    for sub, email in (("sub-sam", "sam@example.edu"), ("sub-kim", "Kim@Example.edu")):
        launched = platform.launch(client, roles=LEARNER, sub=sub, email=email, **context)
        assert launched.status_code == 303, launched.get_data(as_text=True)[:500]
    token = erb_token(runner, platform)
    # XAPI_AGENT_IFI_TYPE = 'mbox' sends "mailto:<email>"; 'mbox_sha1sum' the sha1 hex of the
    # bare address as the LMS stores it.
    kim_sha1 = hashlib.sha1(b"Kim@Example.edu").hexdigest()  # noqa: S324
    statements = [
        forum_post(
            {"objectType": "Agent", "mbox": "mailto:SAM@example.edu"}, "2025-02-03T09:00:00+00:00"
        ),
        server_problem_check(
            {"objectType": "Agent", "mbox_sha1sum": kim_sha1}, "2025-02-03T10:00:00+00:00"
        ),
        # nobody has this address: a learner of their own
        forum_post(
            {"objectType": "Agent", "mbox": "mailto:new@example.edu"}, "2025-02-03T11:00:00+00:00"
        ),
    ]
    assert send(client, token, statements).status_code == 200
    with app.app_context():
        owners = {
            (i.kind, i.value): i.person_id for i in db.session.scalars(select(PersonIdentity))
        }
        events = {(e.name, e.person_id) for e in stored_events(db.session) if e.source == "server"}
    sam, kim = owners[("lti_sub", "sub-sam")], owners[("lti_sub", "sub-kim")]
    assert owners[("xapi_actor", "mailto:SAM@example.edu")] == sam
    assert owners[("xapi_actor", kim_sha1)] == kim
    newcomer = owners[("xapi_actor", "mailto:new@example.edu")]
    assert newcomer not in (sam, kim)
    assert events == {
        ("edx.forum.thread.created", sam),
        ("problem_check", kim),
        ("edx.forum.thread.created", newcomer),
    }
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.lti_context_id == COURSE))
        assert course is not None and course.platform_id is not None
        assert db.session.scalar(select(func.count()).select_from(Course)) == 1


# --- answers and modes (issue 18: the same details as tracking logs) ---------------------------

BLOCK = PROBLEM.rsplit("@", 1)[-1]


def test_a_one_question_check_keeps_its_answer_as_part_2_1(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    statement = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
    assert send(client, erb_token(runner, platform), [statement]).status_code == 200
    with app.app_context():
        [row] = db.session.scalars(select(LearnerProblem)).all()
        answers = orjson.loads(row.answers)
    assert (row.problem_id, row.attempts, row.correct_at) == (PROBLEM, 1, None)
    part = answers["last"][f"{BLOCK}_2_1"]
    # A list of choices (a checkbox problem), its question, not correct.
    assert (part["answer"], part["correct"], part["question"], part["response_type"]) == (
        ["2", "9"],
        False,
        "Which are prime?",
        "choiceresponse",
    )


def test_the_questions_of_a_problem_become_the_parts_of_its_check(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    group = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
    group["object"]["objectType"] = "GroupActivity"
    group["object"]["definition"] = {
        "type": group["object"]["definition"]["type"],
        "name": {"en-US": "Two questions"},
        "interactionType": "other",
    }
    group["result"] = {"success": True, "score": {"min": 0, "max": 2, "raw": 2}}
    questions = []
    for number, (answer, text) in enumerate([("blue", "Ocean?"), ("a chair", "Sit on?")]):
        question = server_problem_check(account(learner(1)), "2025-02-03T14:39:26+00:00")
        question["id"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"child{number}"))
        question["object"]["id"] += f"_{number + 2}_1"
        question["object"]["definition"]["description"] = {"en-US": text}
        question["context"]["statement"] = {"objectType": "StatementRef", "id": group["id"]}
        question["context"]["contextActivities"] = {
            "parent": [group["object"]],
            "grouping": course_parent()["parent"],
        }
        question["result"] = {"response": answer, "success": True}
        questions.append(question)
    # The questions may come before the problem's statement.
    assert send(client, erb_token(runner, platform), [*questions, group]).status_code == 200
    with app.app_context():
        [row] = db.session.scalars(select(LearnerProblem)).all()
        answers = orjson.loads(row.answers)
    assert (row.attempts, row.correct_at) == (1, 1)
    parts = answers["first"]
    assert {key: (p["answer"], p["question"]) for key, p in parts.items()} == {
        f"{BLOCK}_2_1": ("blue", "Ocean?"),
        f"{BLOCK}_3_1": ("a chair", "Sit on?"),
    }


def test_registered_statements_keep_the_enrollment_mode(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform
) -> None:
    statements = [
        enrollment(account(learner(4)), "2025-02-03T06:36:01+00:00"),
        enrollment(account(learner(4)), "2025-02-05T06:36:01+00:00", UNREGISTERED),
    ]
    assert send(client, erb_token(runner, platform), statements).status_code == 200
    with app.app_context():
        rows = db.session.execute(
            select(EnrollmentChange.name, EnrollmentChange.mode).order_by(EnrollmentChange.time)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("edx.course.enrollment.activated", "audit"),
        ("edx.course.enrollment.deactivated", "audit"),
    ]
