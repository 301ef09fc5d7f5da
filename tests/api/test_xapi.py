"""The xAPI LRS endpoint (`/xapi/statements`) and xAPI statements on the event API.

The LRS is driven by `tincan`, the client Open edX's event-routing-backends uses, against the
tool served by a real werkzeug server on 127.0.0.1. Statements are shaped like the ones
event-routing-backends sends (course URL in context.contextActivities.parent, video profile).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from tincan import (
    Activity,
    ActivityDefinition,
    ActivityList,
    Agent,
    AgentAccount,
    Context,
    ContextActivities,
    Extensions,
    RemoteLRS,
    Result,
    Statement,
    Verb,
)
from werkzeug.serving import make_server

from lti_tool.activity.blocks import stored_events
from lti_tool.api import xapi
from lti_tool.extensions import db
from lti_tool.models import Course, PersonIdentity, XapiStatement
from tests.helpers.api import (
    LAB_COURSE,
    OTHER_COURSE,
    add_course,
    bearer,
    event_count,
    lab,
    make_token,
)

LMS = "https://lms.example.org"
COURSE = "course-v1:edX+DemoX+Demo_Course"
COURSE_URL = f"{LMS}/course/{COURSE}"
VIDEO_BLOCK = "0b9e39477cf34507a7a48f74be381fdd"
VIDEO_URL = f"{LMS}/xblock/block-v1:edX+DemoX+Demo_Course+type@video+block@{VIDEO_BLOCK}"
VIDEO = "https://w3id.org/xapi/video/"
VERSION = {"X-Experience-API-Version": "1.0.3"}


def statement(
    verb: str = VIDEO + "verbs/played",
    user: str = "32e08e30-f8ae-4ce2-94a8-c2bfe38a70cb",
    stamp: str = "2026-03-02T10:00:00+00:00",
    result: dict[str, Any] | None = None,
    object_id: str = VIDEO_URL,
    parent: str | None = COURSE_URL,
    statement_id: str | None = None,
    length: float | None = 195.0,
) -> dict[str, Any]:
    """A statement as event-routing-backends sends it."""
    context: dict[str, Any] = {"extensions": {}}
    if parent:
        context["contextActivities"] = {
            "parent": [
                {
                    "id": parent,
                    "objectType": "Activity",
                    "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
                }
            ]
        }
    if length is not None:
        context["extensions"][VIDEO + "extensions/length"] = length
    body: dict[str, Any] = {
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": user}},
        "verb": {"id": verb, "display": {"en": verb.rsplit("/", 1)[-1]}},
        "object": {
            "id": object_id,
            "objectType": "Activity",
            "definition": {"type": VIDEO + "activity-type/video"},
        },
        "context": context,
        "timestamp": stamp,
        "version": "1.0.3",
    }
    if result is not None:
        body["result"] = result
    if statement_id:
        body["id"] = statement_id
    return body


def video_time(seconds: float) -> dict[str, Any]:
    return {"extensions": {VIDEO + "extensions/time": seconds}}


def tincan_statement(
    user: str, verb: str, stamp: datetime, time: float, statement_id: uuid.UUID | None = None
) -> Statement:
    """The same statement built with tincan's own classes."""
    return Statement(
        id=statement_id,
        actor=Agent(account=AgentAccount(name=user, home_page=LMS)),
        verb=Verb(id=verb),
        object=Activity(
            id=VIDEO_URL, definition=ActivityDefinition(type=VIDEO + "activity-type/video")
        ),
        result=Result(extensions=Extensions({VIDEO + "extensions/time": time})),
        context=Context(
            context_activities=ContextActivities(parent=ActivityList([Activity(id=COURSE_URL)])),
            extensions=Extensions({VIDEO + "extensions/length": 195.0}),
        ),
        timestamp=stamp,
    )


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The tool served by a real werkzeug server in a thread on 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def known_course(app: Flask) -> int:
    """The Open edX course the statements name, known to the tool (a token without a binding
    writes to known courses only); returns the tool's id."""
    return add_course(app, COURSE)


def stored_statements(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(XapiStatement)) or 0


# --- tincan against the live LRS -------------------------------------------------------------


def test_tincan_save_statement_lands_and_a_repeat_is_not_counted_twice(
    app: Flask, runner: FlaskCliRunner, live_url: str, known_course: int
) -> None:
    token = make_token(runner, "erb")
    # event-routing-backends' LRS config: a key and a secret, sent as HTTP Basic
    lrs = RemoteLRS(
        endpoint=live_url + "/xapi/", username="openedx", password=token, version="1.0.3"
    )
    statement_id = uuid.uuid4()
    sent = tincan_statement(
        "learner-a",
        VIDEO + "verbs/played",
        datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        12.5,
        statement_id,
    )
    response = lrs.save_statement(sent)
    assert response.success, (response.response.status, response.data)
    assert response.response.status == 204  # tincan PUTs a statement that has an id
    assert response.response.getheader("X-Experience-API-Version") == "1.0.3"
    with app.app_context():
        [event] = stored_events(db.session)
        course = db.session.get(Course, event.course_id)
        assert course is not None and course.lms_course_id == COURSE
        assert (event.name, event.source, event.video_kind, event.video_time) == (
            "play_video",
            "xapi",
            "play",
            12.5,
        )
        assert event.object_id == VIDEO_BLOCK and event.video_duration == 195.0
        assert event.time == datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp()
        identity = db.session.scalar(
            select(PersonIdentity).where(PersonIdentity.kind == "xapi_actor")
        )
        assert identity is not None and identity.value == "learner-a"

    again = lrs.save_statement(sent)
    assert again.success and again.response.status == 204
    assert event_count(app) == 1 and stored_statements(app) == 1


def test_tincan_save_statements_posts_a_batch_and_gets_the_new_ids(
    app: Flask, runner: FlaskCliRunner, live_url: str, known_course: int
) -> None:
    token = make_token(runner, "erb")
    lrs = RemoteLRS(endpoint=live_url + "/xapi/", auth=f"Bearer {token}", version="1.0.3")
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    batch = [
        tincan_statement("learner-a", VIDEO + "verbs/played", start, 0.0),
        tincan_statement("learner-a", VIDEO + "verbs/paused", start.replace(minute=1), 60.0),
    ]
    response = lrs.save_statements(batch)
    assert response.success, (response.response.status, response.data)
    ids = [s.id for s in response.content]
    assert len(ids) == 2 and all(uuid.UUID(str(i)) for i in ids)
    with app.app_context():
        assert set(db.session.scalars(select(XapiStatement.id))) == {str(i) for i in ids}
    assert event_count(app) == 2
    # the viewing 0 s -> 60 s reached the video KPIs: segments 0..12 seen once
    rows = requests.get(
        f"{live_url}/api/v1/courses/1/reports/video-timeline",
        headers=bearer(make_token(runner, "dash", "reports:read")),
        timeout=10,
    ).json()
    assert [(r["video_id"], r["segment"], r["num_views"]) for r in rows] == [
        (VIDEO_BLOCK, segment, 1) for segment in range(13)
    ]


def test_a_streamed_body_over_the_limit_is_413_in_json(
    app: Flask, runner: FlaskCliRunner, live_url: str
) -> None:
    token = make_token(runner, "erb")
    piece = (
        b'{"actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "' + b"x" * 60_000 + b'"}},'
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b"["
        for _ in range(26):  # about 1.5 MB
            yield piece
        yield b"{}]"

    response = requests.post(
        live_url + "/xapi/statements",
        data=chunks(),
        headers={**bearer(token), **VERSION, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert "larger than 1,048,576 bytes" in response.json()["error"]
    assert stored_statements(app) == 0


def test_concurrent_senders_store_every_statement_once(
    app: Flask, runner: FlaskCliRunner, live_url: str, known_course: int
) -> None:
    # event-routing-backends sends from several workers at once, often about the same learners
    token = make_token(runner, "erb")
    statements = [
        statement(user=f"learner-{i % 3}", stamp=f"2026-03-02T10:{i // 60:02d}:{i % 60:02d}+00:00")
        for i in range(48)
    ]

    def send(body: dict[str, Any]) -> int:
        response = requests.post(
            live_url + "/xapi/statements",
            json=body,
            headers={**bearer(token), **VERSION},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, statements))
    assert statuses == [200] * 48
    assert event_count(app) == 48 and stored_statements(app) == 48
    with app.app_context():
        learners = db.session.scalars(
            select(PersonIdentity.value).where(PersonIdentity.kind == "xapi_actor")
        ).all()
        assert sorted(learners) == ["learner-0", "learner-1", "learner-2"]


# --- the LRS rules, with the test client ------------------------------------------------------


def test_put_stores_under_the_statement_id_and_answers_204(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, known_course: int
) -> None:
    token = make_token(runner, "erb")
    statement_id = str(uuid.uuid4())
    body = statement(result=video_time(3.0))
    response = client.put(
        f"/xapi/statements?statementId={statement_id}",
        json=body,
        headers={**bearer(token), **VERSION},
    )
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers["X-Experience-API-Version"] == "1.0.3"
    with app.app_context():
        row = db.session.get(XapiStatement, statement_id)
        assert row is not None and row.digest == xapi.statement_digest({**body, "id": statement_id})
    assert event_count(app, name="play_video") == 1
    no_id = client.put("/xapi/statements", json=body, headers={**bearer(token), **VERSION})
    assert no_id.status_code == 400 and "statementId" in no_id.json["error"]
    mismatch = client.put(
        f"/xapi/statements?statementId={uuid.uuid4()}",
        json={**body, "id": statement_id},
        headers={**bearer(token), **VERSION},
    )
    assert mismatch.status_code == 400 and "differs from statementId" in mismatch.json["error"]


def test_a_conflicting_repeat_is_409_and_changes_nothing(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, known_course: int
) -> None:
    token = make_token(runner, "erb")
    headers = {**bearer(token), **VERSION}
    statement_id = str(uuid.uuid4())
    first = statement(result=video_time(3.0), statement_id=statement_id)
    assert client.post("/xapi/statements", json=first, headers=headers).json == [statement_id]
    # the LRS may add stored/authority/version, and the same instant may be written otherwise
    same = {**first, "timestamp": "2026-03-02T10:00:00Z", "stored": "2026-03-02T10:00:01Z"}
    same.pop("version")
    assert client.post("/xapi/statements", json=[same], headers=headers).status_code == 200
    changed = statement(result=video_time(99.0), statement_id=statement_id)
    response = client.post("/xapi/statements", json=changed, headers=headers)
    assert response.status_code == 409
    assert "already stored with different content" in response.json["errors"][0]["message"]
    put = client.put(f"/xapi/statements?statementId={statement_id}", json=changed, headers=headers)
    assert put.status_code == 409
    with app.app_context():
        [event] = stored_events(db.session)
        assert event.video_time == 3.0
    assert stored_statements(app) == 1


def test_the_version_header_is_required_and_sent_back(
    client: FlaskClient, runner: FlaskCliRunner, known_course: int
) -> None:
    token = make_token(runner, "erb")
    missing = client.post("/xapi/statements", json=statement(), headers=bearer(token))
    assert missing.status_code == 400
    assert "X-Experience-API-Version header is required" in missing.json["error"]
    assert missing.headers["X-Experience-API-Version"] == "1.0.3"
    wrong = client.post(
        "/xapi/statements",
        json=statement(),
        headers={**bearer(token), "X-Experience-API-Version": "2.0.0"},
    )
    assert wrong.status_code == 400 and "'2.0.0' is not supported" in wrong.json["error"]
    about = client.get("/xapi/about")
    assert about.json == {"version": ["1.0.3"]}
    ok = client.post(
        "/xapi/statements",
        json=statement(),
        headers={**bearer(token), "X-Experience-API-Version": "1.0.1"},
    )
    assert ok.status_code == 200 and ok.headers["X-Experience-API-Version"] == "1.0.3"


def test_repeats_leave_event_counts_and_reports_unchanged(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, known_course: int
) -> None:
    token = make_token(runner, "erb")
    headers = {**bearer(token), **VERSION}
    batch = [
        statement(result=video_time(0.0), statement_id=str(uuid.uuid4())),
        statement(
            VIDEO + "verbs/paused",
            stamp="2026-03-02T10:00:30+00:00",
            result=video_time(30.0),
            statement_id=str(uuid.uuid4()),
        ),
    ]
    assert client.post("/xapi/statements", json=batch, headers=headers).status_code == 200
    reader = bearer(make_token(runner, "dash", "reports:read"))
    before = client.get("/api/v1/courses/1/reports/video-timeline", headers=reader).json
    for _ in range(2):
        assert client.post("/xapi/statements", json=batch, headers=headers).status_code == 200
        put = client.put(
            f"/xapi/statements?statementId={batch[1]['id']}", json=batch[1], headers=headers
        )
        assert put.status_code == 204
    assert event_count(app) == 2 and stored_statements(app) == 2
    assert client.get("/api/v1/courses/1/reports/video-timeline", headers=reader).json == before
    assert len(before) == 7  # 0 s -> 30 s: segments 0..6


def test_an_lrs_batch_with_an_invalid_statement_is_refused_whole(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, known_course: int
) -> None:
    token = make_token(runner, "erb")
    headers = {**bearer(token), **VERSION}
    no_course = statement(parent=None, object_id="https://videos.example.org/v/42")
    bad_verb = {**statement(), "verb": {"display": {"en": "did"}}}
    bad_time = statement(stamp="yesterday")
    bad_id = statement(statement_id="42")
    batch = [
        statement(),
        no_course,
        bad_verb,
        bad_time,
        {"actor": {"name": "x"}, "verb": {}},
        bad_id,
    ]
    response = client.post("/xapi/statements", json=batch, headers=headers)
    assert response.status_code == 400
    assert "none was stored" in response.json["error"]
    errors = {e["index"]: e["message"] for e in response.json["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5]
    assert errors[1].startswith("no course") and "contextActivities.parent" in errors[1]
    assert "verb.id is required" in errors[2]
    assert "'yesterday' is not an ISO 8601 date-time" in errors[3]
    assert "actor must be an Agent" in errors[4]
    assert "'42' is not a UUID" in errors[5]
    assert event_count(app) == 0 and stored_statements(app) == 0
    twice = str(uuid.uuid4())
    dup = client.post(
        "/xapi/statements",
        json=[statement(statement_id=twice), statement(statement_id=twice)],
        headers=headers,
    )
    assert dup.status_code == 400 and "repeated in the batch" in dup.json["errors"][0]["message"]


def test_xapi_auth_errors_are_401_with_basic_and_bearer_challenges_and_403_for_scope(
    client: FlaskClient, runner: FlaskCliRunner
) -> None:
    response = client.post("/xapi/statements", json=statement(), headers=VERSION)
    assert response.status_code == 401 and "needs an API token" in response.json["error"]
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Basic ") and 'Bearer realm="lti_tool"' in challenge
    wrong = client.post(
        "/xapi/statements", json=statement(), headers={**VERSION, **bearer("ltk_abc_def")}
    )
    assert wrong.status_code == 401 and "not valid" in wrong.json["error"]
    reader = make_token(runner, "dash", "reports:read")
    scope = client.post("/xapi/statements", json=statement(), headers={**VERSION, **bearer(reader)})
    assert scope.status_code == 403 and "needs events:write" in scope.json["error"]


def test_a_course_bound_token_takes_statements_of_its_course_only(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    lab_id = add_course(app, LAB_COURSE)
    add_course(app, COURSE)
    token = make_token(runner, "lab-xapi", course=LAB_COURSE)
    headers = {**bearer(token), **VERSION}
    refused = client.post("/xapi/statements", json=statement(), headers=headers)  # names COURSE
    assert refused.status_code == 403 and "bound to course" in refused.json["error"]
    # a statement naming no Open edX course goes to the token's course
    own = statement(parent="https://lab.example.org/courses/physics", object_id="https://lab/x/1")
    assert client.post("/xapi/statements", json=own, headers=headers).status_code == 200
    with app.app_context():
        assert [e.course_id for e in stored_events(db.session)] == [lab_id]


# --- xAPI statements on POST /api/v1/events --------------------------------------------------


def test_statements_and_lab_messages_share_the_event_api(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, known_course: int
) -> None:
    add_course(app, OTHER_COURSE)
    token = make_token(runner, "mixed")
    statement_id = str(uuid.uuid4())
    batch = [
        statement(result=video_time(1.0), statement_id=statement_id),
        lab(course=OTHER_COURSE),
        statement(parent=None, object_id="https://videos.example.org/v/1"),
    ]
    response = client.post("/api/v1/events", json=batch, headers=bearer(token))
    assert response.status_code == 400
    assert (response.json["stored"], response.json["invalid"]) == (2, 1)
    assert response.json["errors"][0]["index"] == 2
    again = client.post("/api/v1/events", json=batch[:2], headers=bearer(token))
    assert again.status_code == 200 and (again.json["stored"], again.json["duplicates"]) == (0, 2)
    conflict = client.post(
        "/api/v1/events",
        json=[
            statement(result=video_time(7.0), statement_id=statement_id),
            lab(course=OTHER_COURSE, stamp="2026-03-02 12:00:00"),
        ],
        headers=bearer(token),
    )
    assert conflict.status_code == 400 and conflict.json["stored"] == 1
    assert "already stored with different content" in conflict.json["errors"][0]["message"]
    assert event_count(app, source="xapi") == 1 and event_count(app, source="lab") == 2


# --- statement -> event, unit by unit ---------------------------------------------------------


def test_course_found_in_parent_then_object_then_extension() -> None:
    assert xapi.course_reference(statement()) == (COURSE, True)
    # older event-routing-backends: /courses/<key>/ URL and a block-v1 object id
    older = statement(parent=f"{LMS}/courses/{COURSE}/")
    assert xapi.course_reference(older) == (COURSE, True)
    encoded = statement(parent=f"{LMS}/course/course-v1%3AedX%2BDemoX%2BDemo_Course")
    assert xapi.course_reference(encoded) == (COURSE, True)
    by_object = statement(parent=None)
    assert xapi.course_reference(by_object) == (COURSE, True)
    by_extension = statement(parent=None, object_id="https://lab.example.org/x/1")
    by_extension["context"]["extensions"]["https://tool.example.edu/xapi/extensions/course-id"] = (
        "LAB-7"
    )
    assert xapi.course_reference(by_extension) == ("LAB-7", True)
    generic = statement(parent="https://lab.example.org/courses/physics", object_id="https://l/1")
    assert xapi.course_reference(generic) == ("https://lab.example.org/courses/physics", False)
    assert xapi.course_reference(statement(parent=None, object_id="https://l/1")) == (None, False)


def test_video_verbs_map_to_tracking_log_names_and_fields() -> None:
    seek = statement(
        VIDEO + "verbs/seeked",
        result={
            "extensions": {
                VIDEO + "extensions/time-from": 194.381,
                VIDEO + "extensions/time-to": 10.0,
            }
        },
    )
    assert xapi.event_fields(seek) == (
        "seek_video",
        "xapi",
        {
            "object": VIDEO_URL,
            "result": seek["result"],
            "id": f"block-v1:edX+DemoX+Demo_Course+type@video+block@{VIDEO_BLOCK}",
            "old_time": 194.381,
            "new_time": 10.0,
            "duration": 195.0,
        },
    )
    done = statement("http://adlnet.gov/expapi/verbs/completed", result=video_time(195.0))
    assert xapi.event_fields(done)[0] == "complete_video"
    # older event-routing-backends wrote times as ISO 8601 durations
    played = statement(result={"extensions": {VIDEO + "extensions/time": "PT0.032788S"}})
    assert xapi.event_fields(played)[2]["currentTime"] == pytest.approx(0.032788)
    assert xapi.seconds("PT03M15S") == 195.0
    # "completed" on something that is not a video keeps its verb IRI as the name
    course_done = statement("http://adlnet.gov/expapi/verbs/completed", object_id=COURSE_URL)
    course_done["object"]["definition"]["type"] = "http://adlnet.gov/expapi/activities/course"
    assert xapi.event_fields(course_done)[0] == "http://adlnet.gov/expapi/verbs/completed"
