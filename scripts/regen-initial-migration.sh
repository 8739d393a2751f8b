#!/usr/bin/env bash
# Development helper: regenerate the initial migration from the models against an empty
# PostgreSQL database (before the first release only; later changes get new migrations).
set -euo pipefail
cd "$(dirname "$0")/.."
psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE IF EXISTS workshops_regen" -c "CREATE DATABASE workshops_regen"
rm -f migrations/versions/*initial*.py
hold=$(mktemp -d)
mv migrations/versions/*.py "$hold"/ 2>/dev/null || true   # later revisions wait aside
DATABASE_URL=postgresql://postgres@127.0.0.1/workshops_regen FLASK_APP=run.py .venv/bin/flask db migrate -m "initial schema" --rev-id 0001_initial >/dev/null
mv "$hold"/*.py migrations/versions/ 2>/dev/null || true
rmdir "$hold"
psql -h 127.0.0.1 -U postgres -q -c "DROP DATABASE workshops_regen"
ls migrations/versions
