#!/usr/bin/env bash
# One command: run the whole test suite against PostgreSQL and Redis.
#   ./scripts/test.sh [pytest args]
# DATABASE_URL (a PostgreSQL server; each run creates and drops its own database) and
# REDIS_URL default to the local services.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-packages.sh
./scripts/setup.sh requirements-dev.txt
export DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
exec .venv/bin/python -m pytest "$@"
