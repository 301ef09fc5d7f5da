"""The API contract: /api/v1/openapi.json is a valid OpenAPI 3.1 document that describes every
API route the app has, and the answers the app gives."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate


def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    return body


def test_the_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    document = spec(client)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on an invalid document


def test_every_api_route_is_documented_with_its_methods(app: Flask, client: FlaskClient) -> None:
    documented = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, item in spec(client)["paths"].items()
        for method in item
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("api.", "xapi.")):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
        routes |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert routes == documented


def test_answers_have_the_documented_shapes(client: FlaskClient) -> None:
    document = spec(client)
    error = document["components"]["schemas"]["Error"]
    refused = client.post("/api/v1/events", json={"user": "u"})
    assert refused.status_code == 401
    assert set(error["required"]) <= set(refused.json or {})
    about = client.get("/xapi/about")
    assert about.status_code == 200 and isinstance((about.json or {}).get("version"), list)
    no_token = client.post("/xapi/statements", json=[])
    assert no_token.status_code == 401 and "error" in (no_token.json or {})
    reports = document["paths"]["/api/v1/courses/{course_id}/reports/{name}"]["get"]
    names = next(p for p in reports["parameters"] if p["name"] == "name")["schema"]["enum"]
    assert "learners" in names and "not-on-roster" in names


def test_a_method_no_api_route_has_answers_json_with_allow(client: FlaskClient) -> None:
    # Found by schemathesis: TRACE on a report URL fails before any blueprint is known, and the
    # answer was the HTML error page without the Allow header RFC 9110 requires.
    response = client.open("/api/v1/courses/1/reports/learners", method="TRACE")
    assert response.status_code == 405
    assert response.is_json and "error" in (response.json or {})
    assert "GET" in response.headers["Allow"]
    page = client.open("/privacy", method="TRACE")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


def test_found_by_schemathesis_routing_and_auth_come_before_the_xapi_version(
    client: FlaskClient,
) -> None:
    # A method an xAPI resource does not have is a 405 naming the ones it has, not the version
    # check's 400; OPTIONS lists only documented methods; no token is a 401 whatever the version.
    put_about = client.put("/xapi/about")
    assert put_about.status_code == 405
    assert set(put_about.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert "PUT is not allowed" in (put_about.json or {})["error"]
    options = client.options("/api/v1/events")
    assert set(options.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    no_token = client.post("/xapi/statements", json=[], headers={"X-Experience-API-Version": "0"})
    assert no_token.status_code == 401
    unknown = client.delete("/api/v1/nothing/here")
    assert unknown.status_code == 404
    assert (unknown.json or {})["error"] == "There is no endpoint DELETE /api/v1/nothing/here."
