#!/usr/bin/env bash
# Create the virtualenv, install pinned dependencies and compile the translations.
# Idempotent; used by scripts/demo.sh, scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r "${1:-requirements.txt}"
.venv/bin/pybabel compile -d translations -f >/dev/null 2>&1 || .venv/bin/pybabel compile -d translations -f
