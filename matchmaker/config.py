"""Settings: defaults first, then MATCHMAKER_* environment variables, then test overrides."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"


class ConfigError(RuntimeError):
    """The configuration cannot run in this environment (e.g. production without a secret key)."""


DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "SECRET_KEY": None,
    "DATABASE_URL": f"sqlite:///{VAR_DIR / 'matchmaker.db'}",
    "REDIS_URL": None,  # unset: background jobs run in-process (make run); set: Celery workers
    "BABEL_DEFAULT_LOCALE": "zh",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
    "LANGUAGES": ["zh", "en"],
    "HOME_REGION": "350500",  # the bureau's own region (GB/T 2260), for technology-flow statistics
    "PAGE_SIZE": 20,
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    "IMPORT_MAX_ROWS": 20000,
    # Uploaded import files wait here (shared by the web and the workers) until confirmed or discarded.
    "IMPORT_UPLOAD_DIR": str(VAR_DIR / "uploads"),
    "IMPORT_READ_TIME_LIMIT": 120,  # seconds the background job may spend reading and checking one file
    "IMPORT_READ_QUEUE_WAIT": 900,  # seconds an upload may wait for a worker before it is marked failed
    "LISTING_VALIDITY_DAYS": 365,
    "EXPIRY_REMINDER_DAYS": 14,
    "INTRODUCTION_EXPIRY_DAYS": 14,
    "INTRODUCTION_REMINDER_DAYS": 7,
    # Files sent in an introduction's conversation: where they are kept and how large one may be.
    "ATTACHMENT_DIR": str(VAR_DIR / "attachments"),
    "ATTACHMENT_MAX_BYTES": 10 * 1024 * 1024,
    "LOGIN_RATE_LIMIT": "10 per minute",  # per address and account
    "LOGIN_ACCOUNT_RATE_LIMIT": "30 per minute",  # per account, from any address
    "RATELIMIT_HEADERS_ENABLED": True,  # limited answers say when to retry (Retry-After)
    "PASSWORD_RESET_MAX_AGE": 3600,
    "SITE_URL": "http://127.0.0.1:5000",  # where links in mail sent by background jobs point
    "MAIL_SERVER": None,  # unset: mail is printed to the console (development)
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_SENDER": "Matchmaker <noreply@matchmaker.local>",
    "EMBEDDING_MODEL": None,  # a sentence-transformers folder; None = the built multilingual-e5-small
    "EMBEDDING_BACKEND": "auto",
    "INDEX_DIR": str(VAR_DIR / "index"),
    "EXACT_SEARCH_MAX": 50000,
    # Web processes open a new index generation in a background thread, answering from the old one
    # meanwhile; False opens it on the request that notices it (tests, scripts).
    "INDEX_OPEN_IN_BACKGROUND": True,
    # Outbox batches write deltas on a base; matching.merge_index folds them into a new base once there
    # are this many deltas or they changed this many listings.
    "MATCH_MERGE_DELTAS": 16,
    "MATCH_MERGE_CHANGES": 4096,
    # Tuned on judged real needs (docs/evaluation.md); dense_title is the need's title on its own.
    "MATCH_WEIGHTS": {"dense": 0.3, "dense_title": 0.4, "lexical": 0.2, "structured": 0.15},
    "MATCH_CALIBRATION": None,  # a calibration JSON; None = matchmaker/matching/calibration.json
    "MATCH_CALIBRATION_TTL": 10,  # seconds a process keeps the active calibration version before asking again
    "MATCH_REFIT_EVERY": 86400,  # seconds between refits of the calibration from outcome labels (beat)
    "MATCH_REFIT_MIN_LABELS": 30,  # fewer labelled pairs: the refit is recorded as rejected, nothing changes
    "STRONG_MATCH_SCORE": 0.75,  # fairs' scheduling priority only: matches use the calibration
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}

# Plain names some platforms set (Heroku-style); MATCHMAKER_* wins when both are present.
_PLAIN_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")


def load_config(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    app.config.update(DEFAULTS)
    for key in _PLAIN_ENV:
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    app.config.from_prefixed_env("MATCHMAKER")
    if test_config:
        app.config.update(test_config)
    _finish(app.config)


def _install_secret() -> str:
    """A random key made once per install (var/secret_key), so no two development sites share one."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _finish(config: Any) -> None:
    if config["ENV"] == "production":
        if not config.get("SECRET_KEY"):
            raise ConfigError("MATCHMAKER_SECRET_KEY must be set in production")
        if config["DATABASE_URL"].startswith("sqlite") and not config.get("ALLOW_SQLITE"):
            raise ConfigError("MATCHMAKER_DATABASE_URL (or DATABASE_URL) must be set in production")
    elif not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _install_secret()
    url = config["DATABASE_URL"]
    # SQLAlchemy wants the psycopg 3 driver named explicitly.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    config["DATABASE_URL"] = url
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    config["SESSION_COOKIE_SECURE"] = config["ENV"] == "production"
    config.setdefault("REMEMBER_COOKIE_DURATION", timedelta(days=30))
    config["REMEMBER_COOKIE_SECURE"] = config["ENV"] == "production"
    config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    config["RATELIMIT_STORAGE_URI"] = config.get("REDIS_URL") or "memory://"
    if config.get("REDIS_URL"):
        # Redis down must not stop log-in: the limiter counts in memory meanwhile (and logs the switch),
        # and gives up on Redis after a second instead of hanging the request.
        config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 1, "socket_timeout": 1})
