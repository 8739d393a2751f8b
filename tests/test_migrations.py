"""The migrations build exactly the models: upgrade an empty database, compare (no drift)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


@pytest.fixture()
def empty_database(database_url, tmp_path):
    """A new, empty database on the same server as the test database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"workshops_migr_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                     {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture()
def fresh_app(empty_database, tmp_path):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": empty_database, "TESTING": True,
                       "REDIS_URL": "", "NOTIFY_CONSOLE_FILE": str(tmp_path / "outbox.log")})


def drift(application) -> list:
    from app.extensions import db

    with application.app_context(), db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(ctx, db.metadata)


def test_one_head():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgrade_from_empty_matches_models_exactly(fresh_app):
    from flask_migrate import upgrade

    assert drift(fresh_app) != []  # the comparison sees an empty database as drift
    with fresh_app.app_context():
        upgrade(directory=MIGRATIONS)
    assert drift(fresh_app) == []


def test_downgrade_to_empty_and_back(fresh_app):
    from flask_migrate import downgrade, upgrade

    from app.extensions import db

    with fresh_app.app_context():
        upgrade(directory=MIGRATIONS)
        downgrade(directory=MIGRATIONS, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=MIGRATIONS)
    assert drift(fresh_app) == []
