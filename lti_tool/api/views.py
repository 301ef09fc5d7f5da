"""The JSON API (`/api/v1/…`) and the xAPI LRS endpoint (`/xapi/…`).

Every answer is JSON, errors included (`{"error": "<what was wrong, in words>"}`); a 401 carries
`WWW-Authenticate`. Bodies larger than API_MAX_BODY_BYTES (1 MiB) or batches of more than
API_MAX_ITEMS (1000) items get a 413 before anything is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, default_exceptions

from lti_tool import json_input
from lti_tool.api import batches, xapi
from lti_tool.api.courses import UnknownCourses
from lti_tool.api.openapi import document
from lti_tool.api.tokens import (
    TokenError,
    credentials_from_header,
    find_token,
    looks_like_api_token,
    require_course,
    require_scope,
)
from lti_tool.extensions import db
from lti_tool.kpis.reports import REPORTS, to_csv
from lti_tool.launch.identity import TOKEN_PARAM, current_viewer, read_token, session_ended
from lti_tool.models import AccessLog, ApiToken, Course, Person, Platform
from lti_tool.models.api import SCOPE_EVENTS_WRITE, SCOPE_REPORTS_READ

api_bp = Blueprint("api", __name__, url_prefix="/api")
xapi_bp = Blueprint("xapi", __name__, url_prefix="/xapi")
#: Reports that carry learners' contact details: reading one is written to the access log.
CONTACT_REPORTS = frozenset({"learners"})


class ApiError(Exception):
    """An error answered as JSON: a status, a message in words, and optional details."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **details: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.details = details


def json_error(status: int, message: str, **details: Any) -> Response:
    """`{"error": message, …details}` with a status."""
    response = jsonify({"error": message, **details})
    response.status_code = status
    return response


def _challenge(realm_basic: bool, error: TokenError | None) -> str:
    bearer = 'Bearer realm="lti_tool"'
    if error is not None and error.status == 401 and request.headers.get("Authorization"):
        description = error.message.replace('"', "'").encode("ascii", "replace").decode()
        bearer += f', error="invalid_token", error_description="{description}"'
    return ('Basic realm="lti_tool xAPI", ' + bearer) if realm_basic else bearer


def _token_error(error: TokenError) -> Response:
    response = json_error(error.status, error.message)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = _challenge(request.blueprint == "xapi", error)
    return response


def _unknown_courses(error: UnknownCourses) -> Response:
    return json_error(404, error.message, courses=error.courses, errors=error.errors)


def _api_error(error: ApiError) -> Response:
    response = json_error(error.status, error.message, **error.details)
    response.headers.update(error.headers)
    return response


def _http_error(error: HTTPException) -> Response:
    if isinstance(error, RequestEntityTooLarge):
        return json_error(
            413,
            f"The request body is larger than {max_body_bytes():,} bytes, the limit per "
            "request: send smaller batches.",
        )
    response = json_error(error.code or 500, error.description or error.name)
    valid_methods = getattr(error, "valid_methods", None)  # MethodNotAllowed's
    if error.code == 405 and valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


for _bp in (api_bp, xapi_bp):
    _bp.register_error_handler(TokenError, _token_error)
    _bp.register_error_handler(ApiError, _api_error)
    _bp.register_error_handler(UnknownCourses, _unknown_courses)
    # Flask prefers the app's handler for a status code over a blueprint's class handler:
    # register every code, so that the API never answers with the HTML error page.
    for _code in default_exceptions:
        _bp.register_error_handler(_code, _http_error)
    _bp.register_error_handler(HTTPException, _http_error)


def max_body_bytes() -> int:
    """The largest request body the API reads."""
    return int(current_app.config.get("API_MAX_BODY_BYTES", batches.DEFAULT_MAX_BODY_BYTES))


def max_items() -> int:
    """The most items one batch may carry."""
    return int(current_app.config.get("API_MAX_ITEMS", batches.DEFAULT_MAX_ITEMS))


@api_bp.before_request
@xapi_bp.before_request
def _limit_body() -> None:
    """Apply the API's smaller body limit before anything reads the body."""
    request.max_content_length = max_body_bytes()


def authenticate(scope: str) -> ApiToken:
    """The request's API token, checked for this scope (TokenError otherwise)."""
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise TokenError(
            401,
            "This endpoint needs an API token: send 'Authorization: Bearer <token>' "
            "(create one with `flask tokens create`).",
            code="invalid_request",
        )
    token = credentials_from_header(header)
    if token is None:
        raise TokenError(
            401, "The Authorization header is neither 'Bearer <token>' nor Basic credentials."
        )
    row = find_token(db.session, token)
    require_scope(row, scope)
    return row


def read_json_body() -> Any:
    """The request body as JSON, within the size limit."""
    limit = max_body_bytes()
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(
            413,
            f"The request body is {length:,} bytes; the limit is {limit:,} bytes per request: "
            "send smaller batches.",
        )
    data = request.get_data(cache=False)
    if length is None and len(data) >= limit:
        # A body without Content-Length (chunked) is cut at the limit: probing past the cut
        # raises RequestEntityTooLarge rather than parsing a truncated body.
        request.stream.read(1)
    if not data.strip():
        raise ApiError(400, "The request body is empty: send JSON.")
    try:
        return json_input.loads(data)
    except json_input.JsonInputError as exc:
        raise ApiError(400, f"The request body {exc}.") from None


def read_batch(body: Any, what: str) -> list[Any]:
    """One item or a list of items, within the item limit."""
    items = [body] if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ApiError(400, f"The body must be one {what} (a JSON object) or a list of them.")
    if not items:
        raise ApiError(400, "The batch is empty: send at least one item.")
    if len(items) > max_items():
        raise ApiError(
            413,
            f"The batch has {len(items):,} items; the limit is {max_items():,} per request: "
            "send smaller batches.",
        )
    return items


# --- /api/v1/events ---------------------------------------------------------------------------


@api_bp.get("/v1/openapi.json")
def openapi_document() -> Response:
    """The API contract (OpenAPI 3.1): no token needed, it holds no data."""

    return jsonify(document(request.host_url))


@api_bp.post("/v1/events")
def post_events() -> Response:
    """Lab messages and xAPI statements, one or a list; a "request" message gets a summary."""
    token = authenticate(SCOPE_EVENTS_WRITE)
    body = read_json_body()
    items = read_batch(body, "lab message or xAPI statement")
    with _clash_is_retryable():
        result = batches.ingest_batch(db.session, token, items)
        db.session.commit()
    if isinstance(body, dict) and result.summaries and not result.errors:
        summary = dict(result.summaries[0])
        summary.pop("index")
        return jsonify(summary)
    answer: dict[str, Any] = {
        "received": result.received,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "invalid": len(result.errors),
        "errors": result.errors,
    }
    if result.summaries:
        answer["summaries"] = result.summaries
    if result.errors:
        valid = result.received - len(result.errors)
        answer["error"] = (
            f"{len(result.errors)} of {result.received} items are invalid and were not stored; "
            f"the {valid} valid items were kept (see errors)."
        )
        return json_error(400, answer.pop("error"), **answer)
    return jsonify(answer)


# --- /api/v1/courses/<id>/reports/<name> -----------------------------------------------------


def authorize_report_reader(course_id: int) -> tuple[str, int | None]:
    """A reports:read token for this course, or a staff session of this course.

    Returns who is reading, for the access log: (label, staff person id or None).
    """
    credential = credentials_from_header(request.headers.get("Authorization", ""))
    if credential and looks_like_api_token(credential):
        row = find_token(db.session, credential)
        require_scope(row, SCOPE_REPORTS_READ)
        course = db.session.get(Course, course_id)
        # An unknown course id passes here and is a 404 below.
        require_course(row, course_id, course.platform_id if course else row.platform_id)
        return f"API token {row.name!r}", None
    viewer = current_viewer(course_id)
    if viewer is not None:
        ended = session_ended(viewer)
        if ended is not None:
            raise TokenError(403, f"{ended} Open the tool again from the course in your LMS.")
        if not viewer.is_staff:
            raise TokenError(
                403,
                "Reports are for the course's staff; a learner sees their own progress on "
                "their page.",
            )
        person = db.session.get(Person, viewer.person_id)
        name = (person.name or person.email) if person is not None else None
        return f"{name or f'person {viewer.person_id}'} (reports API)", viewer.person_id
    presented = [credential, request.args.get(TOKEN_PARAM)]
    for value in filter(None, presented):
        other = read_token(value)
        if other is not None:
            raise TokenError(
                403, f"This session is for course {other.course_id}, not course {course_id}."
            )
    if credential:
        raise TokenError(401, "The token is neither an API token nor a valid session.")
    raise TokenError(
        401,
        "Reading reports needs a staff session of this course or an API token with the "
        "reports:read scope ('Authorization: Bearer <token>').",
        code="invalid_request",
    )


@api_bp.get("/v1/courses/lms/<lms_course_id>/reports/<name>")
def course_report_by_lms_id(lms_course_id: str, name: str) -> Response:
    """The same report, the course named by the LMS's own course id (and `?platform=NAME`)."""
    course_id = course_by_lms_id(lms_course_id, request.args.get("platform"))
    return _report(course_id, name, ("platform",))


def course_by_lms_id(lms_course_id: str, platform_name: str | None) -> int:
    """The tool's id of the course the LMS calls `lms_course_id`, among those the reader reaches.

    Anonymous callers get the 401 before anything about courses; a platform-bound token or a
    session looks only in its own platform, so the answer says nothing of other tenants.
    """
    reach = _reader_platform()
    query = select(Course.id).where(Course.lms_course_id == lms_course_id)
    if reach is not None:
        query = query.where(Course.platform_id == reach)
    if platform_name is not None:
        query = query.join(Platform, Platform.id == Course.platform_id).where(
            Platform.name == platform_name
        )
    found = list(db.session.scalars(query.order_by(Course.id).limit(2)))
    on = f" on the platform {platform_name!r}" if platform_name is not None else ""
    if not found:
        raise ApiError(404, f"There is no course with the LMS course id {lms_course_id!r}{on}.")
    if len(found) > 1:
        raise ApiError(
            400,
            f"Several platforms have a course with the LMS course id {lms_course_id!r}: "
            "name the platform with ?platform=NAME (as `flask platform list` shows it).",
        )
    return found[0]


def _reader_platform() -> int | None:
    """The platform a reader is confined to (None: all), or TokenError(401) with no reader."""
    credential = credentials_from_header(request.headers.get("Authorization", ""))
    if credential and looks_like_api_token(credential):
        row = find_token(db.session, credential)
        require_scope(row, SCOPE_REPORTS_READ)
        if row.course_id is not None:
            course = db.session.get(Course, row.course_id)
            return course.platform_id if course is not None else None
        return row.platform_id
    for value in filter(None, [credential, request.args.get(TOKEN_PARAM)]):
        viewer = read_token(value)
        if viewer is not None:
            course = db.session.get(Course, viewer.course_id)
            return course.platform_id if course is not None else -1
    authorize_report_reader(0)  # no reader at all: the same 401 as the course-id route
    return -1  # not reached: there is no course 0 to read


@api_bp.get("/v1/courses/<int:course_id>/reports/<name>")
def course_report(course_id: int, name: str) -> Response:
    """A KPI report as JSON (a list of rows) or CSV, exactly as `flask report` prints it."""
    return _report(course_id, name)


def _report(course_id: int, name: str, route_params: tuple[str, ...] = ()) -> Response:
    reader, reader_id = authorize_report_reader(course_id)
    course = db.session.get(Course, course_id)
    if course is None:
        raise ApiError(404, f"There is no course {course_id} in this tool.")
    report = REPORTS.get(name)
    if report is None:
        raise ApiError(
            404,
            f"There is no report named {name!r}; the reports are: {', '.join(sorted(REPORTS))}.",
        )
    unknown = sorted(set(request.args) - {"format", "cutoff_minutes", TOKEN_PARAM, *route_params})
    if unknown:
        # A misspelt option (say `fromat=csv`) would otherwise be ignored without a word.
        raise ApiError(
            400,
            f"Unknown query parameter {unknown[0]!r}: a report takes format (json or csv) "
            "and, for time-spent, cutoff_minutes.",
        )
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(400, f"format={fmt!r} is not supported: use json or csv.")
    kwargs: dict[str, Any] = {}
    cutoff = request.args.get("cutoff_minutes")
    if cutoff is not None:
        if name != "time-spent":
            raise ApiError(400, "cutoff_minutes applies to the time-spent report only.")
        if not cutoff.isdigit() or int(cutoff) < 1:
            raise ApiError(
                400, f"cutoff_minutes={cutoff!r} must be a whole number of minutes, ≥ 1."
            )
        kwargs["cutoff_minutes"] = int(cutoff)
    rows = report.run(db.session, course, **kwargs)
    if name in CONTACT_REPORTS and rows:
        # Learners' contact details leave through the API: recorded like a CSV from the page.
        db.session.add(
            AccessLog(
                course_id=course.id,
                viewer_person_id=reader_id,
                viewer_label=reader[:400],
                action="learners_report",
                subject_person_id=None,
                subjects=len(rows),
            )
        )
    db.session.commit()  # the token's last use, the access log
    if fmt == "csv":
        return Response(
            to_csv(rows, report.fields),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="course-{course_id}-{name}.csv"'
            },
        )
    return jsonify(rows)


# --- /xapi: a Learning Record Store endpoint -------------------------------------------------


def authenticate_xapi() -> ApiToken:
    """The xAPI client's token, then the xAPI version it speaks (1.0.x), which every request
    but /about states: a request with neither is a 401, as everywhere in the API."""
    token = authenticate(SCOPE_EVENTS_WRITE)
    version = request.headers.get("X-Experience-API-Version", "").strip()
    if not version:
        raise ApiError(
            400, "The X-Experience-API-Version header is required (this LRS speaks 1.0.x)."
        )
    if not xapi.VERSION_PATTERN.match(version):
        raise ApiError(400, f"X-Experience-API-Version {version!r} is not supported: use 1.0.x.")
    return token


@xapi_bp.after_request
def _xapi_version_header(response: Response) -> Response:
    response.headers["X-Experience-API-Version"] = xapi.SUPPORTED_VERSION
    return response


@xapi_bp.get("/about")
def about() -> Response:
    """The xAPI versions this LRS speaks."""
    return jsonify({"version": [xapi.SUPPORTED_VERSION]})


@xapi_bp.post("/statements")
def post_statements() -> Response:
    """Store one statement or a list, all or none; answer the list of their ids."""
    token = authenticate_xapi()
    statements = read_batch(read_json_body(), "xAPI statement")
    ids = _store_statements(token, statements)
    return jsonify(ids)


@xapi_bp.put("/statements")
def put_statement() -> Response:
    """Store one statement under the id the query names; 204."""
    token = authenticate_xapi()
    statement_id = request.args.get("statementId")
    if not statement_id:
        raise ApiError(400, "PUT /xapi/statements needs the statementId query parameter.")
    statement = read_json_body()
    if not isinstance(statement, dict):
        raise ApiError(400, "PUT /xapi/statements takes one statement (a JSON object).")
    if "id" in statement and str(statement["id"]).lower() != statement_id.lower():
        raise ApiError(
            400,
            f"The statement's id {statement['id']!r} differs from statementId {statement_id!r}.",
        )
    _store_statements(token, [{**statement, "id": statement_id}])
    return Response(status=204)


def _store_statements(token: ApiToken, statements: list[Any]) -> list[str]:
    try:
        with _clash_is_retryable():
            ids = batches.ingest_statements(db.session, token, statements)
            db.session.commit()
    except batches.BatchRefused as refused:
        db.session.rollback()
        raise ApiError(refused.status, refused.message, errors=refused.errors) from None
    return ids


@contextmanager
def _clash_is_retryable() -> Iterator[None]:
    """A unique-key clash with a concurrent writer (say, `flask ingest` on the same learner)
    is a 503 with Retry-After, which senders such as event-routing-backends retry."""
    try:
        yield
    except IntegrityError:
        db.session.rollback()
        current_app.logger.warning("event ingest clashed with a concurrent write", exc_info=True)
        raise ApiError(
            503,
            "A concurrent write touched the same learners; nothing was stored. Retry shortly.",
            headers={"Retry-After": "1"},
        ) from None
