"""Configuration: defaults, then ``instance/config.py``, then ``REGISTRY_*`` variables."""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

from registry.rules.params import config_defaults

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,  # generated into instance/ when not set
    "DATABASE_URL": None,  # default: sqlite:///<instance>/registry.sqlite3
    "PROGRAM_TIMEZONE": "America/New_York",
    # The rule parameters (RULESET_2026_EFFECTIVE, WINDOW_DAYS...): defaults in one place.
    **config_defaults(),
    # `registry worker` queues the day's reminders at this hour (0-23) in PROGRAM_TIMEZONE:
    # a patient's window closing in REMINDER_WINDOW_CLOSING_DAYS days (also the horizon of
    # the prescriber's digest), an RMA's last day REMINDER_PICKUP_DAYS days away or nearer;
    # end-of-treatment tests stay in the digest REMINDER_TREATMENT_END_DAYS after the last dose.
    "REMINDER_HOUR": 8,
    "REMINDER_WINDOW_CLOSING_DAYS": 2,
    "REMINDER_PICKUP_DAYS": 1,
    "REMINDER_TREATMENT_END_DAYS": 90,
    "REMINDER_CHECK_SECONDS": 60,
    "CONSENT_FORM_VERSION": "2026-02",
    "LOGIN_MAX_FAILURES": 10,
    "LOGIN_LOCK_MINUTES": 15,
    "API_TOKEN_HOURS": 12,
    # A signed-in browser session ends after this long without a request, and this long
    # after sign-in however busy (checked on the server: logout ends it there too).
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    # memory:// counts in each process (per gunicorn worker); redis://host:6379/0 counts once
    # for all workers and servers. Keys start with RATELIMIT_KEY_PREFIX.
    "RATELIMIT_STORAGE_URL": "memory://",
    "RATELIMIT_KEY_PREFIX": "registry",
    "RATELIMIT_ENABLED": True,
    # Per verified account (valid token), else per address (no or unverifiable token).
    "API_RATELIMIT_TOKENS": "10 per minute",  # POST /api/v1/tokens
    "API_RATELIMIT_LOOKUPS": "60 per minute",  # patient lookups by registry ID, activation
    # argon2id at OWASP's current minimum (Password Storage Cheat Sheet: m=19 MiB, t=2,
    # p=1), chosen deliberately: about 20 ms of CPU per hash here, so a log-in storm of
    # 10,000 users fits in minutes, where the old m=64 MiB, t=3, p=4 cost ~165-230 ms and
    # started 4 threads per hash on a 2-core machine. argon2-cffi releases the GIL while
    # hashing (bench/argon2_gil.py), so a gthread worker's other requests keep running;
    # p=1 keeps one hash on one core. Hashes made with other parameters are rehashed at
    # the next sign-in (security.needs_rehash).
    "ARGON2_TIME_COST": 2,
    "ARGON2_MEMORY_COST": 19456,
    "ARGON2_PARALLELISM": 1,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host (0: none).
    # Rate limits and secure cookies then see the client's address and scheme.
    "TRUSTED_PROXIES": 0,
    # Sent on every HTTPS answer (directly or through a trusted proxy), never over plain HTTP.
    "HSTS": "max-age=31536000; includeSubDomains",
    # Connections per process: a request waits DATABASE_POOL_TIMEOUT seconds for one, then
    # answers 503 (with Retry-After: UNAVAILABLE_RETRY_AFTER seconds) instead of hanging.
    "DATABASE_POOL_SIZE": 5,
    "DATABASE_MAX_OVERFLOW": 10,
    "DATABASE_POOL_TIMEOUT": 10,
    "DATABASE_CONNECT_TIMEOUT": 5,  # PostgreSQL: seconds to reach the server
    # PostgreSQL: a pooled connection older than this many seconds is replaced when it is
    # next taken, so idle limits of the server, a proxy or a firewall never meet it. Instead
    # of a ping before every request (a round trip each, pool_pre_ping): a connection that
    # died anyway (server restart) fails one request with a 503 and the pool reconnects.
    "DATABASE_POOL_RECYCLE": 1800,
    "SQLITE_BUSY_TIMEOUT_MS": 30000,  # SQLite: how long a writer waits for the lock
    "UNAVAILABLE_RETRY_AFTER": 5,
    # The audit log (rules §10). The signing key must live outside the database; the
    # checkpoint file is what operators ship elsewhere. Default for both: instance/.
    "AUDIT_SIGNING_KEY_FILE": None,  # Ed25519 private key (PEM), created 0600 if missing
    "AUDIT_CHECKPOINT_FILE": None,  # signed checkpoints, appended as JSON lines
    "AUDIT_CHECKPOINT_SECONDS": 60,  # `registry worker`: sign a checkpoint this often
    "AUDIT_SEAL_SECONDS": 5,  # `registry worker`: seal unsealed entries this often
    # After a request commits its entries: "background" wakes the process's sealer thread,
    # which seals in batches at most once per AUDIT_SEAL_INTERVAL_MS (one seal for many
    # requests under load; the answer does not wait for it); "request" seals on the
    # request's thread before the answer (registry/audit/sealer.py).
    "AUDIT_SEAL_AFTER_COMMIT": "background",
    "AUDIT_SEAL_INTERVAL_MS": 100,
    "AUDIT_SEAL_GRACE_SECONDS": 300,  # `audit verify`: unsealed longer than this is a fault
    # Email. With no MAIL_SERVER, messages are written as .eml files to MAIL_FOLDER
    # (default instance/mail/) and listed for program staff at /staff/mail.
    "MAIL_SERVER": None,
    "MAIL_PORT": 587,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_STARTTLS": True,  # STARTTLS before logging in (required when MAIL_USERNAME is set)
    "MAIL_TIMEOUT": 30,  # seconds for the SMTP server to answer
    "MAIL_FROM": "Registry <registry@localhost>",
    "MAIL_FOLDER": None,
    # Links in messages point here (https://registry.example.org); default: the request's.
    "PUBLIC_URL": "http://127.0.0.1:8000",
    # `registry worker`: look for messages due this often; retry a failed one after
    # NOTIFY_RETRY_SECONDS * 2**(attempts-1) (at most NOTIFY_RETRY_MAX_SECONDS), give up after
    # NOTIFY_MAX_ATTEMPTS. A worker holds the messages it claimed for NOTIFY_LEASE_SECONDS.
    "NOTIFY_DELIVERY_SECONDS": 5,
    "NOTIFY_BATCH": 50,
    "NOTIFY_RETRY_SECONDS": 60,
    "NOTIFY_RETRY_MAX_SECONDS": 3600,
    "NOTIFY_MAX_ATTEMPTS": 8,
    "NOTIFY_LEASE_SECONDS": 300,
    # Account links: a password reset link works this long, an address confirmation this long.
    "PASSWORD_RESET_MINUTES": 30,
    "EMAIL_CONFIRM_HOURS": 48,
    "API_RATELIMIT_ACCOUNT_MAIL": "5 per hour",  # forgot password, per address and per client
}

# Keys Flask itself reads under its own names; a REGISTRY_ variable may set them too.
FLASK_KEYS = {
    "SECRET_KEY",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_SECURE",
    "REMEMBER_COOKIE_SECURE",
    "MAX_CONTENT_LENGTH",
    "PREFERRED_URL_SCHEME",
    "SERVER_NAME",
    "TESTING",
    "WTF_CSRF_ENABLED",
}


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which key and why."""


def _coerce(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"REGISTRY_{key} must be true or false, not {raw!r}")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"REGISTRY_{key} must be a whole number, not {raw!r}") from None
    if default is None and raw.strip().startswith(("{", "[")):
        return json.loads(raw)
    return raw


def from_environment(environ: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Read ``REGISTRY_*`` variables; an unknown key is an error, not a silent no-op."""
    known = set(DEFAULTS) | FLASK_KEYS
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("REGISTRY_"):
            continue
        key = name.removeprefix("REGISTRY_")
        if key in {"TEST_DATABASE_URL"}:  # read by the test suite, not the app
            continue
        if key not in known:
            raise ConfigError(
                f"Unknown configuration variable {name}; known keys are: "
                + ", ".join(sorted(known))
            )
        values[key] = _coerce(key, raw, DEFAULTS.get(key))
    return values


SEAL_MODES = ("background", "request")  # AUDIT_SEAL_AFTER_COMMIT, registry/audit/sealer.py


def validate(config: dict[str, Any]) -> None:
    for key in ("RULESET_2021_EFFECTIVE", "RULESET_2026_EFFECTIVE"):
        value = config[key]
        if isinstance(value, date):
            continue
        try:
            date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"{key} must be a date YYYY-MM-DD, not {value!r}") from None
    mode = config.get("AUDIT_SEAL_AFTER_COMMIT", "background")
    if mode not in SEAL_MODES:
        raise ConfigError(f"AUDIT_SEAL_AFTER_COMMIT must be one of {', '.join(SEAL_MODES)}, "
                          f"not {mode!r}")
    hour = config.get("REMINDER_HOUR", 8)
    if not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ConfigError(f"REMINDER_HOUR must be an hour from 0 to 23, not {hour!r}")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(config["PROGRAM_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"PROGRAM_TIMEZONE {config['PROGRAM_TIMEZONE']!r} is not a known time zone"
        ) from None
