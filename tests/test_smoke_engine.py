from app.services import registration
from app.services.audit import Actor


def test_first_come_admits_then_waitlists(make, db):
    v = make.venue()
    c = make.course(v, quota=1)
    a, b = make.citizen(), make.citizen(name="陳大文")
    r1 = registration.apply(db.session, c, a, None, Actor())
    r2 = registration.apply(db.session, c, b, None, Actor())
    db.session.commit()
    assert (r1.state, r2.state) == ("admitted", "waitlisted")
    assert c.seats_taken == 1
