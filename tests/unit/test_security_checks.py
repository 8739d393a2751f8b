"""scripts/audit_dependencies.py judges pip-audit's report: a vulnerability fails the
build, an unreachable vulnerability service is reported loudly but does not, and a
broken tool is never taken for a clean pass.  (Canned reports: no network here.)"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / "scripts" / "audit_dependencies.py")
audit_dependencies = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit_dependencies)
judge = audit_dependencies.judge

CLEAN = {"name": "flask", "version": "3.1.3", "vulns": []}
VULNERABLE = {"name": "jinja2", "version": "2.11.2", "vulns": [
    {"id": "PYSEC-2021-66", "fix_versions": ["2.11.3"], "aliases": ["CVE-2020-28493"]}]}
SKIPPED = {"name": "werkzeug", "skip_reason": "Dependency not found on PyPI and could not be audited: werkzeug (3.1.9)"}


def test_a_vulnerability_fails_the_build():
    status, lines = judge({"dependencies": [CLEAN, VULNERABLE]}, 1, "")
    assert status == 1
    assert any(line.startswith("VULNERABLE: jinja2 2.11.2: PYSEC-2021-66 (CVE-2020-28493); fixed in: 2.11.3")
               for line in lines)


def test_a_vulnerability_fails_even_when_other_packages_were_not_audited():
    status, _ = judge({"dependencies": [VULNERABLE, SKIPPED]}, 1, "")
    assert status == 1


def test_packages_the_service_did_not_answer_for_are_listed_loudly_but_pass():
    status, lines = judge({"dependencies": [CLEAN, SKIPPED, dict(SKIPPED, name="jinja2")]}, 0, "")
    text = "\n".join(lines)
    assert status == 0
    assert "2 OF 3 PINNED PACKAGES WERE NOT AUDITED" in text and "not audited: werkzeug" in text
    assert lines[-1] == "pip-audit: 1 audited, 2 not audited, 0 vulnerabilities."


def test_a_clean_audit_says_so_without_a_banner():
    status, lines = judge({"dependencies": [CLEAN]}, 0, "")
    assert status == 0 and lines == ["pip-audit: 1 audited, 0 not audited, 0 vulnerabilities."]


@pytest.mark.parametrize("output,expected", [
    ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev'): Max retries "
     "exceeded (Caused by NameResolutionError(...))", 0),
    ("pip-audit timed out (the service did not answer in time)", 0),
    ("pip_audit._cli: invalid requirement: 'flask=='", 2),
])
def test_no_report_is_a_network_warning_or_a_failure(output, expected):
    status, lines = judge(None, 1, output)
    assert status == expected
    if expected == 0:
        assert "DEPENDENCIES NOT AUDITED" in "\n".join(lines)


def test_exit_zero_without_a_report_is_not_a_pass():
    assert judge(None, 0, "")[0] == 2
