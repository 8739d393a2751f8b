"""Test fixtures: a real database (PostgreSQL in CI; DATABASE_URL), migrated from empty.

Each test session creates its own database on the server named by ``DATABASE_URL``
(``…/workshops_test_<pid>``), upgrades it with the project's migrations, creates the
roles and permissions, and drops it at the end.  Tests are isolated by truncating the
data tables after each test (roles and permissions are kept).
"""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Jobs of this test run go to their own notification queue, never the shared one.
os.environ.setdefault("NOTIFY_QUEUE", f"notifications-test-{os.getpid()}")

KEEP_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role",
               "ab_permission_view_role", "alembic_version"}


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = make_url(_server_url())
    if url.get_backend_name() == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        yield f"sqlite:///{path}"
        return
    name = f"workshops_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    os.environ["DATABASE_URL"] = database_url
    inst = tmp_path_factory.mktemp("instance")
    from app import create_app

    application = create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        "UPLOAD_DIR": str(inst / "uploads"),
        "RECONCILIATION_INBOX": str(inst / "inbox"),
        "NOTIFY_CONSOLE_FILE": str(inst / "outbox.log"),
        "REDIS_URL": "",
    })
    with application.app_context():
        from flask_migrate import upgrade

        upgrade(directory=str(ROOT / "migrations"))
        from app.cli import sync_permissions

        sync_permissions()
    yield application


@pytest.fixture()
def db(app):
    from app.extensions import db as _db

    with app.app_context():
        yield _db
        _db.session.rollback()
        _db.session.remove()
        _truncate(_db)


def _truncate(_db):
    engine = _db.engine
    tables = [t.name for t in _db.metadata.sorted_tables if t.name not in KEEP_TABLES]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                              + " RESTART IDENTITY CASCADE"))
        else:
            for t in reversed(tables):
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture()
def client(app, db):
    return app.test_client()


@pytest.fixture()
def make(db, app):
    from tests.factories import Factory

    return Factory(db, app)
