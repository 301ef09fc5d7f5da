"""xAPI statements: validate, find the course and learner, and turn them into IncomingEvents.

Statements are idempotent by id: the `xapi_statement` table keeps every id with a digest of the
statement, so a repeat is not stored twice and a different statement under a known id is a
conflict. The event key of a statement is its id, so the event store dedupes it too.

Open edX's own statements (event-routing-backends) count the way the tracking-log events they
were made from count: each becomes the tracking-log name (and event source) the KPIs read.

- video profile verbs: play_video, pause_video, seek_video, stop_video, load_video,
  complete_video, with currentTime, old_time/new_time, duration and the video id;
- a server problem check: problem_check from the server (ATTEMPTED_PROBLEM, and the problem in
  the resources report) with its answer in the tracking log's shape (`answers`, `submission`,
  `correct_map`, success, attempts, grade), which the event store reads as it reads a log's
  (lti_tool.activity.details); a problem of several questions comes as one statement for the
  problem and one per question pointing at it, each question's answer kept as a part of the
  problem's check; a browser problem check: problem_check from the browser (activity only);
- a forum post: edx.forum.*.created from the server (POSTED_FORUM);
- enrollment: edx.course.enrollment.activated / deactivated (not activity), with the mode the
  course object's acrossx `type` extension names;
- grades (earned, passed, failed, a graded problem submission): the grade events, which Open edX
  emits from its grading tasks (event source "task": not activity);
- navigation to a courseware block: the courseware page it opens (activity, and a page in the
  resources report).
Other statements keep their verb IRI as the name and count as activity. The learner is the
actor's account name, mbox or mbox_sha1sum; an e-mail (mbox, or an mbox_sha1sum matching a
known person's e-mail) links the actor to the person with that e-mail on the course's platform.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import orjson
from sqlalchemy import select

from lti_tool.activity.blocks import PART_OF, event_key
from lti_tool.api.courses import CourseResolver, CourseTarget, ItemProblem
from lti_tool.events.sink import IncomingEvent
from lti_tool.models import XapiStatement
from lti_tool.models.types import DbSession

SUPPORTED_VERSION = "1.0.3"
VERSION_PATTERN = re.compile(r"^1\.0(\.\d+)?$")

VIDEO_TYPE = "https://w3id.org/xapi/video/activity-type/video"
VIDEO_EXT = "https://w3id.org/xapi/video/extensions/"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
# Verbs and activity types of event-routing-backends v10.0.1 (processors/xapi/constants.py; which
# tracking event each transformer maps to is in processors/xapi/event_transformers/*.py).
EVALUATED = "https://w3id.org/xapi/acrossx/verbs/evaluated"  # problem_check, server
# problem_check from the browser (no result), and edx.grades.problem.submitted (a question
# object with a result, made from the grade event).
ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"
# Defined but used by no v10 transformer; older versions mapped every problem_check to it, the
# server's with a result and the browser's without one.
ANSWERED = "http://adlnet.gov/expapi/verbs/answered"
POSTED = "https://w3id.org/xapi/acrossx/verbs/posted"  # edx.forum.{thread,response,comment}.created
REGISTERED = "http://adlnet.gov/expapi/verbs/registered"  # edx.course.enrollment.activated
UNREGISTERED = "http://id.tincanapi.com/verb/unregistered"  # edx.course.enrollment.deactivated
NAVIGATED = "https://w3id.org/xapi/dod-isd/verbs/navigated"  # edx.ui.lms.sequence.*, link, outline
EARNED = "http://id.tincanapi.com/verb/earned"  # edx.grades.{subsection,course}.grade_calculated
PASSED = "http://adlnet.gov/expapi/verbs/passed"  # edx.course.grade.passed.first_time, now_passed
FAILED = "http://adlnet.gov/expapi/verbs/failed"  # edx.course.grade.now_failed
INTERACTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
QUESTION_TYPE = "http://adlnet.gov/expapi/activities/question"
ATTEMPT_EXT = "http://id.tincanapi.com/extension/attempt-id"
MODE_EXT = "https://w3id.org/xapi/acrossx/extensions/type"  # the enrollment mode
# event-routing-backends maps Open edX response types to xAPI interaction types; back again,
# as near as the mapping allows (a list of choices is a checkbox problem: choiceresponse).
RESPONSE_TYPES = {
    "choice": "multiplechoiceresponse",
    "numeric": "numericalresponse",
    "fill-in": "stringresponse",
    "true-false": "choiceresponse",
    "matching": "imageresponse",
    "other": "customresponse",
}
# Verbs of the video profile: always about a video.
VIDEO_VERBS = {
    "https://w3id.org/xapi/video/verbs/played": "play_video",
    "https://w3id.org/xapi/video/verbs/paused": "pause_video",
    "https://w3id.org/xapi/video/verbs/seeked": "seek_video",
}
# ADL verbs that the video profile uses for a video object.
VIDEO_OBJECT_VERBS = {
    "http://adlnet.gov/expapi/verbs/completed": "complete_video",
    "http://adlnet.gov/expapi/verbs/terminated": "stop_video",
    "http://adlnet.gov/expapi/verbs/initialized": "load_video",
}
# What an LRS may add or change; ignored when comparing a repeat with the stored statement.
LRS_PROPERTIES = ("authority", "stored", "version")

_KEY_PART = r"[^/?#\s+]+"
# Open edX course keys: course-v1:Org+Course+Run, and a CCX's ccx-v1:Org+Course+Run+ccx@N.
_OPENEDX_COURSE = re.compile(
    rf"course-v1:{_KEY_PART}\+{_KEY_PART}\+{_KEY_PART}"
    rf"|ccx-v1:{_KEY_PART}\+{_KEY_PART}\+{_KEY_PART}\+ccx@{_KEY_PART}"
)
# Usage keys name their course: block-v1:Org+Course+Run+type@…, and in a CCX
# ccx-block-v1:Org+Course+Run+ccx@N+type@… (event-routing-backends' helpers.get_block_version).
_OPENEDX_BLOCK = re.compile(
    rf"(ccx-)?block-v1:({_KEY_PART})\+({_KEY_PART})\+({_KEY_PART})(?:\+ccx@({_KEY_PART}))?\+type@"
)
# Old-style Org/Course/Run keys: event-routing-backends' course IRI is {LMS}/course/<key>, the
# LMS's own URLs /courses/<key>/…; without the URL around it a slash key is not recognisable.
_OLD_PART = r"[\w.~-]+"
_OLD_COURSE = re.compile(
    rf"^https?://[^/]+/course/({_OLD_PART}/{_OLD_PART}/{_OLD_PART})/?$"
    rf"|/courses/({_OLD_PART}/{_OLD_PART}/{_OLD_PART})"
    r"(?:/(?:courseware|jump_to|info|progress|discussion|xblock|about)\b|/?(?:[?#]|$))"
)
# The block an IRI names: a usage key's type and url_name, or an old i4x:// location's.
_BLOCK_NAME = re.compile(
    rf"block-v1:[^/?#\s]+?\+type@({_KEY_PART})\+block@({_KEY_PART})"
    r"|i4x://[^/?#\s]+/[^/?#\s]+/([^/?#\s]+)/([^/?#\s]+)"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def is_statement(item: Any) -> bool:
    """An xAPI statement (by shape: it has an actor and a verb)."""
    return isinstance(item, dict) and "actor" in item and "verb" in item


@dataclass
class PreparedStatement:
    """A valid statement, its course and the event it makes (None for a voiding statement)."""

    index: int
    id: str
    digest: str
    target: CourseTarget
    event: IncomingEvent | None


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no spaces."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def statement_digest(statement: dict[str, Any]) -> str:
    """sha256 of the statement as the client sent it, less what an LRS may add."""
    kept = {k: v for k, v in statement.items() if k not in LRS_PROPERTIES}
    stamp = kept.get("timestamp")
    if isinstance(stamp, str):
        parsed = parse_timestamp(stamp)
        if parsed is not None:
            kept["timestamp"] = parsed.isoformat()  # one instant, however it was written
    return hashlib.sha256(canonical(kept)).hexdigest()


def parse_timestamp(value: str) -> datetime | None:
    """An ISO 8601 date-time in UTC (no zone means UTC), or None."""
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    try:
        return stamp.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC (found by fuzz/xapi.py)
        return None


def seconds(value: Any) -> float | None:
    """A video time: a number of seconds, a numeric string, or an ISO 8601 duration (PT1M2.5S)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        match = _ISO_DURATION.match(value.strip())
        if match and value.strip() not in ("P", "PT"):
            parts = {k: float(v) for k, v in match.groupdict().items() if v}
            return (
                parts.get("d", 0.0) * 86400
                + parts.get("h", 0.0) * 3600
                + parts.get("m", 0.0) * 60
                + parts.get("s", 0.0)
            )
    return None


def actor_key(actor: Any) -> str:
    """The learner key of an actor: account name, else mbox, mbox_sha1sum or openid."""
    if isinstance(actor, dict) and actor.get("objectType", "Agent") == "Agent":
        account = actor.get("account")
        if isinstance(account, dict) and isinstance(account.get("name"), str):
            name: str = account["name"].strip()
            if name:
                return name[:500]
        for ifi in ("mbox", "mbox_sha1sum", "openid"):
            value = actor.get(ifi)
            if isinstance(value, str) and value.strip():
                return value.strip()[:500]
    raise ItemProblem(
        "actor must be an Agent with account.name, mbox, mbox_sha1sum or openid "
        "(groups are not accepted)"
    )


def actor_contact(actor: Any) -> tuple[str | None, str | None]:
    """The e-mail an actor's mbox gives, else the SHA-1 hex of its mbox_sha1sum (lower case)."""
    if not isinstance(actor, dict):
        return None, None
    mbox = actor.get("mbox")
    if isinstance(mbox, str) and mbox.strip():
        email = mbox.strip()
        email = email[7:] if email[:7].lower() == "mailto:" else email
        return (email or None), None
    digest = actor.get("mbox_sha1sum")
    if isinstance(digest, str) and re.fullmatch(r"[0-9a-fA-F]{40}", digest.strip()):
        return None, digest.strip().lower()
    return None, None


def openedx_course_key(value: Any) -> str | None:
    """The Open edX course key in an IRI (course URL, block id), if any: course-v1:, ccx-v1:
    (a CCX, also from a ccx-block-v1: usage key) and old Org/Course/Run keys alike."""
    if not isinstance(value, str):
        return None
    value = unquote(value)  # course-v1%3AOrg%2BX%2BRun in some URLs
    found = _OPENEDX_COURSE.search(value)
    if found:
        return found.group(0)
    block = _OPENEDX_BLOCK.search(value)
    if block:
        ccx, org, course, run, ccx_id = block.groups()
        if ccx or ccx_id:
            return f"ccx-v1:{org}+{course}+{run}+ccx@{ccx_id}" if ccx_id else None
        return f"course-v1:{org}+{course}+{run}"
    old = _OLD_COURSE.search(value)
    if old:
        return old.group(1) or old.group(2)
    return None


def block_of(value: Any) -> tuple[str, str] | None:
    """(block type, url_name) of the courseware block an IRI names, if any."""
    if not isinstance(value, str):
        return None
    found = _BLOCK_NAME.search(unquote(value))
    if found is None:
        return None
    kind, name = (found.group(1), found.group(2)) if found.group(1) else found.group(3, 4)
    return kind, name


def usage_key(object_id: str) -> str:
    """The usage key in event-routing-backends' block IRI ({LMS}/xblock/<key>), else the IRI:
    the problem id a tracking-log problem_check carries."""
    _, found, rest = unquote(object_id).partition("/xblock/")
    return rest.split("?", 1)[0].split("#", 1)[0] if found and rest else object_id


def _activities(context: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    activities = context.get("contextActivities")
    if not isinstance(activities, dict):
        return []
    found = activities.get(kind)
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list):  # a number or string is no activity (found by fuzz/xapi.py)
        return []
    return [a for a in found if isinstance(a, dict)]


def course_reference(statement: dict[str, Any]) -> tuple[str | None, bool]:
    """The course a statement names, and whether it names it explicitly.

    In order: an Open edX course key in a context parent's id (event-routing-backends puts the
    course URL there; the sub-questions of a problem have the problem there), then in the object
    id (enrollment statements have no parent: the object is the course), then in a grouping
    activity, then a context extension whose IRI ends in `/course-id`, then (not explicit) the
    id of a parent activity of the course type.
    """
    context = statement.get("context")
    context = context if isinstance(context, dict) else {}
    parents = _activities(context, "parent")
    obj = statement.get("object")
    obj = obj if isinstance(obj, dict) else {}
    for activity in [*parents, obj, *_activities(context, "grouping")]:
        key = openedx_course_key(activity.get("id"))
        if key:
            return key, True
    extensions = context.get("extensions")
    extensions = extensions if isinstance(extensions, dict) else {}
    for iri, value in extensions.items():
        if iri.lower().rstrip("/").endswith(("/course-id", "/course_id")) and value:
            if isinstance(value, str | int) and not isinstance(value, bool):
                return str(value), True
    for parent in parents:
        definition = parent.get("definition")
        if isinstance(definition, dict) and definition.get("type") == COURSE_TYPE:
            if isinstance(parent.get("id"), str):
                return parent["id"], False
    return None, False


def _is_video(obj: dict[str, Any]) -> bool:
    definition = obj.get("definition")
    if isinstance(definition, dict) and definition.get("type") == VIDEO_TYPE:
        return True
    return "type@video+block@" in str(obj.get("id", ""))


def _last_segment(object_id: str) -> str:
    return object_id.rstrip("/").rsplit("/", 1)[-1]


def _definition_type(obj: dict[str, Any]) -> str | None:
    definition = obj.get("definition")
    kind = definition.get("type") if isinstance(definition, dict) else None
    return kind if isinstance(kind, str) else None


def _is_sub_statement(statement: dict[str, Any]) -> bool:
    """A statement about part of another: event-routing-backends sends one per sub-question of a
    multi-question problem check, each pointing (context.statement) at the problem's statement."""
    context = statement.get("context")
    return isinstance(context, dict) and isinstance(context.get("statement"), dict)


def _forum_name(object_id: str | None) -> str:
    # A thread's IRI ends in /threads/<id>; a response or comment is one level further down.
    path = (object_id or "").split("?", 1)[0].rstrip("/")
    head, _, _ = path.rpartition("/")
    return "edx.forum.thread.created" if head.endswith("/threads") else "edx.forum.response.created"


def event_fields(
    statement: dict[str, Any], course_key: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """The event name, source and data a statement is stored as: Open edX's statements under
    the tracking-log name and source the KPIs count, others under their verb IRI."""
    verb = statement["verb"]["id"]
    obj = statement["object"]
    object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
    result = statement.get("result") if isinstance(statement.get("result"), dict) else None
    data: dict[str, Any] = {"object": object_id, "result": result}
    kind = _definition_type(obj)
    name = VIDEO_VERBS.get(verb) or (VIDEO_OBJECT_VERBS.get(verb) if _is_video(obj) else None)
    if name is not None:
        return name, "xapi", _video_data(statement, data)
    if verb in (EVALUATED, ANSWERED) and object_id and _is_sub_statement(statement):
        if kind == INTERACTION_TYPE and result is not None:
            return verb, "xapi", {**data, PART_OF: _question_part(statement, object_id, result)}
    if verb in (EVALUATED, ANSWERED, ATTEMPTED) and object_id and not _is_sub_statement(statement):
        # Tracking logs count only the server's problem_check as an attempt. In v10 the server's
        # is `evaluated` on a cmi.interaction (with a result) and the browser's is `attempted`
        # without one; older versions sent `answered` for both, with a result from the server.
        if (verb == EVALUATED and kind == INTERACTION_TYPE) or (
            verb == ANSWERED and result is not None
        ):
            problem = usage_key(object_id)
            return "problem_check", "server", {**data, **_check_data(obj, problem, result)}
        if kind == INTERACTION_TYPE:
            return "problem_check", "browser", data
        if verb == ATTEMPTED and kind == QUESTION_TYPE:
            # edx.grades.problem.submitted: a grade statement, as the grading system reports it.
            return "edx.grades.problem.submitted", "task", data
    if verb == POSTED:
        return _forum_name(object_id), "server", data
    if verb in (REGISTERED, UNREGISTERED):
        # Enrollment changes are not learner activity (tracking logs: edx.course.enrollment.*).
        state = "activated" if verb == REGISTERED else "deactivated"
        mode = _extensions(obj.get("definition")).get(MODE_EXT)
        if isinstance(mode, str) and mode:
            data["mode"] = mode
        return f"edx.course.enrollment.{state}", "server", data
    # Grade statements are not learner activity: Open edX computes grades in its grading tasks,
    # and tracking logs carry those events with the source "task". (Passing or failing something
    # other than the course, say a lab's quiz, is another tool's activity.)
    if verb == EARNED:
        scope = "course" if kind == COURSE_TYPE else "subsection"
        return f"edx.grades.{scope}.grade_calculated", "task", data
    if verb in (PASSED, FAILED) and kind == COURSE_TYPE:
        return f"edx.course.grade.now_{verb.rsplit('/', 1)[-1]}", "task", data
    if verb == NAVIGATED:
        block = block_of(object_id)
        if block is not None:
            # The courseware page the learner went to, as the path of the page view a tracking
            # log records, so that the resources report counts it as that page.
            prefix = f"/courses/{course_key}" if course_key else ""
            return f"{prefix}/courseware/{block[1]}/", "xapi", data
    return verb, "xapi", data


def _extensions(holder: Any) -> dict[str, Any]:
    """The extensions of a definition, result or context (empty when it has none)."""
    found = holder.get("extensions") if isinstance(holder, dict) else None
    return found if isinstance(found, dict) else {}


def _language_text(value: Any) -> str:
    """A language map's text (en-US, en, else the first), or ""."""
    if not isinstance(value, dict) or not value:
        return ""
    text = value.get("en-US") or value.get("en") or next(iter(value.values()))
    return text if isinstance(text, str) else ""


def _part_fields(definition: Any, result: dict[str, Any]) -> dict[str, Any]:
    """One question's answer in the fields of a tracking log's `submission`."""
    definition = definition if isinstance(definition, dict) else {}
    response = result.get("response")
    if isinstance(response, str) and response.startswith("["):
        try:
            response = orjson.loads(response)  # several choices, sent as a JSON list
        except orjson.JSONDecodeError:
            pass
    kind = RESPONSE_TYPES.get(str(definition.get("interactionType")), "customresponse")
    if isinstance(response, list):
        kind = "choiceresponse" if kind == "multiplechoiceresponse" else kind
        response = [str(item) for item in response]
    elif response is not None and not isinstance(response, str):
        response = str(response)
    return {
        "answer": response if response is not None else "",
        "correct": result.get("success") is True,
        "question": _language_text(definition.get("description")),
        "response_type": kind,
        "variant": "",
    }


def _score(result: dict[str, Any], field: str) -> Any:
    score = result.get("score")
    return score.get(field) if isinstance(score, dict) else None


def _check_data(obj: dict[str, Any], problem: str, result: dict[str, Any] | None) -> dict[str, Any]:
    """A server problem check statement as the tracking log's problem_check payload: the
    answer of its one question (part <block>_2_1, Open edX's first), or for a problem of several
    questions none (their own statements bring them, see _question_part)."""
    result = result or {}
    definition = obj.get("definition")
    success = result.get("success")
    attempts = _extensions(definition).get(ATTEMPT_EXT)
    data: dict[str, Any] = {
        "problem_id": problem,
        "grade": _score(result, "raw"),
        "max_grade": _score(result, "max"),
        "attempts": attempts if isinstance(attempts, int) else None,
        "success": None if success is None else ("correct" if success else "incorrect"),
    }
    if obj.get("objectType") == "GroupActivity" or "response" not in result:
        data["parts_follow"] = True
        return data
    part = f"{problem.rsplit('@', 1)[-1]}_2_1"
    fields = _part_fields(definition, result)
    data["answers"] = {part: fields["answer"]}
    data["submission"] = {part: fields}
    data["correct_map"] = {part: {"correctness": "correct" if fields["correct"] else "incorrect"}}
    return data


def _question_part(
    statement: dict[str, Any], object_id: str, result: dict[str, Any]
) -> dict[str, Any]:
    """One question of a problem of several: its part, joined to the problem's check (the
    statement this one points at) when the rollups are built."""
    ref = statement["context"]["statement"].get("id")
    part = usage_key(object_id).rsplit("@", 1)[-1]
    fields = _part_fields(statement["object"].get("definition"), result)
    fields["correctness"] = "correct" if fields["correct"] else "incorrect"
    return {
        "part_of": event_key(f"xapi:{str(ref).lower()}".encode()),
        "parts": {part: fields},
    }


def _video_data(statement: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Data of a video statement: the tracking-log fields the video KPIs read."""
    object_id = data["object"]
    result_ext = (data["result"] or {}).get("extensions")
    result_ext = result_ext if isinstance(result_ext, dict) else {}
    context = statement.get("context")
    context = context if isinstance(context, dict) else {}
    context_ext = context.get("extensions")
    context_ext = context_ext if isinstance(context_ext, dict) else {}
    if isinstance(object_id, str):
        data["id"] = _last_segment(object_id)
    video = {
        "currentTime": seconds(result_ext.get(VIDEO_EXT + "time")),
        "old_time": seconds(result_ext.get(VIDEO_EXT + "time-from")),
        "new_time": seconds(result_ext.get(VIDEO_EXT + "time-to")),
        "duration": seconds(context_ext.get(VIDEO_EXT + "length")),
    }
    data.update({k: v for k, v in video.items() if v is not None})
    return data


def validate(statement: Any) -> None:
    """ItemProblem unless the statement has what we need, in the types xAPI gives them."""
    if not isinstance(statement, dict):
        raise ItemProblem("the statement is not a JSON object")
    if "id" in statement and not (
        isinstance(statement["id"], str) and _UUID.match(statement["id"])
    ):
        raise ItemProblem(f"id {statement['id']!r} is not a UUID (8-4-4-4-12 hex digits)")
    actor_key(statement.get("actor"))
    verb = statement.get("verb")
    if not isinstance(verb, dict) or not isinstance(verb.get("id"), str) or not verb["id"]:
        raise ItemProblem(
            "verb.id is required (an IRI such as http://adlnet.gov/expapi/verbs/completed)"
        )
    obj = statement.get("object")
    if not isinstance(obj, dict):
        raise ItemProblem("object is required (an Activity with an id)")
    if obj.get("objectType", "Activity") == "Activity" and not (
        isinstance(obj.get("id"), str) and obj["id"]
    ):
        raise ItemProblem("object.id is required (the activity's IRI)")
    if "timestamp" in statement and (
        not isinstance(statement["timestamp"], str)
        or parse_timestamp(statement["timestamp"]) is None
    ):
        raise ItemProblem(f"timestamp {statement['timestamp']!r} is not an ISO 8601 date-time")
    for part in ("context", "result"):
        if part in statement and not isinstance(statement[part], dict):
            raise ItemProblem(f"{part} must be a JSON object")


def prepare(
    statement: Any, index: int, resolver: CourseResolver, received: datetime
) -> PreparedStatement:
    """Validate a statement, assign its id, find its course; ItemProblem when it cannot be used."""
    validate(statement)
    if "id" in statement:
        statement_id = str(uuid.UUID(str(statement["id"])))
        statement = {**statement, "id": statement_id}  # one spelling of the id for the digest
    else:
        statement_id = str(uuid.uuid4())
    digest = statement_digest(statement)
    ref, explicit = course_reference(statement)
    if resolver.bound is not None and not explicit:
        ref = None  # the token decides; a non-Open edX course IRI is not a course id of ours
    try:
        target = resolver.resolve(ref, index)
    except ItemProblem as problem:
        if ref is None and resolver.bound is None:
            raise ItemProblem(
                "no course: name it in context.contextActivities.parent (an Open edX course "
                "URL such as https://lms.example.org/course/course-v1:Org+X+2026), in the "
                "object id, in a context extension ending in /course-id, or send the statement "
                "with a token bound to the course"
            ) from None
        raise problem
    if statement["verb"]["id"] == VOIDED:
        return PreparedStatement(index, statement_id, digest, target, None)
    stamp = parse_timestamp(statement["timestamp"]) if "timestamp" in statement else received
    assert stamp is not None  # validate() checked it
    name, source, data = event_fields(statement, target.key)
    email, email_sha1 = actor_contact(statement["actor"])
    event = IncomingEvent(
        course_key=target.key,
        user_key=actor_key(statement["actor"]),
        identity_kind="xapi_actor",
        time=stamp.timestamp(),
        name=name,
        source=source,
        data=data,
        raw=f"xapi:{statement_id}".encode(),
        email=email,
        email_sha1=email_sha1,
    )
    return PreparedStatement(index, statement_id, digest, target, event)


@dataclass
class Known:
    """What the store already holds for a statement id."""

    digest: str
    course_id: int


def known_statements(session: DbSession, ids: list[str]) -> dict[str, Known]:
    """The stored digests and courses of some statement ids."""
    found: dict[str, Known] = {}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(XapiStatement.id, XapiStatement.digest, XapiStatement.course_id).where(
                XapiStatement.id.in_(ids[start : start + 500])
            )
        )
        for statement_id, digest, course_id in rows:
            found[statement_id] = Known(digest, course_id)
    return found


def conflict_message(prepared: PreparedStatement, known: Known) -> str | None:
    """Why a statement with a known id cannot be accepted, or None when it is a repeat."""
    if known.digest != prepared.digest:
        return (
            f"statement {prepared.id} was already stored with different content "
            "(a statement id cannot be reused)"
        )
    course = prepared.target.course
    if course is None or course.id != known.course_id:
        return f"statement {prepared.id} was already stored for another course"
    return None
