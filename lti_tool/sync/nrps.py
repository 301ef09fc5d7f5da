"""NRPS roster: a service token by client credentials, every page, then one upserting transaction.

The token comes from pylti1p3's ServiceConnector (a JWT assertion signed with the tool's active
key, with its `kid` so that platforms pick the key from our JWKS). The pages are
fetched here, not through pylti1p3: its connector lower-cases the `Link` header, so a next URL such
as Moodle's `…/services.php/CourseSection/2/bindings/3/memberships?page=2` would break.

Every page is read before anything is written, and the roster is applied in the caller's
transaction: a failure at any point leaves the previous roster as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select

from lti_tool.i18n.text import N_, lazy_gettext
from lti_tool.lti.registrations import DbToolConf
from lti_tool.models import Course, Enrollment, PersonIdentity, Platform
from lti_tool.models.types import DbSession
from lti_tool.people.linking import launch_claim, link_people
from lti_tool.people.roles import context_role_name, course_role
from lti_tool.sync.errors import OAUTH_ERROR_CODE, SyncError
from lti_tool.sync.http import CountingSession, after_attempts, next_link, same_origin, where

log = logging.getLogger(__name__)

SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
USER_AGENT = "lti_tool-nrps"
#: A roster longer than this many pages is refused (a platform whose next links never end).
MAX_PAGES = 2000
#: Answers worth another try, and the pauses before each retry (seconds).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_DELAYS = (1.0, 4.0)
MAX_RETRY_AFTER = 60.0


@dataclass
class Roster:
    """Every member of every page, as received."""

    members: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    requests_made: int = 0


def _snippet(response: requests.Response) -> str:
    """An answer's OAuth `error` code as ": error CODE" ("" without one); never remote prose.

    These messages are shown on admin pages: a remote body (or error_description) could carry
    anything, so only a code that looks like one is kept.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    if isinstance(code, str) and OAUTH_ERROR_CODE.fullmatch(code):
        return f": error {code}"
    return ""


def service_token(connector: ServiceConnector, registration: Registration) -> str:
    """The NRPS access token by client credentials, or a SyncError saying why not."""
    token_url = registration.get_auth_token_url() or "(no token URL)"
    try:
        return connector.get_access_token([SCOPE])
    except LtiServiceException as exc:
        response = exc.response
        raise SyncError(
            N_("the platform refused the service token: HTTP %(code)s from %(url)s%(detail)s"),
            code=response.status_code,
            url=where(token_url),
            detail=_snippet(response),
        ) from None
    except requests.RequestException as exc:
        raise SyncError(
            N_("could not reach the platform's token URL %(url)s: %(kind)s"),
            url=where(token_url),
            kind=type(exc).__name__,
        ) from None
    except (ValueError, KeyError, TypeError):
        raise SyncError(
            N_(
                "the platform's token answer from %(url)s has no access_token "
                "(not the JSON an OAuth2 token endpoint returns)"
            ),
            url=where(token_url),
        ) from None


def _get_page(
    session: CountingSession,
    url: str,
    token: str,
    page: int,
    retry_delays: Sequence[float],
    sleep: Callable[[float], None],
) -> requests.Response:
    """GET one page, retrying throttling, 5xx and network errors a bounded number of times."""
    headers = {"Authorization": "Bearer " + token, "Accept": MEDIA_TYPE}
    attempts = len(retry_delays) + 1
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            response = session.get(url, headers=headers, allow_redirects=True)
        except requests.RequestException as exc:
            if last:
                raise SyncError(
                    N_("could not read roster page %(page)s from %(url)s: %(kind)s (%(tries)s)"),
                    page=page,
                    url=where(url),
                    kind=type(exc).__name__,
                    tries=after_attempts(attempts),
                ) from None
            sleep(retry_delays[attempt])
            continue
        if response.status_code in RETRY_STATUSES and not last:
            delay = retry_delays[attempt]
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.strip().isdigit():
                delay = min(max(delay, float(retry_after)), MAX_RETRY_AFTER)
            sleep(delay)
            continue
        if not response.ok:
            if response.status_code in (401, 403):
                what = lazy_gettext("the platform refused the roster request")
            elif response.status_code == 404:
                what = lazy_gettext("the memberships URL was not found")
            else:
                what = lazy_gettext("the platform failed to send the roster")
            values: dict[str, Any] = {
                "what": what,
                "code": response.status_code,
                "page": page,
                "url": where(url),
                "detail": _snippet(response),
            }
            if response.status_code in RETRY_STATUSES:
                raise SyncError(
                    N_("%(what)s: HTTP %(code)s for page %(page)s (%(url)s) (%(tries)s)%(detail)s"),
                    tries=after_attempts(attempts),
                    **values,
                )
            raise SyncError(
                N_("%(what)s: HTTP %(code)s for page %(page)s (%(url)s)%(detail)s"), **values
            )
        return response
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_roster(
    registration: Registration,
    memberships_url: str,
    *,
    timeout: float = 30.0,
    should_stop: Callable[[], bool] | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
) -> Roster:
    """Every page of the membership container, following `Link: rel="next"` with its case kept."""
    session = CountingSession(timeout, should_stop, user_agent=USER_AGENT)
    roster = Roster()
    try:
        token = service_token(
            ServiceConnector(registration, requests_session=session), registration
        )
        url: str | None = memberships_url
        seen: set[str] = set()
        while url:
            if url in seen:
                raise SyncError(
                    N_("the platform's next link goes back to a page already read: %(url)s"),
                    url=where(url),
                )
            if roster.pages >= MAX_PAGES:
                raise SyncError(
                    N_("the roster has more than %(pages)s pages; stopped"), pages=MAX_PAGES
                )
            seen.add(url)
            page = roster.pages + 1
            response = _get_page(session, url, token, page, retry_delays, sleep)
            try:
                body = response.json()
            except ValueError as exc:
                raise SyncError(
                    N_("roster page %(page)s (%(url)s) is not valid JSON: %(detail)s"),
                    page=page,
                    url=where(url),
                    detail=str(exc),
                ) from None
            members = body.get("members") if isinstance(body, dict) else None
            if not isinstance(members, list) or not all(isinstance(m, dict) for m in members):
                raise SyncError(
                    N_(
                        "roster page %(page)s (%(url)s) is not an NRPS membership container "
                        '(no "members" list of objects)'
                    ),
                    page=page,
                    url=where(url),
                )
            roster.members.extend(members)
            roster.pages = page
            url = next_link(response)
            if url is not None and not same_origin(url, memberships_url):
                # The service token is for the memberships URL's host: never hand it elsewhere.
                raise SyncError(
                    N_(
                        "roster page %(page)s links its next page to %(url)s, not the "
                        "memberships URL's own scheme, host and port: refused to send the "
                        "token there; the run stopped"
                    ),
                    page=page,
                    url=where(url),
                )
    except SyncError as exc:
        exc.requests_made = session.count
        exc.counts = {"pages": roster.pages}
        raise
    finally:
        session.close()
    roster.requests_made = session.count
    return roster


def registration_for(session: DbSession, course: Course) -> Registration:
    """The pylti1p3 Registration whose client credentials read this course's roster."""
    if not course.nrps_memberships_url:
        raise SyncError(
            N_(
                "course %(id)s has no NRPS memberships URL: launch the tool once from the "
                "course with the Names and Role Provisioning service enabled"
            ),
            id=course.id,
        )
    platform = session.get(Platform, course.platform_id) if course.platform_id else None
    if platform is None:
        raise SyncError(N_("course %(id)s belongs to no platform"), id=course.id)
    try:
        return DbToolConf().find_registration_by_params(platform.issuer, course.nrps_client_id)
    except LtiException as exc:
        raise SyncError(
            N_("no usable registration for the roster: %(detail)s"), detail=str(exc)
        ) from None


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _person_claims(member: Mapping[str, Any], user_id: str) -> dict[str, Any]:
    """A member in the shape launch_claim reads (NRPS user_id = the launch sub)."""
    claims: dict[str, Any] = {"sub": user_id}
    for attr in ("name", "given_name", "family_name", "email"):
        value = _str(member.get(attr))
        if value:
            claims[attr] = value
    return claims


def apply_roster(
    session: DbSession, course: Course, members: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Upsert people, identities and enrollments from a complete roster; nothing is committed.

    Members who are "Inactive" (or "Deleted"), and learners the LMS names by LTI id who are not on
    the roster, become inactive; nobody is deleted. Idempotent: the same roster twice gives the
    same rows.
    """
    if course.platform_id is None:
        raise SyncError(N_("course %(id)s belongs to no platform"), id=course.id)
    platform_id = course.platform_id
    platform = session.get(Platform, platform_id)
    lms = platform.lms if platform is not None else "other"
    counts: dict[str, Any] = {
        "members": 0,
        "people_added": 0,
        "added": 0,
        "updated": 0,
        "unchanged": 0,
        "deactivated": 0,
        "skipped": 0,
    }
    by_user: dict[str, Mapping[str, Any]] = {}
    for member in members:
        user_id = member.get("user_id")
        user_id = str(user_id).strip() if isinstance(user_id, (str, int)) else ""
        if not user_id:
            counts["skipped"] += 1
            continue
        by_user[user_id] = member  # a member listed twice: the later entry wins
    counts["members"] = len(by_user)

    enrollments = {
        e.person_id: e
        for e in session.scalars(select(Enrollment).where(Enrollment.course_id == course.id))
    }
    linked = link_people(
        session,
        platform_id,
        [launch_claim(_person_claims(m, user_id)) for user_id, m in by_user.items()],
    )
    on_roster: set[int] = set()
    for person_id, member in zip(linked.person_ids, by_user.values(), strict=True):
        on_roster.add(person_id)
        roles = [r for r in member.get("roles") or [] if isinstance(r, str)]
        role = course_role(roles, lms)
        status = str(member.get("status") or "Active").strip().lower()
        wanted: dict[str, Any] = {
            "course_role": role.role,
            "status": "inactive" if status in ("inactive", "deleted") else "active",
            "source": "nrps",
        }
        enrollment = enrollments.get(person_id)
        if enrollment is None:
            enrollment = Enrollment(
                course_id=course.id,
                person_id=person_id,
                roles=roles,
                is_test_user=role.is_test_user,
                **wanted,
            )
            session.add(enrollment)
            enrollments[person_id] = enrollment
            counts["added"] += 1
            continue
        # NRPS lists context roles only: keep the institution and system roles a launch gave,
        # and a test-user flag a launch set.
        kept = [r for r in enrollment.roles or [] if context_role_name(r) is None]
        wanted["roles"] = roles + [r for r in kept if r not in roles]
        wanted["is_test_user"] = enrollment.is_test_user or role.is_test_user
        changed = {k: v for k, v in wanted.items() if getattr(enrollment, k) != v}
        for key, value in changed.items():
            setattr(enrollment, key, value)
        counts["updated" if changed else "unchanged"] += 1

    if by_user:
        named_by_lti = set(
            session.scalars(
                select(PersonIdentity.person_id).where(
                    PersonIdentity.platform_id == platform_id,
                    PersonIdentity.kind == "lti_sub",
                    PersonIdentity.person_id.in_(list(enrollments)),
                )
            )
        )
        for person_id, enrollment in enrollments.items():
            if (
                person_id not in on_roster
                and person_id in named_by_lti
                and enrollment.status != "inactive"
            ):
                enrollment.status = "inactive"
                enrollment.source = "nrps"
                counts["deactivated"] += 1
    else:
        counts["warnings"] = ["the platform returned no members: nobody was marked inactive"]
    session.flush()
    counts["people_added"] = len(linked.created)
    return counts


def sync_course(
    session: DbSession,
    course: Course,
    *,
    should_stop: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    retry_delays: Sequence[float] = RETRY_DELAYS,
) -> tuple[dict[str, Any], int]:
    """Fetch and apply the course's roster; returns (counts, requests made).

    The roster is written into the session and not committed (the caller commits it with the
    run's row). Before the HTTP requests the current transaction, which has only read the
    registration, is ended so that none stays open while the LMS answers.
    """
    registration = registration_for(session, course)
    url = course.nrps_memberships_url or ""
    # No transaction stays open while the LMS answers.
    session.commit()
    roster = fetch_roster(
        registration, url, timeout=timeout, should_stop=should_stop, retry_delays=retry_delays
    )
    # Once every page is in, writing takes moments: a shutdown lets it finish.
    try:
        counts = apply_roster(session, course, roster.members)
    except SyncError as exc:
        exc.requests_made = roster.requests_made
        raise
    counts["pages"] = roster.pages
    return counts, roster.requests_made
