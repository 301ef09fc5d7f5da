"""pylti1p3 glue for launches, backed by our database: launch-data storage and the cookie service
(the ToolConf is lti_tool.lti.registrations')."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pylti1p3.contrib.flask import FlaskCookieService
from pylti1p3.exception import LtiException
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete

from lti_tool.extensions import db
from lti_tool.lti.registrations import PlatformPending, find_registration_row
from lti_tool.models import LtiStoreEntry, Platform
from lti_tool.models.types import rowcount, utcnow

if TYPE_CHECKING:
    from pylti1p3.contrib.flask import FlaskRequest


def platform_for_issuer(issuer: str | None, client_id: str | None = None) -> Platform | None:
    """Best-effort platform lookup for error records and frame-ancestors; never raises."""
    if not issuer:
        return None
    try:
        return find_registration_row(issuer, client_id).platform
    except PlatformPending as pending:
        return pending.platform
    except LtiException:
        return None


class DbLaunchDataStorage(LaunchDataStorage[Any]):
    """OIDC state, nonces and launch data in the database, shared by every worker."""

    def __init__(self, lifetime: int) -> None:
        super().__init__()
        self._lifetime = lifetime

    def can_set_keys_expiration(self) -> bool:
        """Entries expire (pylti1p3 asks before passing a lifetime)."""
        return True

    def get_value(self, key: str) -> Any:
        """The stored value of a key, or None when absent or expired."""
        entry = db.session.get(LtiStoreEntry, self._prepare_key(key))
        if entry is None or (entry.expires_at is not None and entry.expires_at <= utcnow()):
            return None
        return entry.value

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        """Store a value for `exp` seconds (the store's lifetime by default)."""
        expires = utcnow() + timedelta(seconds=exp or self._lifetime)
        db.session.merge(LtiStoreEntry(key=self._prepare_key(key), value=value, expires_at=expires))
        db.session.flush()

    def check_value(self, key: str) -> bool:
        """Whether a key holds a value that has not expired."""
        return self.get_value(key) is not None

    def delete_value(self, key: str) -> None:
        """Remove a key (used to consume nonces)."""
        db.session.execute(delete(LtiStoreEntry).where(LtiStoreEntry.key == self._prepare_key(key)))

    def set_global_value(self, key: str, value: Any) -> None:
        """Store a key that is not bound to the browser's session cookie."""
        expires = utcnow() + timedelta(seconds=self._lifetime)
        db.session.merge(LtiStoreEntry(key="global-" + key, value=value, expires_at=expires))

    def delete_global_value(self, key: str) -> None:
        """Remove a key stored with set_global_value."""
        db.session.execute(delete(LtiStoreEntry).where(LtiStoreEntry.key == "global-" + key))

    def get_global_value(self, key: str) -> Any:
        """Read a key stored with set_global_value."""
        entry = db.session.get(LtiStoreEntry, "global-" + key)
        if entry is None or (entry.expires_at is not None and entry.expires_at <= utcnow()):
            return None
        return entry.value


def purge_expired_store_entries() -> int:
    """Delete expired launch state; returns how many rows went."""
    result = db.session.execute(delete(LtiStoreEntry).where(LtiStoreEntry.expires_at <= utcnow()))
    return rowcount(result) or 0


class PartitionedCookieService(FlaskCookieService):
    """pylti1p3's cookie service plus `Partitioned` (CHIPS), needed inside a cross-site iframe."""

    # Set by pylti1p3's __init__ (its class-level defaults are None).
    _request: FlaskRequest
    _cookie_data_to_set: dict[str, dict[str, Any]]

    def update_response(self, response: Any) -> None:
        """Set the cookies pylti1p3 asked for, Secure and SameSite=None on https."""
        secure = bool(self._request.is_secure())
        for key, data in self._cookie_data_to_set.items():
            response.set_cookie(
                key=key,
                value=data["value"],
                max_age=data["exp"],
                path="/",
                httponly=True,
                secure=secure,
                samesite="None" if secure else "Lax",
                partitioned=secure,
            )
