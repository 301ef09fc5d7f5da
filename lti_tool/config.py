"""The settings, one class per environment, read from the environment (12-factor)."""

from __future__ import annotations

import os
from typing import Any

from flask import current_app, has_app_context

#: The variables production refuses to start without.
PRODUCTION_REQUIRED = ("SECRET_KEY", "DATABASE_URL", "TOOL_BASE_URL")


class ConfigError(RuntimeError):
    """Raised when a configuration cannot be used (a missing secret in production)."""


class BaseConfig:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    TOOL_BASE_URL = os.environ.get("TOOL_BASE_URL", "http://127.0.0.1:5000")
    TOOL_TITLE = os.environ.get("TOOL_TITLE", "Course Analytics")
    # Seconds of clock skew accepted on LTI id_token iat/exp/nbf.
    LTI_CLOCK_LEEWAY = int(os.environ.get("LTI_CLOCK_LEEWAY", "60"))
    # Lifetime of OIDC state, nonces and stored launch data, in seconds.
    LTI_LAUNCH_DATA_LIFETIME = int(os.environ.get("LTI_LAUNCH_DATA_LIFETIME", "7200"))
    # Learners' pseudonyms come from this key when set; else from one the tool keeps in its
    # database (made once from the SECRET_KEY of that day), so rotating SECRET_KEY renames nobody.
    PSEUDONYM_KEY = os.environ.get("PSEUDONYM_KEY")
    # Seconds a platform's key set may take to arrive, and between two refetches of it.
    JWKS_FETCH_DEADLINE = float(os.environ.get("JWKS_FETCH_DEADLINE", "5"))
    JWKS_REFETCH_COOLDOWN = float(os.environ.get("JWKS_REFETCH_COOLDOWN", "60"))
    # Days refused launches are kept for administrators (the retention job deletes older ones).
    LAUNCH_ERROR_RETENTION_DAYS = int(os.environ.get("LAUNCH_ERROR_RETENTION_DAYS", "30"))
    # Lifetime of the signed session token carried in links after a launch, in seconds.
    SESSION_TOKEN_MAX_AGE = int(os.environ.get("SESSION_TOKEN_MAX_AGE", "28800"))
    # Trusted reverse-proxy hops for ProxyFix (X-Forwarded-For/Proto/Host).
    PROXY_FIX_HOPS = int(os.environ.get("PROXY_FIX_HOPS", "1"))
    # ...and only from these addresses or networks (gunicorn's setting too; `*`: any).
    FORWARDED_ALLOW_IPS = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    DEV_PLATFORM_ENABLED = False
    HSTS = False
    # Structured JSON logs to stdout (production default); LOG_JSON=0 for plain text.
    LOG_JSON = os.environ.get("LOG_JSON", "0") == "1"
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "None"
    SESSION_COOKIE_PARTITIONED = True
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    # LTI Dynamic Registration: "" (off), "*" (any LMS), or LMS host names (subdomains included).
    DYNAMIC_REGISTRATION_HOSTS = os.environ.get("DYNAMIC_REGISTRATION_HOSTS", "")
    # Hosts besides the issuer's own that a registering LMS may name in its endpoints
    # (subdomains included); hosted Canvas: "instructure.com,canvaslms.com".
    DYNAMIC_REGISTRATION_ENDPOINT_HOSTS = os.environ.get("DYNAMIC_REGISTRATION_ENDPOINT_HOSTS", "")
    # Hosts dynamic registration may reach on private, loopback or link-local addresses.
    DYNAMIC_REGISTRATION_PRIVATE_HOSTS = os.environ.get("DYNAMIC_REGISTRATION_PRIVATE_HOSTS", "")
    # http:// to a loopback host (development only); https everywhere else.
    DYNAMIC_REGISTRATION_HTTP_LOOPBACK = False
    # Seconds for all of one registration's requests together (and for one key set fetch).
    DYNAMIC_REGISTRATION_DEADLINE = float(os.environ.get("DYNAMIC_REGISTRATION_DEADLINE", "10"))
    # The event API's own limits (a 413 beyond them).
    API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(1024 * 1024)))
    API_MAX_ITEMS = int(os.environ.get("API_MAX_ITEMS", "1000"))
    # Days the administrators' audit log is kept (the retention job deletes older rows).
    AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "400"))
    # Fernet key(s), comma-separated, newest first: encrypt LMS API tokens and client secrets.
    DATA_ENCRYPTION_KEY = os.environ.get("DATA_ENCRYPTION_KEY")
    # Absolute folders (comma- or colon-separated) under which tracking-log folders may be added;
    # none by default, so no folder can be added until an administrator names where logs live.
    LOG_FOLDER_ROOTS = os.environ.get("LOG_FOLDER_ROOTS", "")
    # http:// LMS base URLs beyond loopback: honoured in the development configuration only.
    ALLOW_HTTP_LMS = False

    # Read when used (a value set here or in create_app's mapping, else the environment, else
    # the default in the comment), so a running scheduler or worker sees them as they are.
    # Scheduler: minutes between course syncs (60), seconds between looks at queued runs (15),
    # minutes between log-folder ingests (1440) and retention passes (1440), seconds between
    # tries for the scheduler lock (10), the PostgreSQL advisory lock on or off (1), seconds a
    # stopping scheduler waits for its jobs (20), minutes before a "running" run is abandoned (120),
    # seconds between refreshes of the learner summaries small writes marked stale (10).
    # Pages: above this many learners a page shows a course's summary as last written while
    # the scheduler writes it again, rather than writing it in the request (5000).
    SYNC_INTERVAL_MINUTES: str | None = None
    SCHEDULER_QUEUE_SECONDS: str | None = None
    SUMMARY_REFRESH_SECONDS: str | None = None
    SUMMARY_INLINE_LEARNERS: str | None = None
    LOG_INGEST_INTERVAL_MINUTES: str | None = None
    RETENTION_INTERVAL_MINUTES: str | None = None
    SCHEDULER_LOCK_RETRY_SECONDS: str | None = None
    SCHEDULER_ADVISORY_LOCK: str | None = None
    SCHEDULER_SHUTDOWN_SECONDS: str | None = None
    SYNC_RUN_TIMEOUT_MINUTES: str | None = None
    # LMS requests: seconds per request (30), seconds before each retry ("1,4"); Canvas: hours
    # between runs that re-read the bulk lists (24), longest extra wait on a low rate budget (2).
    SYNC_HTTP_TIMEOUT: str | None = None
    SYNC_RETRY_DELAYS: str | None = None
    CANVAS_FULL_SYNC_HOURS: str | None = None
    CANVAS_RATE_PAUSE: str | None = None
    # Admin sign-in throttling: failures per account and address (5), per address (20), per
    # account (100) within a window of minutes (15); seconds an admin session lasts (28800).
    ADMIN_LOGIN_MAX_FAILURES: str | None = None
    ADMIN_LOGIN_MAX_FAILURES_PER_IP: str | None = None
    ADMIN_LOGIN_MAX_FAILURES_PER_ACCOUNT: str | None = None
    ADMIN_LOGIN_WINDOW_MINUTES: str | None = None
    ADMIN_SESSION_MAX_AGE: str | None = None


# Public (it is in the repository): create_app refuses it when listening beyond loopback.
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105


class DevelopmentConfig(BaseConfig):
    """The embedded default: SQLite in instance/, a development LTI platform, demo data."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    DYNAMIC_REGISTRATION_HOSTS = os.environ.get("DYNAMIC_REGISTRATION_HOSTS", "*")
    # An LMS on this machine can register over http.
    DYNAMIC_REGISTRATION_PRIVATE_HOSTS = os.environ.get(
        "DYNAMIC_REGISTRATION_PRIVATE_HOSTS", "127.0.0.1,localhost,::1"
    )
    DYNAMIC_REGISTRATION_HTTP_LOOPBACK = True
    ALLOW_HTTP_LMS = os.environ.get("ALLOW_HTTP_LMS", "0") == "1"
    DEV_PLATFORM_ENABLED = True
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")  # None: SQLite in instance/


class TestingConfig(BaseConfig):
    """Used by the test suite; the database comes from TEST_DATABASE_URL or in-memory SQLite."""

    ENV_NAME = "testing"
    TESTING = True
    DYNAMIC_REGISTRATION_HOSTS = "*"
    SECRET_KEY = "testing-secret"  # noqa: S105 (tests only)
    DATA_ENCRYPTION_KEY = "dGVzdGluZy1vbmx5LWtleS1ub3Qtc2VjcmV0LTAwMDA="
    TOOL_BASE_URL = "https://tool.test"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL")
    DEV_PLATFORM_ENABLED = False


class ProductionConfig(BaseConfig):
    """Production: PostgreSQL, secrets from the environment, no development platform."""

    ENV_NAME = "production"
    DEV_PLATFORM_ENABLED = False
    HSTS = True
    LOG_JSON = os.environ.get("LOG_JSON", "1") == "1"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "pool_recycle": 1800}

    @classmethod
    def check(cls, settings: dict[str, Any]) -> None:
        """Refuse to start without the secrets production needs."""
        missing = [name for name in PRODUCTION_REQUIRED if not os.environ.get(name)]
        if missing:
            raise ConfigError(
                "Production configuration refuses to start: set "
                + ", ".join(missing)
                + " in the environment."
            )
        settings["SECRET_KEY"] = os.environ["SECRET_KEY"]
        settings["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
        settings["TOOL_BASE_URL"] = os.environ["TOOL_BASE_URL"]


CONFIGS: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None) -> type[BaseConfig]:
    """Return the configuration class for a name (default: $LTI_TOOL_CONFIG or development)."""
    name = name or os.environ.get("LTI_TOOL_CONFIG", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown configuration {name!r}; use one of {', '.join(CONFIGS)}"
        ) from None


def setting(name: str, default: str) -> str:
    """A setting from the app's config (in an app context), else the environment, else the
    default; a blank value counts as unset."""
    value = current_app.config.get(name) if has_app_context() else None
    if value is None:
        value = os.environ.get(name)
    return default if value is None or str(value).strip() == "" else str(value)
