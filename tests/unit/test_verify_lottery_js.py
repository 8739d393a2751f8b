"""The browser verifier (app/static/js/verify-lottery.js) run under node.

Its pure core must give exactly the problems the Python verifier gives, on a good record, the
pending record and a set of tampered records.  Skipped when ``node`` is not on PATH.
"""
from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.services.lottery import build_record, draw
from app.tools.verify_lottery import verify_record

from . import test_verify_lottery as tv
from .test_lottery import DRAWN_AT, EX_COMMITMENT, SEED0, example_entries

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "app" / "static" / "js" / "verify-lottery.js"
CHECK = Path(__file__).parent / "js" / "verify_node_check.mjs"
DOM_CHECK = Path(__file__).parent / "js" / "verify_dom_check.mjs"
NODE = shutil.which("node")


def run_node(records, tmp_path, script=CHECK):
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    proc = subprocess.run([NODE, str(script), str(JS), str(cases)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_js_core_matches_python_verifier(tmp_path):
    good, pending = tv.make_big()
    records = [good, pending]
    for tamper in tv.TAMPERS:
        record = copy.deepcopy(good)
        tamper(record)
        records.append(record)
    records += [[], None, {"seed": "00" * 32}]
    out = run_node(records, tmp_path)
    assert out["sha256_empty"] == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    results = out["results"]
    assert results[0] == []
    assert results[1] == ["not drawn yet"]
    for record, js_problems in zip(records, results):
        assert js_problems == verify_record(record)
    assert all(results[2:2 + len(tv.TAMPERS)])


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_js_worked_example(tmp_path):
    result = draw(SEED0, "", "DD115A001", 1, example_entries())
    record = build_record("DD115A001", EX_COMMITMENT, SEED0, "", 1, DRAWN_AT, result)
    tampered = copy.deepcopy(record)
    tampered["entries"][0]["outcome"], tampered["entries"][1]["outcome"] = "waitlisted", "admitted"
    good, bad = run_node([record, tampered], tmp_path)["results"]
    assert good == []
    assert bad == verify_record(tampered) and len(bad) == 2


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_js_page_wiring_with_fake_dom(tmp_path):
    good, pending = tv.make_big()
    tampered = copy.deepcopy(good)
    tv.t_ticket(tampered)  # exactly one problem
    swapped = copy.deepcopy(good)
    tv.t_tier(swapped)  # shifts well over 50 positions
    out = run_node([{"status": 200, "record": good}, {"status": 200, "record": pending},
                    {"status": 200, "record": tampered}, {"status": 200, "record": swapped},
                    {"status": 404, "record": None}], tmp_path, script=DOM_CHECK)
    assert out["fetched"][0] == ["/api/lottery/DD115A001.json", "same-origin"]
    ok, wait, fail, many, error = out["results"]
    assert (ok["state"], ok["message"], ok["items"]) == ("ok", "OK-驗證通過", [])
    assert (wait["state"], wait["message"]) == ("pending", "PENDING-尚未抽籤")
    assert (fail["state"], fail["message"]) == ("fail", "FAIL-驗證失敗")
    assert fail["items"] == verify_record(tampered)
    assert len(many["items"]) == 51 and many["items"][-1].startswith("… (+")
    assert (error["state"], error["message"], error["items"]) == ("error", "FAIL-驗證失敗",
                                                                  ["HTTP 404"])
    assert not any(r["disabled"] for r in out["results"])


def test_js_has_no_inline_or_module_syntax_beyond_es2017():
    """Cheap guard for the CSP / ES2017 constraints: a classic script, no ES2018+ operators."""
    src = JS.read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", src, flags=re.S)
    assert not re.search(r"^\s*(import|export)\b", code, flags=re.M)
    for token in ("?.", "??", "...", "catch {", "eval(", "new Function", "innerHTML"):
        assert token not in code, token
