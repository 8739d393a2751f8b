"""Run pip-audit on a pinned requirements file and judge its report honestly.

    .venv/bin/python scripts/audit_dependencies.py requirements.txt

pip-audit asks its vulnerability service about each pinned package.  When the service
cannot answer (no network, or a proxy that serves PyPI's project pages but not the
per-version ones pip-audit reads), pip-audit *skips* the package, prints "No known
vulnerabilities found" and exits 0: a pass that audited nothing.  This script reads
pip-audit's JSON report instead and exits:

* 1 when any vulnerability is reported (the build must fail);
* 2 when pip-audit fails for a reason other than the network (a broken tool is no pass);
* 0 otherwise, printing a loud banner with every package that could not be audited and
  why, when the service was unreachable for some or all of them (a network problem is not
  a finding, but it must not look like a clean audit).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
#: Output that means the service could not be reached (not a problem with the packages).
NETWORK_SIGNS = ("ConnectionError", "NameResolutionError", "Max retries exceeded", "timed out",
                 "Temporary failure in name resolution", "Network is unreachable", "ProxyError",
                 "SSLError", "Connection refused", "Connection reset")
BANNER = "!" * 78


def judge(report: dict | None, returncode: int, output: str) -> tuple[int, list[str]]:
    """(exit status, lines to print) for a pip-audit run."""
    if report is None:
        if returncode == 0:
            return 2, ["pip-audit exited 0 but wrote no report: cannot tell what was audited."]
        if any(sign in output for sign in NETWORK_SIGNS):
            return 0, [BANNER, "DEPENDENCIES NOT AUDITED: the vulnerability service could not be reached.",
                       *_tail(output), BANNER]
        return 2, ["pip-audit failed:", *_tail(output)]
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = [d for d in deps if not d.get("skip_reason")]
    lines = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(vuln.get("aliases") or [])
            lines.append(f"VULNERABLE: {dep['name']} {dep.get('version', '')}: {vuln.get('id')}"
                         f"{f' ({aliases})' if aliases else ''}; fixed in: {fixes}")
    if skipped:
        lines += [BANNER,
                  f"{len(skipped)} OF {len(deps)} PINNED PACKAGES WERE NOT AUDITED: the vulnerability "
                  "service did not answer for them (pip-audit alone would report a clean pass).",
                  *[f"  not audited: {d['name']}: {d['skip_reason']}" for d in skipped[:80]], BANNER]
    lines.append(f"pip-audit: {len(audited)} audited, {len(skipped)} not audited, "
                 f"{sum(len(d['vulns']) for d in vulnerable)} vulnerabilities.")
    return (1 if vulnerable else 0), lines


def _tail(output: str, n: int = 8) -> list[str]:
    return ["  " + line for line in output.strip().splitlines()[-n:]]


def main(argv: list[str]) -> int:
    requirements = argv[1] if len(argv) > 1 else "requirements.txt"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [str(VENV_BIN / "pip-audit"), "--requirement", requirements, "--no-deps",
               "--disable-pip", "--progress-spinner", "off", "--timeout",
               os.environ.get("PIP_AUDIT_TIMEOUT", "10"), "--format", "json", "--output", str(out)]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True,
                                 timeout=int(os.environ.get("PIP_AUDIT_DEADLINE", "300")))
            returncode, output = run.returncode, run.stdout + run.stderr
        except subprocess.TimeoutExpired:
            returncode, output = 1, "pip-audit timed out (the service did not answer in time)"
        report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    status, lines = judge(report, returncode, output)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
