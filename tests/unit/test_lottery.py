"""Unit tests for app/services/lottery.py (pure, no database)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services import lottery
from app.services.lottery import Entry, Excluded, build_record, draw, pending_record
from app.tools.verify_lottery import verify_record

SEED0 = "00" * 32
# Worked example of specs/lottery.md, computed once with hashlib and pinned here.
EX_COMMITMENT = "60e05bd1b195af2f94112fa7197a5c88289058840ce7c6df9693756bc6250f55"
EX_KEY = "e3fdf108a3a0e4f2c7737f3147d0c38e6d663c13fcad04072a786dab56d2f0de"
EX_TICKETS = {
    "E1": "800062e4798d699cc19c524fa3f14839d1e8f138d6958e4d7df3a01aadf2f676",
    "E2": "410e0127dda488fa502621ea88d8eb8dfab664fb30132a17b6f3488001d2d5c0",
    "E3": "e8c3620d196fac8c9d776b04f9741c78f93c1e2933379331f73673448d3d8019",
}
DRAWN_AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def example_entries():
    return [Entry("E1", "王○明"), Entry("E2", "J*** S****"), Entry("E3", "歐○○明")]


# ---- worked example ----

def test_worked_example_hashes():
    assert lottery.sha256_hex(SEED0) == hashlib.sha256(("0" * 64).encode()).hexdigest()
    assert lottery.commitment(SEED0) == EX_COMMITMENT
    assert lottery.draw_key(SEED0, "", "DD115A001") == EX_KEY
    for entry_no, expected in EX_TICKETS.items():
        assert lottery.ticket(EX_KEY, entry_no) == expected


def test_worked_example_outcome():
    result = draw(SEED0, "", "DD115A001", 1, example_entries())
    assert result.key == EX_KEY
    assert [(e.entry_no, e.outcome, e.position) for e in result.entries] == [
        ("E2", "admitted", None),
        ("E1", "waitlisted", 1),
        ("E3", "waitlisted", 2),
    ]
    assert [e.entry_no for e in result.admitted] == ["E2"]
    assert [e.entry_no for e in result.waitlisted] == ["E1", "E3"]


def test_worked_example_record_exact():
    result = draw(SEED0, "", "DD115A001", 1, example_entries())
    record = build_record("DD115A001", EX_COMMITMENT, SEED0, "", 1, DRAWN_AT, result, ())
    assert list(record) == ["course_code", "commitment", "seed", "beacon", "seats", "drawn_at",
                            "algorithm", "entries", "excluded"]
    assert record["drawn_at"] == "2026-03-01T12:00:00+00:00"
    assert record["algorithm"] == "sha256-ticket-v1"
    assert record["entries"][0] == {
        "entry_no": "E2", "masked_name": "J*** S****", "tier": 0,
        "ticket": EX_TICKETS["E2"], "outcome": "admitted", "position": None,
    }
    assert [list(e) for e in record["entries"]] == [
        ["entry_no", "masked_name", "tier", "ticket", "outcome", "position"]] * 3
    assert record["excluded"] == []
    assert verify_record(json.loads(json.dumps(record))) == []


def test_pending_record_shape():
    rec = pending_record("DD115A001", EX_COMMITMENT, example_entries(),
                         [Excluded("E9", "○", "withdrawn")])
    assert list(rec) == ["course_code", "commitment", "seed", "beacon", "seats", "drawn_at",
                         "algorithm", "entries", "excluded"]
    assert rec["seed"] is rec["beacon"] is rec["seats"] is rec["drawn_at"] is None
    assert rec["algorithm"] == "sha256-ticket-v1"
    assert rec["entries"][0] == {"entry_no": "E1", "masked_name": "王○明", "tier": 0,
                                 "ticket": None, "outcome": None, "position": None}
    assert rec["excluded"] == [{"entry_no": "E9", "masked_name": "○", "reason": "withdrawn"}]
    assert verify_record(rec) == ["not drawn yet"]


# ---- behaviour ----

def test_new_seed_format_and_randomness():
    seeds = {lottery.new_seed() for _ in range(20)}
    assert len(seeds) == 20
    assert all(len(s) == 64 and s == s.lower() and int(s, 16) >= 0 for s in seeds)


def test_tiers_go_first():
    entries = [Entry(f"N{i:03d}", "○", tier=i % 3) for i in range(30)]
    result = draw(lottery.new_seed(), "beacon", "C1", 12, entries)
    assert [e.tier for e in result.admitted] == [0] * 10 + [1] * 2
    tiers = [e.tier for e in result.entries]
    assert tiers == sorted(tiers)


@pytest.mark.parametrize("seats", [0, 3, 4, 100])
def test_seats_zero_or_more_than_entries(seats):
    entries = [Entry(f"E{i}", "○") for i in range(4)]
    result = draw(SEED0, "", "C1", seats, entries)
    assert len(result.admitted) == min(seats, 4)
    assert [e.position for e in result.waitlisted] == list(range(1, 4 - min(seats, 4) + 1))
    rec = build_record("C1", lottery.commitment(SEED0), SEED0, "", seats, DRAWN_AT, result)
    assert verify_record(rec) == []


def test_excluded_entries_are_left_out_and_published():
    entries = [Entry(f"E{i}", "○") for i in range(5)]
    excluded = [Excluded("E1", "○", "withdrawn"), {"entry_no": "E9", "masked_name": "○",
                                                     "reason": "invalid"}]
    result = draw(SEED0, "b", "C1", 2, entries, excluded)
    assert sorted(e.entry_no for e in result.entries) == ["E0", "E2", "E3", "E4"]
    rec = build_record("C1", lottery.commitment(SEED0), SEED0, "b", 2, DRAWN_AT, result,
                       result.excluded)
    assert [x["entry_no"] for x in rec["excluded"]] == ["E1", "E9"]
    assert verify_record(rec) == []


def test_empty_draw():
    result = draw(SEED0, "", "C1", 5, [])
    assert result.entries == ()
    assert verify_record(build_record("C1", lottery.commitment(SEED0), SEED0, "", 5,
                                      DRAWN_AT, result)) == []


@pytest.mark.parametrize("bad", ["", "E 1", "E\t1", "報名1", "E1\n", None, 7])
def test_invalid_entry_no_rejected(bad):
    with pytest.raises(ValueError):
        draw(SEED0, "", "C1", 1, [Entry(bad, "○")])


def test_duplicate_entry_no_rejected():
    with pytest.raises(ValueError):
        draw(SEED0, "", "C1", 1, [Entry("E1", "○"), Entry("E1", "○")])
    with pytest.raises(ValueError):
        pending_record("C1", EX_COMMITMENT, [Entry("E1", "○"), Entry("E1", "○")])


@pytest.mark.parametrize("bad", ["00" * 31, "0" * 63 + "G", "AB" * 32, "", None, "00" * 33])
def test_bad_seed_rejected(bad):
    with pytest.raises(ValueError):
        lottery.commitment(bad)
    with pytest.raises(ValueError):
        draw(bad, "", "C1", 1, example_entries())


@pytest.mark.parametrize("seats", [-1, True, 1.0, None])
def test_bad_seats_rejected(seats):
    with pytest.raises(ValueError):
        draw(SEED0, "", "C1", seats, example_entries())


def test_bad_tier_rejected():
    with pytest.raises(ValueError):
        draw(SEED0, "", "C1", 1, [Entry("E1", "○", tier="0")])


def test_build_record_refuses_wrong_seed():
    result = draw(SEED0, "", "DD115A001", 1, example_entries())
    with pytest.raises(ValueError):
        build_record("DD115A001", EX_COMMITMENT, "11" * 32, "", 1, DRAWN_AT, result)
    with pytest.raises(ValueError):  # seats disagreeing with the draw
        build_record("DD115A001", EX_COMMITMENT, SEED0, "", 2, DRAWN_AT, result)


def test_drawn_at_is_written_in_utc():
    taipei = timezone(timedelta(hours=8))
    result = draw(SEED0, "", "C1", 1, example_entries())
    rec = build_record("C1", lottery.commitment(SEED0), SEED0, "", 1,
                       datetime(2026, 3, 1, 20, 0, tzinfo=taipei), result)
    assert rec["drawn_at"] == "2026-03-01T12:00:00+00:00"
    rec = build_record("C1", lottery.commitment(SEED0), SEED0, "", 1,
                       datetime(2026, 3, 1, 12, 0), result)  # naive = UTC
    assert rec["drawn_at"] == "2026-03-01T12:00:00+00:00"


# ---- properties ----

entry_nos = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                    min_size=1, max_size=12)
entries_strategy = st.lists(st.tuples(entry_nos, st.integers(-2, 3)), max_size=40,
                            unique_by=lambda t: t[0]).map(
    lambda rows: [Entry(no, "○", tier) for no, tier in rows])
seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)
beacons = st.text(max_size=20)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, beacon=beacons, entries=entries_strategy, seats=st.integers(0, 50))
def test_property_draw_is_consistent_and_verifies(seed, beacon, entries, seats):
    result = draw(seed, beacon, "DD115A001", seats, entries)
    n = len(entries)
    assert len(result.entries) == n
    assert len(result.admitted) == min(seats, n)
    assert [e.position for e in result.waitlisted] == list(range(1, n - min(seats, n) + 1))
    order = [(e.tier, e.ticket) for e in result.entries]
    assert order == sorted(order)
    key = lottery.draw_key(seed, beacon, "DD115A001")
    assert all(e.ticket == lottery.ticket(key, e.entry_no) for e in result.entries)
    rec = build_record("DD115A001", lottery.commitment(seed), seed, beacon, seats,
                       DRAWN_AT, result)
    assert verify_record(json.loads(json.dumps(rec))) == []


@settings(max_examples=40, deadline=None)
@given(seed=seeds, entries=entries_strategy, seats=st.integers(0, 50), data=st.data())
def test_property_input_order_does_not_matter(seed, entries, seats, data):
    shuffled = data.draw(st.permutations(entries))
    assert draw(seed, "", "C", seats, entries) == draw(seed, "", "C", seats, shuffled)
