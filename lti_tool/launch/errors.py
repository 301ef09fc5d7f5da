"""Why a launch was refused, in words a user or an administrator can act on.

The reasons are shown in the page's language and recorded (logs, the admin area's refused
launches) in English: a LaunchProblem's str() is English."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from lti_tool.i18n.text import N_, LazyText, english, lazy_gettext, using

RELAUNCH = "relaunch"  # the user can fix it: open the tool again from the course
ADMIN = "admin"  # an LMS or tool administrator must change the configuration
NEW_WINDOW = "new_window"  # the browser blocked the cookies: open in a new window


@dataclass
class LaunchProblem(Exception):
    """A refused launch: HTTP status, the reason shown, and who can fix it."""

    status: int
    reason: LazyText
    action: str = RELAUNCH
    detail: str | None = None

    def __str__(self) -> str:
        with using(english()):
            reason = str(self.reason)
        return reason if not self.detail else f"{reason} ({self.detail})"

    def said(self) -> LazyText:
        """The reason with its detail, in the language of where it is shown (the detail, the
        library's words, as received)."""
        if not self.detail:
            return self.reason
        return lazy_gettext("%(reason)s (%(detail)s)", reason=self.reason, detail=self.detail)


# (substring of the pylti1p3 / our LtiException message, status, explanation, action)
_RULES: list[tuple[str, int, str, str]] = [
    (
        "Missing %s cookie",
        401,
        N_(
            "Your browser did not send back the cookie set when the launch started, so the "
            "launch cannot be tied to this browser. Third-party cookies may be blocked."
        ),
        NEW_WINDOW,
    ),
    (
        "State not found",
        401,
        N_(
            "The launch's state does not match the one this browser received at login "
            "(the login cookie is missing, or the state is forged)."
        ),
        NEW_WINDOW,
    ),
    ("Missing state param", 400, N_("The launch did not carry an OIDC state."), RELAUNCH),
    ("Missing id_token", 400, N_("The launch did not carry an id_token."), RELAUNCH),
    ("JWT must contain 3 parts", 400, N_("The id_token is not a JWT."), RELAUNCH),
    ("can't be decoded", 400, N_("The id_token could not be decoded."), RELAUNCH),
    (
        "already used",
        401,
        N_("This launch was already used once; launches cannot be replayed."),
        RELAUNCH,
    ),
    (
        "Invalid Nonce",
        401,
        N_("The launch's nonce was not issued by this tool for this browser, or it expired."),
        RELAUNCH,
    ),
    ('"nonce" is empty', 400, N_("The id_token has no nonce."), RELAUNCH),
    ("Unknown issuer", 403, N_("The platform that sent this launch is not registered."), ADMIN),
    ("Unknown client id", 403, N_("This LTI registration is not known to the tool."), ADMIN),
    (
        "several registrations",
        400,
        N_("The platform did not say which registration it launches (no client_id)."),
        ADMIN,
    ),
    ("is disabled", 403, N_("This platform is disabled in the tool."), ADMIN),
    (
        "waiting for an administrator's approval",
        403,
        N_(
            "This platform registered itself with the tool and waits for the approval of an "
            "administrator of the tool."
        ),
        ADMIN,
    ),
    ("Could not find issuer", 400, N_("The login request named no issuer (iss)."), ADMIN),
    ("Could not find login hint", 400, N_("The login request carried no login_hint."), ADMIN),
    ('"iss" is empty', 400, N_("The id_token names no issuer (iss)."), ADMIN),
    ("audience", 400, N_("The id_token's audience (aud/azp) is not valid."), ADMIN),
    ("azp", 400, N_("The id_token's authorized party (azp) is not valid."), ADMIN),
    ("Client id not registered", 403, N_("The id_token's client id is not registered."), ADMIN),
    ("only RS256", 401, N_("The id_token is not signed with an accepted algorithm."), ADMIN),
    ("JWT KID not found", 401, N_("The id_token header names no key (kid)."), ADMIN),
    ("JWT ALG not found", 401, N_("The id_token header names no algorithm (alg)."), ADMIN),
    (
        "Unable to find public key",
        401,
        N_("None of the platform's published keys matches the id_token's key id (kid)."),
        ADMIN,
    ),
    (
        "Could not fetch the platform's keys",
        502,
        N_("The tool could not fetch the platform's public keys."),
        ADMIN,
    ),
    (
        "Error during fetch URL",
        502,
        N_("The tool could not fetch the platform's public keys."),
        ADMIN,
    ),
    ("Invalid response from", 502, N_("The platform's key set URL did not answer JSON."), ADMIN),
    ("not a valid JWKS", 502, N_("The platform's key set is not a valid JWKS."), ADMIN),
    ("Signature has expired", 401, N_("The launch has expired."), RELAUNCH),
    (
        "not yet valid",
        401,
        N_(
            "The id_token was issued in the future beyond the allowed clock skew "
            "(the platform's or the tool's clock is wrong)."
        ),
        ADMIN,
    ),
    (
        "Signature verification failed",
        401,
        N_("The id_token's signature does not verify with the platform's key."),
        ADMIN,
    ),
    ("Can't decode id_token", 401, N_("The id_token did not validate."), ADMIN),
    (
        "Unable to find deployment",
        403,
        N_("This deployment of the tool is not registered for the platform."),
        ADMIN,
    ),
    ("deployment_id is not set", 400, N_("The id_token carries no deployment_id claim."), ADMIN),
    ("Incorrect version", 400, N_("The launch is not an LTI 1.3.0 message."), ADMIN),
    ("Invalid message type", 400, N_("The id_token has no LTI message type."), ADMIN),
    ("Unrecognized message type", 400, N_("The LTI message type is not supported."), ADMIN),
    ("Missing Roles Claim", 400, N_("The id_token carries no roles claim."), ADMIN),
    ("Must have a user", 400, N_("The id_token names no user (sub)."), ADMIN),
    ("Missing Resource Link Id", 400, N_("The launch carries no resource link id."), ADMIN),
    ("Deep Linking", 400, N_("The deep-linking request is incomplete."), ADMIN),
    ("Must support", 400, N_("The deep-linking request is incomplete."), ADMIN),
    ("No launch URL", 400, N_("The login request named no target link URI."), ADMIN),
]


def pending_problem(platform_name: str) -> LaunchProblem:
    """The refusal of a launch from a platform that registered itself and is not approved."""
    return LaunchProblem(
        403,
        lazy_gettext(
            "The platform %(name)s registered itself with the tool, and an administrator of the "
            "tool must approve it before it can open the tool: with %(command)s, or with the "
            "Approve button on the platform's page in the tool's admin area (Platforms).",
            name=repr(platform_name),
            command=f"flask platform approve {shlex.quote(platform_name)}",
        ),
        ADMIN,
    )


def explain(message: str) -> LaunchProblem:
    """Turn an LTI library message into a LaunchProblem (unknown messages are a 400)."""
    for needle, status, reason, action in _RULES:
        if needle.lower() in message.lower():
            return LaunchProblem(
                status, lazy_gettext(reason), action, detail=message.replace("%s ", "")
            )
    return LaunchProblem(
        400, lazy_gettext("The launch could not be validated."), ADMIN, detail=message
    )
