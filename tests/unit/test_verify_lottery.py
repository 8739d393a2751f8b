"""Tests for the standalone verifier app/tools/verify_lottery.py."""
from __future__ import annotations

import ast
import copy
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.services import lottery
from app.services.lottery import Entry, Excluded, build_record, draw, pending_record
from app.tools import verify_lottery
from app.tools.verify_lottery import compare_with_pending, verify_record

ROOT = Path(__file__).resolve().parents[2]
VERIFIER = ROOT / "app" / "tools" / "verify_lottery.py"
SEATS = 120
DRAWN_AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def make_big(seed=None):
    """500 entries in 3 tiers, 120 seats, 2 exclusions; returns (record, pending)."""
    seed = seed or lottery.new_seed()
    entries = [Entry(f"DD115A001-{i:04d}", "王○明", tier=i % 3) for i in range(502)]
    excluded = [Excluded("DD115A001-0500", "○", "withdrawn"),
                Excluded("DD115A001-0501", "J*** S****", "duplicate application")]
    pending = pending_record("DD115A001", lottery.commitment(seed), entries, excluded)
    result = draw(seed, "2026-03-01 威力彩 05 12 18 22 31 36", "DD115A001", SEATS, entries,
                  excluded)
    record = build_record("DD115A001", lottery.commitment(seed), seed,
                          "2026-03-01 威力彩 05 12 18 22 31 36", SEATS, DRAWN_AT, result,
                          excluded)
    return json.loads(json.dumps(record)), pending


@pytest.fixture(scope="module")
def big():
    return make_big()


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """The verifier copied alone into an empty directory (proves it needs nothing else)."""
    d = tmp_path_factory.mktemp("standalone")
    shutil.copy(VERIFIER, d / "verify_lottery.py")
    return d / "verify_lottery.py"


def run_cli(args, cwd, stdin=None, module=False):
    cmd = [sys.executable, "-m", "app.tools.verify_lottery"] if module else \
        [sys.executable, "-I", str(args.pop(0))]
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=60)


def write(tmp_path, record, name="record.json"):
    path = tmp_path / name
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return path


# ---- the good record ----

def test_big_draw_verifies_with_module_cli(big, tmp_path):
    record, _ = big
    assert len(record["entries"]) == 500
    assert sum(e["outcome"] == "admitted" for e in record["entries"]) == SEATS
    proc = run_cli([write(tmp_path, record)], cwd=ROOT, module=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "verified"


def test_standalone_copy_verifies_file_and_stdin(big, tmp_path, standalone):
    record, pending = big
    path = write(tmp_path, record)
    proc = run_cli([standalone, path], cwd=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, "verified"), proc.stderr
    proc = run_cli([standalone, "-"], cwd=tmp_path, stdin=json.dumps(record))
    assert (proc.returncode, proc.stdout.strip()) == (0, "verified"), proc.stderr
    proc = run_cli([standalone, path, "--pending", write(tmp_path, pending, "p.json")],
                   cwd=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, "verified"), proc.stderr


def test_verifier_imports_only_stdlib():
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
             for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree))
    assert names <= set(sys.stdlib_module_names), names - set(sys.stdlib_module_names)


def test_not_drawn_yet(big, tmp_path, standalone):
    _, pending = big
    assert verify_record(pending) == ["not drawn yet"]
    proc = run_cli([standalone, write(tmp_path, pending)], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "not drawn yet"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "null", ""])
def test_unreadable_or_not_an_object(tmp_path, standalone, text):
    (tmp_path / "r.json").write_text(text)
    proc = run_cli([standalone, tmp_path / "r.json"], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith("NOT VERIFIED")


def test_missing_file(tmp_path, standalone):
    proc = run_cli([standalone, tmp_path / "nope.json"], cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout.startswith("NOT VERIFIED")


# ---- tampering: every single change must fail ----

def _first(rec, outcome):
    return next(e for e in rec["entries"] if e["outcome"] == outcome)


def _waitlisted(rec, position):
    return next(e for e in rec["entries"] if e["position"] == position)


def _flip(hex_str):
    return hex_str[:-1] + ("0" if hex_str[-1] != "0" else "1")


def t_seed(r): r["seed"] = lottery.new_seed()
def t_seed_upper(r): r["seed"] = r["seed"].upper()
def t_commitment(r): r["commitment"] = _flip(r["commitment"])
def t_seed_and_commitment(r):  # a fresh, self-consistent seed still breaks every ticket
    r["seed"] = lottery.new_seed()
    r["commitment"] = lottery.commitment(r["seed"])
def t_beacon(r): r["beacon"] = r["beacon"] + " "
def t_course_code(r): r["course_code"] = "DD115A002"
def t_ticket(r): r["entries"][7]["ticket"] = _flip(r["entries"][7]["ticket"])
def t_outcome(r): _first(r, "admitted")["outcome"] = "waitlisted"
def t_outcome_up(r): _waitlisted(r, 1)["outcome"] = "admitted"
def t_position(r): _waitlisted(r, 10)["position"] = 11
def t_position_on_admitted(r): _first(r, "admitted")["position"] = 1
def t_position_type(r): _waitlisted(r, 3)["position"] = "3"
def t_tier(r): _first(r, "admitted")["tier"] = 2
def t_tier_type(r): _first(r, "admitted")["tier"] = "0"
def t_seats_up(r): r["seats"] += 1
def t_seats_down(r): r["seats"] -= 1
def t_seats_negative(r): r["seats"] = -1
def t_algorithm(r): r["algorithm"] = "sha256-ticket-v2"
def t_drawn_at(r): r["drawn_at"] = "yesterday"


def t_swap_outcomes(r):
    a, w = _first(r, "admitted"), _waitlisted(r, 5)
    a["outcome"], a["position"], w["outcome"], w["position"] = "waitlisted", 5, "admitted", None


def t_swap_entry_nos(r):
    a, w = _first(r, "admitted"), _waitlisted(r, 5)
    a["entry_no"], w["entry_no"] = w["entry_no"], a["entry_no"]


def t_drop_admitted(r): r["entries"].remove(_first(r, "admitted"))
def t_drop_waitlisted(r): r["entries"].remove(_waitlisted(r, 3))


def t_add_entry(r):
    key = lottery.draw_key(r["seed"], r["beacon"], r["course_code"])
    n = sum(e["outcome"] == "waitlisted" for e in r["entries"])
    r["entries"].append({"entry_no": "DD115A001-9999", "masked_name": "○", "tier": 0,
                         "ticket": lottery.ticket(key, "DD115A001-9999"),
                         "outcome": "waitlisted", "position": n + 1})


def t_add_entry_bad_ticket(r):
    r["entries"].append({"entry_no": "X", "masked_name": "○", "tier": 9, "ticket": "0" * 64,
                         "outcome": "waitlisted", "position": 10_000})


def t_duplicate_entry(r): r["entries"].append(dict(r["entries"][-1]))


def t_move_to_excluded(r):
    e = _first(r, "admitted")
    r["entries"].remove(e)
    r["excluded"].append({"entry_no": e["entry_no"], "masked_name": e["masked_name"],
                          "reason": "withdrawn"})


def t_both_drawn_and_excluded(r):
    e = r["entries"][-1]
    r["excluded"].append({"entry_no": e["entry_no"], "masked_name": "○", "reason": "x"})


def t_excluded_without_reason(r): r["excluded"][0]["reason"] = ""
def t_entry_no_with_space(r): r["entries"][0]["entry_no"] = "DD115A001 0000"
def t_entry_no_newline(r): r["entries"][0]["entry_no"] += "\n"
def t_seed_newline(r): r["seed"] += "\n"
def t_drawn_at_no_zone(r): r["drawn_at"] = "2026-03-01T20:00:00"
def t_drawn_at_unicode_digits(r): r["drawn_at"] = "２026-03-01T12:00:00Z"
def t_missing_field(r): del r["beacon"]
def t_entries_not_list(r): r["entries"] = {}


TAMPERS = [v for k, v in sorted(globals().items()) if k.startswith("t_")]


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda f: f.__name__[2:])
def test_tampering_is_detected(big, tmp_path, standalone, tamper):
    record = copy.deepcopy(big[0])
    tamper(record)
    problems = verify_record(record)
    assert problems, tamper.__name__
    proc = run_cli([standalone, write(tmp_path, record)], cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == f"NOT VERIFIED: {len(problems)} problem(s)"
    assert lines[1:] == ["- " + p for p in problems]


def test_tampering_through_module_cli(big, tmp_path):
    record = copy.deepcopy(big[0])
    t_swap_outcomes(record)
    proc = run_cli([write(tmp_path, record)], cwd=ROOT, module=True)
    assert proc.returncode == 1
    assert proc.stdout.startswith("NOT VERIFIED")


def test_problem_messages_are_specific(big):
    record = copy.deepcopy(big[0])
    t_swap_outcomes(record)
    problems = verify_record(record)
    assert any("outcome should be \"admitted\", published \"waitlisted\"" in p for p in problems)
    record = copy.deepcopy(big[0])
    t_seed(record)
    assert verify_record(record)[0].startswith("seed does not match commitment")


def test_dropping_last_waitlisted_needs_the_pending_copy(big, tmp_path, standalone):
    """Known limit: the record alone cannot show that the *last* waitlisted entry was removed
    (the remaining record is self-consistent); the copy saved before the draw does."""
    record, pending = copy.deepcopy(big[0]), big[1]
    last = max(e["position"] or 0 for e in record["entries"])
    record["entries"].remove(_waitlisted(record, last))
    assert verify_record(record) == []
    problems = compare_with_pending(record, pending)
    assert len(problems) == 1 and "missing after the draw" in problems[0]
    proc = run_cli([standalone, write(tmp_path, record), "--pending",
                    write(tmp_path, pending, "p.json")], cwd=tmp_path)
    assert proc.returncode == 1


def test_pending_of_another_draw_is_rejected(big):
    other_record, other_pending = make_big()
    assert compare_with_pending(big[0], other_pending) == [
        "commitment differs from the pending record"]


# ---- properties ----

def small_record(seed, seats, n):
    entries = [Entry(f"E{i}", "○", tier=i % 2) for i in range(n)]
    result = draw(seed, "b", "C1", seats, entries)
    return json.loads(json.dumps(build_record("C1", lottery.commitment(seed), seed, "b",
                                              seats, DRAWN_AT, result)))


seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, seats=st.integers(0, 12), n=st.integers(1, 12), data=st.data())
def test_property_any_ticket_character_change_fails(seed, seats, n, data):
    record = small_record(seed, seats, n)
    entry = data.draw(st.sampled_from(record["entries"]))
    i = data.draw(st.integers(0, 63))
    new = data.draw(st.sampled_from("0123456789abcdef").filter(lambda c: c != entry["ticket"][i]))
    entry["ticket"] = entry["ticket"][:i] + new + entry["ticket"][i + 1:]
    assert verify_record(record)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, seats=st.integers(0, 12), n=st.integers(2, 12), data=st.data())
def test_property_swapping_results_of_two_entries_fails(seed, seats, n, data):
    record = small_record(seed, seats, n)
    i, j = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
    a, b = record["entries"][i], record["entries"][j]
    assume((a["outcome"], a["position"]) != (b["outcome"], b["position"]))  # not two admitted
    a["outcome"], b["outcome"] = b["outcome"], a["outcome"]
    a["position"], b["position"] = b["position"], a["position"]
    assert verify_record(record)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, seats=st.integers(0, 12), n=st.integers(0, 12),
       delta=st.integers(-3, 3).filter(bool))
def test_property_changing_seats_fails_unless_irrelevant(seed, seats, n, delta):
    record = small_record(seed, seats, n)
    record["seats"] = seats + delta
    changed = min(max(seats + delta, 0), n) != min(seats, n)
    assert bool(verify_record(record)) == (changed or seats + delta < 0)


def test_main_function_returns_status(big, tmp_path, capsys):
    assert verify_lottery.main([str(write(tmp_path, big[0]))]) == 0
    assert capsys.readouterr().out == "verified\n"
