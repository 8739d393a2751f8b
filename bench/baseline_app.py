"""The bare baselines: a minimal Flask app on the same gunicorn settings and the same
database as the project's app, doing only the irreducible work of each benchmark.

* ``POST /baseline/register/<course_id>/<citizen_id>`` (bench.rush): one transaction with
  the conditional seat update
  ``UPDATE bench_seat SET seats_taken = seats_taken + 1 WHERE id = :c AND seats_taken < quota
  RETURNING id`` and one insert into a small table; answers 302 like the real endpoint.
  ``bench_seat`` is a copy of ``course`` (id, quota, seats_taken) made by the benchmark, so
  the baseline takes the same seats without touching the app's rows.
* ``GET /baseline/course/<code>`` (bench.catalogue): one course row as JSON.

Run by gunicorn as ``bench.baseline_app:app`` with ``DATABASE_URL`` in the environment.
"""
from __future__ import annotations

import os

from flask import Flask, jsonify, redirect
from sqlalchemy import create_engine, text

SEAT_TABLES = """
CREATE TABLE IF NOT EXISTS bench_seat (
    id integer PRIMARY KEY, quota integer NOT NULL, seats_taken integer NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS bench_seat_claim (
    id serial PRIMARY KEY, course_id integer NOT NULL, citizen_id integer NOT NULL,
    admitted boolean NOT NULL, at timestamp NOT NULL DEFAULT now());
"""

_TAKE = text("UPDATE bench_seat SET seats_taken = seats_taken + 1 "
             "WHERE id = :c AND seats_taken < quota RETURNING id")
_CLAIM = text("INSERT INTO bench_seat_claim (course_id, citizen_id, admitted) "
              "VALUES (:c, :z, :a) RETURNING id")
_ONE = text("SELECT code, title, quota, seats_taken, fee, first_date, starts_at, ends_at "
            "FROM course WHERE code = :code")


def _url() -> str:
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_app(url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = create_engine(url or _url(), pool_pre_ping=True)  # as the app's engine options

    @app.post("/baseline/register/<int:course_id>/<int:citizen_id>")
    def register(course_id: int, citizen_id: int):
        with engine.begin() as conn:
            admitted = conn.execute(_TAKE, {"c": course_id}).first() is not None
            claim = conn.execute(_CLAIM, {"c": course_id, "z": citizen_id, "a": admitted}).scalar_one()
        return redirect(f"/baseline/claims/{claim}")

    @app.get("/baseline/course/<code>")
    def course(code: str):
        with engine.connect() as conn:
            row = conn.execute(_ONE, {"code": code}).mappings().first()
        if row is None:
            return jsonify(error="unknown_course"), 404
        data = dict(row)
        data["first_date"] = data["first_date"].isoformat()
        return jsonify(data)

    return app


def prepare_seats(session, course_ids=None) -> None:
    """(Re)create the baseline's seat table as a copy of ``course`` and empty its claims."""
    session.execute(text("DROP TABLE IF EXISTS bench_seat, bench_seat_claim"))
    for statement in SEAT_TABLES.strip().split(";"):
        if statement.strip():
            session.execute(text(statement))
    session.execute(text("INSERT INTO bench_seat (id, quota, seats_taken) "
                         "SELECT id, quota, 0 FROM course"))
    session.commit()


if os.environ.get("DATABASE_URL"):
    app = create_app()
