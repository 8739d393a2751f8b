"""Verifiable lottery ("sha256-ticket-v1"), see ``specs/lottery.md``.

Pure functions, standard library only, no database.  The flow is::

    seed = new_seed()                      # kept secret until the draw
    published = commitment(seed)           # shown from the moment the phase opens
    pending_record(code, published, entries, excluded)      # public record before the draw
    result = draw(seed, beacon, code, seats, entries, excluded)
    build_record(code, published, seed, beacon, seats, drawn_at, result, excluded)

``build_record`` re-verifies its output with the standalone verifier in
``app/tools/verify_lottery.py`` and refuses to produce a record that would not verify.

Entry numbers must be non-empty *visible* ASCII (``!`` … ``~``, no spaces): they are
hashed as UTF-8 by the verifiers and shown on printed lists, where spaces are invisible.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence, Union

from app.tools.verify_lottery import verify_record  # the same stdlib-only code citizens run

ALGORITHM = "sha256-ticket-v1"
ADMITTED = "admitted"
WAITLISTED = "waitlisted"

_SEED_RE = re.compile(r"[0-9a-f]{64}")
_ENTRY_NO_RE = re.compile(r"[\x21-\x7e]+")


def new_seed() -> str:
    """32 bytes from the OS CSPRNG as 64 lowercase hex characters."""
    return secrets.token_bytes(32).hex()


def sha256_hex(s: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of ``s``."""
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _check_seed(seed_hex: str) -> str:
    if not isinstance(seed_hex, str) or not _SEED_RE.fullmatch(seed_hex):
        raise ValueError("seed must be 64 lowercase hex characters")
    return seed_hex


def _check_entry_no(entry_no: str) -> str:
    if not isinstance(entry_no, str) or not _ENTRY_NO_RE.fullmatch(entry_no):
        raise ValueError(f"entry_no must be non-empty visible ASCII without spaces: {entry_no!r}")
    return entry_no


def commitment(seed_hex: str) -> str:
    """The public commitment ``sha256_hex(seed_hex)``."""
    return sha256_hex(_check_seed(seed_hex))


def draw_key(seed_hex: str, beacon: str, course_code: str) -> str:
    """``sha256_hex(seed_hex + ":" + beacon + ":" + course_code)``."""
    if not isinstance(beacon, str) or not isinstance(course_code, str) or not course_code:
        raise ValueError("beacon must be a string and course_code a non-empty string")
    return sha256_hex(f"{_check_seed(seed_hex)}:{beacon}:{course_code}")


def ticket(key: str, entry_no: str) -> str:
    """``sha256_hex(key + ":" + entry_no)``."""
    return sha256_hex(f"{key}:{_check_entry_no(entry_no)}")


@dataclass(frozen=True)
class Entry:
    """An application taking part in the draw (``tier`` 0 when the phase has no tiers)."""

    entry_no: str
    masked_name: str
    tier: int = 0


@dataclass(frozen=True)
class Excluded:
    """An application left out of the draw, published with its reason."""

    entry_no: str
    masked_name: str
    reason: str


@dataclass(frozen=True)
class DrawnEntry:
    """One entry after the draw; ``position`` is the waitlist position (None if admitted)."""

    entry_no: str
    masked_name: str
    tier: int
    ticket: str
    outcome: str
    position: int | None


@dataclass(frozen=True)
class DrawResult:
    """The outcome of :func:`draw`: ``entries`` in draw order (admitted first)."""

    key: str
    seats: int
    entries: tuple[DrawnEntry, ...]
    excluded: tuple[Excluded, ...]

    @property
    def admitted(self) -> tuple[DrawnEntry, ...]:
        return tuple(e for e in self.entries if e.outcome == ADMITTED)

    @property
    def waitlisted(self) -> tuple[DrawnEntry, ...]:
        return tuple(e for e in self.entries if e.outcome == WAITLISTED)


ExcludedLike = Union[Excluded, Mapping[str, Any], Sequence[Any]]


def _as_excluded(item: ExcludedLike) -> Excluded:
    """Accept an :class:`Excluded`, a mapping with its fields, or a 3-tuple."""
    if isinstance(item, Excluded):
        ex = item
    elif isinstance(item, Mapping):
        ex = Excluded(item["entry_no"], item["masked_name"], item["reason"])
    else:
        ex = Excluded(*item)
    _check_entry_no(ex.entry_no)
    if not isinstance(ex.reason, str) or not ex.reason.strip():
        raise ValueError(f"excluded entry {ex.entry_no} needs a reason")
    return ex


def _check_entries(entries: Iterable[Entry], excluded: Iterable[ExcludedLike]):
    """Validate entries and exclusions; return them as tuples (duplicates -> ValueError)."""
    entries = tuple(entries)
    excluded = tuple(_as_excluded(x) for x in excluded)
    seen: set[str] = set()
    for e in entries:
        _check_entry_no(e.entry_no)
        if not isinstance(e.tier, int) or isinstance(e.tier, bool):
            raise ValueError(f"tier of {e.entry_no} must be an integer")
        if not isinstance(e.masked_name, str):
            raise ValueError(f"masked_name of {e.entry_no} must be a string")
        if e.entry_no in seen:
            raise ValueError(f"duplicate entry_no {e.entry_no}")
        seen.add(e.entry_no)
    seen_ex: set[str] = set()
    for x in excluded:
        if x.entry_no in seen_ex:
            raise ValueError(f"duplicate excluded entry_no {x.entry_no}")
        seen_ex.add(x.entry_no)
    return entries, excluded


def draw(
    seed_hex: str,
    beacon: str,
    course_code: str,
    seats: int,
    entries: Iterable[Entry],
    excluded: Iterable[ExcludedLike] = (),
) -> DrawResult:
    """Run the draw.

    Entries whose ``entry_no`` is listed in ``excluded`` are removed first (so callers may
    pass every application plus the exclusions).  The rest are ordered by ``(tier, ticket)``;
    the first ``seats`` are admitted, the others waitlisted 1, 2, 3 …  ``seats`` may be 0 or
    larger than the number of entries.
    """
    if not isinstance(seats, int) or isinstance(seats, bool) or seats < 0:
        raise ValueError("seats must be a non-negative integer")
    entries, excluded = _check_entries(entries, excluded)
    left_out = {x.entry_no for x in excluded}
    key = draw_key(seed_hex, beacon, course_code)
    scored = sorted(
        ((e.tier, ticket(key, e.entry_no), e) for e in entries if e.entry_no not in left_out),
        key=lambda t: (t[0], t[1]),
    )
    drawn = tuple(
        DrawnEntry(e.entry_no, e.masked_name, tier, tkt, ADMITTED, None)
        if i < seats
        else DrawnEntry(e.entry_no, e.masked_name, tier, tkt, WAITLISTED, i - seats + 1)
        for i, (tier, tkt, e) in enumerate(scored)
    )
    return DrawResult(key=key, seats=seats, entries=drawn, excluded=excluded)


def _iso(drawn_at: datetime | str) -> str:
    """ISO 8601 text for ``drawn_at``; datetimes are written in UTC (naive ones taken as UTC)."""
    if isinstance(drawn_at, str):
        return drawn_at
    if drawn_at.tzinfo is None:
        drawn_at = drawn_at.replace(tzinfo=timezone.utc)
    return drawn_at.astimezone(timezone.utc).isoformat()


def _excluded_json(excluded: Iterable[ExcludedLike]) -> list[dict]:
    return [
        {"entry_no": x.entry_no, "masked_name": x.masked_name, "reason": x.reason}
        for x in (_as_excluded(i) for i in excluded)
    ]


def pending_record(
    course_code: str,
    commitment: str,
    entries: Iterable[Entry],
    excluded: Iterable[ExcludedLike] = (),
) -> dict:
    """The public record before the draw: commitment and entries so far, the rest null."""
    entries, excluded = _check_entries(entries, excluded)
    left_out = {x.entry_no for x in excluded}
    return {
        "course_code": course_code,
        "commitment": commitment,
        "seed": None,
        "beacon": None,
        "seats": None,
        "drawn_at": None,
        "algorithm": ALGORITHM,
        "entries": [
            {
                "entry_no": e.entry_no,
                "masked_name": e.masked_name,
                "tier": e.tier,
                "ticket": None,
                "outcome": None,
                "position": None,
            }
            for e in entries
            if e.entry_no not in left_out
        ],
        "excluded": _excluded_json(excluded),
    }


def build_record(
    course_code: str,
    commitment: str,
    seed: str,
    beacon: str,
    seats: int,
    drawn_at: datetime | str,
    entries_result: DrawResult | Iterable[DrawnEntry],
    excluded: Iterable[ExcludedLike] = (),
) -> dict:
    """The published record after the draw (exact field order of ``lottery.md``).

    ``entries_result`` is the :class:`DrawResult` (or its ``entries``).  The record is checked
    with the standalone verifier; ValueError if it would not verify (e.g. wrong seed).
    """
    drawn = entries_result.entries if isinstance(entries_result, DrawResult) else entries_result
    record = {
        "course_code": course_code,
        "commitment": commitment,
        "seed": seed,
        "beacon": beacon,
        "seats": seats,
        "drawn_at": _iso(drawn_at),
        "algorithm": ALGORITHM,
        "entries": [
            {
                "entry_no": e.entry_no,
                "masked_name": e.masked_name,
                "tier": e.tier,
                "ticket": e.ticket,
                "outcome": e.outcome,
                "position": e.position,
            }
            for e in drawn
        ],
        "excluded": _excluded_json(excluded),
    }
    problems = verify_record(record)
    if problems:
        raise ValueError("lottery record does not verify: " + "; ".join(problems))
    return record
