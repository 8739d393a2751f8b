"""All settings, read from the environment with safe embedded defaults.

With no environment at all the app runs the embedded demo: SQLite under
``instance/`` and jobs executed in-process.  ``DATABASE_URL`` and ``REDIS_URL``
select PostgreSQL and Redis (the production shape).  Every variable is listed
in README.md.
"""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
DEFAULT_DATA_KEY = "ZGV2LW9ubHktZGF0YS1rZXktMzItYnl0ZXMtLS0tLS0="  # dev only, base64 of 32 bytes


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{INSTANCE_DIR / 'workshops.sqlite3'}"
    # Accept the common short forms and use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    ENV_NAME = os.environ.get("APP_ENV", "development")  # development | production | test
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    # Key for personal data encrypted at rest (national ID, bank accounts):
    # a urlsafe base64 Fernet key.  Never in the repository for production.
    DATA_ENCRYPTION_KEY = os.environ.get("DATA_ENCRYPTION_KEY", DEFAULT_DATA_KEY)
    # Key for the keyed hash used to look national IDs up (HMAC-SHA256).
    DATA_LOOKUP_KEY = os.environ.get("DATA_LOOKUP_KEY", SECRET_KEY)
    # The security trail: each entry is sealed with HMAC-SHA256 under this key (empty: no
    # seal; set it in production, keep it off the database host).  The anchor file gets a
    # line from `flask audit checkpoint` and the hourly audit-checkpoint job.
    AUDIT_HMAC_KEY = os.environ.get("AUDIT_HMAC_KEY", "")
    AUDIT_ANCHOR_FILE = os.environ.get("AUDIT_ANCHOR_FILE", "")

    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")  # empty: jobs run in-process
    RQ_QUEUES = ["default", "notifications"]
    # Embedded demo only: run the periodic jobs in a thread of the web process when no
    # Redis is configured (one process takes a lock file and runs them).
    RUN_INPROCESS_SCHEDULER = _bool("RUN_INPROCESS_SCHEDULER", False)

    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    TIMEZONE = "Asia/Taipei"

    # Flask-AppBuilder
    APP_NAME = "臺中市藝文研習班報名繳費系統"
    APP_THEME = ""
    # Permissions and roles are created by `flask --app run setup`, not at every start,
    # and the schema only by migrations (never FAB's create_all).
    FAB_UPDATE_PERMS = _bool("FAB_UPDATE_PERMS", False)
    FAB_CREATE_DB = False
    FAB_SECURITY_MANAGER_CLASS = "app.views.admin.security.WorkshopSecurityManager"
    FAB_API_SWAGGER_UI = True
    FAB_ADD_SECURITY_API = False
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Bureau Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 5 minute")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get(
        "RATELIMIT_STORAGE_URI", os.environ.get("REDIS_URL") or "memory://"
    )
    RATELIMIT_HEADERS_ENABLED = True
    # Redis down: count log-in attempts in each process's memory (same limits) until it is
    # back, instead of failing every rate-limited request with a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = _bool("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    FAB_INDEX_VIEW = "app.views.admin.index.BackOfficeIndexView"
    FAB_BASE_TEMPLATE = "appbuilder/baselayout.html"
    FAB_ROLES = {}  # defined in app.views.admin.roles

    # Babel: Traditional Chinese for Taiwan by default, English too.
    BABEL_DEFAULT_LOCALE = "zh_Hant_TW"
    BABEL_DEFAULT_TIMEZONE = "Asia/Taipei"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
    LANGUAGES = {
        "zh_Hant_TW": {"flag": "tw", "name": "繁體中文"},
        "en": {"flag": "gb", "name": "English"},
    }

    WTF_CSRF_ENABLED = _bool("WTF_CSRF_ENABLED", True)
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"  # Flask-Login's default sends it on cross-site requests
    MAX_CONTENT_LENGTH = 8 * 1024 * 1024

    # Files
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    UPLOAD_FOLDER = UPLOAD_DIR  # Flask-AppBuilder's own file fields and downloads
    RECONCILIATION_INBOX = os.environ.get("RECONCILIATION_INBOX", str(INSTANCE_DIR / "inbox"))
    PDF_FONT_PATH = os.environ.get("PDF_FONT_PATH", "/usr/share/fonts/truetype/arphic/uming.ttc")

    # Mail (Flask-Mail) and SMS gateway
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "workshops@example.tw")
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
    SMS_USERNAME = os.environ.get("SMS_USERNAME", "")
    SMS_PASSWORD = os.environ.get("SMS_PASSWORD", "")
    # Channels used for notifications: comma separated names (email, sms, console).
    NOTIFY_CHANNELS = os.environ.get("NOTIFY_CHANNELS", "console")
    NOTIFY_CONSOLE_FILE = os.environ.get("NOTIFY_CONSOLE_FILE", str(INSTANCE_DIR / "outbox.log"))
    NOTIFY_QUEUE = os.environ.get("NOTIFY_QUEUE", "notifications")
    NOTIFY_MAX_ATTEMPTS = _int("NOTIFY_MAX_ATTEMPTS", 5)
    NOTIFY_RETRY_BASE_SECONDS = _int("NOTIFY_RETRY_BASE_SECONDS", 60)  # 60 s, 2, 4, 8 min …
    NOTIFY_RETRY_MAX_SECONDS = _int("NOTIFY_RETRY_MAX_SECONDS", 3600)
    NOTIFY_LEASE_SECONDS = _int("NOTIFY_LEASE_SECONDS", 300)  # well above the send timeout
    NOTIFY_SEND_TIMEOUT = _int("NOTIFY_SEND_TIMEOUT", 10)  # SMTP and SMS HTTP, seconds
    NOTIFY_SWEEP_BATCH = _int("NOTIFY_SWEEP_BATCH", 500)
    NOTIFY_SMS_MAX_SEGMENTS = _int("NOTIFY_SMS_MAX_SEGMENTS", 2)

    # Payments
    PAYMENT_GATEWAY_HASH_KEY = os.environ.get("PAYMENT_GATEWAY_HASH_KEY", "5294y06JbISpM5x9")
    PAYMENT_GATEWAY_HASH_IV = os.environ.get("PAYMENT_GATEWAY_HASH_IV", "v77hoKGq4kWxNNIS")

    # Citizen accounts
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCK_MINUTES = _int("LOGIN_LOCK_MINUTES", 15)


def is_production(config) -> bool:
    return config.get("ENV_NAME") == "production"
