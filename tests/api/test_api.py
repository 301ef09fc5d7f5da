"""The event ingest API (`POST /api/v1/events`), the reports API, and `flask tokens`.

Lab messages are the remote-lab shape `{user, t (epoch ms), type, exp, payload}`; tokens are made
with the real command and sent as real HTTP headers.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.activity.blocks import stored_events
from lti_tool.api.tokens import hash_token
from lti_tool.extensions import db
from lti_tool.models import AdminAudit, ApiToken, Course, PersonIdentity
from tests.helpers.api import (
    LAB_COURSE,
    OTHER_COURSE,
    add_course,
    add_platforms,
    bearer,
    event_count,
    lab,
    make_token,
    ms,
    post_events,
)
from tests.helpers.platform import INSTRUCTOR, LEARNER, FakePlatform, launch_token

# --- flask tokens ----------------------------------------------------------------------------


def test_tokens_create_prints_the_secret_once_stores_it_hashed_lists_and_revokes(
    app: Flask, runner: FlaskCliRunner
) -> None:
    course_id = add_course(app, LAB_COURSE)
    created = runner.invoke(
        args=[
            "tokens",
            "create",
            "--name",
            "lab-1",
            "--scope",
            "events:write",
            "--course",
            LAB_COURSE,
        ]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("ltk_") and "\n" not in token
    assert "not be shown again" in created.output
    with app.app_context():
        row = db.session.scalar(select(ApiToken).where(ApiToken.name == "lab-1"))
        assert row is not None and row.course_id == course_id and row.scope == "events:write"
        assert row.secret_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in json.dumps([str(v) for v in row.__dict__.values()])
    # the tool's integer id works as well as the LMS course id
    assert make_token(runner, "reader", "reports:read", str(course_id)).startswith("ltk_")

    listed = runner.invoke(args=["tokens", "list"])
    assert listed.exit_code == 0 and "lab-1" in listed.output and "reader" in listed.output
    assert token not in listed.output and token.split("_", 2)[2] not in listed.output
    as_json = json.loads(runner.invoke(args=["tokens", "list", "--json"]).output)
    assert {t["name"]: t["course_id"] for t in as_json} == {"lab-1": course_id, "reader": course_id}
    assert token.split("_", 2)[2] not in json.dumps(as_json)

    again = runner.invoke(args=["tokens", "create", "--name", "lab-1", "--scope", "events:write"])
    assert again.exit_code != 0 and "exists" in again.output
    unknown = runner.invoke(
        args=["tokens", "create", "--name", "x", "--scope", "events:write", "--course", "nope"]
    )
    assert unknown.exit_code != 0 and "no course 'nope'" in unknown.output

    revoked = runner.invoke(args=["tokens", "revoke", "--name", "lab-1"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    reader_id = next(t["id"] for t in as_json if t["name"] == "reader")
    assert runner.invoke(args=["tokens", "revoke", "--id", str(reader_id)]).exit_code == 0
    states = json.loads(runner.invoke(args=["tokens", "list", "--json"]).output)
    assert all(t["revoked_at"] for t in states)
    # a revoked name may be reused
    assert make_token(runner, "lab-1").startswith("ltk_")
    twice = runner.invoke(args=["tokens", "revoke", "--id", str(reader_id)])
    assert twice.exit_code != 0 and "already revoked" in twice.output


def test_a_reports_token_is_bound_or_made_for_all_platforms_by_name(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    north_id, south_id = add_platforms(app, "North", "South")
    north_course = add_course(app, LAB_COURSE, north_id)
    south_course = add_course(app, OTHER_COURSE, south_id)

    def create(*args: str) -> Any:
        return runner.invoke(args=["tokens", "create", "--name", "r", *args])

    bare = create("--scope", "reports:read")
    assert bare.exit_code == 2
    for option in ("--course", "--bind-platform", "--all-platforms"):
        assert option in bare.output
    events = create("--scope", "events:write", "--all-platforms")
    assert events.exit_code == 2 and "--all-platforms is for reports:read" in events.output
    both = create("--scope", "reports:read", "--all-platforms", "--bind-platform", "North")
    assert both.exit_code == 2 and "not both" in both.output
    with app.app_context():
        assert db.session.scalar(select(ApiToken.id)) is None

    wide = create("--scope", "reports:read", "--all-platforms")
    assert wide.exit_code == 0, wide.output
    assert "all platforms: every course's learners and e-mails" in wide.stderr
    reader = wide.stdout.strip()
    # A reader bound to nothing, made before binding was asked for: a row as it was written
    # then, still working.
    old = "ltk_0123456789ab_made-before-all-platforms"
    with app.app_context():
        db.session.add(
            ApiToken(
                name="old-reader",
                prefix="0123456789ab",
                secret_hash=hash_token(old),
                scope="reports:read",
            )
        )
        db.session.commit()
    for token in (reader, old):
        for course_id in (north_course, south_course):
            url = f"/api/v1/courses/{course_id}/reports/time-spent"
            assert client.get(url, headers=bearer(token)).status_code == 200
    # An unbound events token is what it was: every existing course, no warning.
    make_token(runner, "writer")

    listed = runner.invoke(args=["tokens", "list"]).output.splitlines()
    lines = {line.split()[1]: n for n, line in enumerate(listed) if "warning:" not in line}
    for name in ("r", "old-reader"):
        assert "reports:read  all platforms" in listed[lines[name]]
        assert (
            listed[lines[name] + 1]
            .strip()
            .startswith("warning: reads every platform's learners and e-mails")
        )
    assert "any course" in listed[lines["writer"]]
    assert all("warning:" not in line for line in listed[lines["writer"] :])
    as_json = {
        t["name"]: t for t in json.loads(runner.invoke(args=["tokens", "list", "--json"]).output)
    }
    assert {n: t["all_platforms"] for n, t in as_json.items()} == {
        "r": True,
        "old-reader": True,
        "writer": False,
    }
    # Revoked, it reads nothing: no warning.
    assert runner.invoke(args=["tokens", "revoke", "--name", "old-reader"]).exit_code == 0
    assert runner.invoke(args=["tokens", "list"]).output.count("warning:") == 1

    # Made and revoked on the command line: in the audit log, in the same transaction.
    with app.app_context():
        rows = db.session.execute(
            select(AdminAudit.action, AdminAudit.target, AdminAudit.actor)
            .where(AdminAudit.action.like("token_%"))
            .order_by(AdminAudit.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("token_created", "token r", "cli"),
        ("token_created", "token writer", "cli"),
        ("token_revoked", "token old-reader", "cli"),
    ]


def test_a_course_bound_reader_reads_that_course_only(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    [north_id] = add_platforms(app, "North")
    mine = add_course(app, LAB_COURSE, north_id)
    sibling = add_course(app, OTHER_COURSE, north_id)  # same platform, another course
    reader = make_token(runner, "dash", "reports:read", LAB_COURSE)
    ok = client.get(f"/api/v1/courses/{mine}/reports/learners", headers=bearer(reader))
    assert ok.status_code == 200
    refused = client.get(f"/api/v1/courses/{sibling}/reports/learners", headers=bearer(reader))
    assert refused.status_code == 403 and "bound to course" in refused.json["error"]


# --- POST /api/v1/events: lab messages -------------------------------------------------------


def test_valid_batch_is_stored_as_lab_events(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    course_id = add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    batch = [
        lab(stamp="2026-03-02 10:00:00", payload={"angle": 12}),
        lab(stamp="2026-03-02 10:05:00", exp="spring"),
        lab(user="bob", stamp="2026-03-02 11:00:00"),
    ]
    response = post_events(client, token, batch)
    assert response.status_code == 200, response.json
    assert response.json == {
        "received": 3,
        "stored": 3,
        "duplicates": 0,
        "invalid": 0,
        "errors": [],
    }
    with app.app_context():
        rows = sorted(stored_events(db.session), key=lambda e: e.time)
        assert [(r.course_id, r.name, r.source) for r in rows] == [
            (course_id, "pendulum", "lab"),
            (course_id, "spring", "lab"),
            (course_id, "pendulum", "lab"),
        ]
        assert rows[0].time == ms("2026-03-02 10:00:00") / 1000
        kinds = db.session.execute(select(PersonIdentity.kind, PersonIdentity.value)).all()
        assert sorted(kinds) == [("lab_user", "alice"), ("lab_user", "bob")]


def test_invalid_items_get_a_400_with_per_item_errors_and_valid_items_are_kept(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    seconds_not_ms = lab()
    seconds_not_ms["t"] = 1_772_445_600  # 2026-03-02 in seconds
    batch = [
        lab(stamp="2026-03-02 10:00:00"),
        {"t": ms("2026-03-02 10:01:00"), "type": "log", "exp": "pendulum"},  # no user
        seconds_not_ms,
        lab(stamp="2026-03-02 10:02:00", type="shout"),
        lab(stamp="2026-03-02 10:03:00", payload=None) | {"payload": [1, 2]},
        "not an object",
        {**lab(), "exp": ""},
        lab(stamp="2026-03-02 10:04:00", exp="spring"),
    ]
    response = post_events(client, token, batch)
    assert response.status_code == 400
    body = response.json
    assert (body["received"], body["stored"], body["invalid"]) == (8, 2, 6)
    assert (
        "6 of 8 items are invalid" in body["error"] and "2 valid items were kept" in body["error"]
    )
    errors = {e["index"]: e["message"] for e in body["errors"]}
    assert sorted(errors) == [1, 2, 3, 4, 5, 6]
    assert '"user" is required' in errors[1]
    assert "before the year 2000" in errors[2] and "seconds" in errors[2]
    assert '"type" must be "log" or "request"' in errors[3]
    assert '"payload" must be a JSON object' in errors[4]
    assert "not a JSON object" in errors[5]
    assert '"exp" is empty' in errors[6]
    assert event_count(app) == 2  # the valid items are kept
    assert event_count(app, name="spring") == 1


def test_the_same_batch_twice_is_stored_once(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    batch = [lab(stamp="2026-03-02 10:00:00"), lab(stamp="2026-03-02 10:05:00")]
    assert post_events(client, token, batch).json["stored"] == 2
    again = post_events(client, token, batch)
    assert again.status_code == 200
    assert (again.json["stored"], again.json["duplicates"]) == (0, 2)
    assert event_count(app) == 2


def test_unbound_token_names_the_course_in_each_item_and_writes_to_known_courses_only(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    known_id = add_course(app, LAB_COURSE)
    other_id = add_course(app, OTHER_COURSE)
    token = make_token(runner, "lab-any")
    response = post_events(
        client,
        token,
        [lab(course=LAB_COURSE), lab(), lab(course=OTHER_COURSE, stamp="2026-03-02 10:09:00")],
    )
    assert response.status_code == 400
    [error] = response.json["errors"]
    assert error["index"] == 1 and 'every item needs "course"' in error["message"]
    assert response.json["stored"] == 2
    with app.app_context():
        by_course = Counter(e.course_id for e in stored_events(db.session))
        assert by_course == {known_id: 1, other_id: 1}
    # A course the tool does not know is a 404 that names it, and nothing of the request is
    # stored (such a token used to make a new course of a typo).
    typo = post_events(
        client,
        token,
        [
            lab(course=LAB_COURSE, stamp="2026-03-02 11:00:00"),
            lab(course="LAB-NEW-101"),
            lab(course="LAB-NEW-101", stamp="2026-03-02 11:01:00"),
        ],
    )
    assert typo.status_code == 404
    assert typo.json["courses"] == ["LAB-NEW-101"]
    assert "no course 'LAB-NEW-101' (items 1, 2)" in typo.json["error"]
    assert "nothing was stored" in typo.json["error"]
    assert "--may-create-courses" in typo.json["error"]
    assert event_count(app) == 2
    with app.app_context():
        assert (
            db.session.scalar(select(Course).where(Course.lms_course_id == "LAB-NEW-101")) is None
        )


def test_a_body_over_the_size_limit_is_413_and_nothing_is_stored(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    big = [
        lab(payload={"trace": "x" * 2000}, stamp=f"2026-03-02 10:{i // 60:02d}:{i % 60:02d}")
        for i in range(600)
    ]  # about 1.25 MB, under the item limit
    data = json.dumps(big).encode()
    assert len(data) > 1024 * 1024
    response = client.post(
        "/api/v1/events", data=data, content_type="application/json", headers=bearer(token)
    )
    assert response.status_code == 413
    assert response.is_json and "the limit is 1,048,576 bytes" in response.json["error"]
    assert event_count(app) == 0


def test_a_batch_over_the_item_limit_is_413_and_nothing_is_stored(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    batch = [
        {"user": "u", "t": ms("2026-03-02 10:00:00") + i, "type": "log", "exp": "e"}
        for i in range(1001)
    ]
    response = post_events(client, token, batch)
    assert response.status_code == 413
    assert "1,001 items; the limit is 1,000" in response.json["error"]
    assert event_count(app) == 0
    assert post_events(client, token, batch[:1000]).json["stored"] == 1000


def test_missing_wrong_and_revoked_tokens_are_401_with_a_challenge(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    cases = {
        "missing": {},
        "garbage": bearer("not-a-token"),
        "wrong secret": bearer(token[:-6] + "AAAAAA"),
        "unknown prefix": bearer("ltk_000000000000_" + token.split("_", 2)[2]),
        "not bearer": {"Authorization": "Digest abc"},
    }
    for case, headers in cases.items():
        response = client.post("/api/v1/events", json=[lab()], headers=headers)
        assert response.status_code == 401, case
        assert response.is_json and response.json["error"], case
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="lti_tool"'), case
    assert "needs an API token" in client.post("/api/v1/events", json=[lab()]).json["error"]
    assert post_events(client, token, [lab()]).status_code == 200
    assert runner.invoke(args=["tokens", "revoke", "--name", "lab"]).exit_code == 0
    response = post_events(client, token, [lab(stamp="2026-03-02 11:00:00")])
    assert response.status_code == 401 and "revoked" in response.json["error"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert event_count(app) == 1


def test_a_token_of_another_course_is_403_and_stores_nothing(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    other_id = add_course(app, OTHER_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    response = post_events(client, token, [lab(), lab(course=OTHER_COURSE)])
    assert response.status_code == 403
    assert "bound to course" in response.json["error"] and OTHER_COURSE in response.json["error"]
    assert event_count(app) == 0
    # naming its own course is fine
    assert post_events(client, token, [lab(course=LAB_COURSE)]).status_code == 200
    reader = make_token(runner, "reader", "reports:read", LAB_COURSE)
    report = client.get(f"/api/v1/courses/{other_id}/reports/time-spent", headers=bearer(reader))
    assert report.status_code == 403 and "cannot act on course" in report.json["error"]


def test_tokens_create_binds_a_platform_and_only_such_a_token_may_create_courses(
    app: Flask, runner: FlaskCliRunner
) -> None:
    [north_id] = add_platforms(app, "North")
    add_course(app, LAB_COURSE, north_id)

    def refused(*args: str) -> str:
        result = runner.invoke(args=["tokens", "create", "--name", "x", *args])
        assert result.exit_code != 0
        return result.output

    assert "--may-create-courses needs --bind-platform" in refused(
        "--scope", "events:write", "--may-create-courses"
    )
    assert "no platform named 'South'" in refused(
        "--scope", "events:write", "--bind-platform", "South"
    )
    assert "not both" in refused(
        "--scope", "events:write", "--bind-platform", "North", "--course", LAB_COURSE
    )
    assert "only an events:write token may create courses" in refused(
        "--scope", "reports:read", "--bind-platform", "North", "--may-create-courses"
    )

    created = runner.invoke(
        args=[
            "tokens",
            "create",
            "--name",
            "erb",
            "--scope",
            "events:write",
            "--bind-platform",
            "North",
            "--may-create-courses",
        ]
    )
    assert created.exit_code == 0, created.output
    assert "the courses of platform 'North'; it may create courses" in created.output
    assert make_token(runner, "lab", bind_platform="North").startswith("ltk_")
    assert make_token(runner, "old").startswith("ltk_")
    listed = {
        t["name"]: t for t in json.loads(runner.invoke(args=["tokens", "list", "--json"]).output)
    }
    assert {
        name: (t["platform_id"], t["platform"], t["may_create_courses"], t["course_id"])
        for name, t in listed.items()
    } == {
        "erb": (north_id, "North", True, None),
        "lab": (north_id, "North", False, None),
        "old": (None, None, False, None),
    }
    text = runner.invoke(args=["tokens", "list"]).output
    assert "platform 'North', may create courses" in text and "any course" in text


def test_a_platform_bound_token_writes_to_its_platforms_courses_only(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    north_id, south_id = add_platforms(app, "North", "South")
    own_id = add_course(app, LAB_COURSE, north_id)
    foreign_id = add_course(app, OTHER_COURSE, south_id)
    # The same course key on both platforms: the binding says which one is meant.
    shared = "course-v1:Both+X+2026"
    north_shared = add_course(app, shared, north_id)
    add_course(app, shared, south_id)
    token = make_token(runner, "north-lab", bind_platform="North")

    response = post_events(client, token, [lab(course=LAB_COURSE), lab(course=OTHER_COURSE)])
    assert response.status_code == 404
    assert response.json["error"].startswith(
        "Platform 'North' has no course 'course-v1:Lab+Chemistry"
    )
    assert event_count(app) == 0  # nothing of the request, not even the item for its own course
    ok = post_events(client, token, [lab(course=LAB_COURSE), lab(course=shared)])
    assert ok.status_code == 200 and ok.json["stored"] == 2
    with app.app_context():
        assert Counter(e.course_id for e in stored_events(db.session)) == {
            own_id: 1,
            north_shared: 1,
        }
        assert stored_events(db.session, foreign_id) == []
        assert set(db.session.scalars(select(PersonIdentity.platform_id))) == {north_id}
    # a token without a binding cannot tell the two apart
    unbound = post_events(client, make_token(runner, "any"), [lab(course=shared)])
    assert (
        unbound.status_code == 400 and "several platforms" in unbound.json["errors"][0]["message"]
    )
    # and the xAPI endpoint applies the same binding
    statement = {
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms", "name": "a1"}},
        "verb": {"id": "https://w3id.org/xapi/dod-isd/verbs/navigated"},
        "object": {"id": f"https://lms.example.org/course/{OTHER_COURSE}"},
        "timestamp": "2026-03-02T10:00:00Z",
    }
    xapi_headers = {**bearer(token), "X-Experience-API-Version": "1.0.3"}
    refused = client.post("/xapi/statements", json=statement, headers=xapi_headers)
    assert refused.status_code == 404 and OTHER_COURSE in refused.json["error"]
    assert event_count(app) == 2
    # a platform-bound reader reads its platform's courses only
    reader = make_token(runner, "north-reader", "reports:read", bind_platform="North")
    mine = client.get(f"/api/v1/courses/{own_id}/reports/time-spent", headers=bearer(reader))
    assert mine.status_code == 200 and len(mine.json) == 1
    theirs = client.get(f"/api/v1/courses/{foreign_id}/reports/time-spent", headers=bearer(reader))
    assert theirs.status_code == 403 and "bound to platform" in theirs.json["error"]


def test_an_unknown_course_is_created_only_by_a_token_that_may_create_courses(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    [north_id] = add_platforms(app, "North")
    plain = make_token(runner, "north-lab", bind_platform="North")
    creator = make_token(runner, "north-erb", bind_platform="North", may_create_courses=True)
    xapi_headers = {"X-Experience-API-Version": "1.0.3"}
    statement = {
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms", "name": "a1"}},
        "verb": {"id": "https://w3id.org/xapi/dod-isd/verbs/navigated"},
        "object": {"id": "https://lms.example.org/course/course-v1:New+Y+2026"},
        "timestamp": "2026-03-02T10:00:00Z",
    }
    for body, path in (
        (lab(course="LAB-NEW-101"), "/api/v1/events"),
        (statement, "/xapi/statements"),
    ):
        refused = client.post(path, json=body, headers={**bearer(plain), **xapi_headers})
        assert refused.status_code == 404, path
        assert "Platform 'North' has no course" in refused.json["error"]
        assert "--bind-platform North --may-create-courses" in refused.json["error"]
        created = client.post(path, json=body, headers={**bearer(creator), **xapi_headers})
        assert created.status_code == 200, (path, created.json)
    with app.app_context():
        courses = {c.lms_course_id: c.platform_id for c in db.session.scalars(select(Course))}
        assert courses == {"LAB-NEW-101": north_id, "course-v1:New+Y+2026": north_id}
        assert set(db.session.scalars(select(PersonIdentity.platform_id))) == {north_id}
    assert event_count(app) == 2
    # the plain token now writes to the courses that exist
    assert (
        post_events(
            client, plain, [lab(course="LAB-NEW-101", stamp="2026-03-02 12:00:00")]
        ).status_code
        == 200
    )


def test_a_write_token_cannot_read_reports_and_a_read_token_cannot_write(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    course_id = add_course(app, LAB_COURSE)
    writer = make_token(runner, "lab", "events:write", LAB_COURSE)
    reader = make_token(runner, "dash", "reports:read", LAB_COURSE)
    url = f"/api/v1/courses/{course_id}/reports/time-spent"
    response = client.get(url, headers=bearer(writer))
    assert response.status_code == 403 and "needs reports:read" in response.json["error"]
    response = post_events(client, reader, [lab()])
    assert response.status_code == 403 and "needs events:write" in response.json["error"]
    assert event_count(app) == 0
    assert client.get(url, headers=bearer(reader)).status_code == 200


# --- GET /api/v1/courses/<id>/reports/<name> -------------------------------------------------


def test_reports_come_as_json_rows_and_csv_exactly_as_the_cli_prints_them(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    course_id = add_course(app, LAB_COURSE)
    writer = make_token(runner, "lab", course=LAB_COURSE)
    reader = make_token(runner, "dash", "reports:read")  # unbound: any course
    post_events(
        client,
        writer,
        [
            lab(stamp="2026-03-02 10:00:00"),
            lab(stamp="2026-03-02 10:10:00"),
            lab(stamp="2026-03-02 10:50:00"),
        ],
    )
    url = f"/api/v1/courses/{course_id}/reports/time-spent"
    rows = client.get(url, headers=bearer(reader)).json
    cli = runner.invoke(args=["report", "time-spent", "--course", LAB_COURSE])
    assert rows == json.loads(cli.output)
    assert rows == [
        {
            "course": LAB_COURSE,
            "learner": "alice",
            "day": "2026-03-02",
            "seconds": 600.0,
            "sessions": 2,
            "events": 3,
        }
    ]
    wider = client.get(url + "?cutoff_minutes=45", headers=bearer(reader)).json
    assert (wider[0]["seconds"], wider[0]["sessions"]) == (3000.0, 1)

    csv = client.get(url + "?format=csv", headers=bearer(reader))
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert f'filename="course-{course_id}-time-spent.csv"' in csv.headers["Content-Disposition"]
    cli_csv = runner.invoke(
        args=["report", "time-spent", "--course", LAB_COURSE, "--format", "csv"]
    )
    assert csv.get_data(as_text=True) == cli_csv.output
    assert (
        csv.get_data(as_text=True).splitlines()[0] == "course,learner,day,seconds,sessions,events"
    )

    weekly = client.get(
        f"/api/v1/courses/{course_id}/reports/weekly-activity", headers=bearer(reader)
    )
    assert weekly.json == [
        {
            "course": LAB_COURSE,
            "week_start": "2026-03-02",
            "label": "ACTIVE",
            "label_name": "Active",
            "count": 1,
        }
    ]
    unknown = client.get(f"/api/v1/courses/{course_id}/reports/nope", headers=bearer(reader))
    assert unknown.status_code == 404 and "no report named 'nope'" in unknown.json["error"]
    assert "time-spent" in unknown.json["error"]
    no_course = client.get("/api/v1/courses/9999/reports/time-spent", headers=bearer(reader))
    assert no_course.status_code == 404 and "no course 9999" in no_course.json["error"]
    bad = client.get(url + "?format=xml", headers=bearer(reader))
    assert bad.status_code == 400 and "use json or csv" in bad.json["error"]
    bad = client.get(url + "?cutoff_minutes=0", headers=bearer(reader))
    assert bad.status_code == 400 and "whole number of minutes" in bad.json["error"]
    misspelt = client.get(url + "?fromat=csv", headers=bearer(reader))
    assert misspelt.status_code == 400 and "'fromat'" in misspelt.json["error"]
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and "staff session" in anonymous.json["error"]


def test_a_staff_session_can_read_reports_and_a_learner_session_cannot(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    staff = launch_token(client, platform, INSTRUCTOR, "teacher-1")
    learner = launch_token(client, platform, LEARNER, "student-1")
    with app.app_context():
        course_id = db.session.scalar(select(Course.id))
    url = f"/api/v1/courses/{course_id}/reports/time-spent"
    # as the page's XHR sends it, and as a link carries it
    assert client.get(url, headers=bearer(staff)).status_code == 200
    assert client.get(f"{url}?t={staff}&format=csv").status_code == 200
    response = client.get(url, headers=bearer(learner))
    assert response.status_code == 403 and "for the course's staff" in response.json["error"]
    assert client.get(f"{url}?t={learner}").status_code == 403
    # a staff session of one course does not open another course's reports
    other_id = add_course(app, OTHER_COURSE)
    other = client.get(f"/api/v1/courses/{other_id}/reports/time-spent", headers=bearer(staff))
    assert other.status_code == 403 and f"not course {other_id}" in other.json["error"]


# --- "type": "request" ---------------------------------------------------------------------


def test_a_request_message_returns_only_that_users_own_summary(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    post_events(
        client,
        token,
        [
            lab(stamp="2026-03-02 10:00:00"),
            lab(stamp="2026-03-02 10:10:00", exp="spring"),
            lab(stamp="2026-03-02 10:25:00"),
            lab(stamp="2026-03-03 09:00:00"),
            lab(user="bob", stamp="2026-03-02 10:00:00", exp="secret-bob-activity"),
            lab(user="bob", stamp="2026-03-02 10:20:00"),
        ],
    )
    request = {
        "user": "alice",
        "t": ms("2026-03-03 12:00:00"),
        "type": "request",
        "exp": "pendulum",
    }
    response = post_events(client, token, request)
    assert response.status_code == 200
    summary = response.json
    # 2 March: gaps of 10 and 15 minutes -> 1500 s in one session; 3 March: one event
    assert summary == {
        "user": "alice",
        "course": LAB_COURSE,
        "events": 4,
        "active_days": 2,
        "time_spent_seconds": 1500.0,
        "sessions": 2,
        "cutoff_minutes": 30,
        "first_day": "2026-03-02",
        "last_day": "2026-03-03",
        "activities": {"pendulum": 3, "spring": 1},
        "days": [
            {"day": "2026-03-02", "seconds": 1500.0, "sessions": 1, "events": 3},
            {"day": "2026-03-03", "seconds": 0.0, "sessions": 1, "events": 1},
        ],
    }
    assert "bob" not in response.get_data(as_text=True)
    assert event_count(app) == 6  # a request is not recorded as activity
    # in a batch, a request is answered next to the counts; a user never seen gets zeros
    batch = post_events(client, token, [lab(user="carol"), {**request, "user": "nobody-yet"}]).json
    assert batch["stored"] == 1
    [answer] = batch["summaries"]
    assert (answer["index"], answer["user"], answer["events"], answer["days"]) == (
        1,
        "nobody-yet",
        0,
        [],
    )


# --- the API's own errors --------------------------------------------------------------------


def test_api_errors_are_json_in_words(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    add_course(app, LAB_COURSE)
    token = make_token(runner, "lab", course=LAB_COURSE)
    not_json = client.post(
        "/api/v1/events", data=b"{nope", content_type="application/json", headers=bearer(token)
    )
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json["error"]
    empty = post_events(client, token, [])
    assert empty.status_code == 400 and "batch is empty" in empty.json["error"]
    scalar = post_events(client, token, 42)
    assert scalar.status_code == 400 and "or a list of them" in scalar.json["error"]
    wrong_method = client.get("/api/v1/events", headers=bearer(token))
    assert wrong_method.status_code == 405 and "use POST" in wrong_method.json["error"]
    assert set(wrong_method.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    missing = client.get("/api/v2/whatever")
    assert (
        missing.status_code == 404 and "no endpoint GET /api/v2/whatever" in missing.json["error"]
    )
