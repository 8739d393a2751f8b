#!/usr/bin/env bash
# Security checks of the code and its dependencies (run by .ci/run):
#   bandit     static analysis of app/; any high-severity finding fails.
#   pip-audit  known vulnerabilities in the pinned runtime dependencies (requirements.txt);
#              any vulnerability fails.  A vulnerability service that cannot be reached is
#              reported loudly, package by package, and does not fail the run (a network
#              problem is not a finding) -- see scripts/audit_dependencies.py.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/bandit ] || [ ! -x .venv/bin/pip-audit ]; then
  ./scripts/setup.sh requirements-dev.txt
fi

echo "== bandit: app/ (high severity fails)"
.venv/bin/bandit -r app -lll -q
echo "bandit: no high-severity finding"

echo "== pip-audit: requirements.txt (a known vulnerability fails)"
.venv/bin/python scripts/audit_dependencies.py requirements.txt
