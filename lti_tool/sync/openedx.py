"""Open edX APIs: a client-credentials JWT, then enrollments, grades and the course blocks.

The platform's `data_source` row (kind "openedx") holds the LMS base URL, the OAuth2 client id
and the client secret (encrypted). The client's service user must be staff at the LMS: the
enrollment list and `all_blocks` need it. Every list is read before anything is written, and
everything is written in the caller's transaction, so a failure leaves the previous data.

- Enrollments (`/api/enrollment/v1/enrollments/?course_id=`): every learner, active or not
  (also the roster when NRPS refuses a course above its enrollment limit). Learners are named
  by username (identity `openedx_username`, which is how tracking logs and launches that share
  the username link to them).
- Grades (`/api/grades/v1/courses/{course_id}/`): percent, letter grade → learner stats.
- Blocks (`/api/courses/v1/blocks/`): names and durations of videos (so charts show names,
  not hashes), graded subsections with their due dates (→ assignments and course events).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from sqlalchemy import delete, select

from lti_tool import secrets
from lti_tool.i18n.text import N_, LazyText, lazy_gettext
from lti_tool.models import (
    Assignment,
    Course,
    CourseBlock,
    CourseEvent,
    DataSource,
    Enrollment,
    LmsEnrollment,
    LmsLearnerStats,
    Person,
    PersonIdentity,
    Video,
)
from lti_tool.models.types import DbSession, utcnow
from lti_tool.people.linking import Claim, link_people
from lti_tool.people.usernames import real_username
from lti_tool.sync.errors import OAUTH_ERROR_CODE, SyncError
from lti_tool.sync.http import HttpError, JsonClient, json_body, next_link, where

KIND = "openedx"
SOURCE = "openedx"
USERNAME = "openedx_username"
PAGE_SIZE = 100
BLOCK_FIELDS = "children,display_name,type,graded,due,format,student_view_data"


def source_for(session: DbSession, platform_id: int | None) -> DataSource:
    """The platform's Open edX API source; SyncError when there is none."""
    source = (
        session.scalar(
            select(DataSource).where(
                DataSource.platform_id == platform_id,
                DataSource.kind == KIND,
                DataSource.enabled.is_(True),
            )
        )
        if platform_id is not None
        else None
    )
    if source is None:
        raise SyncError(
            N_("no Open edX API is configured for this course's platform (%(command)s)"),
            command="flask platform set-openedx --platform NAME …",
        )
    return source


class OpenEdxClient(JsonClient):
    """A JsonClient that first obtains a JWT with the OAuth2 client-credentials grant."""

    def __init__(self, base_url: str, client_id: str, secret: str, **options: Any) -> None:
        super().__init__(base_url, "", user_agent="lti_tool-openedx", **options)
        token = self._access_token(client_id, secret)
        self.session.headers["Authorization"] = "JWT " + token

    def _access_token(self, client_id: str, secret: str) -> str:
        url = self.url("/oauth2/access_token")
        data = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "token_type": "jwt",
        }
        try:
            # No redirects: a 307/308 would re-send the client secret in the body to any host.
            response = self.session.post(
                url, data=data, headers={"Authorization": ""}, allow_redirects=False
            )
        except requests.RequestException as exc:
            raise SyncError(
                N_("could not reach %(url)s: %(kind)s"), url=where(url), kind=type(exc).__name__
            ) from None
        if response.status_code in (400, 401, 403):
            # Only an OAuth error code, never the LMS's own text: this is shown on admin pages.
            code = _json_or_empty(response).get("error")
            error = code if isinstance(code, str) and OAUTH_ERROR_CODE.fullmatch(code) else None
            raise SyncError(
                N_("the Open edX client credentials were refused (%(error)s)"),
                error=error or f"HTTP {response.status_code}",
            )
        if not response.ok or response.is_redirect:
            raise SyncError(
                N_("HTTP %(code)s from %(url)s (redirects not followed)")
                if response.is_redirect
                else N_("HTTP %(code)s from %(url)s"),
                code=response.status_code,
                url=where(url),
            )
        token = _json_or_empty(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise SyncError(N_("%(url)s answered no access_token"), url=where(url))
        return token

    def results(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Each page of a DRF list: `{"next": url, "results": [...]}`, or a bare list."""
        next_url: str | None = self.url(path)
        seen: set[str] = set()
        first = True
        while next_url:
            if next_url in seen:
                raise HttpError(
                    N_("the next link of %(where)s goes back to a page read"),
                    where=where(next_url),
                )
            seen.add(next_url)
            response = self.get(next_url, params if first else None)
            first = False
            body = json_body(response)
            if isinstance(body, list):
                yield [item for item in body if isinstance(item, dict)]
                return
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise HttpError(
                    N_("%(where)s did not answer a paginated list"), where=where(next_url)
                )
            yield [item for item in body["results"] if isinstance(item, dict)]
            next_url = next_link(response, body)


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def client_for(source: DataSource, **options: Any) -> OpenEdxClient:
    """A signed-in client for a source (SyncError when its secret cannot be read)."""
    if not source.client_id or not source.secret_encrypted:
        raise SyncError(N_("the Open edX API has no client id or secret configured"))
    try:
        secret = secrets.decrypt(source.secret_encrypted)
    except secrets.SecretsUnavailable as exc:
        raise SyncError(str(exc)) from None
    return OpenEdxClient(source.location, source.client_id, secret, **options)


def check_connection(source: DataSource, timeout: float = 10) -> tuple[bool, LazyText]:
    """Sign in and ask who we are: (ok, what happened in words)."""
    client = None
    try:
        client = client_for(source, timeout=timeout, retry_delays=())
        me = client.get_json("/api/user/v1/me")
    except SyncError as exc:
        return False, exc.shown()
    finally:
        if client is not None:
            client.close()
    username = me.get("username") if isinstance(me, dict) else None
    return True, lazy_gettext(
        "connected to %(location)s as %(user)s",
        location=source.location,
        user=username or lazy_gettext("an unnamed user"),
    )


def _explain(exc: HttpError, what: LazyText) -> SyncError:
    """An API failure in words an administrator can act on."""
    if exc.status == 401:
        return SyncError(N_("the Open edX token was refused reading %(what)s"), what=what)
    if exc.status == 403:
        return SyncError(
            N_(
                "the Open edX API client may not read %(what)s: its service user needs staff "
                "access (is_staff) at the LMS"
            ),
            what=what,
        )
    if exc.status == 404:
        return SyncError(N_("Open edX does not know this course (%(what)s: HTTP 404)"), what=what)
    return SyncError(N_("%(what)s: %(error)s"), what=what, error=exc.shown())


def _fetch(client: OpenEdxClient, course_key: str, stop: Callable[[], bool]) -> dict[str, Any]:
    """Every list the sync needs, read before anything is written."""
    fetched: dict[str, Any] = {"enrollments": [], "grades": []}
    try:
        for page in client.results(
            "/api/enrollment/v1/enrollments/",
            {"course_id": course_key, "page_size": PAGE_SIZE},
        ):
            fetched["enrollments"].extend(page)
    except HttpError as exc:
        raise _explain(exc, lazy_gettext("the enrollments")) from None
    if stop():
        raise SyncError(N_("stopped before the grades were read"))
    try:
        for page in client.results(
            f"/api/grades/v1/courses/{quote(course_key, safe='')}/", {"page_size": PAGE_SIZE}
        ):
            fetched["grades"].extend(page)
    except HttpError as exc:
        raise _explain(exc, lazy_gettext("the grades")) from None
    try:
        blocks = client.get_json(
            "/api/courses/v1/blocks/",
            {
                "course_id": course_key,
                "all_blocks": "true",
                "depth": "all",
                "requested_fields": BLOCK_FIELDS,
                "student_view_data": "video",
            },
        )
    except HttpError as exc:
        raise _explain(exc, lazy_gettext("the course blocks")) from None
    if not isinstance(blocks, dict) or not isinstance(blocks.get("blocks"), dict):
        raise SyncError(N_("the course blocks answer has no `blocks` object"))
    fetched["blocks"] = blocks["blocks"]
    return fetched


def sync_course(
    session: DbSession,
    course: Course,
    *,
    should_stop: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    retry_delays: Sequence[float] = (1.0, 4.0),
) -> tuple[dict[str, Any], int]:
    """Fetch and apply a course's enrollments, grades and blocks; returns (counts, requests)."""
    if not course.lms_course_id:
        raise SyncError(N_("course %(id)s has no Open edX course key"), id=course.id)
    source = source_for(session, course.platform_id)
    course_key = course.lms_course_id
    session.commit()  # no transaction stays open while the LMS answers
    stop = should_stop or (lambda: False)
    client = client_for(source, timeout=timeout, retry_delays=retry_delays, should_stop=stop)
    try:
        try:
            fetched = _fetch(client, course_key, stop)
        except SyncError as exc:
            exc.requests_made = client.requests_made
            raise
        requests_made = client.requests_made
    finally:
        client.close()
    counts = apply(session, course, fetched)
    return counts, requests_made


# --- writing -----------------------------------------------------------------------------


def _people_by_username(
    session: DbSession, platform_id: int, usernames: set[str]
) -> dict[str, int]:
    """Person ids by username; people not known yet are created with that identity."""
    ordered = sorted(usernames)
    linked = link_people(session, platform_id, [Claim([(USERNAME, u)]) for u in ordered])
    return dict(zip(ordered, linked.person_ids, strict=True))


def _username(item: dict[str, Any], key: str) -> str | None:
    return real_username(item.get(key))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def apply(session: DbSession, course: Course, fetched: dict[str, Any]) -> dict[str, Any]:
    """Write what was fetched into the session (no commit); idempotent."""
    if course.platform_id is None:
        raise SyncError(N_("course %(id)s belongs to no platform"), id=course.id)
    counts: dict[str, Any] = {}
    enrolled = {name: item for item in fetched["enrollments"] if (name := _username(item, "user"))}
    graded = {name: item for item in fetched["grades"] if (name := _username(item, "username"))}
    before = set(
        session.scalars(
            select(PersonIdentity.value).where(
                PersonIdentity.platform_id == course.platform_id, PersonIdentity.kind == USERNAME
            )
        )
    )
    people = _people_by_username(session, course.platform_id, set(enrolled) | set(graded))
    counts["people_added"] = len(set(people) - before)
    counts.update(_apply_enrollments(session, course, enrolled, people))
    _apply_enrollment_dates(session, course, enrolled, people)
    counts["grades"] = _apply_grades(session, course, graded, people)
    counts.update(_apply_blocks(session, course, fetched["blocks"]))
    return counts


def _apply_enrollments(
    session: DbSession, course: Course, enrolled: dict[str, dict[str, Any]], people: dict[str, int]
) -> dict[str, int]:
    counts = {"enrollments": len(enrolled), "added": 0, "updated": 0, "unchanged": 0}
    existing = {
        e.person_id: e
        for e in session.scalars(select(Enrollment).where(Enrollment.course_id == course.id))
    }
    for username, item in enrolled.items():
        person_id = people[username]
        status = "active" if item.get("is_active", True) is not False else "inactive"
        enrollment = existing.get(person_id)
        if enrollment is None:
            session.add(
                Enrollment(
                    course_id=course.id,
                    person_id=person_id,
                    roles=[],
                    course_role="learner",
                    status=status,
                    source=SOURCE,
                )
            )
            counts["added"] += 1
            continue
        # The LMS's enrollment list says nothing about staff: a launch's roles stay.
        if enrollment.course_role in ("learner", "none") and (
            enrollment.status != status or enrollment.course_role != "learner"
        ):
            enrollment.status, enrollment.course_role, enrollment.source = (
                status,
                "learner",
                SOURCE,
            )
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    return counts


def _apply_enrollment_dates(
    session: DbSession, course: Course, enrolled: dict[str, dict[str, Any]], people: dict[str, int]
) -> None:
    """When each enrollment was made (`created`) and its mode: the enrollment page's history."""
    existing = {
        row.person_id: row
        for row in session.scalars(
            select(LmsEnrollment).where(LmsEnrollment.course_id == course.id)
        )
    }
    for username, item in enrolled.items():
        mode = item.get("mode")
        wanted = (
            _when(item.get("created")),
            mode[:100] if isinstance(mode, str) and mode else None,
        )
        row = existing.get(people[username])
        if row is None:
            session.add(
                LmsEnrollment(
                    course_id=course.id,
                    person_id=people[username],
                    created_at=wanted[0],
                    mode=wanted[1],
                )
            )
        elif (row.created_at, row.mode) != wanted:
            row.created_at, row.mode = wanted


def _apply_grades(
    session: DbSession, course: Course, graded: dict[str, dict[str, Any]], people: dict[str, int]
) -> int:
    stats = {
        s.person_id: s
        for s in session.scalars(
            select(LmsLearnerStats).where(LmsLearnerStats.course_id == course.id)
        )
    }
    for username, item in graded.items():
        person_id = people[username]
        percent = item.get("percent")
        score = round(float(percent) * 100, 2) if isinstance(percent, int | float) else None
        letter = item.get("letter_grade") if isinstance(item.get("letter_grade"), str) else None
        row = stats.get(person_id)
        if row is None:
            row = LmsLearnerStats(course_id=course.id, person_id=person_id, source=SOURCE)
            session.add(row)
        row.current_score, row.current_grade, row.synced_at = score, letter, utcnow()
        email = _username(item, "email")
        if email:
            person = session.get(Person, person_id)
            if person is not None and not person.email:
                person.email = email
    return len(graded)


def _apply_blocks(session: DbSession, course: Course, blocks: dict[str, Any]) -> dict[str, int]:
    parents: dict[str, tuple[str, int]] = {}
    for block_id, block in blocks.items():
        if isinstance(block, dict):
            for index, child in enumerate(block.get("children") or []):
                if isinstance(child, str):
                    parents[child] = (block_id, index)
    existing = {
        b.block_id: b
        for b in session.scalars(select(CourseBlock).where(CourseBlock.course_id == course.id))
    }
    videos = {
        v.video_id: v for v in session.scalars(select(Video).where(Video.course_id == course.id))
    }
    assignments = {
        a.lms_assignment_id: a
        for a in session.scalars(select(Assignment).where(Assignment.course_id == course.id))
    }
    events = {
        e.lms_id: e
        for e in session.scalars(
            select(CourseEvent).where(
                CourseEvent.course_id == course.id, CourseEvent.source == SOURCE
            )
        )
    }
    counts = {"blocks": 0, "videos_named": 0, "graded_subsections": 0, "due_dates": 0}
    seen_assignments: set[str] = set()
    for block_id, block in blocks.items():
        if not isinstance(block, dict) or not isinstance(block_id, str):
            continue
        kind = str(block.get("type") or "unknown")[:50]
        name = str(block.get("display_name") or "")[:500]
        view = block.get("student_view_data")
        view = view if isinstance(view, dict) else {}
        length = view.get("duration") if kind == "video" else None
        duration = float(length) if isinstance(length, int | float) and length > 0 else None
        parent, position = parents.get(block_id, (None, None))
        row = existing.pop(block_id, None)
        if row is None:
            row = CourseBlock(course_id=course.id, block_id=block_id[:255])
            session.add(row)
        row.block_type, row.display_name, row.parent_id, row.position = kind, name, parent, position
        row.graded, row.duration = bool(block.get("graded")), duration
        counts["blocks"] += 1
        if kind == "video":
            video_id = block_id.rsplit("@", 1)[-1][:255]
            video = videos.get(video_id)
            if video is None:
                video = Video(course_id=course.id, video_id=video_id)
                session.add(video)
                videos[video_id] = video
            video.display_name = name or video.display_name
            if video.duration is None and duration is not None:
                video.duration = duration  # events' own durations come first
            counts["videos_named"] += 1
        if kind == "sequential" and block.get("graded"):
            counts["graded_subsections"] += 1
            seen_assignments.add(block_id)
            due = _when(block.get("due"))
            assignment = assignments.get(block_id)
            if assignment is None:
                assignment = Assignment(course_id=course.id, lms_assignment_id=block_id[:255])
                session.add(assignment)
            assignment.name, assignment.due_at, assignment.position = name, due, position
            assignment.removed = False
            event = events.pop(block_id, None)
            if due is not None:
                counts["due_dates"] += 1
                if event is None:
                    event = CourseEvent(
                        course_id=course.id, source=SOURCE, lms_id=block_id[:255], kind="due"
                    )
                    session.add(event)
                # The name only ("" if none): the page writes "… due" in its language.
                event.title, event.at = name, due
            elif event is not None:
                session.delete(event)
    for block_id in existing:
        session.execute(
            delete(CourseBlock).where(
                CourseBlock.course_id == course.id, CourseBlock.block_id == block_id
            )
        )
    for event in events.values():  # due dates of subsections no longer graded or gone
        session.delete(event)
    for lms_id, assignment in assignments.items():
        if lms_id not in seen_assignments:
            assignment.removed = True
    session.flush()
    return counts
