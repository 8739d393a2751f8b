"""Benchmarks (issue 8): each prints ratios against a bare baseline measured in the same run.

The machine is shared and noisy, so absolute numbers move from run to run; the ratio to the
baseline measured minutes apart on the same machine, database and gunicorn settings is the
number to read.  None of these is a timed test.  Every benchmark creates its own PostgreSQL
database (``workshops_bench_<pid>_<rand>``, migrated with the project's migrations, dropped at
the end unless ``--keep``) on ``BENCH_DATABASE_URL`` (else the server of ``DATABASE_URL``, else
``postgresql://postgres@127.0.0.1:5432``), and claims an empty logical Redis database (1–15)
on ``BENCH_REDIS_URL`` / ``REDIS_URL`` / ``redis://127.0.0.1:6379`` for its queues, flushed
at the end.  Progress goes to stderr; stdout ends with the ``RESULT`` line, preceded by an
``INFO`` line of details (CPU per request, correctness counters, latency of the baseline).

Registration rush — the real ``POST /courses/<code>/register`` under gunicorn::

    .venv/bin/python -m bench.rush                 # 500 courses, 5,000 citizens, 64 connections
    .venv/bin/python -m bench.rush --existing 1000000       # with a million past registrations
    .venv/bin/python -m bench.rush --compare-existing       # both runs, then a COMPARE line
    .venv/bin/python -m bench.rush --profile 200            # cProfile + SQL per request, in-process

  Creates 500 first-come courses open now (the first ``--hot 50`` with ``--seats 20``, the
  rest with 200) and 5,000 citizens (tests/factories.bulk_citizens: one password hash),
  venues with ``max_courses_per_term`` high enough that every request is legitimate, and
  mints each citizen's session cookie and CSRF token with the app's own machinery (the
  Flask session serializer and ``flask_wtf.csrf.generate_csrf``), so no password hashing is
  measured.  Gunicorn runs ``run:app`` with sync workers (2 per core: 4 here, printed), one
  real ``rq worker --worker-class app.jobs.worker.AppWorker --job-class app.jobs.AppJob
  --with-scheduler notifications default`` (the
  README's command) delivers the notifications meanwhile, and a threaded http.client load
  client fires ``--requests`` (default 800, about 3 minutes in all on this machine) over
  ``--concurrency 64`` connections, closed loop, ``--hot-share 0.85`` of them on the hot set
  with Zipf(``--skew 1``) demand inside it (a few courses far oversubscribed), each citizen
  registering for distinct courses.  The baseline (bench/baseline_app.py) is a minimal Flask
  app on the same gunicorn settings and database doing one conditional seat update
  (``UPDATE … SET seats_taken = seats_taken + 1 WHERE id = :c AND seats_taken < quota
  RETURNING id`` on a copy of the course seats) and one insert, driven with the same requests
  in the same order, once before and once after the app (averaged: the machine's load drifts),
  each run repeating the list until it has lasted ``--min-seconds 10``.  The RQ worker runs
  only during the app's run.

  ``RESULT reg_per_s baseline_per_s ratio p50_ms p99_ms oversold lost errors``:
  oversold = seated registrations beyond the quota, summed over all courses (in the DB);
  lost = requests answered 302 → /my/registrations/<id> without that row, plus new rows no
  answer named; errors = 5xx + failed connections.  INFO adds CPU ms per request of the web
  workers, their PostgreSQL backends and the rq worker (from /proc: steadier than wall time on
  a busy machine), what the DB connections were doing (sampled pg_stat_activity: running,
  lock_wait, idle_in_tx = the app computing inside a transaction, idle), seat drift
  (``seats_taken`` vs seated rows), double registrations, how many hot courses filled, and the
  notification outbox by status.  Latency is closed-loop: with 64 connections queued on 4
  workers, p50 ≈ 64 / throughput (Little's law), so p99 ≤ 250 ms needs ≈ 260+ requests/s.
  ``--existing N`` first inserts N registrations of a past term (1,000 closed courses, 20,000
  learners, in SQL with generate_series; foreign-key triggers skipped and indexes rebuilt
  after, for speed), then VACUUM ANALYZE.  Diagnosis only: ``--no-worker``,
  ``--rq-worker-class rq.worker.SimpleWorker``, ``--workers N``.

Catalogue and API reads::

    .venv/bin/python -m bench.catalogue            # 1,000 courses, 30,000 registrations
    .venv/bin/python -m bench.catalogue --profile 60

  ``/`` with a filter or two (venue, category + status, weekday + time, a page), then the
  API mix (half ``/api/v1/public/courses/<code>``, half ``/api/v1/public/courses?per_page=20``)
  vs ``GET /baseline/course/<code>`` (one row as JSON), measured before and after the app and
  averaged; each run repeats its list until it has lasted ``--min-seconds 10``.  ``RESULT catalogue_per_s api_per_s baseline_per_s catalogue_ratio api_ratio
  errors``.  Targets: catalogue ≥ 0.3, API ≥ 0.5.

Lottery::

    .venv/bin/python -m bench.lottery              # 100,000 entries in 500 courses of 20 seats
    .venv/bin/python -m bench.lottery --entries 5000 --courses 25      # a quicker look
    .venv/bin/python -m bench.lottery --entries 5000 --courses 25 --profile 5

  Every phase drawn with ``app.services.draws.draw`` + commit (what ``run_due_draws`` does,
  with Redis configured so notifications are handed to RQ after each commit), vs the raw
  work with hashlib (draw key, one sha256 ticket per entry, sort by (tier, ticket)) on the
  same entries, in memory.  Checks: every record verifies (app/tools/verify_lottery.py), the
  admitted are the baseline's first seats, nothing oversold.  ``RESULT lottery_s baseline_s
  ratio`` (target ≤ 3).  At the default size this runs for the better part of an hour on
  this machine (about 25–30 ms per entry: see the SQL-per-entry table it prints).

Reconciliation import::

    .venv/bin/python -m bench.reconciliation       # 100,000-line bank file
    .venv/bin/python -m bench.reconciliation --lines 5000 --courses 25   # a quicker look
    .venv/bin/python -m bench.reconciliation --lines 2000 --courses 10 --profile

  N admitted registrations with open slips (virtual accounts and store barcodes from
  app.services.payment_codes), a bank file paying each, imported with
  ``app.services.reconciliation.import_file`` (one transaction) vs parsing the same file with
  ``collection_files.parse_collection_file`` + one bulk ``UPDATE payment_slip … FROM
  unnest(…)``.  ``RESULT import_s baseline_s ratio`` (target ≤ 3).  At the default size the
  import runs for well over an hour on this machine (about 40–100 ms per line).

tests/test_bench_smoke.py runs each benchmark at a tiny size (about 25 s) and asserts only
correctness fields.
"""
