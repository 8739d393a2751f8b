"""Concurrency claims with real concurrent clients against PostgreSQL: 200 threads post to
the real registration endpoint (session cookie, the whole view stack, each request with
its own database session) at the same moment."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.models import Registration
from tests.factories import bulk_citizens

pytestmark = pytest.mark.timeout(300)


def _logged_in_client(app, citizen):
    client = app.test_client()
    with client.session_transaction() as s:
        s["citizen_id"] = citizen.id
        s["citizen_sv"] = citizen.session_version
    return client


def _fire(app, jobs):
    """Run each (client, path) POST in its own thread, all released by one barrier."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, client, path):
        barrier.wait()
        try:
            results[i] = client.post(path).status_code
        except Exception as exc:  # a crash is a result too: the test reports it
            results[i] = repr(exc)

    threads = [threading.Thread(target=run, args=(i, c, p)) for i, (c, p) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_200_concurrent_clients_never_oversell(app, make, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    course = make.course(make.venue(), quota=20)
    make.commit()
    people = bulk_citizens(db.session, 200)
    clients = [(_logged_in_client(app, p), f"/courses/{course.code}/register") for p in people]
    results = _fire(app, clients)
    assert Counter(results) == {302: 200}, Counter(results)  # every request answered, no errors
    db.session.expire_all()
    states = Counter(db.session.execute(select(Registration.state).where(
        Registration.course_id == course.id)).scalars())
    assert states == {"admitted": 20, "waitlisted": 180}
    db.session.refresh(course)
    assert course.seats_taken == 20
    # nothing lost: one registration per citizen who was answered
    per_citizen = db.session.execute(select(Registration.citizen_id, func.count()).where(
        Registration.course_id == course.id).group_by(Registration.citizen_id)).all()
    assert len(per_citizen) == 200 and all(n == 1 for _, n in per_citizen)
    # the waitlist is in arrival order: positions follow the order rows were created
    waiting = db.session.execute(select(Registration.id, Registration.waitlist_key).where(
        Registration.course_id == course.id, Registration.state == "waitlisted")
        .order_by(Registration.waitlist_key)).all()
    assert [rid for rid, _ in waiting] == sorted(rid for rid, _ in waiting)


def test_per_term_limit_holds_under_concurrency(app, make, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    venue = make.venue(max_courses_per_term=3)
    term = make.term(venue)
    courses = [make.course(venue, term, quota=50) for _ in range(8)]
    make.commit()
    people = bulk_citizens(db.session, 10, start=600000)
    jobs = []
    for p in people:
        for c in courses:  # every citizen tries all 8 courses at once; the limit is 3
            jobs.append((_logged_in_client(app, p), f"/courses/{c.code}/register"))
    results = _fire(app, jobs)
    assert set(results) <= {302, 400}, Counter(results)
    db.session.expire_all()
    held = dict(db.session.execute(select(Registration.citizen_id, func.count()).where(
        Registration.term_id == term.id).group_by(Registration.citizen_id)).all())
    assert held == {p.id: 3 for p in people}
    assert Counter(results) == {302: 30, 400: 50}


def test_same_citizen_double_click_registers_once(app, make, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    course = make.course(make.venue(), quota=5)
    make.commit()
    [person] = bulk_citizens(db.session, 1, start=700000)
    jobs = [(_logged_in_client(app, person), f"/courses/{course.code}/register") for _ in range(20)]
    results = _fire(app, jobs)
    assert Counter(results) == {302: 1, 409: 19}, Counter(results)
    db.session.refresh(course)
    assert course.seats_taken == 1
