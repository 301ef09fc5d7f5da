"""The tool's LTI registrations as pylti1p3 reads them: from the database, signed with the
tool's active key. Launches (lti_tool.launch) and the LTI services the syncs call (NRPS, in
lti_tool.sync.nrps) both use them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.lti import keys
from lti_tool.models import LtiDeployment, LtiRegistration, Platform

if TYPE_CHECKING:
    from pylti1p3.registration import TKeySet


class PlatformPending(LtiException):
    """A launch from a platform that registered itself and awaits an administrator's approval."""

    def __init__(self, platform: Platform) -> None:
        super().__init__(
            f"The platform {platform.name!r} is waiting for an administrator's approval"
        )
        self.platform = platform


class ToolRegistration(Registration):
    """A pylti1p3 Registration that remembers which database rows it came from."""

    db_id: int
    platform_id: int
    # A platform that registered itself named its own key set URL: fetch it as untrusted.
    untrusted_urls: bool = False


def find_registration_row(issuer: str, client_id: str | None) -> LtiRegistration:
    """Find the registration for (issuer, client id), raising LtiException with the reason."""
    rows = list(
        db.session.scalars(
            select(LtiRegistration)
            .where(LtiRegistration.issuer == issuer)
            .order_by(LtiRegistration.id)
        )
    )
    if not rows:
        raise LtiException(f"Unknown issuer {issuer!r}: no platform is registered with it")
    if client_id:
        rows = [r for r in rows if r.client_id == client_id]
        if not rows:
            raise LtiException(
                f"Unknown client id {client_id!r} for issuer {issuer!r}: "
                "this registration is not known to the tool"
            )
    elif len(rows) > 1:
        raise LtiException(
            f"The platform sent no client_id and issuer {issuer!r} has several registrations"
        )
    row = rows[0]
    if not row.platform.enabled:
        raise LtiException(f"The platform {row.platform.name!r} is disabled in the tool")
    if not row.platform.approved:
        raise PlatformPending(row.platform)
    return row


class DbToolConf(ToolConfAbstract[Request]):
    """Registrations from the database, in "one issuer, many client ids" mode."""

    def __init__(self) -> None:
        super().__init__()
        # The abstract class keeps this map at class level; give each instance its own.
        self.issuers_relation_types = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        """Never: an issuer may register the tool more than once (one client id each)."""
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        """Always: registrations are looked up by issuer and client id."""
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        """The issuer's registration when it has only one (pylti1p3's older lookup)."""
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Registration:
        """The registration of an issuer and client id, signing with the tool's active key."""
        row = find_registration_row(iss, client_id)
        signing = keys.active_key()
        reg = ToolRegistration()
        reg.db_id = row.id
        reg.platform_id = row.platform_id
        reg.untrusted_urls = row.platform.registered_by in ("dynamic", "invited")
        reg.set_issuer(row.issuer).set_client_id(row.client_id)
        reg.set_auth_login_url(row.auth_login_url).set_auth_token_url(row.auth_token_url)
        if row.auth_audience:
            reg.set_auth_audience(row.auth_audience)
        # The column holds a JSON Web Key Set ({"keys": [...]}) as the platform gave it.
        reg.set_key_set_url(row.jwks_url).set_key_set(cast("TKeySet | None", row.jwks))
        private_pem = keys.private_pem(signing)
        reg.set_tool_private_key(private_pem)
        # With the public key set, pylti1p3 puts our kid in every JWT it signs (service tokens,
        # deep-linking responses), so platforms can pick the key from our JWKS.
        reg.set_tool_public_key(keys.public_pem_from_private(private_pem))
        return reg

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        """A deployment of the issuer's registration, or None."""
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        """A deployment id of the registration of an issuer and client id, or None."""
        row = find_registration_row(iss, client_id)
        found = db.session.scalar(
            select(LtiDeployment).where(
                LtiDeployment.registration_id == row.id,
                LtiDeployment.deployment_id == str(deployment_id),
                LtiDeployment.enabled.is_(True),
            )
        )
        return Deployment().set_deployment_id(found.deployment_id) if found else None

    def get_jwks(
        self, iss: str | None = None, client_id: str | None = None, **kwargs: Any
    ) -> dict[str, list[dict[str, Any]]]:
        """The tool's public key set (its published keys)."""
        return keys.jwks()
