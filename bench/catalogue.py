"""Read benchmark (整合公開): the catalogue page and the course JSON API with live counts over
1,000 courses, against a bare endpoint reading one row as JSON, all under gunicorn.

    python -m bench.catalogue [--courses 1000 --registrations 30000 --concurrency 64
                               --catalogue-requests N --api-requests N --baseline-requests N
                               --workers W --keep --profile N]

The last line printed is
``RESULT catalogue_per_s=… api_per_s=… baseline_per_s=… catalogue_ratio=… api_ratio=…``.
(``errors`` = 5xx + failed connections over all runs).  The baseline is measured twice
(before and after the app) and averaged; the API mix is half ``/api/v1/public/courses/<code>``
and half ``/api/v1/public/courses?per_page=20&page=…``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from urllib.parse import urlencode

from .common import (
    CATEGORIES, VENUES, BenchDatabase, Gunicorn, PrivateRedis, Request, app_env, bench_venues,
    bulk_courses, dispose, fmt, log, measured_load, migrated_app, profile_requests, run_load,
    sql_citizens, workdir, workers_for_cores, done_with,
)


def build(app, args, seed: int = 1000) -> dict:
    """1,000 courses of the five venues in open, full, upcoming and closed phases, with
    registrations in every state (straight SQL), and the three request mixes."""
    from sqlalchemy import text

    from app.extensions import db
    from app.services import clock

    s = db.session
    now = clock.now()
    venues, terms = bench_venues(s)
    specs = []
    for i in range(args.courses):
        kind = i % 4  # open, upcoming, closed, open lottery
        opens = {0: now - dt.timedelta(days=1), 1: now + dt.timedelta(days=3),
                 2: now - dt.timedelta(days=20), 3: now - dt.timedelta(hours=5)}[kind]
        specs.append({"quota": 20 + (i % 5) * 5, "opens_at": opens,
                      "closes_at": opens + dt.timedelta(days=7 if kind != 2 else 5),
                      "mode": "lottery" if kind == 3 else "first_come"})
    courses = [(c.id, c.code) for c in bulk_courses(s, venues, terms, specs, prefix="C")]
    s.commit()
    t0 = time.perf_counter()
    sql_citizens(s, max(args.registrations // 10, 200), "cat")
    # Registrations spread over the courses: each learner at most once per course.
    s.execute(text(
        "CREATE TEMP TABLE cat_course AS SELECT row_number() OVER (ORDER BY c.id) - 1 AS rn, "
        "c.id, c.venue_id, c.term_id, c.quota, p.id AS phase_id FROM course c "
        "JOIN phase p ON p.course_id = c.id"))
    s.execute(text("CREATE TEMP TABLE cat_learner AS SELECT row_number() OVER (ORDER BY id) - 1 AS rn, "
                   "id, citizen_id FROM learner"))
    nc = s.execute(text("SELECT count(*) FROM cat_course")).scalar()
    nl = s.execute(text("SELECT count(*) FROM cat_learner")).scalar()
    s.execute(text(
        "INSERT INTO registration (entry_no, course_id, phase_id, venue_id, term_id, citizen_id, "
        " learner_id, state, tier, channel, applied_at, updated_at) "
        "SELECT 'CT' || lpad(g::text, 9, '0'), c.id, c.phase_id, c.venue_id, c.term_id, "
        " l.citizen_id, l.id, "
        " (ARRAY['admitted','paid','waitlisted','applied','withdrawn','paid'])[g % 6 + 1], 0, "
        " 'online', now(), now() "
        "FROM generate_series(0, :n - 1) g JOIN cat_course c ON c.rn = g % :nc "
        "JOIN cat_learner l ON l.rn = (g / :nc) % :nl"),
        {"n": args.registrations, "nc": nc, "nl": nl})
    # Seats follow the seated rows (capped at the quota: the surplus stays waitlisted).
    s.execute(text(
        "UPDATE registration r SET state = 'waitlisted' FROM cat_course c "
        "WHERE r.course_id = c.id AND r.state IN ('admitted', 'paid') AND r.id IN ("
        " SELECT id FROM (SELECT r2.id, row_number() OVER (PARTITION BY r2.course_id ORDER BY r2.id) AS k, "
        " c2.quota FROM registration r2 JOIN cat_course c2 ON c2.id = r2.course_id "
        " WHERE r2.state IN ('admitted','paid')) x WHERE x.k > x.quota)"))
    s.execute(text(
        "UPDATE course c SET seats_taken = x.n FROM (SELECT course_id, count(*) AS n FROM registration "
        "WHERE state IN ('admitted','paid','refund_requested','completed') GROUP BY course_id) x "
        "WHERE x.course_id = c.id"))
    s.commit()
    conn = s.connection().engine.raw_connection()
    try:
        conn.driver_connection.autocommit = True
        conn.driver_connection.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    log(f"{args.registrations} registrations in {time.perf_counter() - t0:.1f}s")

    rng = random.Random(seed)
    codes = [code for _, code in courses]
    pages = max(1, args.courses // 20)

    def catalogue_path() -> str:
        venue = rng.choice(VENUES)[0]
        choice = rng.randrange(6)
        query = [{}, {"venue": venue}, {"category": rng.choice(CATEGORIES), "status": "open"},
                 {"venue": venue, "status": "open"}, {"weekday": rng.randint(1, 7), "time": "morning"},
                 {"page": rng.randint(1, pages)}][choice]
        return "/" + ("?" + urlencode(query) if query else "")

    def api_path(i: int) -> str:
        if i % 2:
            return f"/api/v1/public/courses/{rng.choice(codes)}"
        return "/api/v1/public/courses?" + urlencode({"per_page": 20, "page": rng.randint(1, pages)})

    return {
        "catalogue": [Request("GET", catalogue_path()) for _ in range(args.catalogue_requests)],
        "api": [Request("GET", api_path(i), tag="list" if i % 2 == 0 else "detail")
                for i in range(args.api_requests)],
        "baseline": [Request("GET", f"/baseline/course/{rng.choice(codes)}")
                     for _ in range(args.baseline_requests)],
        "warm_app": [Request("GET", catalogue_path()) for _ in range(args.warm)]
                    + [Request("GET", api_path(i)) for i in range(args.warm)],
        "warm_baseline": [Request("GET", f"/baseline/course/{rng.choice(codes)}")
                          for _ in range(args.warm)],
    }


def run(args) -> dict:
    wd = workdir("bench-catalogue")
    workers = args.workers or workers_for_cores()
    log(f"catalogue: {args.courses} courses, {args.registrations} registrations, "
        f"{args.concurrency} connections, gunicorn sync workers={workers}; work dir {wd}")
    with PrivateRedis() as redis, BenchDatabase(keep=args.keep, template=args.template_db) as bdb:
        app = migrated_app(bdb.url, redis.url, wd)
        env = app_env(bdb.url, redis.url, wd)
        server = Gunicorn("run:app", workers, env, wd, "app")
        base = Gunicorn("bench.baseline_app:app", workers, env, wd, "baseline")
        try:
            if not args.profile:
                server.launch()
                base.launch()
            with app.app_context():
                plan = build(app, args)
            if args.profile:
                profile_requests(app, plan["warm_app"], plan["catalogue"][:args.profile])
                profile_requests(app, plan["warm_app"], plan["api"][:args.profile])
                dispose(app)
                sys.exit(0)
            dispose(app)
            server.wait_ready()
            base.wait_ready()
            run_load(server.port, plan["warm_app"], 8)
            run_load(base.port, plan["warm_baseline"], 8)
            runs = {}
            for name, srv in (("baseline1", base), ("catalogue", server), ("api", server),
                              ("baseline2", base)):
                reqs = plan["baseline" if name.startswith("baseline") else name]
                log(f"measuring {name} …")
                runs[name] = measured_load(srv, reqs, args.concurrency, bdb.url,
                                           min_seconds=args.min_seconds)
                r, cpu, _ = runs[name]
                log(f"{name}: {len(r.results)} requests in {r.elapsed:.1f}s = {r.per_s:.1f}/s, "
                    f"statuses {r.statuses()}, p50 {r.pct(50):.0f} ms, p99 {r.pct(99):.0f} ms, "
                    f"CPU ms/req web {cpu['web'] / len(r.results) * 1000:.1f} "
                    f"db {cpu['db'] / len(r.results) * 1000:.1f}")
        finally:
            server.stop()
            base.stop()
    done_with(wd, args.keep)
    b = (runs["baseline1"][0].per_s + runs["baseline2"][0].per_s) / 2
    cat, api = runs["catalogue"][0], runs["api"][0]

    def cpu_ms(name):
        r, cpu, _ = runs[name]
        return (cpu["web"] + cpu["db"]) / max(len(r.results), 1) * 1000

    base_cpu = (cpu_ms("baseline1") + cpu_ms("baseline2")) / 2
    errors = {k: v[0].errors for k, v in runs.items()}
    bad = {k: sum(1 for x in v[0].results if x.status != 200) for k, v in runs.items()}
    if errors["api"]:
        by_path = {}
        for res in runs["api"][0].results:
            by_path.setdefault(res.tag, {}).setdefault(res.status, 0)
            by_path[res.tag][res.status] += 1
        log(f"WARNING: the API answered errors: statuses by endpoint {by_path}")
    return {
        "catalogue_per_s": cat.per_s, "api_per_s": api.per_s, "baseline_per_s": b,
        "catalogue_ratio": cat.per_s / b if b else 0.0, "api_ratio": api.per_s / b if b else 0.0,
        "catalogue_cpu_ms": cpu_ms("catalogue"), "api_cpu_ms": cpu_ms("api"),
        "baseline_cpu_ms": base_cpu, "errors": sum(errors.values()), "non_200": bad,
        "baseline_runs": (runs["baseline1"][0].per_s, runs["baseline2"][0].per_s),
        "p99_ms": {k: v[0].pct(99) for k, v in runs.items()}, "workers": workers,
    }


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.catalogue", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--courses", type=int, default=1000)
    p.add_argument("--registrations", type=int, default=30000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--catalogue-requests", type=int, default=600)
    p.add_argument("--api-requests", type=int, default=1200)
    p.add_argument("--baseline-requests", type=int, default=2000)
    p.add_argument("--warm", type=int, default=24, help="warm-up requests of each kind")
    p.add_argument("--min-seconds", type=float, default=10,
                   help="each run repeats its request list until it has run this long")
    p.add_argument("--workers", type=int, default=0, help="gunicorn sync workers (default 2×cores)")
    p.add_argument("--template-db", default=None, help=argparse.SUPPRESS)  # tests: a migrated copy
    p.add_argument("--keep", action="store_true")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="profile N catalogue and N API requests in-process instead")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    r = run(args)
    print(f"INFO workers={r['workers']} catalogue_cpu_ms_per_req={fmt(r['catalogue_cpu_ms'])} "
          f"api_cpu_ms_per_req={fmt(r['api_cpu_ms'])} baseline_cpu_ms_per_req={fmt(r['baseline_cpu_ms'])} "
          f"baseline_runs={fmt(r['baseline_runs'][0])},{fmt(r['baseline_runs'][1])} "
          f"non_200={r['non_200']} errors={r['errors']} "
          f"p99_ms={ {k: round(v) for k, v in r['p99_ms'].items()} }")
    print(f"RESULT catalogue_per_s={fmt(r['catalogue_per_s'])} api_per_s={fmt(r['api_per_s'])} "
          f"baseline_per_s={fmt(r['baseline_per_s'])} catalogue_ratio={fmt(r['catalogue_ratio'], 2)} "
          f"api_ratio={fmt(r['api_ratio'], 2)} errors={r['errors']}", flush=True)
    return r


if __name__ == "__main__":
    from .common import exit_on_sigterm

    exit_on_sigterm()
    main()
