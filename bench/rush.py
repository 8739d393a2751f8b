"""Registration rush (報名尖峰): the real public endpoint under gunicorn vs a bare baseline.

    python -m bench.rush [--courses 500 --citizens 5000 --hot 50 --seats 20 --concurrency 64
                          --requests N --existing 0 --workers W --keep --compare-existing
                          --profile N]

See bench/__init__.py.  The last line printed is
``RESULT reg_per_s=… baseline_per_s=… ratio=… p50_ms=… p99_ms=… oversold=… lost=… errors=…``.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from urllib.parse import urlencode

from .common import (
    LOCATION_REG, Gunicorn, PrivateRedis, Request, RqWorker, BenchDatabase, app_env, measured_load,
    bench_venues, bulk_citizens, bulk_courses, dispose, fmt, log, login_rows, migrated_app,
    done_with, mint_logins, run_load, sql_citizens, workdir, workers_for_cores,
)

SEATED = ("admitted", "paid", "refund_requested", "completed")
WARM_CITIZENS = 48
DEFAULT_REQUESTS = 800


@dataclass
class Plan:
    """The setup a run measures: the courses and the requests, in firing order."""

    app_requests: list
    baseline_requests: list
    warm_requests: list
    warm_baseline: list
    hot_ids: list
    first_new_reg: int  # registrations with a smaller id existed before the run


# ------------------------------------------------------------------ setup

def build(app, args, seed: int = 20260) -> Plan:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Registration
    from app.services import clock

    s = db.session
    now = clock.now()
    venues, terms = bench_venues(s)
    opens, closes = now - dt_hours(1), now + dt_hours(48)
    specs = [{"quota": args.seats if i < args.hot else args.cold_seats, "opens_at": opens,
              "closes_at": closes} for i in range(args.courses)]
    courses = [Ref(c.id, c.code) for c in bulk_courses(s, venues, terms, specs)]
    warm_course = [Ref(c.id, c.code) for c in bulk_courses(
        s, venues[:1], terms[:1], [{"quota": max(args.warm // 4, 1), "opens_at": opens,
                                    "closes_at": closes, "code": "WARM00001"}])][0]
    s.commit()
    t0 = time.perf_counter()
    people = bulk_citizens(s, args.citizens, start=500000)
    warm_people = bulk_citizens(s, args.warm, start=900000)
    log(f"{args.citizens + args.warm} citizens in {time.perf_counter() - t0:.1f}s")
    if args.existing:
        insert_existing(s, venues, args.existing)
    first_new = (s.execute(select(func.max(Registration.id))).scalar() or 0) + 1
    t0 = time.perf_counter()
    logins = mint_logins(app, login_rows(s, ids_of(people)))
    warm_logins = mint_logins(app, login_rows(s, ids_of(warm_people)))
    log(f"{len(logins) + len(warm_logins)} sessions minted in {time.perf_counter() - t0:.1f}s")

    rng = random.Random(seed)
    hot, cold = courses[:args.hot], courses[args.hot:]
    # Demand within the hot set falls off like Zipf(skew): a few courses are wanted by far
    # more people than they have seats (0 = uniform).
    hot_weights = [1 / (rank ** args.skew) for rank in range(1, len(hot) + 1)]
    taken: dict[int, set] = defaultdict(set)
    order = list(logins)
    rng.shuffle(order)
    ptr = 0
    pairs = []
    for _ in range(args.requests):
        if rng.random() < args.hot_share or not cold:
            course = rng.choices(hot, weights=hot_weights)[0]
        else:
            course = rng.choice(cold)
        for _attempt in range(len(order)):
            login = order[ptr % len(order)]
            ptr += 1
            if course.id not in taken[login.citizen_id]:
                break
        else:
            raise SystemExit("not enough citizens for distinct registrations: raise --citizens")
        taken[login.citizen_id].add(course.id)
        pairs.append((login, course))
    warm_pairs = [(login, warm_course) for login in warm_logins]

    def app_req(login, course):
        return Request("POST", f"/courses/{course.code}/register",
                       urlencode({"csrf_token": login.csrf}).encode(),
                       {"Cookie": login.cookie}, (login.citizen_id, course.id))

    def base_req(login, course):
        return Request("POST", f"/baseline/register/{course.id}/{login.citizen_id}",
                       urlencode({"csrf_token": login.csrf}).encode(),
                       {"Cookie": login.cookie}, (login.citizen_id, course.id))

    return Plan([app_req(*p) for p in pairs], [base_req(*p) for p in pairs],
                [app_req(*p) for p in warm_pairs], [base_req(*p) for p in warm_pairs],
                [c.id for c in hot], first_new)


@dataclass(frozen=True)
class Ref:
    id: int
    code: str


def ids_of(objects) -> list[int]:
    """Primary keys of (possibly expired) ORM objects without reloading them."""
    from sqlalchemy import inspect

    return [inspect(o).identity[0] for o in objects]


def dt_hours(n: float):
    import datetime as dt

    return dt.timedelta(hours=n)


def insert_existing(s, venues, n: int, courses_n: int = 1000, other_citizens: int = 15000) -> None:
    """``n`` registrations of past terms (closed courses, other citizens and the bench's own),
    in SQL with generate_series, then VACUUM ANALYZE (what autovacuum would have done)."""
    import datetime as dt

    from sqlalchemy import text

    from app.models import Term
    from app.services import clock

    t0 = time.perf_counter()
    past = clock.taipei_today() - dt.timedelta(days=200)
    past_terms = []
    for v in venues:
        t = Term(venue_id=v.id, code="114F", name="114年秋季班", name_en="Autumn 2025",
                 starts_on=past, ends_on=past + dt.timedelta(weeks=18))
        s.add(t)
        past_terms.append(t)
    s.flush()
    sql_citizens(s, other_citizens, "old")
    closed_at = clock.now() - dt.timedelta(days=230)
    for i, t in enumerate(past_terms):
        per = courses_n // len(past_terms)
        s.execute(text(
            "INSERT INTO course (code, venue_id, term_id, title, title_en, category, teacher, "
            " description, room, weekdays, starts_at, ends_at, first_date, last_date, sessions, "
            " quota, min_enrolment, fee, materials_fee, seats_taken, created_at) "
            "SELECT 'PX' || :v || lpad(g::text, 5, '0'), :vid, :tid, '往期研習班 ' || g, 'Past ' || g, "
            " '美術', '王老師', '', '101教室', '3', '09:00', '12:00', :first, :first + 119, 18, "
            " 1000, 1, 2500, 0, 0, now() FROM generate_series(1, :per) g"),
            {"v": t.venue_id, "vid": t.venue_id, "tid": t.id, "first": past, "per": per})
        s.execute(text(
            "INSERT INTO phase (course_id, seq, mode, eligibility, seats_filled, opens_at, closes_at, "
            " auto_draw) SELECT id, 1, 'first_come', 'everyone', 0, :o, :c, true FROM course "
            "WHERE term_id = :tid"), {"o": closed_at - dt.timedelta(days=2), "c": closed_at,
                                       "tid": t.id})
    s.execute(text("CREATE TEMP TABLE px_course AS SELECT row_number() OVER (ORDER BY c.id) - 1 AS rn, "
                   "c.id, c.venue_id, c.term_id, p.id AS phase_id FROM course c "
                   "JOIN phase p ON p.course_id = c.id WHERE c.code LIKE 'PX%'"))
    s.execute(text("CREATE TEMP TABLE px_learner AS SELECT row_number() OVER (ORDER BY id) - 1 AS rn, "
                   "id, citizen_id FROM learner"))
    s.execute(text("CREATE UNIQUE INDEX ON px_course (rn)"))
    s.execute(text("CREATE UNIQUE INDEX ON px_learner (rn)"))
    nc = s.execute(text("SELECT count(*) FROM px_course")).scalar()
    nl = s.execute(text("SELECT count(*) FROM px_learner")).scalar()
    if nl < n // nc:
        raise SystemExit(f"--existing {n} needs at least {n // nc} learners")
    # Bulk-load speed: the rows are consistent by construction, so the foreign-key triggers
    # are skipped for this transaction and the secondary indexes are rebuilt afterwards
    # (one sort each instead of a million random inserts).
    s.execute(text("SET LOCAL session_replication_role = replica"))
    s.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    indexes = s.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = 'registration' "
        "AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
        "                        WHERE conrelid = 'registration'::regclass)")).all()
    for name, _ in indexes:
        s.execute(text(f'DROP INDEX "{name}"'))
    # Every learner appears at most once per course; states as a past term ends:
    # mostly completed, some paid (seated), withdrawn, forfeited, refunded, cancelled.
    s.execute(text(
        "INSERT INTO registration (entry_no, course_id, phase_id, venue_id, term_id, citizen_id, "
        " learner_id, state, tier, channel, applied_at, admitted_at, paid_at, closed_at, updated_at) "
        "SELECT 'EX' || lpad(g::text, 9, '0'), c.id, c.phase_id, c.venue_id, c.term_id, "
        " l.citizen_id, l.id, "
        " (ARRAY['completed','completed','completed','completed','paid','completed','withdrawn',"
        "        'forfeited','refunded','cancelled'])[g % 10 + 1], 0, 'online', "
        " :applied, :applied, CASE WHEN g % 10 IN (0,1,2,3,4,5,8) THEN :applied END, "
        " CASE WHEN g % 10 NOT IN (4) THEN :applied END, :applied "
        "FROM generate_series(0, :n - 1) g "
        "JOIN px_course c ON c.rn = g % :nc "
        "JOIN px_learner l ON l.rn = (g / :nc) % :nl"),
        {"n": n, "nc": nc, "nl": nl, "applied": closed_at - dt.timedelta(days=1)})
    for _, definition in indexes:
        s.execute(text(definition))
    s.execute(text(
        "UPDATE course c SET seats_taken = x.n FROM (SELECT course_id, count(*) AS n FROM registration "
        "WHERE state IN ('admitted','paid','refund_requested','completed') GROUP BY course_id) x "
        "WHERE x.course_id = c.id AND c.code LIKE 'PX%'"))
    s.commit()
    conn = s.connection().engine.raw_connection()
    try:
        conn.driver_connection.autocommit = True
        conn.driver_connection.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    log(f"{n} existing registrations inserted in {time.perf_counter() - t0:.1f}s")


# ------------------------------------------------------------------ measuring

def account(app, plan: Plan, run, warm_run) -> dict:
    """Correctness of the app run, checked in the database."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        s = db.session
        rows = s.execute(text("SELECT id, state, citizen_id, course_id FROM registration "
                              "WHERE id >= :f"), {"f": plan.first_new_reg}).all()
        oversold, drift = s.execute(text(
            "SELECT coalesce(sum(greatest(n - quota, 0)), 0), coalesce(sum(abs(seats_taken - n)), 0) "
            "FROM (SELECT c.id, c.quota, c.seats_taken, count(r.id) FILTER (WHERE r.state = ANY(:seated)) n "
            "      FROM course c LEFT JOIN registration r ON r.course_id = c.id "
            "      GROUP BY c.id) x"), {"seated": list(SEATED)}).one()
        double = s.execute(text(
            "SELECT count(*) FROM (SELECT learner_id, course_id FROM registration WHERE id >= :f "
            "GROUP BY 1, 2 HAVING count(*) > 1) x"), {"f": plan.first_new_reg}).scalar()
        notes = s.execute(text("SELECT status, count(*) FROM notification GROUP BY 1")).all()
        hot_full = s.execute(text("SELECT count(*) FROM course WHERE id = ANY(:ids) "
                                  "AND seats_taken >= quota"), {"ids": plan.hot_ids}).scalar()
        db.session.remove()
    accepted, auth_redirects, other = {}, 0, Counter()
    for r in list(run.results) + list(warm_run.results):
        m = LOCATION_REG.search(r.location) if r.status == 302 else None
        if m:
            accepted[int(m.group(1))] = r.tag  # (citizen id, course id) of the request
        elif r.status == 302:
            auth_redirects += 1
        elif r.status and r.status < 500:
            other[r.status] += 1
    in_db = {rid: (citizen, course) for rid, _, citizen, course in rows}
    states = Counter(state for _, state, _, _ in rows)
    # Answered "accepted" without that row (or with a row of someone else's request), and
    # rows no answer named.
    lost = (sum(1 for rid, tag in accepted.items() if in_db.get(rid) != tuple(tag))
            + sum(1 for rid in in_db if rid not in accepted))
    return {
        "oversold": int(oversold), "seat_drift": int(drift), "double": int(double),
        "lost": lost,
        "auth_redirects": auth_redirects, "rejected": dict(other),
        "hot_full": f"{hot_full}/{len(plan.hot_ids)}",
        "states": dict(states), "notifications": dict(notes),
    }


def baseline_account(app) -> dict:
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        over = db.session.execute(text(
            "SELECT coalesce(sum(greatest(n - quota, 0)), 0) FROM (SELECT s.id, s.quota, "
            "count(c.id) FILTER (WHERE c.admitted) n FROM bench_seat s "
            "LEFT JOIN bench_seat_claim c ON c.course_id = s.id GROUP BY s.id) x")).scalar()
        db.session.remove()
    return {"oversold": int(over)}


def _reset_baseline_seats(app) -> None:
    from app.extensions import db

    from .baseline_app import prepare_seats

    with app.app_context():
        prepare_seats(db.session)
        db.session.remove()
    dispose(app)


def run_once(args, existing: int) -> dict:
    """One run: the baseline, the app (with the rq worker), the baseline again.  The two
    baseline runs are averaged (the machine's load drifts over a run)."""
    args.existing = existing
    wd = workdir("bench-rush")
    workers = args.workers or workers_for_cores()
    log(f"rush: {args.courses} courses ({args.hot} hot × {args.seats} seats), {args.citizens} "
        f"citizens, {args.requests} requests at {args.concurrency} connections, "
        f"{existing} existing registrations, gunicorn sync workers={workers}; work dir {wd}")
    with PrivateRedis() as redis, BenchDatabase(keep=args.keep, template=args.template_db) as bdb:
        app = migrated_app(bdb.url, redis.url, wd)
        env = app_env(bdb.url, redis.url, wd)
        server = Gunicorn("run:app", workers, env, wd, "app")
        base = Gunicorn("bench.baseline_app:app", workers, env, wd, "baseline")
        worker = RqWorker(redis.url, ["notifications", "default"], env, wd,
                          worker_class=args.rq_worker_class)
        bruns = []

        def baseline_run(label):
            _reset_baseline_seats(app)
            run_load(base.port, plan.warm_baseline, min(args.concurrency, 16))
            log(f"measuring the baseline ({label}) …")
            brun = measured_load(base, plan.baseline_requests, args.concurrency, bdb.url,
                                 min_seconds=args.min_seconds)
            r, c, a = brun
            log(f"baseline ({label}): {len(r.results)} requests in {r.elapsed:.1f}s = "
                f"{r.per_s:.1f}/s, statuses {r.statuses()}, CPU s {c}, DB connections {a}")
            bruns.append((brun, baseline_account(app)))

        try:
            if not args.profile:
                server.launch()  # both boot while the data is created
                base.launch()
            with app.app_context():
                plan = build(app, args)
            dispose(app)
            if args.profile:
                return profile(app, plan, args.profile)
            base.wait_ready()
            baseline_run("before")
            if not args.no_worker:
                worker.start()
            server.wait_ready()
            warm_run = run_load(server.port, plan.warm_requests, min(args.concurrency, 16))
            log(f"warm-up: {warm_run.statuses()}")
            log("measuring the registration endpoint …")
            run, cpu, activity = measured_load(
                server, plan.app_requests, args.concurrency, bdb.url,
                {"rq": ([worker.proc.pid] if worker.proc else [], True)})
            log(f"app: {len(run.results)} requests in {run.elapsed:.1f}s = {run.per_s:.1f}/s, "
                f"statuses {run.statuses()}, CPU s {cpu}, DB connections {activity}")
            if run.errors:
                bad = [r for r in run.results if r.status == 0 or r.status >= 500][:3]
                log(f"errors, e.g. {bad}\n{server.log_tail(3000)}")
            worker.stop()  # the baseline is measured without background work
            server.stop()
            checks = account(app, plan, run, warm_run)
            dispose(app)
            log(f"checks: {checks}")
            baseline_run("after")
        finally:
            worker.stop()
            server.stop()
            base.stop()
    done_with(wd, args.keep)
    n = max(len(run.results), 1)
    per_s = [b[0][0].per_s for b in bruns]
    base_per_s = sum(per_s) / len(per_s)
    lat = sorted(x for (b, _) in bruns for x in b[0].latencies_ms())
    bcpu = {k: sum(b[0][1][k] for b in bruns) / sum(len(b[0][0].results) for b in bruns) * 1000
            for k in bruns[0][0][1]}
    return {
        "reg_per_s": run.per_s, "baseline_per_s": base_per_s,
        "ratio": run.per_s / base_per_s if base_per_s else 0.0,
        "p50_ms": run.pct(50), "p99_ms": run.pct(99),
        "baseline_runs": per_s,
        "baseline_p50_ms": lat[len(lat) // 2] if lat else float("nan"),
        "baseline_p99_ms": lat[min(len(lat) - 1, int(0.99 * (len(lat) - 1)))] if lat else float("nan"),
        "oversold": checks["oversold"], "lost": checks["lost"], "errors": run.errors,
        "baseline_errors": sum(b[0][0].errors for b in bruns),
        "baseline_oversold": sum(b[1]["oversold"] for b in bruns),
        "cpu_ms": {k: v / n * 1000 for k, v in cpu.items()},
        "baseline_cpu_ms": bcpu,
        "checks": checks, "workers": workers, "existing": existing,
        "db_activity": activity, "baseline_db_activity": bruns[-1][0][2],
    }


def result_line(r: dict) -> str:
    return (f"RESULT reg_per_s={fmt(r['reg_per_s'])} baseline_per_s={fmt(r['baseline_per_s'])} "
            f"ratio={fmt(r['ratio'], 2)} p50_ms={fmt(r['p50_ms'], 0)} p99_ms={fmt(r['p99_ms'], 0)} "
            f"oversold={r['oversold']} lost={r['lost']} errors={r['errors']}")


def info_line(r: dict) -> str:
    c = r["checks"]
    cpu = " ".join(f"{k}_cpu_ms_per_req={fmt(v)}" for k, v in r["cpu_ms"].items())
    bcpu = " ".join(f"baseline_{k}_cpu_ms_per_req={fmt(v)}" for k, v in r["baseline_cpu_ms"].items())
    return (f"INFO existing={r['existing']} workers={r['workers']} {cpu} {bcpu} "
            f"baseline_runs={','.join(fmt(x) for x in r['baseline_runs'])} "
            f"baseline_p50_ms={fmt(r['baseline_p50_ms'], 0)} baseline_p99_ms={fmt(r['baseline_p99_ms'], 0)} "
            f"baseline_errors={r['baseline_errors']} baseline_oversold={r['baseline_oversold']} "
            f"seat_drift={c['seat_drift']} double={c['double']} auth_redirects={c['auth_redirects']} "
            f"rejected={c['rejected']} hot_full={c['hot_full']} states={c['states']} "
            f"notifications={c['notifications']} db_activity={r['db_activity']} "
            f"baseline_db_activity={r['baseline_db_activity']}")


# ------------------------------------------------------------------ profiling

def profile(app, plan: Plan, n: int) -> dict:
    """``--profile N``: N registration requests in-process (Flask test client, no gunicorn)
    under cProfile, with the SQL statements timed per request."""
    from .common import profile_requests

    profile_requests(app, plan.warm_requests[:20], plan.app_requests[:n])
    dispose(app)
    sys.exit(0)


# ------------------------------------------------------------------ command line

def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.rush", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--courses", type=int, default=500)
    p.add_argument("--citizens", type=int, default=5000)
    p.add_argument("--hot", type=int, default=50, help="hot first-come courses")
    p.add_argument("--seats", type=int, default=20, help="seats of a hot course")
    p.add_argument("--cold-seats", type=int, default=200, help="seats of the other courses")
    p.add_argument("--hot-share", type=float, default=0.85, help="share of requests on the hot set")
    p.add_argument("--skew", type=float, default=1.0,
                   help="Zipf exponent of demand within the hot set (0: uniform)")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--warm", type=int, default=WARM_CITIZENS,
                   help="warm-up requests (by other citizens, on a course of their own)")
    p.add_argument("--requests", type=int, default=DEFAULT_REQUESTS)
    p.add_argument("--existing", type=int, default=0,
                   help="registrations inserted first (past terms), e.g. 1000000")
    p.add_argument("--compare-existing", type=int, nargs="?", const=1_000_000, default=None,
                   metavar="N", help="run empty, then with N (default 1,000,000) existing rows")
    p.add_argument("--workers", type=int, default=0, help="gunicorn sync workers (default 2×cores)")
    p.add_argument("--min-seconds", type=float, default=10,
                   help="each baseline run repeats the request list until it has run this long")
    p.add_argument("--template-db", default=None, help=argparse.SUPPRESS)  # tests: a migrated copy
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--rq-worker-class", default="",
                   help="diagnosis only: rq --worker-class (default: app.jobs.worker.AppWorker, as in README)")
    p.add_argument("--no-worker", action="store_true",
                   help="diagnosis only: no rq worker (notifications stay queued)")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="profile N requests in-process instead of the gunicorn run")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    if args.compare_existing:
        empty = run_once(args, 0)
        print(info_line(empty))
        print(result_line(empty), flush=True)
        full = run_once(args, args.compare_existing)
        print(info_line(full))
        print(result_line(full), flush=True)
        raw = full["reg_per_s"] / empty["reg_per_s"] if empty["reg_per_s"] else 0.0
        norm = full["ratio"] / empty["ratio"] if empty["ratio"] else 0.0
        cpu = [sum(r["cpu_ms"][k] for k in ("web", "db")) for r in (empty, full)]
        print(f"COMPARE existing={args.compare_existing} reg_per_s_empty={fmt(empty['reg_per_s'])} "
              f"reg_per_s_existing={fmt(full['reg_per_s'])} existing_vs_empty={fmt(raw, 2)} "
              f"existing_vs_empty_baseline_normalised={fmt(norm, 2)} "
              f"cpu_ms_per_req_empty={fmt(cpu[0])} cpu_ms_per_req_existing={fmt(cpu[1])} "
              f"cpu_existing_vs_empty={fmt(cpu[1] / cpu[0] if cpu[0] else 0.0, 2)}")
        return {"empty": empty, "existing": full, "existing_vs_empty": raw,
                "existing_vs_empty_normalised": norm}
    result = run_once(args, args.existing)
    print(info_line(result))
    print(result_line(result), flush=True)
    return result


if __name__ == "__main__":
    from .common import exit_on_sigterm

    exit_on_sigterm()
    main()
