#!/usr/bin/env bash
# One command: set up, migrate, load the demo data and serve the site.
#   ./scripts/demo.sh            -> http://127.0.0.1:5000/  (back office: /admin/)
# Embedded defaults: SQLite under instance/, jobs in-process.  PORT/HOST may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/system-packages.sh --runtime
./scripts/setup.sh requirements.txt
export FLASK_APP=run.py
.venv/bin/flask setup
.venv/bin/flask seed-demo
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
echo
echo "Serving the public site at http://$HOST:$PORT/ and the back office at http://$HOST:$PORT/admin/"
export RUN_INPROCESS_SCHEDULER=1
exec .venv/bin/gunicorn --workers 2 --bind "$HOST:$PORT" --access-logfile - run:app
