#!/usr/bin/env python3
"""Standalone verifier for published lottery records (algorithm "sha256-ticket-v1").

Uses only the Python standard library and imports nothing from the project, so this single
file can be copied and run anywhere (Python 3.8+)::

    python verify_lottery.py RECORD.json            # or: python -m app.tools.verify_lottery
    python verify_lottery.py - < RECORD.json        # read the record from stdin
    python verify_lottery.py RECORD.json --pending BEFORE.json

Exit status 0 and the single line ``verified`` when the record checks out; otherwise exit
status 1, a first line ``NOT VERIFIED: <n> problem(s)`` and one problem per line.
A record whose seed is still null is reported as ``not drawn yet`` (exit 1).

Checked: sha256_hex(seed) == commitment; key = sha256_hex(seed:beacon:course_code); every
ticket = sha256_hex(key:entry_no); ordering by (tier, ticket) gives exactly the published
outcomes and waitlist positions; min(seats, number of entries) are admitted; entry numbers are
unique visible ASCII and none is both drawn and excluded; algorithm is "sha256-ticket-v1".

``--pending`` additionally compares with a copy of the record saved *before* the draw: same
course and commitment, and every entry number listed then still appears (drawn or excluded).
The record alone cannot show that an entry was removed from the end of the waitlist; a saved
pending copy (or a citizen finding their own entry number) can.

The browser check ``app/static/js/verify-lottery.js`` implements the same checks with the same
messages.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys

ALGORITHM = "sha256-ticket-v1"
FIELDS = ("course_code", "commitment", "seed", "beacon", "seats", "drawn_at", "algorithm",
          "entries", "excluded")
ENTRY_FIELDS = ("entry_no", "masked_name", "tier", "ticket", "outcome", "position")
EXCLUDED_FIELDS = ("entry_no", "masked_name", "reason")
NOT_DRAWN = "not drawn yet"

# Used with fullmatch (a "$" would also accept a trailing newline).
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ENTRY_NO = re.compile(r"[\x21-\x7e]+")
_ISO_8601 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def sha256_hex(s):
    """Lowercase hex SHA-256 of the UTF-8 bytes of ``s``."""
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _show(value):
    """A value as JSON text (same as JavaScript's JSON.stringify for simple values)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_entry_no(value):
    return isinstance(value, str) and _ENTRY_NO.fullmatch(value) is not None


def verify_record(record):
    """Return the list of problems found in a drawn record; an empty list means verified."""
    if not isinstance(record, dict):
        return ["record is not a JSON object"]
    if "seed" in record and record["seed"] is None:
        return [NOT_DRAWN]
    problems = ["missing field " + f for f in FIELDS if f not in record]
    if problems:
        return problems

    if record["algorithm"] != ALGORITHM:
        problems.append("algorithm must be " + _show(ALGORITHM) + ", got " + _show(record["algorithm"]))
    course_code, commitment, seed = record["course_code"], record["commitment"], record["seed"]
    beacon, seats, entries, excluded = (record["beacon"], record["seats"], record["entries"],
                                        record["excluded"])
    if not isinstance(course_code, str) or not course_code:
        problems.append("course_code must be a non-empty string")
    if not isinstance(commitment, str) or not _HEX64.fullmatch(commitment):
        problems.append("commitment must be 64 lowercase hex characters")
    if not isinstance(seed, str) or not _HEX64.fullmatch(seed):
        problems.append("seed must be 64 lowercase hex characters")
    elif sha256_hex(seed) != commitment:
        problems.append("seed does not match commitment: sha256_hex(seed) = " + sha256_hex(seed))
    if not isinstance(beacon, str):
        problems.append("beacon must be a string")
    if not _is_int(seats) or seats < 0:
        problems.append("seats must be a non-negative integer")
    if not isinstance(record["drawn_at"], str) or not _ISO_8601.fullmatch(record["drawn_at"]):
        problems.append("drawn_at must be an ISO 8601 date-time with a time zone")
    if not isinstance(entries, list):
        problems.append("entries must be a list")
    if not isinstance(excluded, list):
        problems.append("excluded must be a list")
    if problems:
        return problems

    # Structure of every entry and exclusion.
    drawn_nos = set()
    for i, e in enumerate(entries):
        where = "entries[" + str(i) + "]"
        if not isinstance(e, dict):
            problems.append(where + " is not an object")
            continue
        missing = [f for f in ENTRY_FIELDS if f not in e]
        if missing:
            problems.append(where + " is missing " + ", ".join(missing))
            continue
        if not _is_entry_no(e["entry_no"]):
            problems.append(where + ": entry_no must be non-empty visible ASCII")
        elif e["entry_no"] in drawn_nos:
            problems.append("entry_no " + _show(e["entry_no"]) + " appears more than once")
        else:
            drawn_nos.add(e["entry_no"])
        if not isinstance(e["masked_name"], str):
            problems.append(where + ": masked_name must be a string")
        if not _is_int(e["tier"]):
            problems.append(where + ": tier must be an integer")
    excluded_nos = set()
    for i, x in enumerate(excluded):
        where = "excluded[" + str(i) + "]"
        if not isinstance(x, dict):
            problems.append(where + " is not an object")
            continue
        missing = [f for f in EXCLUDED_FIELDS if f not in x]
        if missing:
            problems.append(where + " is missing " + ", ".join(missing))
            continue
        if not _is_entry_no(x["entry_no"]):
            problems.append(where + ": entry_no must be non-empty visible ASCII")
        elif x["entry_no"] in excluded_nos:
            problems.append("excluded entry_no " + _show(x["entry_no"]) + " appears more than once")
        else:
            excluded_nos.add(x["entry_no"])
            if x["entry_no"] in drawn_nos:
                problems.append("entry_no " + _show(x["entry_no"]) + " is both drawn and excluded")
        if not isinstance(x["masked_name"], str):
            problems.append(where + ": masked_name must be a string")
        if not isinstance(x["reason"], str) or not x["reason"].strip():
            problems.append(where + ": reason must be a non-empty string")
    if problems:
        return problems

    # Tickets, order, outcomes and positions.
    key = sha256_hex(seed + ":" + beacon + ":" + course_code)
    tickets = {}
    for e in entries:
        tickets[e["entry_no"]] = sha256_hex(key + ":" + e["entry_no"])
        if e["ticket"] != tickets[e["entry_no"]]:
            problems.append("entry " + _show(e["entry_no"]) + ": ticket does not recompute")
    order = sorted(entries, key=lambda e: (e["tier"], tickets[e["entry_no"]]))
    for i, e in enumerate(order):
        outcome, position = ("admitted", None) if i < seats else ("waitlisted", i - seats + 1)
        if e["outcome"] != outcome:
            problems.append("entry " + _show(e["entry_no"]) + ": outcome should be "
                            + _show(outcome) + ", published " + _show(e["outcome"]))
        if not (e["position"] is None if position is None
                else _is_int(e["position"]) and e["position"] == position):
            problems.append("entry " + _show(e["entry_no"]) + ": position should be "
                            + _show(position) + ", published " + _show(e["position"]))
    admitted = sum(1 for e in entries if e["outcome"] == "admitted")
    if admitted != min(seats, len(entries)):
        problems.append(str(admitted) + " entries published as admitted, expected "
                        + str(min(seats, len(entries))))
    return problems


def compare_with_pending(record, pending):
    """Problems between a drawn record and a copy of the same record saved before the draw."""
    if not isinstance(record, dict) or not isinstance(pending, dict):
        return ["record is not a JSON object"]
    problems = []
    for field in ("course_code", "commitment"):
        if record.get(field) != pending.get(field):
            problems.append(field + " differs from the pending record")
    present = {x.get("entry_no") for part in ("entries", "excluded")
               for x in (record.get(part) or []) if isinstance(x, dict)}
    for part in ("entries", "excluded"):
        for x in pending.get(part) or []:
            if isinstance(x, dict) and x.get("entry_no") not in present:
                problems.append("entry " + _show(x.get("entry_no"))
                                + " of the pending record is missing after the draw")
    return problems


def _load(path):
    if path == "-":
        return json.load(sys.stdin)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(argv=None):
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Verify a published lottery record.")
    parser.add_argument("record", help="record JSON file, or - for stdin")
    parser.add_argument("--pending", help="copy of the record saved before the draw")
    args = parser.parse_args(argv)
    try:
        record = _load(args.record)
        pending = _load(args.pending) if args.pending else None
    except (OSError, ValueError) as exc:
        print("NOT VERIFIED: cannot read record: " + str(exc))
        return 1
    problems = verify_record(record)
    if pending is not None and problems != [NOT_DRAWN]:
        problems += compare_with_pending(record, pending)
    if problems == [NOT_DRAWN]:
        print(NOT_DRAWN)
        return 1
    if problems:
        print("NOT VERIFIED: " + str(len(problems)) + " problem(s)")
        for p in problems:
            print("- " + p)
        return 1
    print("verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
