"""The API contract: an OpenAPI 3.1 document for /api/v1 and /xapi, served at
/api/v1/openapi.json. Tests check it with openapi-spec-validator and against the app's routes."""

from __future__ import annotations

import copy
from typing import Any

from lti_tool.kpis.reports import REPORTS


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


ERRORS = {
    "400": _error("The request is malformed: the message says why."),
    "401": _error("No API token, or one that is unknown or revoked."),
    "403": _error("The token may not do this (scope, or binding to a course or platform)."),
    "404": _error("No such course or path; for events, a course the token may not create."),
    "409": _error("A statement id already stored with other content."),
    "413": _error("The body is larger than API_MAX_BODY_BYTES, or has too many items."),
}
XAPI_VERSION = {
    "name": "X-Experience-API-Version",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "pattern": r"^1\.0(\.\d+)?$"},
    "description": "The xAPI version the client speaks: 1.0.x.",
}


REPORT_BY_ID = "/api/v1/courses/{course_id}/reports/{name}"
REPORT_BY_LMS_ID = "/api/v1/courses/lms/{lms_course_id}/reports/{name}"


def document(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the reports this tool has."""
    doc = _document(server_url)
    doc["paths"][REPORT_BY_LMS_ID] = {"get": _by_lms_id(doc["paths"][REPORT_BY_ID]["get"])}
    return doc


def _by_lms_id(by_id: dict[str, Any]) -> dict[str, Any]:
    """The report operation again, the course named as its LMS names it."""
    operation = copy.deepcopy(by_id)
    operation["summary"] += ", the course named by the LMS's own course id"
    course, *rest = operation["parameters"]
    assert course["name"] == "course_id"  # the by-id operation starts with its course id
    lms_course = {
        "name": "lms_course_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": "The LMS's own course id: the Canvas course number or the Open edX "
        "course key (course-v1:Org+Number+Run).",
    }
    platform = {
        "name": "platform",
        "in": "query",
        "schema": {"type": "string"},
        "description": "The platform's name, as `flask platform list` shows it: needed when "
        "several platforms the reader reaches have a course with this id.",
    }
    operation["parameters"] = [lms_course, *rest, platform]
    return operation


def _document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "lti_tool API",
            "version": "1",
            "description": "Activity in (remote-lab messages, xAPI statements) and KPI reports "
            "out. Tokens come from `flask tokens create` or the admin area; every request "
            "sends `Authorization: Bearer <token>` (xAPI clients may send it as the password "
            "of HTTP Basic auth).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/api/v1/events": {
                "post": {
                    "summary": "Store events: lab messages and xAPI statements, one or a list",
                    "description": "Needs the events:write scope. Invalid items are reported "
                    "one by one (400) and the valid ones kept; an unknown course is a 404 for "
                    "the whole request unless the token may create courses.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/EventItem"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {"$ref": "#/components/schemas/EventItem"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "What was stored, or a lab request's summary.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **{k: ERRORS[k] for k in ("400", "401", "403", "404", "413")},
                    },
                }
            },
            REPORT_BY_ID: {
                "get": {
                    "summary": "A KPI report as JSON rows or CSV",
                    "description": "Needs a reports:read token bound to the course, its "
                    "platform, or all platforms (or a staff session of the course).",
                    "parameters": [
                        {
                            "name": "course_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                            "description": "The tool's own course id.",
                        },
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": sorted(REPORTS)},
                            "description": "; ".join(
                                f"{name}: {REPORTS[name].about}" for name in sorted(REPORTS)
                            ),
                        },
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["json", "csv"]},
                        },
                        {
                            "name": "cutoff_minutes",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1},
                            "description": "time-spent only: the gap (minutes) above which "
                            "time between two events is not counted.",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The report's rows.",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"type": "object"}}
                                },
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        **{k: ERRORS[k] for k in ("400", "401", "403", "404")},
                    },
                }
            },
            "/xapi/about": {
                "get": {
                    "summary": "The xAPI versions this LRS speaks",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Versions.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["version"],
                                        "properties": {
                                            "version": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            }
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/xapi/statements": {
                "post": {
                    "summary": "Store statements, all or none",
                    "parameters": [XAPI_VERSION],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Statement"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {"$ref": "#/components/schemas/Statement"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The ids of the stored statements.",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"type": "string"}}
                                }
                            },
                        },
                        **{k: ERRORS[k] for k in ("400", "401", "403", "404", "409", "413")},
                    },
                },
                "put": {
                    "summary": "Store one statement under the id the query names",
                    "parameters": [
                        XAPI_VERSION,
                        {
                            "name": "statementId",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Statement"}
                            }
                        },
                    },
                    "responses": {
                        "204": {"description": "Stored (or already stored, the same)."},
                        **{k: ERRORS[k] for k in ("400", "401", "403", "404", "409", "413")},
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "LabMessage": {
                    "type": "object",
                    "required": ["user", "t", "type"],
                    "properties": {
                        "user": {"type": "string", "description": "The lab's learner id."},
                        "t": {
                            "type": "number",
                            "description": "Epoch milliseconds (or seconds).",
                        },
                        "type": {"type": "string", "enum": ["log", "request"]},
                        "exp": {"type": "string", "description": "The experiment."},
                        "course": {"type": "string", "description": "The LMS course id."},
                        "payload": {},
                    },
                },
                "Statement": {
                    "type": "object",
                    "required": ["actor", "verb", "object"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "actor": {
                            "type": "object",
                            "description": "An Agent (groups are refused).",
                            "anyOf": [
                                {"required": ["account"]},
                                {"required": ["mbox"]},
                                {"required": ["mbox_sha1sum"]},
                                {"required": ["openid"]},
                            ],
                        },
                        "verb": {
                            "type": "object",
                            "required": ["id"],
                            "properties": {"id": {"type": "string", "minLength": 1}},
                        },
                        "object": {"type": "object"},
                        "result": {"type": "object"},
                        "context": {"type": "object"},
                        "timestamp": {"type": "string"},
                    },
                },
                "EventItem": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/LabMessage"},
                        {"$ref": "#/components/schemas/Statement"},
                    ]
                },
            },
        },
    }
