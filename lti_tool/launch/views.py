"""The LTI endpoints: OIDC login, launch, JWKS and the Canvas developer-key JSON."""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import InterfaceError, OperationalError

from lti_tool.extensions import db
from lti_tool.i18n import stored
from lti_tool.i18n.text import N_, lazy_gettext, shown
from lti_tool.i18n.text import gettext as _
from lti_tool.json_input import MAX_DEPTH, scan
from lti_tool.launch import admin_entry, records
from lti_tool.launch.canvas_config import canvas_developer_key
from lti_tool.launch.errors import ADMIN, RELAUNCH, LaunchProblem, explain, pending_problem
from lti_tool.launch.identity import Viewer, issue_token, set_session_cookie
from lti_tool.launch.language import launch_locale
from lti_tool.lti.keys import jwks
from lti_tool.models import LaunchError, Platform
from lti_tool.people.roles import LEARNER, OPENEDX, STAFF, course_role, only_institution_roles

# pylti1p3, jwt and requests (and our modules built on them) are imported by the handlers that
# use them: they are 70 ms of imports that every `flask` command and worker start would
# otherwise pay, and only LTI requests need them.
if TYPE_CHECKING:
    from pylti1p3.contrib.flask import FlaskRequest
    from werkzeug.wrappers import Response as WerkzeugResponse

    from lti_tool.launch.validation import ToolMessageLaunch

bp = Blueprint("lti", __name__, url_prefix="/lti")
log = logging.getLogger(__name__)

ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
#: An id_token longer than this is refused before it is decoded.
MAX_ID_TOKEN_BYTES = 64 * 1024
#: The most of a refused launch's claims kept in launch_error (JSON bytes).
MAX_STORED_CLAIMS = 16 * 1024
DB_DOWN = LaunchProblem(
    503,
    lazy_gettext(
        "The tool's database is not reachable right now. Please try again in a minute by "
        "opening the tool from your course again."
    ),
    "retry",
)


def _param(name: str) -> str | None:
    source = request.args if request.method == "GET" else request.form
    return source.get(name)


def _services(flask_request: FlaskRequest) -> dict[str, Any]:
    """The shared-store session service and the Partitioned cookie service for one request."""
    from pylti1p3.contrib.flask import FlaskSessionService

    from lti_tool.launch.tool_conf import DbLaunchDataStorage, PartitionedCookieService

    lifetime = current_app.config["LTI_LAUNCH_DATA_LIFETIME"]
    storage = DbLaunchDataStorage(lifetime)
    session = FlaskSessionService(flask_request)
    session.set_data_storage(storage)
    session.set_launch_data_lifetime(lifetime)
    return {
        "session_service": session,
        "cookie_service": PartitionedCookieService(flask_request),
        "launch_data_storage": storage,
    }


def unverified_claims(id_token: str | None) -> dict[str, Any] | None:
    """Header and claims of an id_token as received, without the signature, for the record."""
    if not id_token:
        return None
    import jwt

    try:
        claims = {
            "header": jwt.get_unverified_header(id_token),
            "body": jwt.decode(id_token, options={"verify_signature": False}),
        }
    except Exception:  # anything unreadable is recorded as "not a JWT"
        return {"unreadable": True}
    depth, storable = scan(claims)
    if depth > MAX_DEPTH or not storable:
        # A lone surrogate ("\ud800") or NUL escaped in the JSON: neither can be sent to the
        # database (UTF-8, PostgreSQL text), so the refusal's issuer lookup and record would fail
        # with a 500 (found by fuzz/id_token.py). JSON nested more than MAX_DEPTH levels: the
        # refusal's json.dumps of claims json.loads read a few frames higher could recurse too
        # deep (found while writing the harness).
        return {"unreadable": True}
    return claims


def bounded_claims(claims: dict[str, Any] | None) -> dict[str, Any] | None:
    """The claims to keep with a refused launch: as received when they fit MAX_STORED_CLAIMS
    bytes, else their header and the names of their claims (a refusal must not store a flood)."""
    if claims is None:
        return None
    size = len(json.dumps(claims, default=str))
    if size <= MAX_STORED_CLAIMS:
        return claims
    body = claims.get("body")
    kept: dict[str, Any] = {"truncated": True, "bytes": size}
    header = claims.get("header")
    if isinstance(header, dict) and len(json.dumps(header, default=str)) <= 2048:
        kept["header"] = header
    if isinstance(body, dict):
        kept["claim_names"] = [str(k)[:200] for k in list(body)[:100]]
        for key in (
            "iss",
            "aud",
            "azp",
            "sub",
            "https://purl.imsglobal.org/spec/lti/claim/deployment_id",
        ):
            value = body.get(key)
            if isinstance(value, str) and len(value) <= 500:
                kept.setdefault("body", {})[key] = value
    return kept


def _refuse(problem: LaunchProblem, stage: str, claims: dict[str, Any] | None = None) -> Response:
    """Render the explanatory page and record the refusal for administrators."""
    body = (claims or {}).get("body") or {}
    issuer = body.get("iss") if isinstance(body, dict) else None
    issuer = issuer if isinstance(issuer, str) else _param("iss")
    aud = body.get("aud") if isinstance(body, dict) else None
    client_id = (aud[0] if aud else None) if isinstance(aud, list) else aud
    client_id = client_id if isinstance(client_id, str) else _param("client_id")
    log.info("LTI %s refused (%s): %s", stage, problem.status, problem)
    if problem is not DB_DOWN:
        from lti_tool.launch.tool_conf import platform_for_issuer

        try:
            db.session.rollback()
            platform = platform_for_issuer(issuer, client_id)
            g.platform = platform
            reason, reason_id, reason_values = stored.record(problem.said())
            db.session.add(
                LaunchError(
                    reason=reason,
                    reason_id=reason_id,
                    reason_values=reason_values,
                    platform_id=platform.id if platform else None,
                    issuer=issuer[:500] if issuer else None,
                    client_id=client_id[:255] if client_id else None,
                    stage=stage,
                    status_code=problem.status,
                    claims=bounded_claims(claims),
                )
            )
            db.session.commit()
        except (OperationalError, InterfaceError):
            db.session.rollback()
            log.warning("could not record the refused launch: database unreachable")
    html = render_template("launch/problem.html", problem=problem, stage=stage)
    response = Response(html, status=problem.status)
    if problem.status == 503:
        response.headers["Retry-After"] = "30"
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """OIDC third-party initiated login: check the platform, store state and nonce, redirect."""
    from pylti1p3.contrib.flask import FlaskOIDCLogin, FlaskRequest
    from pylti1p3.exception import LtiException, OIDCException

    from lti_tool.launch import platform_storage
    from lti_tool.launch.tool_conf import purge_expired_store_entries
    from lti_tool.lti.registrations import DbToolConf, PlatformPending

    target = _param("target_link_uri")
    try:
        if target and urlsplit(target).netloc not in ("", request.host):
            raise LaunchProblem(
                400, lazy_gettext("The target link URI is not on this tool's host."), ADMIN
            )
        flask_request = FlaskRequest()
        services = _services(flask_request)
        oidc = FlaskOIDCLogin(flask_request, DbToolConf(), **services)
        purge_expired_store_entries()
        launch_url = url_for("lti.launch", _external=True)
        storage_target = _param("lti_storage_target")
        in_frame = request.headers.get("Sec-Fetch-Dest") == "iframe"
        if (storage_target or in_frame) and not _param("lti1p3_new_window"):
            # Inside the LMS iframe: keep the state in the LMS's platform storage where it
            # offers it, else check that the browser keeps our cookies, before going on.
            auth_url = oidc.get_redirect_object(launch_url).get_redirect_url()
            storage = None
            if storage_target:
                storage = platform_storage.remember_login(
                    services["launch_data_storage"], auth_url, storage_target
                )
            response = Response(
                render_template(
                    "launch/cookie_check.html",
                    auth_url=auth_url,
                    new_window=_new_window_url(),
                    storage=storage,
                )
            )
            services["cookie_service"].update_response(response)
        else:
            response = oidc.redirect(launch_url)
        db.session.commit()
        return response
    except LaunchProblem as problem:
        return _refuse(problem, "login")
    except PlatformPending as pending:
        return _refuse(pending_problem(pending.platform.name), "login")
    except (LtiException, OIDCException) as exc:
        return _refuse(explain(str(exc)), "login")
    except (OperationalError, InterfaceError):
        db.session.rollback()
        return _refuse(DB_DOWN, "login")
    except Exception as exc:  # no login error may become a 500
        log.exception("unexpected error in LTI login")
        return _refuse(
            LaunchProblem(
                400,
                lazy_gettext("The login request could not be processed."),
                ADMIN,
                detail=type(exc).__name__,
            ),
            "login",
        )


def _new_window_url() -> str:
    """The login again, top-level in a new window (where the iframe keeps no cookies)."""
    params = dict((request.args if request.method == "GET" else request.form).items())
    params.pop("lti_storage_target", None)
    params["lti1p3_new_window"] = "1"
    return url_for("lti.login") + "?" + urlencode(params)


def _state_from_platform_storage(flask_request: FlaskRequest, services: dict[str, Any]) -> Any:
    """A launch whose login kept its state in platform storage and whose cookies are missing.

    Returns a page that asks the LMS for the state (first arrival), or None to go on: either
    this is an ordinary launch, or the state came back from the LMS, in which case the cookie
    service answers with the values the missing cookies would have held.
    """
    from lti_tool.launch import platform_storage

    state = request.form.get("state")
    storage = services["launch_data_storage"]
    record = platform_storage.login_record(storage, state)
    if record is None or services["cookie_service"].get_cookie(record["state"]):
        return None
    returned = request.form.get("lti_storage_state")
    if returned is None:
        page = render_template(
            "launch/storage_launch.html",
            id_token=request.form.get("id_token", ""),
            storage=record,
        )
        return Response(page)
    if not platform_storage.same_origin_post(request):
        raise LaunchProblem(
            403,
            lazy_gettext(
                "The launch was sent again from outside the tool; open it from the course."
            ),
            RELAUNCH,
        )
    if returned != record["state"]:
        raise LaunchProblem(
            401,
            lazy_gettext(
                "The course page did not confirm this launch (its platform storage does not "
                "hold the login's state). Open the tool again from the course."
            ),
            RELAUNCH,
        )
    platform_storage.forget_login(storage, record["state"])
    services["cookie_service"] = platform_storage.StoredCookieService(
        flask_request, platform_storage.vouched_cookies(record)
    )
    return None


def _check_approved(claims: dict[str, Any] | None) -> None:
    """PlatformPending for a launch naming a platform that awaits approval, before anything else.

    The launch's own state check would otherwise answer first, with a reason that hides the
    real one; any other lookup failure is left for pylti1p3 to report in its turn.
    """
    from pylti1p3.exception import LtiException

    from lti_tool.lti.registrations import PlatformPending, find_registration_row

    body = (claims or {}).get("body")
    if not isinstance(body, dict) or not isinstance(body.get("iss"), str):
        return
    aud = body.get("aud")
    client_id = aud[0] if isinstance(aud, list) and len(aud) == 1 else aud
    if isinstance(body.get("azp"), str):
        client_id = body["azp"]
    try:
        find_registration_row(body["iss"], client_id if isinstance(client_id, str) else None)
    except PlatformPending:
        raise
    except LtiException:
        pass


@bp.post("/launch")
def launch() -> Any:
    """Validate the id_token, record course, person and enrollment, and send the user on."""
    from pylti1p3.contrib.flask import FlaskRequest
    from pylti1p3.exception import LtiException

    from lti_tool.launch.validation import ToolMessageLaunch
    from lti_tool.lti.registrations import DbToolConf, PlatformPending

    id_token = request.form.get("id_token") or ""
    if len(id_token) > MAX_ID_TOKEN_BYTES:
        # Refused before anything decodes it: a launch is a few KB, and megabytes of base64
        # would cost every worker that reads them.
        return _refuse(
            LaunchProblem(
                413,
                lazy_gettext(
                    "The launch's id_token is larger than %(size)d KB; an LMS sends a few KB. "
                    "Open the tool again from the course.",
                    size=MAX_ID_TOKEN_BYTES // 1024,
                ),
                ADMIN,
            ),
            "launch",
            {"oversized": True, "bytes": len(id_token)},
        )
    claims = unverified_claims(id_token)
    try:
        _check_approved(claims)
        flask_request = FlaskRequest()
        services = _services(flask_request)
        asking = _state_from_platform_storage(flask_request, services)
        if asking is not None:
            return asking
        message = ToolMessageLaunch(flask_request, DbToolConf(), **services)
        message.set_public_key_caching(
            services["launch_data_storage"], current_app.config["LTI_LAUNCH_DATA_LIFETIME"]
        )
        message.leeway = current_app.config["LTI_CLOCK_LEEWAY"]
        message.jwks_deadline = float(current_app.config["JWKS_FETCH_DEADLINE"])
        message.refetch_cooldown = float(current_app.config["JWKS_REFETCH_COOLDOWN"])
        body = message.get_launch_data()
        registration = message._registration
        assert registration is not None  # the launch was validated against it
        return _after_launch(body, registration.platform_id, message)
    except LaunchProblem as problem:
        return _refuse(problem, "launch", claims)
    except PlatformPending as pending:
        return _refuse(pending_problem(pending.platform.name), "launch", claims)
    except LtiException as exc:
        return _refuse(explain(str(exc)), "launch", claims)
    except (OperationalError, InterfaceError):
        db.session.rollback()
        return _refuse(DB_DOWN, "launch", claims)
    except Exception as exc:  # no launch error may become a 500
        log.exception("unexpected error in LTI launch")
        return _refuse(
            LaunchProblem(
                400,
                lazy_gettext("The launch could not be processed."),
                ADMIN,
                detail=type(exc).__name__,
            ),
            "launch",
            claims,
        )


def _after_launch(body: Mapping[str, Any], platform_id: int, message: ToolMessageLaunch) -> Any:
    """Check the launch's role and context, write its rows, and send the user on.

    A refused launch writes nothing (no course, person, identity or enrollment); a launch that
    only earns the administrators' link writes the person alone.
    """
    platform = db.session.get(Platform, platform_id)
    assert platform is not None
    g.platform = platform
    message_type = body.get("https://purl.imsglobal.org/spec/lti/claim/message_type")
    roles = [r for r in body.get(ROLES_CLAIM) or [] if isinstance(r, str)]
    role = course_role(roles, platform.lms)
    has_course = records.context_id(body) is not None
    assert message._registration is not None  # the launch was validated against it
    registration_id = message._registration.db_id
    enters_admin = admin_entry.may_enter(registration_id, body, roles, platform.lms)

    if message_type == "LtiDeepLinkingRequest" and not role.is_staff:
        raise LaunchProblem(
            403, lazy_gettext("Only course staff can place the tool in a course."), ADMIN
        )
    if enters_admin and (not has_course or role.role not in (STAFF, LEARNER)):
        # An LMS administrator launching from an account-level link, or into a course they
        # have no role in: only the administration link.
        person = records.upsert_person(platform_id, body)
        admin_url = admin_entry.admin_link(registration_id, body, person)
        db.session.commit()
        return render_template("admin/launch_entry.html", admin_url=admin_url, course_url=None)
    if not has_course:
        raise LaunchProblem(
            400,
            lazy_gettext(
                "This launch carries no course (no LTI context), and the tool shows a course's "
                "analytics. Open the tool from a course's navigation rather than from a "
                "global or account-level link."
            ),
            ADMIN,
        )
    if role.role not in (STAFF, LEARNER):
        reason = lazy_gettext(
            "Your role in this course does not give access to its analytics. Instructors, "
            "course designers and course administrators see the course; learners see their "
            "own progress. Observers and other roles are not supported yet."
        )
        if platform.lms != OPENEDX and only_institution_roles(roles):
            reason = lazy_gettext(
                "Your role in this course does not give access to its analytics. Instructors, "
                "course designers and course administrators see the course; learners see their "
                "own progress. Observers and other roles are not supported yet. The launch "
                "carried institution or system roles only, as Open edX before "
                "lti-consumer-xblock 11.1 sends them: if this LMS is Open edX, its administrator "
                "should mark the platform as Open edX (%(command)s, or on the platform's page in "
                "the tool's admin area).",
                command=f"flask platform set-lms --platform {platform.name!r} openedx",
            )
        raise LaunchProblem(
            403,
            reason,
            ADMIN,
            detail="context roles received: " + (", ".join(sorted(role.context_roles)) or "none"),
        )

    course = records.upsert_course(platform_id, body)
    assert course is not None
    person = records.record_membership(course, platform_id, body, roles, role)
    records.record_deployment(course, registration_id, body)
    admin_url = admin_entry.admin_link(registration_id, body, person) if enters_admin else None
    db.session.commit()

    if message_type == "LtiDeepLinkingRequest":
        return render_template("launch/deep_link.html", **deep_link_choices(message)), 200
    viewer = Viewer(
        person_id=person.id,
        course_id=course.id,
        role=role.role,
        platform_id=platform_id,
        locale=launch_locale(body),
    )
    token = issue_token(viewer)
    custom = body.get("https://purl.imsglobal.org/spec/lti/claim/custom") or {}
    wants_progress = isinstance(custom, dict) and custom.get("view") == "progress"
    endpoint = "course.overview" if role.is_staff and not wants_progress else "course.me"
    course_url = url_for(endpoint, course_id=course.id, t=token)
    response: WerkzeugResponse  # a page, or redirect()'s plain werkzeug Response
    if admin_url:
        page = render_template(
            "admin/launch_entry.html", admin_url=admin_url, course_url=course_url
        )
        response = Response(page)
    else:
        response = redirect(course_url, code=303)
    set_session_cookie(response, viewer, token)
    return response


# What an instructor can place in the course: (key, title, what it opens), in the language of
# the instructor who places it.
PLACEABLE = (
    (
        "dashboard",
        N_("Course analytics"),
        N_("The staff dashboard for instructors; students see their own progress."),
    ),
    (
        "progress",
        N_("My progress"),
        N_("Every user sees their own progress page (staff see the student view)."),
    ),
)


def deep_link_choices(message: ToolMessageLaunch) -> dict[str, Any]:
    """One signed LtiDeepLinkingResponse per placeable item, for the instructor to pick from.

    Each choice is a plain form posting its JWT to the platform: no state to keep between the
    request and the answer, and no script needed (pylti1p3's own form uses an inline script).
    """
    from pylti1p3.deep_link_resource import DeepLinkResource

    deep_link = message.get_deep_link()
    settings = deep_link._deep_link_settings
    launch_url = url_for("lti.launch", _external=True)
    choices = []
    for key, english_title, english_text in PLACEABLE:
        title, text = _(english_title), _(english_text)
        resource = (
            DeepLinkResource().set_url(launch_url).set_title(title).set_custom_params({"view": key})
        )
        choices.append(
            {"title": title, "text": text, "jwt": deep_link.get_response_jwt([resource])}
        )
    return {"return_url": settings["deep_link_return_url"], "choices": choices}


def _registration_hosts() -> list[str] | None:
    """None: any host may register; [] : dynamic registration is off."""
    value = current_app.config.get("DYNAMIC_REGISTRATION_HOSTS", "").strip()
    if value == "*":
        return None
    return [h.strip().lower() for h in value.split(",") if h.strip()]


def _registering_origin(config_url: str) -> str | None:
    """The origin of the LMS that opened the registration page (it frames the page: Canvas)."""
    from lti_tool.launch import outbound

    policy = outbound.Policy.from_config(current_app.config)
    try:
        outbound.check_url(config_url, policy, "openid_configuration")
    except outbound.Refused:
        return None
    parts = urlsplit(config_url)
    return f"{parts.scheme}://{parts.netloc}"


@bp.get("/register")
def register() -> Any:
    """LTI Dynamic Registration: fetch the platform's configuration, register, store, close.

    With `code` (an administrator's invitation) the platform is approved at once and
    DYNAMIC_REGISTRATION_HOSTS does not apply; without, the host must be allowed there and the
    platform waits for an administrator's approval.
    """
    from sqlalchemy.exc import IntegrityError

    from lti_tool import platforms
    from lti_tool.launch import outbound, registration

    config_url = request.args.get("openid_configuration", "")
    token = request.args.get("registration_token") or None
    code = request.args.get("code")
    # Canvas shows this page in an iframe and waits for its close message: the registering
    # LMS may frame this page (static text, nothing to click), and no other page.
    g.registering_lms_origin = _registering_origin(config_url)
    try:
        if not config_url:
            raise registration.RegistrationRefused(
                N_(
                    "open this address from your LMS's tool registration page: it adds the "
                    "openid_configuration parameter"
                )
            )
        invite = None
        if code is not None:
            try:
                invite = platforms.usable_invite(db.session, code)
            except platforms.PlatformError as exc:
                raise registration.RegistrationRefused("%(why)s", why=shown(exc)) from None
        else:
            allowed = _registration_hosts()
            if allowed == [] or not registration.host_allowed(config_url, allowed):
                raise registration.RegistrationRefused(
                    N_(
                        "dynamic registration is not open to this LMS: ask the tool's "
                        "administrator for an invitation (flask platform invite), to add its "
                        "host to DYNAMIC_REGISTRATION_HOSTS, or to register it with flask "
                        "platform add"
                    )
                )
        config = current_app.config
        endpoint_hosts = outbound.hosts_setting(config.get("DYNAMIC_REGISTRATION_ENDPOINT_HOSTS"))
        with outbound.Fetcher(outbound.Policy.from_config(config)) as fetcher:
            platform_config = registration.fetch_platform_configuration(
                config_url, token, fetcher, endpoint_hosts
            )
            body = registration.tool_configuration(
                config["TOOL_BASE_URL"], config["TOOL_TITLE"], platform_config
            )
            answer = registration.register_with_platform(platform_config, body, token, fetcher)
        stored = registration.store_registration(
            db.session, platform_config, answer, config_url, invite
        )
        db.session.commit()
    except outbound.Refused as exc:
        db.session.rollback()
        problem = LaunchProblem(
            400, lazy_gettext("The registration did not complete: %(why)s.", why=exc.shown()), ADMIN
        )
        return _refuse(problem, "register")
    except IntegrityError:
        # Another registration stored the same client id a moment ago.
        db.session.rollback()
        problem = LaunchProblem(
            400,
            lazy_gettext(
                "The registration did not complete: this client id was registered a moment ago "
                "by another request; the tool never changes a registration this way."
            ),
            ADMIN,
        )
        return _refuse(problem, "register")
    except (OperationalError, InterfaceError):
        db.session.rollback()
        return _refuse(DB_DOWN, "register")
    approve = f"flask platform approve {shlex.quote(stored.platform.name)}"
    return render_template("launch/registered.html", stored=stored, approve_command=approve)


@bp.get("/jwks")
def jwks_view() -> Response:
    """The tool's public keys (every key not yet retired)."""
    keyset = jwks()
    db.session.commit()
    return jsonify(keyset)


@bp.get("/config/canvas.json")
def canvas_config() -> Response:
    """The Canvas developer-key JSON for this tool, built from TOOL_BASE_URL."""
    keyset_url = current_app.config["TOOL_BASE_URL"].rstrip("/") + "/lti/jwks"
    return jsonify(
        canvas_developer_key(
            current_app.config["TOOL_BASE_URL"], current_app.config["TOOL_TITLE"], keyset_url
        )
    )
