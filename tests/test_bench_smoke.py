"""The benchmarks keep working: each one's setup and measuring path at a tiny size, against
PostgreSQL and Redis, under real gunicorn and rq processes where the benchmark uses them.

Not timed tests: only correctness fields are asserted (nothing oversold or lost, no 5xx,
every lottery record verifies, every credit applied).  The throughput numbers mean nothing
at this size; see bench/__init__.py for the real runs."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def template_db():
    """One migrated database; each benchmark copies it (CREATE DATABASE … TEMPLATE)
    instead of running the migrations again."""
    from sqlalchemy.exc import OperationalError

    from bench.common import BenchDatabase, dispose, done_with, migrated_app, workdir

    tpl = BenchDatabase(prefix="workshops_benchtpl")
    try:
        tpl.create()
    except OperationalError as exc:  # pragma: no cover - no PostgreSQL here
        pytest.skip(f"PostgreSQL is needed for the benchmark smoke tests: {exc}")
    wd = workdir("bench-smoke")
    try:
        app = migrated_app(tpl.url, "", wd)
        dispose(app)
        yield tpl.name
    finally:
        tpl.drop()
        done_with(wd)


@pytest.fixture(scope="module", autouse=True)
def redis_available():
    from redis import Redis
    from redis.exceptions import RedisError

    from bench.common import PrivateRedis

    try:
        Redis.from_url(PrivateRedis().base, socket_connect_timeout=2).ping()
    except RedisError as exc:  # pragma: no cover - no Redis here
        pytest.skip(f"Redis is needed for the benchmark smoke tests: {exc}")


def test_rush_smoke(template_db, capsys):
    from bench import rush

    r = rush.main(["--courses", "6", "--hot", "2", "--seats", "2", "--citizens", "24",
                   "--requests", "24", "--concurrency", "8", "--workers", "1", "--warm", "4",
                   "--min-seconds", "0", "--template-db", template_db])
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("RESULT reg_per_s=")
    assert (r["oversold"], r["lost"], r["errors"]) == (0, 0, 0), r["checks"]
    assert (r["baseline_errors"], r["baseline_oversold"]) == (0, 0)
    c = r["checks"]
    assert (c["double"], c["seat_drift"], c["auth_redirects"], c["rejected"]) == (0, 0, 0, {})
    assert c["hot_full"] == "2/2"  # 24 requests mostly on 2 courses of 2 seats: both fill …
    assert c["states"].get("waitlisted", 0) > 0  # … and the rest wait


def test_catalogue_smoke(template_db, capsys):
    from bench import catalogue

    r = catalogue.main(["--courses", "20", "--registrations", "200", "--catalogue-requests", "10",
                        "--api-requests", "10", "--baseline-requests", "20", "--concurrency", "4",
                        "--workers", "1", "--warm", "2", "--min-seconds", "0",
                        "--template-db", template_db])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("RESULT catalogue_per_s=")
    assert r["errors"] == 0 and all(n == 0 for n in r["non_200"].values()), r["non_200"]


def test_lottery_smoke(template_db, capsys):
    from bench import lottery

    r = lottery.main(["--entries", "200", "--courses", "4", "--seats", "5",
                      "--template-db", template_db])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("RESULT lottery_s=")
    c = r["checks"]
    assert (c["undrawn"], c["unverified"], c["order_mismatch"], c["left_applied"],
            c["oversold"], c["seat_drift"]) == (0, 0, 0, 0, 0, 0), c
    assert c["states"]["admitted"] == 4 * 5


def test_reconciliation_smoke(template_db, capsys):
    from bench import reconciliation

    r = reconciliation.main(["--lines", "40", "--courses", "4", "--template-db", template_db])
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("RESULT import_s=")
    c = r["checks"]
    assert (c["status"], c["applied"], c["exceptions"], c["missing"]) == ("imported", 40, 0, 0), c
    assert (c["paid_regs"], c["paid_slips"], c["receipts"], c["payments_applied"]) == (40, 40, 40, 40)
    assert c["receipt_numbers_unique"] is True
