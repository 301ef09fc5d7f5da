"""OIDC login and launch validation: pylti1p3 with its known gaps closed.

Closed here: a nonce is consumed once (and only after the signature is checked), clock-skew
leeway, `aud` as a list with `azp`, an explicit signing-algorithm allow-list, and every
failure raised as LtiException so that the view can explain it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING, Any

import jwt
import requests
from flask import current_app
from pylti1p3.contrib.flask import FlaskMessageLaunch
from pylti1p3.exception import LtiException

from lti_tool.extensions import db
from lti_tool.launch import outbound

if TYPE_CHECKING:
    from lti_tool.launch.tool_conf import DbLaunchDataStorage
    from lti_tool.lti.registrations import ToolRegistration

ALLOWED_ALGS = frozenset({"RS256", "RS384", "RS512"})
#: The largest key set the tool reads.
MAX_JWKS_BYTES = 1024 * 1024


class ToolMessageLaunch(FlaskMessageLaunch):
    """A resource-link or deep-linking launch validated with the fixes above."""

    leeway: int = 60
    # An overall deadline for fetching a platform's key set, and how long after a refetch (an
    # unknown `kid` in a cached key set) the next may happen: a stream of launches naming
    # made-up kids must not make the tool fetch on every one.
    jwks_deadline: float = 5.0
    refetch_cooldown: float = 60.0
    _fetched_from_cache: bool = False
    # What the tool gives pylti1p3 (DbToolConf's registrations, the database's launch storage
    # as the key-set cache), narrower than pylti1p3's own types for them.
    _registration: ToolRegistration | None
    _public_key_cache_data_storage: DbLaunchDataStorage | None

    def fetch_public_key(self, key_set_url: str) -> Any:
        """Fetch the platform's JWKS, through the shared cache when one is set."""
        storage = self._public_key_cache_data_storage
        cache_key = "jwks-" + key_set_url
        if storage is not None:
            cached = storage.get_global_value(cache_key)
            if cached:
                self._fetched_from_cache = True
                return cached
        if getattr(self._registration, "untrusted_urls", False):
            ok, keyset = self._fetch_untrusted(key_set_url)
        else:
            ok, keyset = self._fetch_within_deadline(key_set_url)
        if storage is not None and ok:
            storage.set_global_value(cache_key, keyset)
        return keyset

    def _fetch_within_deadline(self, key_set_url: str) -> tuple[bool, Any]:
        """(ok, key set) from an administrator's URL, read in full within `jwks_deadline`."""
        started = time.monotonic()
        response = self._requests_session.get(
            key_set_url, timeout=(self.jwks_deadline, self.jwks_deadline), stream=True
        )
        chunks: list[bytes] = []
        size = 0
        try:
            # A server that trickles bytes never hits the read timeout: watch the clock between
            # reads of whatever has arrived (read1: at most one read of the socket each).
            while chunk := response.raw.read1(16384, decode_content=True):
                chunks.append(chunk)
                size += len(chunk)
                if time.monotonic() - started > self.jwks_deadline:
                    raise LtiException(
                        f"The platform's key set did not arrive within {self.jwks_deadline:g} s"
                    )
                if size > MAX_JWKS_BYTES:
                    raise LtiException("The platform's key set is larger than 1 MB")
        finally:
            response.close()
        try:
            return response.ok, json.loads(b"".join(chunks))
        except ValueError as exc:
            raise LtiException(f"Invalid response from {key_set_url}: not JSON") from exc

    def _fetch_untrusted(self, key_set_url: str) -> tuple[bool, Any]:
        """(ok, key set) from a URL the platform named itself, as dynamic registration fetches.

        https on the host checked at registration, no redirects, no private addresses, one
        deadline: the host's DNS may have changed since.
        """

        policy = outbound.Policy.from_config(current_app.config)
        policy = dataclasses.replace(policy, deadline=min(policy.deadline, self.jwks_deadline))
        try:
            with outbound.Fetcher(policy) as fetcher:
                answer = fetcher.get(key_set_url, "the platform's key set")
        except outbound.Refused as exc:
            raise LtiException(f"Could not fetch the platform's keys: {exc}") from exc
        try:
            return 200 <= answer.status < 300, answer.json()
        except ValueError as exc:
            raise LtiException(f"Invalid response from {key_set_url}: not JSON") from exc

    def get_client_id(self) -> str:
        """Return the client id from `aud`; a list needs `azp` when it has several values."""
        body = self._get_jwt_body()
        aud = body.get("aud")
        azp = body.get("azp")
        if azp is not None and not isinstance(azp, str):
            # A list or object would reach the registration query (found by fuzz/id_token.py).
            raise LtiException("The id_token's azp is not a string")
        if isinstance(aud, list):
            if azp:
                if azp not in aud:
                    raise LtiException("The id_token's azp is not one of its audiences (aud)")
                return azp
            if len(aud) == 1 and isinstance(aud[0], str) and aud[0]:
                return aud[0]
            if len(aud) == 1:
                raise LtiException("The id_token has no audience (aud)")
            raise LtiException("The id_token has several audiences (aud) but no azp")
        if not isinstance(aud, str) or not aud:
            raise LtiException("The id_token has no audience (aud)")
        if azp and azp != aud:
            raise LtiException("The id_token's azp does not match its audience (aud)")
        return aud

    def validate(self) -> ToolMessageLaunch:
        """Validate every part of the launch; the nonce is consumed last, once all else holds."""
        if self._restored:
            raise LtiException("Can't validate restored launch")
        self._validated = True
        try:
            (
                self.validate_state()
                .validate_jwt_format()
                .validate_registration()
                .validate_jwt_signature()
                .validate_deployment()
                .validate_message()
                .validate_nonce()
                .save_launch_data()
            )
        except Exception:
            self._validated = False
            raise
        return self

    def validate_jwt_format(self) -> ToolMessageLaunch:
        """pylti1p3's format check, then ours on the header (see the class docstring)."""
        super().validate_jwt_format()
        header = self._jwt.get("header")
        if not isinstance(header, dict):  # a JSON array or number (found by fuzz/id_token.py)
            raise LtiException("Invalid JWT format, can't be decoded")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGS:  # a dict is unhashable
            raise LtiException(
                f"The id_token is signed with {alg!r}; only RS256, RS384 or RS512 are accepted"
            )
        if not isinstance(self._jwt.get("body"), dict):
            raise LtiException("Invalid JWT format, can't be decoded")
        return self

    def validate_nonce(self) -> ToolMessageLaunch:
        """Accept a nonce issued at our login once; a replay is refused even in a new session."""
        nonce = self._get_jwt_body().get("nonce")
        if not nonce or not isinstance(nonce, str):
            raise LtiException('"nonce" is empty')
        storage = self._session_service.data_storage
        if storage.get_global_value("used-nonce-" + nonce):
            raise LtiException("This launch was already used (nonce replay)")
        if not self._session_service.check_nonce(nonce):
            raise LtiException("Invalid Nonce")
        storage.delete_value(self._session_service._get_key("nonce", nonce))
        storage.set_global_value("used-nonce-" + nonce, True)
        return self

    def get_public_key(self) -> tuple[str, str]:
        """Find the platform key for the token's kid; refetch a cached JWKS once on a miss."""
        try:
            try:
                return super().get_public_key()
            except LtiException as exc:
                if "Unable to find public key" not in str(exc) or not self._fetched_from_cache:
                    raise
                # The platform may have rotated its keys since we cached them; refetch, but
                # not again within the cooldown.
                self._note_refetch(exc)
                assert self._registration is not None  # its key set was just searched
                self._registration.set_key_set(None)
                self._public_key_cache_data_storage = None
                return super().get_public_key()
        except requests.RequestException as exc:
            raise LtiException(f"Could not fetch the platform's keys: {exc}") from exc
        except (KeyError, TypeError) as exc:
            raise LtiException("The platform's key set is not a valid JWKS") from exc

    def _note_refetch(self, missing: LtiException) -> None:
        """Record a refetch of this registration's key set, or refuse one within the cooldown."""
        storage = self._public_key_cache_data_storage
        if storage is None:
            return
        assert self._registration is not None  # its key set was just searched
        marker = "jwks-refetched-" + str(self._registration.get_key_set_url())
        last = storage.get_global_value(marker)
        now = time.time()
        if isinstance(last, int | float) and now - last < self.refetch_cooldown:
            raise LtiException(
                f"{missing} (the platform's keys were fetched again less than "
                f"{self.refetch_cooldown:g} s ago)"
            ) from missing
        storage.set_global_value(marker, now)
        # Kept even when this launch is then refused (a refusal rolls its session back).
        db.session.commit()

    def validate_jwt_signature(self) -> ToolMessageLaunch:
        """Check signature, expiry and audience with a clock-skew leeway."""
        public_key, key_alg = self.get_public_key()
        try:
            jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=[key_alg],
                leeway=self.leeway,
                options={"verify_aud": False, "require": ["exp", "iat"]},
            )
        except jwt.InvalidTokenError as exc:
            raise LtiException(f"Can't decode id_token: {exc}") from exc
        return self
