"""Lottery benchmark (電腦抽籤): every lottery phase drawn through ``app.services.draws.draw`` on
PostgreSQL, as the scheduled job does it (one draw and one commit per phase, Redis configured
so the notifications are handed to RQ after each commit), against a baseline of the same
data's raw work: the sha256 tickets and the sort, with hashlib, in memory.

    python -m bench.lottery [--entries 100000 --courses 500 --seats 20 --keep --profile]

The last line printed is ``RESULT lottery_s=… baseline_s=… ratio=…``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time

from .common import (
    BenchDatabase, PrivateRedis, SqlTimer, bench_venues, bulk_courses, dispose, fmt, log,
    done_with, migrated_app, sql_citizens, workdir,
)

WITHDRAWN_EVERY = 50  # in each course one entry in 50 withdrew before the draw (excluded)


def build(app, args) -> list[int]:
    """``courses`` lottery phases that closed an hour ago, with ``entries`` applications
    spread evenly (straight SQL; distinct learners per course)."""
    from sqlalchemy import text

    from app.extensions import db
    from app.services import clock

    s = db.session
    now = clock.now()
    venues, terms = bench_venues(s)
    specs = [{"quota": args.seats, "mode": "lottery", "opens_at": now - dt.timedelta(days=3),
              "closes_at": now - dt.timedelta(hours=1)} for _ in range(args.courses)]
    courses = bulk_courses(s, venues, terms, specs, prefix="L")  # seeds committed on insert
    phase_ids = [c.phases[0].id for c in courses]
    s.commit()
    per_course = -(-args.entries // args.courses)
    sql_citizens(s, max(per_course * 4, 1000), "lot")
    s.execute(text(
        "CREATE TEMP TABLE lot_phase AS SELECT row_number() OVER (ORDER BY p.id) - 1 AS rn, "
        "p.id AS phase_id, c.id AS course_id, c.venue_id, c.term_id, v.code AS venue_code "
        "FROM phase p JOIN course c ON c.id = p.course_id JOIN venue v ON v.id = c.venue_id"))
    s.execute(text("CREATE TEMP TABLE lot_learner AS SELECT row_number() OVER (ORDER BY id) - 1 AS rn, "
                   "id, citizen_id FROM learner"))
    nl = s.execute(text("SELECT count(*) FROM lot_learner")).scalar()
    s.execute(text(
        "INSERT INTO registration (entry_no, course_id, phase_id, venue_id, term_id, citizen_id, "
        " learner_id, state, tier, channel, applied_at, closed_at, updated_at) "
        "SELECT p.venue_code || '-' || upper(substr(md5('lot' || g), 1, 10)), p.course_id, "
        " p.phase_id, p.venue_id, p.term_id, l.citizen_id, l.id, "
        " CASE WHEN (g / :nc) % :w = :w - 1 THEN 'withdrawn' ELSE 'applied' END, 0, 'online', :at, "
        " CASE WHEN (g / :nc) % :w = :w - 1 THEN :at END, :at "
        "FROM generate_series(0, :n - 1) g JOIN lot_phase p ON p.rn = g % :nc "
        "JOIN lot_learner l ON l.rn = (g / :nc + (g % :nc) * 7) % :nl"),
        {"n": args.entries, "nc": args.courses, "nl": nl, "w": WITHDRAWN_EVERY,
         "at": now - dt.timedelta(days=2)})
    s.commit()
    conn = s.connection().engine.raw_connection()
    try:
        conn.driver_connection.autocommit = True
        conn.driver_connection.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    return phase_ids


def load_raw(session, phase_ids) -> list[tuple]:
    """What the baseline works on: per phase its seed, course code and entries (loaded
    before the clock starts)."""
    from sqlalchemy import text

    rows = session.execute(text(
        "SELECT p.id, p.seed_hex, c.code, r.entry_no, r.tier FROM phase p "
        "JOIN course c ON c.id = p.course_id JOIN registration r ON r.phase_id = p.id "
        "WHERE p.id = ANY(:ids) AND r.state = 'applied' ORDER BY p.id, r.id"),
        {"ids": list(phase_ids)}).all()
    out: dict = {}
    for pid, seed, code, entry_no, tier in rows:
        out.setdefault(pid, (seed, code, []))[2].append((entry_no, tier))
    return [(pid, seed, code, entries) for pid, (seed, code, entries) in out.items()]


def baseline(raw, beacon: str = "") -> tuple[float, dict]:
    """The draw's raw work with hashlib: key, one ticket per entry, sort by (tier, ticket)."""
    t0 = time.perf_counter()
    orders = {}
    for pid, seed, code, entries in raw:
        key = hashlib.sha256(f"{seed}:{beacon}:{code}".encode()).hexdigest()
        scored = sorted((tier, hashlib.sha256(f"{key}:{no}".encode()).hexdigest(), no)
                        for no, tier in entries)
        orders[pid] = [no for _, _, no in scored]
    return time.perf_counter() - t0, orders


def draw_all(app, phase_ids, beacon: str = "") -> dict:
    """What ``draws.run_due_draws`` does, timed: draw each phase, commit (which hands the
    notifications to RQ)."""
    from app.extensions import db
    from app.models import Phase
    from app.services import draws
    from app.services.audit import Actor

    s = db.session
    t_draw = t_commit = 0.0
    with SqlTimer(db.engine) as sql:
        t0 = time.perf_counter()
        for pid in phase_ids:
            a = time.perf_counter()
            draws.draw(s, s.get(Phase, pid), beacon, Actor())
            b = time.perf_counter()
            s.commit()
            t_commit += time.perf_counter() - b
            t_draw += b - a
        total = time.perf_counter() - t0
    return {"total": total, "draw": t_draw, "commit": t_commit, "sql": sql}


def check(app, phase_ids, orders, seats: int) -> dict:
    """Every phase drawn once, its record verifies, the admitted are the first ``seats`` of
    the baseline's order, seats taken match, nothing left 'applied'."""
    from sqlalchemy import text

    from app.extensions import db
    from app.tools.verify_lottery import verify_record

    s = db.session
    problems = unverified = mismatched = 0
    for pid, record_json, drawn_at in s.execute(text(
            "SELECT id, draw_record, drawn_at FROM phase WHERE id = ANY(:ids)"),
            {"ids": list(phase_ids)}):
        if drawn_at is None or not record_json:
            problems += 1
            continue
        record = json.loads(record_json)
        if verify_record(record):
            unverified += 1
        admitted = [e["entry_no"] for e in record["entries"] if e["outcome"] == "admitted"]
        if admitted != orders.get(pid, [])[:seats]:
            mismatched += 1
    left, over, drift = s.execute(text(
        "SELECT (SELECT count(*) FROM registration WHERE state = 'applied' AND phase_id = ANY(:ids)), "
        " (SELECT coalesce(sum(greatest(n - quota, 0)), 0) FROM (SELECT c.quota, count(r.id) "
        "   FILTER (WHERE r.state IN ('admitted','paid')) n FROM course c "
        "   LEFT JOIN registration r ON r.course_id = c.id GROUP BY c.id) x), "
        " (SELECT coalesce(sum(abs(c.seats_taken - (SELECT count(*) FROM registration r "
        "   WHERE r.course_id = c.id AND r.state IN ('admitted','paid')))), 0) FROM course c)"),
        {"ids": list(phase_ids)}).one()
    states = dict(s.execute(text("SELECT state, count(*) FROM registration GROUP BY 1")).all())
    notes = s.execute(text("SELECT count(*) FROM notification")).scalar()
    return {"undrawn": problems, "unverified": unverified, "order_mismatch": mismatched,
            "left_applied": int(left), "oversold": int(over), "seat_drift": int(drift),
            "states": states, "notifications": notes}


def run(args) -> dict:
    wd = workdir("bench-lottery")
    log(f"lottery: {args.entries} entries in {args.courses} courses of {args.seats} seats; work dir {wd}")
    with PrivateRedis() as redis, BenchDatabase(keep=args.keep, template=args.template_db) as bdb:
        app = migrated_app(bdb.url, redis.url, wd)
        try:
            with app.app_context():
                from app.extensions import db

                t0 = time.perf_counter()
                phase_ids = build(app, args)
                log(f"data in {time.perf_counter() - t0:.1f}s")
                raw = load_raw(db.session, phase_ids)
                db.session.remove()
                base_s, orders = baseline(raw)
                log(f"baseline: {base_s:.3f}s")
                if args.profile:
                    return profile(app, phase_ids[:args.profile])
                log("drawing …")
                timing = draw_all(app, phase_ids)
                db.session.remove()
                log(f"draws: {timing['total']:.1f}s (draw {timing['draw']:.1f}s, commit + "
                    f"dispatch {timing['commit']:.1f}s)")
                base_again, _ = baseline(raw)
                checks = check(app, phase_ids, orders, args.seats)
                db.session.remove()
                log(f"checks: {checks}")
        finally:
            dispose(app)
    done_with(wd, args.keep)
    baseline_s = min(base_s, base_again)
    n_sql, _ = timing["sql"].total()
    return {"lottery_s": timing["total"], "baseline_s": baseline_s,
            "ratio": timing["total"] / baseline_s if baseline_s else 0.0,
            "draw_s": timing["draw"], "commit_s": timing["commit"],
            "sql_per_entry": n_sql / max(args.entries, 1), "checks": checks,
            "sql_report": timing["sql"].report(args.entries, 12)}


def profile(app, phase_ids) -> dict:
    """``--profile N``: the first N phases' draws under cProfile (CPU time)."""
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile(time.process_time)
    prof.enable()
    timing = draw_all(app, phase_ids)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/work/main/app/|rq/queue|redis/client", 45)
    print(out.getvalue())
    print(timing["sql"].report(len(phase_ids), 20).replace("calls/op", "per phase"))
    print(f"PROFILE phases={len(phase_ids)} s={timing['total']:.2f}")
    dispose(app)
    sys.exit(0)


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.lottery", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entries", type=int, default=100_000)
    p.add_argument("--courses", type=int, default=500)
    p.add_argument("--seats", type=int, default=20)
    p.add_argument("--template-db", default=None, help=argparse.SUPPRESS)  # tests: a migrated copy
    p.add_argument("--keep", action="store_true")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="profile the draws of N phases instead")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    r = run(args)
    print(r["sql_report"].replace("calls/op", "per entry"), file=sys.stderr)
    c = r["checks"]
    print(f"INFO draw_s={fmt(r['draw_s'])} commit_and_dispatch_s={fmt(r['commit_s'])} "
          f"ms_per_entry={fmt(r['lottery_s'] / max(args.entries, 1) * 1000, 2)} "
          f"sql_per_entry={fmt(r['sql_per_entry'])} undrawn={c['undrawn']} unverified={c['unverified']} "
          f"order_mismatch={c['order_mismatch']} left_applied={c['left_applied']} "
          f"oversold={c['oversold']} seat_drift={c['seat_drift']} states={c['states']} "
          f"notifications={c['notifications']}")
    print(f"RESULT lottery_s={fmt(r['lottery_s'], 2)} baseline_s={fmt(r['baseline_s'], 3)} "
          f"ratio={fmt(r['ratio'], 1)}", flush=True)
    return r


if __name__ == "__main__":
    from .common import exit_on_sigterm

    exit_on_sigterm()
    main()
