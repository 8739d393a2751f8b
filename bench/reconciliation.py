"""Reconciliation benchmark (自動對帳): a bank collection file with one credit per admitted
registration, imported through ``app.services.reconciliation.import_file`` (parse, match,
apply, receipts, notifications, one transaction), against a baseline of the same file
parsed with ``collection_files.parse_collection_file`` plus one bulk UPDATE of the slips.

    python -m bench.reconciliation [--lines 100000 --courses 500 --keep --profile]

The last line printed is ``RESULT import_s=… baseline_s=… ratio=…``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

from .common import (
    BenchDatabase, PrivateRedis, SqlTimer, bench_venues, bulk_courses, dispose, fmt, log,
    done_with, migrated_app, sql_citizens, workdir,
)

BULK_UPDATE = (
    "UPDATE payment_slip s SET status = 'paid' "
    "FROM unnest(%(vas)s::text[], %(amounts)s::int[]) AS v(va, amount) "
    "WHERE s.virtual_account = v.va AND s.amount = v.amount")


def build(app, args) -> bytes:
    """``lines`` admitted registrations, each with its open slip (virtual account and store
    barcodes from app.services.payment_codes), and the bank file paying every one of them."""
    from sqlalchemy import text

    from app.extensions import db
    from app.services import clock, payment_codes
    from app.services.collection_files import BankCredit, encode_file, format_bank_file

    s = db.session
    now = clock.now()
    venues, terms = bench_venues(s)
    per_course = -(-args.lines // args.courses)
    specs = [{"quota": per_course, "opens_at": now - dt.timedelta(days=2),
              "closes_at": now - dt.timedelta(days=1)} for _ in range(args.courses)]
    bulk_courses(s, venues, terms, specs, prefix="R")
    s.commit()
    sql_citizens(s, max(per_course * 2, 1000), "rec")
    deadline = now + dt.timedelta(days=3)
    s.execute(text(
        "CREATE TEMP TABLE rec_course AS SELECT row_number() OVER (ORDER BY c.id) - 1 AS rn, "
        "c.id, c.venue_id, c.term_id, c.fee, c.materials_fee, p.id AS phase_id, v.code AS vcode "
        "FROM course c JOIN phase p ON p.course_id = c.id JOIN venue v ON v.id = c.venue_id"))
    s.execute(text("CREATE TEMP TABLE rec_learner AS SELECT row_number() OVER (ORDER BY id) - 1 AS rn, "
                   "id, citizen_id FROM learner"))
    nl = s.execute(text("SELECT count(*) FROM rec_learner")).scalar()
    s.execute(text(
        "INSERT INTO registration (entry_no, course_id, phase_id, venue_id, term_id, citizen_id, "
        " learner_id, state, tier, channel, applied_at, admitted_at, deadline_at, updated_at) "
        "SELECT c.vcode || '-' || upper(substr(md5('rec' || g), 1, 10)), c.id, c.phase_id, "
        " c.venue_id, c.term_id, l.citizen_id, l.id, 'admitted', 0, 'online', :at, :at, :dl, :at "
        "FROM generate_series(0, :n - 1) g JOIN rec_course c ON c.rn = g % :nc "
        "JOIN rec_learner l ON l.rn = (g / :nc + (g % :nc) * 3) % :nl"),
        {"n": args.lines, "nc": args.courses, "nl": nl, "at": now - dt.timedelta(days=1),
         "dl": deadline})
    s.execute(text(
        "UPDATE course c SET seats_taken = x.n FROM (SELECT course_id, count(*) n FROM registration "
        "GROUP BY 1) x WHERE x.course_id = c.id"))
    rows = s.execute(text(
        "SELECT r.id, r.venue_id, v.collection_code, v.store_item_code, c.fee + c.materials_fee, "
        "c.fee, c.materials_fee FROM registration r JOIN course c ON c.id = r.course_id "
        "JOIN venue v ON v.id = r.venue_id ORDER BY r.id")).all()
    serials = dict.fromkeys({r[1] for r in rows}, 0)
    day = clock.to_taipei(deadline).date()
    slips, credits = [], []
    strategy = payment_codes.get_strategy(payment_codes.DEFAULT_STRATEGY)
    for i, (rid, vid, ccode, item, amount, fee, mfee) in enumerate(rows):
        serials[vid] += 1
        va = strategy(ccode, serials[vid], amount)
        b1, b2, b3 = payment_codes.store_barcodes(day, item, va, amount)
        slips.append((rid, vid, serials[vid], va, amount, fee, 100, "", mfee, deadline, b1, b2, b3,
                      "open", now))
        credits.append(BankCredit(0, day, dt.time(10, 30), day, ("atm", "internet", "counter")[i % 3],
                                  va, "+", amount, f"B{i:011d}", "812"))
    raw = s.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("COPY payment_slip (registration_id, venue_id, serial, virtual_account, amount, "
                      "fee, discount_percent, discount_identities, materials_fee, deadline_at, "
                      "barcode1, barcode2, barcode3, status, issued_at) FROM STDIN") as copy:
            for row in slips:
                copy.write_row(row)
    s.commit()
    conn = s.connection().engine.raw_connection()
    try:
        conn.driver_connection.autocommit = True
        conn.driver_connection.execute("VACUUM ANALYZE")
    finally:
        conn.close()
    return encode_file(format_bank_file(credits), "utf-8")


def baseline(app, raw: bytes) -> tuple[float, float]:
    """Parse the file, then pay every slip it names in one UPDATE (committed)."""
    from app.extensions import db
    from app.services.collection_files import parse_collection_file

    t0 = time.perf_counter()
    parsed = parse_collection_file(raw)
    vas = [r.virtual_account for r in parsed.records]
    amounts = [r.amount for r in parsed.records]
    parse_s = time.perf_counter() - t0
    with db.engine.connect() as conn:
        dbapi = conn.connection.driver_connection
        with dbapi.cursor() as cur:
            cur.execute(BULK_UPDATE, {"vas": vas, "amounts": amounts})
            updated = cur.rowcount
        dbapi.commit()
    total = time.perf_counter() - t0
    if updated != len(vas):
        log(f"WARNING: the baseline updated {updated} slips for {len(vas)} lines")
    return total, parse_s


def check(app, batch, lines: int) -> dict:
    from sqlalchemy import text

    from app.extensions import db

    s = db.session
    q = lambda sql: s.execute(text(sql)).scalar()  # noqa: E731
    return {
        "status": batch.status, "applied": batch.applied, "duplicates": batch.duplicates,
        "exceptions": batch.exceptions,
        "paid_regs": q("SELECT count(*) FROM registration WHERE state = 'paid'"),
        "paid_slips": q("SELECT count(*) FROM payment_slip WHERE status = 'paid'"),
        "receipts": q("SELECT count(*) FROM receipt"),
        "receipt_numbers_unique": q("SELECT count(DISTINCT number) = count(*) FROM receipt"),
        "payments_applied": q("SELECT count(*) FROM payment WHERE status = 'applied'"),
        "notifications": q("SELECT count(*) FROM notification"),
        "missing": lines - (q("SELECT count(*) FROM registration WHERE state = 'paid'") or 0),
    }


def run(args) -> dict:
    from app.services import reconciliation

    wd = workdir("bench-reconciliation")
    log(f"reconciliation: {args.lines} lines over {args.courses} courses; work dir {wd}")
    with PrivateRedis() as redis, BenchDatabase(keep=args.keep, template=args.template_db) as bdb:
        app = migrated_app(bdb.url, redis.url, wd)
        try:
            with app.app_context():
                from app.extensions import db

                t0 = time.perf_counter()
                raw = build(app, args)
                db.session.remove()
                log(f"data and a {len(raw) // 1024} KiB file in {time.perf_counter() - t0:.1f}s")
                if args.profile:
                    return profile(app, raw)
                log("importing …")
                with SqlTimer(db.engine) as sql:
                    t0 = time.perf_counter()
                    batch = reconciliation.import_file(db.session, raw, "bank-bench.txt")
                    import_s = time.perf_counter() - t0
                log(f"import: {import_s:.1f}s, batch {batch.status} applied={batch.applied}")
                checks = check(app, batch, args.lines)
                db.session.remove()
                log(f"checks: {checks}")
                base_s, parse_s = baseline(app, raw)
                log(f"baseline: {base_s:.2f}s (parse {parse_s:.2f}s)")
        finally:
            dispose(app)
    done_with(wd, args.keep)
    n_sql, _ = sql.total()
    return {"import_s": import_s, "baseline_s": base_s, "parse_s": parse_s,
            "ratio": import_s / base_s if base_s else 0.0, "checks": checks,
            "sql_per_line": n_sql / max(args.lines, 1), "sql_report": sql.report(args.lines, 15)}


def profile(app, raw: bytes) -> dict:
    import cProfile
    import io
    import pstats

    from app.extensions import db
    from app.services import reconciliation

    prof = cProfile.Profile(time.process_time)
    with SqlTimer(db.engine) as sql:
        t0 = time.perf_counter()
        prof.enable()
        batch = reconciliation.import_file(db.session, raw, "bank-bench.txt")
        prof.disable()
        took = time.perf_counter() - t0
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/work/main/app/", 40)
    print(out.getvalue())
    lines = batch.lines or 1
    print(sql.report(lines, 20).replace("calls/op", "per line"))
    print(f"PROFILE lines={batch.lines} applied={batch.applied} s={took:.2f} "
          f"ms_per_line={took / lines * 1000:.2f}")
    dispose(app)
    sys.exit(0)


def parse(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.reconciliation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=100_000)
    p.add_argument("--courses", type=int, default=500)
    p.add_argument("--template-db", default=None, help=argparse.SUPPRESS)  # tests: a migrated copy
    p.add_argument("--keep", action="store_true")
    p.add_argument("--profile", action="store_true", help="profile the import instead")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse(argv)
    r = run(args)
    print(r["sql_report"].replace("calls/op", "per line"), file=sys.stderr)
    c = r["checks"]
    print(f"INFO parse_s={fmt(r['parse_s'], 2)} ms_per_line={fmt(r['import_s'] / max(args.lines, 1) * 1000, 2)} "
          f"sql_per_line={fmt(r['sql_per_line'])} " + " ".join(f"{k}={v}" for k, v in c.items()))
    print(f"RESULT import_s={fmt(r['import_s'], 2)} baseline_s={fmt(r['baseline_s'], 2)} "
          f"ratio={fmt(r['ratio'], 1)}", flush=True)
    return r


if __name__ == "__main__":
    from .common import exit_on_sigterm

    exit_on_sigterm()
    main()
