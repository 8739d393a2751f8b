#!/usr/bin/env bash
# One command: run the whole test suite against PostgreSQL and Redis.
#   ./scripts/test.sh [pytest args]
# DATABASE_URL (a PostgreSQL server; each run creates and drops its own database) and
# REDIS_URL default to the local services.  tests/isolated/ holds tests that start their
# own Playwright and so run in a process of their own (one sync Playwright per process).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-packages.sh
./scripts/setup.sh requirements-dev.txt
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
.venv/bin/python -m pytest --ignore=tests/isolated -q -p no:cacheprovider
.venv/bin/python -m pytest tests/isolated -q -p no:cacheprovider
