"""Inputs the fuzz/ harnesses crashed on, kept as tests (each failed before its fix)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from pylti1p3.exception import LtiException

from lti_tool.api import xapi
from lti_tool.api.courses import ItemProblem
from lti_tool.json_input import MAX_DEPTH
from lti_tool.launch.validation import ToolMessageLaunch
from lti_tool.launch.views import bounded_claims, unverified_claims


def statement(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms", "name": "u1"}},
        "verb": {"id": "https://w3id.org/xapi/acrossx/verbs/posted"},
        "object": {"objectType": "Activity", "id": "https://lms/api/discussion/threads/1"},
        "timestamp": "2026-03-02T10:15:30+00:00",
    }
    body.update(changes)
    return body


def token(header: Any, body: Any) -> str:
    """A JWT-shaped string (no valid signature) with any JSON as header and body."""

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(body)}.c2ln"


class FormRequest:
    def __init__(self, id_token: str) -> None:
        self.id_token = id_token

    def get_param(self, key: str) -> str | None:
        return self.id_token if key == "id_token" else None


def format_checked(id_token: str) -> ToolMessageLaunch:
    message = ToolMessageLaunch(
        FormRequest(id_token),
        None,
        session_service=object(),
        cookie_service=object(),
        requests_session=object(),
    )
    return message.validate_jwt_format()


# fuzz/xapi.py: timestamps whose offset moves them out of datetime's range raised OverflowError
# (a 500) from validate(); they are now a statement problem.
@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_xapi_timestamp_beyond_the_years_datetime_holds_is_an_item_problem(stamp: str) -> None:
    assert xapi.parse_timestamp(stamp) is None
    with pytest.raises(ItemProblem, match="timestamp"):
        xapi.validate(statement(timestamp=stamp))


# fuzz/xapi.py: a number as context.contextActivities.parent (or grouping) raised TypeError.
@pytest.mark.parametrize("kind", ["parent", "grouping"])
@pytest.mark.parametrize("value", [5, 1.5, True])
def test_context_activities_that_are_not_activities_name_no_course(kind: str, value: Any) -> None:
    item = statement(context={"contextActivities": {kind: value}})
    xapi.validate(item)
    assert xapi.course_reference(item) == (None, False)
    assert xapi.event_fields(item)[0] == "edx.forum.thread.created"


# fuzz/id_token.py: an object as the header's alg raised TypeError (unhashable) and a header
# that is not an object raised AttributeError, instead of the LtiException a launch explains.
@pytest.mark.parametrize(
    "header", [{"alg": {"alg": "RS256"}}, {"alg": ["RS256"]}, ["RS256"], 5, "RS256"]
)
def test_a_jwt_header_of_the_wrong_shape_is_an_lti_exception(header: Any) -> None:
    with pytest.raises(LtiException):
        format_checked(token(header, {"iss": "https://lms.example.edu"}))


# fuzz/id_token.py: an azp (or the one aud) that is not a string was returned as the client id.
@pytest.mark.parametrize(
    "body",
    [
        {"aud": [[["{", "P"], "P"], "P"], "azp": [["{", "P"], "P"]},
        {"aud": "client-1", "azp": ["client-1"]},
        {"aud": [["client-1"]]},
    ],
)
def test_an_audience_that_is_not_a_string_is_an_lti_exception(body: dict[str, Any]) -> None:
    message = format_checked(token({"alg": "RS256"}, body))
    message._validated = True
    with pytest.raises(LtiException, match=r"a(ud|zp)"):
        message.get_client_id()


# fuzz/id_token.py: a lone surrogate (or NUL) escaped in the claims reached the database in the
# issuer lookup; recording the refusal looked the issuer up again, outside any handler: a 500.
@pytest.mark.parametrize("issuer", ["\ud800", "https://lms.example.edu\u0000"])
def test_claims_the_database_cannot_store_are_recorded_as_unreadable(issuer: str) -> None:
    claims = unverified_claims(token({"alg": "RS256"}, {"iss": issuer, "aud": "client-1"}))
    assert claims == {"unreadable": True}
    assert bounded_claims(claims) == claims


def test_a_launch_whose_issuer_is_a_lone_surrogate_is_refused_not_a_500(
    client: FlaskClient,
) -> None:
    id_token = token({"alg": "RS256", "kid": "k"}, {"iss": "\ud800", "aud": "client-1"})
    response = client.post("/lti/launch", data={"id_token": id_token, "state": "s"})
    assert 400 <= response.status_code < 500


# Found while writing fuzz/id_token.py (not by the fuzzer): claims nested about 980 levels deep
# were read by json.loads, and bounded_claims' json.dumps, a few frames further down in the
# refusal, raised RecursionError. Claims deeper than json_input.MAX_DEPTH are unreadable now.
def test_claims_nested_deeper_than_the_json_limit_are_recorded_as_unreadable() -> None:
    body = b'{"iss": "https://lms", "x": ' + b"[" * 980 + b"]" * 980 + b"}"
    head = base64.urlsafe_b64encode(b'{"alg": "RS256"}').rstrip(b"=").decode()
    id_token = f"{head}.{base64.urlsafe_b64encode(body).rstrip(b'=').decode()}.c2ln"
    assert unverified_claims(id_token) == {"unreadable": True}


def test_claims_within_the_json_limit_are_kept() -> None:
    nested: Any = "v"
    for _ in range(MAX_DEPTH - 2):
        nested = [nested]
    claims = unverified_claims(token({"alg": "RS256"}, {"x": nested}))
    assert claims is not None and claims["body"] == {"x": nested}
