"""The security trail (資安軌跡記錄): append-only guards, the record-change trail, chain
verification with diagnostics, checkpoints, and the supervisor's review queries.

What lives here and why
-----------------------
* **Append-only.**  The ORM refuses to update or delete an :class:`AuditEntry`
  (``before_update``/``before_delete`` mapper events and a ``do_orm_execute`` hook for
  bulk ``update()``/``delete()`` statements).  Migration ``0002_audit_append_only`` adds
  database triggers for every other client.
* **Record changes.**  :func:`install_change_trail` hooks every SQLAlchemy session's
  ``after_flush``: each created, updated or deleted row becomes an entry with a
  field-level diff, personal data masked (:func:`mask_value`).  Which rows are recorded
  depends on the *scope* a resolver returns (the back office installs one that looks at
  the request): changes made by a logged-in staff member are all recorded; outside such a
  request (CLI, jobs, citizens) only changes to back-office accounts, roles, groups,
  permissions and staff venues are.  The entries are written with Core INSERTs on the
  flush's own connection, under the chain's lock, so they are in the chain at once and in
  the same transaction as the change they describe.
* **Verification.**  :func:`verify_report` walks the chain and names the first bad entry:
  altered (content does not match its hash), inserted (the next entry links past it) or
  a link broken by a removed or re-hashed entry.  A chain alone cannot notice its newest
  entries being cut off (tail truncation): :func:`checkpoint` records the head and returns
  an *anchor* line to keep outside the database; verification against anchors catches it.

No Flask request or FAB view code here: the actor resolver is passed in.
"""
from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import and_, case, event, func, insert, inspect, or_, select, text
from sqlalchemy.orm import Session

from ..models.audit import AuditEntry
from ..models.base import utcnow
from . import clock, privacy
from .audit import GENESIS, SYSTEM, Actor, _LOCK_ID, canonical, entry_hash, seal_key, seal_of


class AppendOnlyError(RuntimeError):
    """Raised when anything tries to change or remove an audit entry."""


# ---------------------------------------------------------------------------------------
# Append-only guards
# ---------------------------------------------------------------------------------------

@event.listens_for(AuditEntry, "before_update")
def _refuse_update(mapper, connection, target):  # pragma: no cover - trivial
    raise AppendOnlyError(f"audit entry #{target.id} cannot be changed: the trail is append-only")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(mapper, connection, target):  # pragma: no cover - trivial
    raise AppendOnlyError(f"audit entry #{target.id} cannot be deleted: the trail is append-only")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(orm_execute_state):
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    table = getattr(orm_execute_state.statement, "table", None)
    if table is not None and getattr(table, "name", None) == AuditEntry.__tablename__:
        raise AppendOnlyError("audit entries cannot be updated or deleted: the trail is append-only")


# ---------------------------------------------------------------------------------------
# Masking personal data in diffs
# ---------------------------------------------------------------------------------------

MASK = "***"
#: Columns whose values never appear in the trail, whatever the table.
SECRET_COLUMNS = {"password", "password_hash", "national_id_enc", "national_id_hash",
                  "account_enc", "seed_hex", "code_hash", "secret", "token", "api_key",
                  "key_hash"}
#: (table, column) -> kind of personal data.
PERSONAL_COLUMNS: dict[tuple[str, str], str] = {
    ("citizen", "name"): "name", ("citizen", "phone"): "phone", ("citizen", "email"): "email",
    ("citizen", "birth_date"): "date", ("learner", "name"): "name",
    ("learner", "birth_date"): "date", ("refund", "account_holder"): "name",
    ("refund", "branch_code"): "secret", ("ab_user", "first_name"): "name",
    ("ab_user", "last_name"): "name", ("ab_user", "email"): "email",
    ("ab_register_user", "first_name"): "name", ("ab_register_user", "last_name"): "name",
    ("ab_register_user", "email"): "email", ("notification", "recipient"): "contact",
    ("identity_claim", "proof_name"): "secret", ("identity_claim", "proof_path"): "secret",
}
#: Tables whose public contact columns are not personal data.
PUBLIC_CONTACT_TABLES = {"venue"}
TEXT_LIMIT = 200


def mask_phone(value: str) -> str:
    digits = "".join(c for c in unicodedata.normalize("NFKC", value or "") if c.isdigit())
    if len(digits) <= 4:
        return "*" * len(digits)
    return digits[:2] + "*" * (len(digits) - 5) + digits[-3:]


def mask_email(value: str) -> str:
    local, at, domain = (value or "").partition("@")
    if not at:
        return MASK
    return (local[:1] or "") + "***@" + domain


def _plain(value: Any) -> Any:
    """A JSON-friendly, bounded representation of a column value."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(bytes(value))} bytes>"
    value = str(value)
    return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT] + "…"


def mask_value(table: str, column: str, value: Any) -> Any:
    """The value as the trail may show it: secrets hidden, personal data masked."""
    if value is None:
        return None
    lowered = column.lower()
    if lowered in SECRET_COLUMNS or lowered.endswith(("_enc", "_hash")) or "password" in lowered:
        return MASK
    kind = PERSONAL_COLUMNS.get((table, column))
    if kind is None and table not in PUBLIC_CONTACT_TABLES:
        if lowered in ("email", "e_mail"):
            kind = "email"
        elif lowered in ("phone", "mobile"):
            kind = "phone"
        elif lowered == "national_id":
            kind = "national_id"
    if kind == "name":
        return privacy.mask_name(str(value))
    if kind == "phone":
        return mask_phone(str(value))
    if kind == "email":
        return mask_email(str(value))
    if kind == "contact":
        return mask_email(str(value)) if "@" in str(value) else mask_phone(str(value))
    if kind == "date":
        return f"{value.year}-**-**" if hasattr(value, "year") else MASK
    if kind == "national_id":
        return privacy.mask_national_id(str(value))
    if kind == "secret":
        return MASK
    return _plain(value)


# ---------------------------------------------------------------------------------------
# The record-change trail
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """Who is changing things: ``staff`` scope records every change.

    The actor may be given lazily (``actor_fn``): it is worked out only when something is
    recorded, so a flush that records nothing never touches the user or the database."""

    actor: Actor | None = None
    staff: bool = False
    via: str = ""  # e.g. the request endpoint
    actor_fn: Callable[[], Actor] | None = None

    def resolve_actor(self) -> Actor:
        if self.actor is not None:
            return self.actor
        return self.actor_fn() if self.actor_fn is not None else SYSTEM


#: Tables never recorded as row changes (they are trails or outboxes themselves, or
#: hold one-time secrets).
EXCLUDED_TABLES = {"audit_entry", "notification", "delivery_attempt", "slip_serial",
                   "one_time_code", "registration_event", "alembic_version"}
#: Security tables: recorded in every scope, with their own event names.
ACCOUNT_EVENTS = {"ab_user": "user", "ab_role": "role", "ab_group": "group",
                  "ab_api_key": "api_key"}
#: The permission catalogue FAB creates at setup: recorded when staff change it.
CATALOGUE_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view"}
#: Columns that change on their own (log-in counters, timestamps) and say nothing.
NOISE_COLUMNS = {"ab_user": {"last_login", "login_count", "fail_login_count", "changed_on",
                             "changed_by_fk", "created_on", "created_by_fk"},
                 "*": {"updated_at", "changed_on", "changed_by_fk"}}
#: Membership collections: (owner table, attribute) -> event.  Their backrefs map onto
#: them so a change seen from either side is recorded once.
MEMBERSHIPS = {("ab_user", "roles"): "user_roles_changed",
               ("ab_role", "permissions"): "role_permissions_changed",
               ("ab_group", "users"): "group_users_changed",
               ("ab_group", "roles"): "group_roles_changed"}
BACKREFS = {("ab_role", "user"): ("ab_user", "roles"),
            ("ab_permission_view", "role"): ("ab_role", "permissions"),
            ("ab_user", "groups"): ("ab_group", "users"),
            ("ab_role", "groups"): ("ab_group", "roles")}

#: Every event name the security review knows about, by family (for the filter list).
SECURITY_EVENTS = (
    "staff_login", "staff_login_failed", "staff_login_locked", "staff_lockout", "staff_logout",
    "password_change", "password_reset", "user_created", "user_updated", "user_deleted",
    "user_roles_changed", "user_venue_changed", "role_created", "role_updated", "role_deleted",
    "role_permissions_changed", "group_created", "group_updated", "group_deleted",
    "group_users_changed", "group_roles_changed", "permission_created", "permission_updated",
    "permission_deleted",
)
FAILED_LOGIN_EVENTS = ("staff_login_failed", "staff_login_locked", "staff_lockout",
                       "citizen_login_failed", "citizen_login_locked", "citizen_lockout")

_resolver: Callable[[], Scope] | None = None
_installed = False


def install_change_trail(resolver: Callable[[], Scope] | None = None) -> None:
    """Record row changes from now on; ``resolver`` says who is acting (idempotent:
    the last resolver given wins, the listener is attached once per process)."""
    global _resolver, _installed
    if resolver is not None:
        _resolver = resolver
    if not _installed:
        event.listen(Session, "after_flush", _after_flush)
        _installed = True


def _table(obj) -> str | None:
    return getattr(type(obj), "__tablename__", None)


def _pk(obj) -> Any:
    ident = inspect(obj).identity
    if ident:
        return ident[0] if len(ident) == 1 else "-".join(str(i) for i in ident)
    return getattr(obj, "id", None)


def label_of(obj) -> str:
    """How a related row is named in the trail (never a personal name)."""
    table = _table(obj)
    if table == "ab_user":
        return str(obj.username)
    if table in ("ab_role", "ab_group", "ab_permission", "ab_view_menu"):
        return str(obj.name)
    if table == "ab_permission_view":
        perm = getattr(obj.permission, "name", "?")
        view = getattr(obj.view_menu, "name", "?")
        return f"{perm} on {view}"
    if table in ("venue", "course", "term"):
        return f"{table}:{obj.id} {getattr(obj, 'code', '')}".strip()
    return f"{table}:{_pk(obj)}"


def _noise(table: str) -> set[str]:
    return NOISE_COLUMNS.get(table, set()) | NOISE_COLUMNS["*"]


def _loaded_values(obj) -> dict[str, Any]:
    """The row's column values as the trail may show them (what is loaded; no SQL)."""
    state = inspect(obj)
    table = _table(obj)
    values = {}
    for attr in state.mapper.column_attrs:
        if attr.key in state.dict and attr.key not in _noise(table):
            values[attr.key] = mask_value(table, attr.columns[0].name, state.dict[attr.key])
    return values


def _changes(obj) -> dict[str, list]:
    """Field-level diff of a dirty row: {field: [old, new]} with values masked."""
    state = inspect(obj)
    table = _table(obj)
    out: dict[str, list] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in _noise(table):
            continue
        hist = state.attrs[attr.key].history
        if not hist.added and not hist.deleted:
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        column = attr.columns[0].name
        out[attr.key] = [mask_value(table, column, old), mask_value(table, column, new)]
    for rel in state.mapper.relationships:
        if rel.direction.name != "MANYTOONE":
            continue
        hist = state.attrs[rel.key].history
        if not hist.added and not hist.deleted:
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old is new:
            continue
        out[rel.key] = [label_of(old) if old is not None else None,
                        label_of(new) if new is not None else None]
    return out


def _membership_changes(session: Session) -> dict[tuple[str, Any], dict]:
    """Role, permission and group memberships changed in this flush, from either side."""
    found: dict[tuple[str, str, Any], dict] = {}

    def note(owner, attr, member, op):
        key = (_table(owner), attr, _pk(owner))
        entry = found.setdefault(key, {"owner": owner, "added": {}, "removed": {}})
        entry[op][_pk(member)] = label_of(member)

    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        table = _table(obj)
        if table is None:
            continue
        state = inspect(obj)
        for rel in state.mapper.relationships:
            key = (table, rel.key)
            if key not in MEMBERSHIPS and key not in BACKREFS:
                continue
            hist = state.attrs[rel.key].history
            for op, members in (("added", hist.added or ()), ("removed", hist.deleted or ())):
                for member in members:
                    if key in MEMBERSHIPS:
                        note(obj, rel.key, member, op)
                    else:
                        note(member, BACKREFS[key][1], obj, op)
    return found


def _event_for(table: str, verb: str) -> str | None:
    """created|updated|deleted on a table -> the event name (None: not recorded)."""
    if table in ACCOUNT_EVENTS:
        return f"{ACCOUNT_EVENTS[table]}_{verb}"
    if table == "staff_profile":
        return "user_venue_changed"
    if table in CATALOGUE_TABLES:
        return f"permission_{verb}"
    return f"record_{verb}"


def _wanted(table: str | None, scope: Scope) -> bool:
    if table is None or table in EXCLUDED_TABLES:
        return False
    if table in ACCOUNT_EVENTS or table == "staff_profile":
        return True
    return scope.staff


def _target(table: str, obj) -> str:
    prefix = {"ab_user": "user", "ab_role": "role", "ab_group": "group"}.get(table, table)
    if table == "staff_profile":
        return f"user:{obj.user_id}" if getattr(obj, "user_id", None) else f"staff_profile:{_pk(obj)}"
    return f"{prefix}:{_pk(obj)}"


def _describe(table: str, obj, session: Session | None = None) -> dict:
    """Identifying, non-personal context for an entry."""
    if table == "ab_user":
        return {"username": obj.username}
    if table in ("ab_role", "ab_group"):
        return {"name": obj.name}
    if table == "staff_profile":
        user = obj.__dict__.get("user")
        username = getattr(user, "username", None)
        if username is None and session is not None and obj.user_id is not None:
            from ..models import User

            username = session.execute(select(User.username).where(User.id == obj.user_id)).scalar()
        return {"username": username, "user_id": obj.user_id}
    if table in CATALOGUE_TABLES:
        return {"name": label_of(obj)}
    return {"model": type(obj).__name__}


def collect_changes(session: Session, scope: Scope) -> list[tuple[str, str, dict]]:
    """(event, target, detail) for every recorded change in the flush just done."""
    entries: list[tuple[str, str, dict]] = []
    via = {"via": scope.via} if scope.via else {}
    for verb, objects in (("created", session.new), ("updated", session.dirty),
                          ("deleted", session.deleted)):
        for obj in list(objects):
            table = _table(obj)
            if not _wanted(table, scope) or (table in CATALOGUE_TABLES and not scope.staff):
                continue
            if verb == "updated":
                if not session.is_modified(obj, include_collections=False):
                    continue
                changes = _changes(obj)
                if not changes:
                    continue
                if table == "ab_user" and set(changes) <= {"password"}:
                    continue  # recorded as password_change/password_reset by the manager
                detail = {**_describe(table, obj, session), "changes": changes}
            else:
                values = _loaded_values(obj)
                if table == "ab_user":
                    values.pop("password", None)
                detail = {**_describe(table, obj, session), "values": values}
                if table == "staff_profile":
                    detail["change"] = verb
            entries.append((_event_for(table, verb), _target(table, obj), {**detail, **via}))
    for (table, attr, pk), change in _membership_changes(session).items():
        if not change["added"] and not change["removed"]:
            continue
        owner = change["owner"]
        event_name = MEMBERSHIPS[(table, attr)]
        entries.append((event_name, _target(table, owner), {
            **_describe(table, owner),
            "added": sorted(change["added"].values()),
            "removed": sorted(change["removed"].values()), **via}))
    return entries


def _after_flush(session: Session, flush_context) -> None:
    if session.info.get("audit_trail_off"):
        return
    tables = {_table(o) for o in list(session.new) + list(session.dirty) + list(session.deleted)}
    if not tables - {AuditEntry.__tablename__, None}:
        return
    scope = (_resolver() if _resolver is not None else None) or Scope()
    entries = collect_changes(session, scope)
    if entries:
        actor = scope.resolve_actor()
        append_now(session, [(event_name, actor, target, detail)
                             for event_name, target, detail in entries])


def _fields(event_name: str, actor: Actor, target: str, detail: dict | None):
    """The stored fields of an entry, exactly as :func:`app.services.audit.record` stores them."""
    return dict(
        at=utcnow(), event=event_name, actor_type=actor.type, actor=(actor.name or "")[:128],
        role=(actor.role or "")[:128], venue_id=actor.venue_id, ip=(actor.ip or "")[:64],
        user_agent=(actor.user_agent or "")[:256], target=str(target)[:128],
        detail=canonical(detail))


def append_now(session: Session, items: Sequence[tuple[str, Actor, str, dict | None]]) -> None:
    """Append entries with Core INSERTs on the session's connection, under the chain lock.

    Usable inside flush hooks (no ORM flush).  Same hashing as ``audit.record``."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
    table = AuditEntry.__table__
    prev = conn.execute(select(table.c.hash).order_by(table.c.id.desc()).limit(1)).scalar() or GENESIS
    key = seal_key()
    rows = []
    for event_name, actor, target, detail in items:
        f = _fields(event_name, actor, target, detail)
        digest = entry_hash(prev, f["at"], f["event"], f["actor_type"], f["actor"], f["role"],
                            f["venue_id"], f["ip"], f["user_agent"], f["target"], f["detail"])
        rows.append(dict(prev_hash=prev, hash=digest, seal=seal_of(digest, key) if key else None,
                         **f))
        prev = digest
    for start in range(0, len(rows), 1000):  # ids follow the list order: one statement per row
        conn.execute(insert(table), rows[start:start + 1000])


# ---------------------------------------------------------------------------------------
# Verification, checkpoints and anchors
# ---------------------------------------------------------------------------------------

@dataclass
class ChainReport:
    ok: bool
    bad_id: int | None = None
    reason: str = "ok"
    count: int = 0
    head_id: int | None = None
    head_hash: str = GENESIS

    def message(self) -> str:
        if self.ok:
            return (f"audit chain intact: {self.count} entries, head #{self.head_id} "
                    f"{self.head_hash}")
        return f"audit chain BROKEN at entry #{self.bad_id}: {self.reason}"


def _first_id_after(session: Session, after_id: int) -> int | None:
    return session.execute(select(func.min(AuditEntry.id)).where(AuditEntry.id > after_id)).scalar()


def verify_report(session: Session, anchors: Iterable[tuple[int, str]] = (),
                  batch: int = 2000, key: bytes | None = None) -> ChainReport:
    """Walk the whole chain in id order and name the first bad entry.

    * content that does not match its hash: that entry was **altered** (or forged, when
      its link is wrong too);
    * a correctly hashed entry whose previous-hash is the hash of an *earlier* entry than
      the one before it: the entries in between were **inserted** (the first is named);
    * a correctly hashed entry whose previous-hash matches no entry: the entry before it
      was **removed**, or altered and re-hashed (the entry whose link broke is named).
    * with ``AUDIT_HMAC_KEY`` (``key``): an entry whose seal does not match its hash, or an
      unsealed entry after the first sealed one, was **forged** by someone without the key
      (entries from before the key was set are counted as unsealed, not refused).
    Without the key, an entry appended at the end with a correct link and hash, or a
    correctly hashed forgery linking back to an old entry, is told apart only by anchors
    kept outside the database.
    Then every anchor (id, hash) kept outside the database must still be in the chain,
    which catches the newest entries being cut off (tail truncation).
    """
    prev, count, last_id = GENESIS, 0, None
    key = key if key is not None else seal_key()
    sealed_from = None  # id of the first sealed entry
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    for row in session.execute(stmt.execution_options(yield_per=batch)).scalars():
        own_ok = entry_hash(row.prev_hash, row.at, row.event, row.actor_type, row.actor, row.role,
                            row.venue_id, row.ip, row.user_agent, row.target, row.detail) == row.hash
        if row.prev_hash != prev:
            if not own_ok:
                return ChainReport(False, row.id, "the entry does not link to the entry before it "
                                   "and its content does not match its hash: forged or altered",
                                   count, last_id, prev)
            earlier = session.execute(select(AuditEntry.id).where(
                AuditEntry.hash == row.prev_hash, AuditEntry.id < row.id)).scalar()
            if earlier is not None:
                first = _first_id_after(session, earlier)
                return ChainReport(False, first, f"entry #{first} was inserted: entry #{row.id} "
                                   f"links to #{earlier}, past the entries in between", count,
                                   last_id, prev)
            return ChainReport(False, row.id, "previous-hash link broken: the entry before it "
                               "was removed, or altered and re-hashed", count, last_id, prev)
        if not own_ok:
            return ChainReport(False, row.id, "content does not match its hash: the entry was "
                               "altered", count, last_id, prev)
        if key:
            if row.seal is not None:
                if not hmac.compare_digest(row.seal, seal_of(row.hash, key)):
                    return ChainReport(False, row.id, "the seal (HMAC) does not match: the entry "
                                       "was forged or altered without the key", count, last_id, prev)
                sealed_from = sealed_from or row.id
            elif sealed_from is not None:
                return ChainReport(False, row.id, f"an unsealed entry after sealing began at "
                                   f"#{sealed_from}: forged without the key", count, last_id, prev)
        prev, last_id, count = row.hash, row.id, count + 1
    for anchor_id, anchor_hash in anchors:
        stored = session.execute(select(AuditEntry.hash).where(AuditEntry.id == anchor_id)).scalar()
        if stored is None:
            return ChainReport(False, anchor_id, "an anchored entry is missing: the newest "
                               "entries were removed (tail truncation)", count, last_id, prev)
        if stored != anchor_hash:
            return ChainReport(False, anchor_id, "an anchored entry's hash differs from the "
                               "anchor kept outside the database", count, last_id, prev)
    return ChainReport(True, None, "ok", count, last_id, prev)


def head(session: Session) -> tuple[int | None, str]:
    row = session.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc())
                          .limit(1)).first()
    return (row.id, row.hash) if row else (None, GENESIS)


def checkpoint(session: Session, actor: Actor = SYSTEM) -> str:
    """Record an ``audit_checkpoint`` entry naming the current head and return the anchor
    line ``"<id> <hash> <utc time>"`` of the checkpoint entry itself, to be kept outside
    the database (file on other storage, e-mail to the auditors, a WORM bucket)."""
    from . import audit

    head_id, head_hash = head(session)
    count = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    row = audit.record(session, "audit_checkpoint", actor, target=f"audit:{head_id or 0}",
                       detail={"head_id": head_id, "head_hash": head_hash, "entries": count})
    return f"{row.id} {row.hash} {row.at.isoformat(timespec='seconds')}Z"


def anchor_file() -> str:
    """Where anchor lines go: ``AUDIT_ANCHOR_FILE``, else ``instance/audit-anchors.txt``."""
    import os

    from flask import current_app

    return current_app.config.get("AUDIT_ANCHOR_FILE") or os.path.join(
        current_app.instance_path, "audit-anchors.txt")


def append_anchor(path: str, line: str) -> None:
    """Append an anchor line to ``path`` (a file that should live outside the database's
    reach: another host, WORM storage; or mail the line to the auditors)."""
    import os

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line.rstrip("\n") + "\n")


def parse_anchors(lines: Iterable[str]) -> list[tuple[int, str]]:
    """Anchor lines ``"<id> <hash> ..."``; blank lines and ``#`` comments are skipped."""
    anchors = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit() or len(parts[1]) != 64:
            raise ValueError(f"anchor line {number} is not '<id> <sha256 hex>': {line[:80]!r}")
        anchors.append((int(parts[0]), parts[1].lower()))
    return anchors


# ---------------------------------------------------------------------------------------
# The supervisor's review
# ---------------------------------------------------------------------------------------

@dataclass
class TrailFilter:
    """Filters of the trail; dates are Asia/Taipei calendar days, both ends included."""

    person: str = ""  # actor name (user name, citizen:<id>), case-insensitive exact match
    venue_id: int | None = None
    events: tuple[str, ...] = ()
    ip: str = ""  # exact address, or a prefix ending in "." or ":" (e.g. "10.0.")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    target: str = ""  # exact target, e.g. user:3, course:12

    def as_dict(self) -> dict:
        return {k: v for k, v in {
            "person": self.person, "venue_id": self.venue_id, "events": list(self.events),
            "ip": self.ip, "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "", "target": self.target,
        }.items() if v not in ("", None, [])}


def _day_start(day: dt.date) -> dt.datetime:
    return clock.taipei_to_utc(dt.datetime.combine(day, dt.time(0, 0)))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def trail_conditions(f: TrailFilter) -> list:
    where = []
    if f.person:
        where.append(func.lower(AuditEntry.actor) == f.person.strip().lower())
    if f.venue_id is not None:
        where.append(AuditEntry.venue_id == f.venue_id)
    if f.events:
        where.append(AuditEntry.event.in_(list(f.events)))
    if f.ip:
        ip = f.ip.strip()
        if ip.endswith((".", ":")):
            where.append(AuditEntry.ip.like(_escape_like(ip) + "%", escape="\\"))
        else:
            where.append(AuditEntry.ip == ip)
    if f.date_from:
        where.append(AuditEntry.at >= _day_start(f.date_from))
    if f.date_to:
        where.append(AuditEntry.at < _day_start(f.date_to + dt.timedelta(days=1)))
    if f.target:
        where.append(AuditEntry.target == f.target.strip())
    return where


def trail_page(session: Session, f: TrailFilter, page: int = 1, per_page: int = 50):
    """(entries newest first, total count) for one page of the filtered trail."""
    where = trail_conditions(f)
    total = session.execute(select(func.count()).select_from(AuditEntry).where(*where)).scalar_one()
    rows = session.execute(select(AuditEntry).where(*where).order_by(AuditEntry.id.desc())
                           .offset(max(page - 1, 0) * per_page).limit(per_page)).scalars().all()
    return rows, total


def trail_rows(session: Session, f: TrailFilter, limit: int = 100_000) -> list[AuditEntry]:
    return session.execute(select(AuditEntry).where(*trail_conditions(f))
                           .order_by(AuditEntry.id).limit(limit)).scalars().all()


def event_names(session: Session) -> list[str]:
    present = set(session.execute(select(AuditEntry.event).distinct()).scalars())
    return sorted(present | set(SECURITY_EVENTS))


def detail_of(entry: AuditEntry) -> dict:
    try:
        return json.loads(entry.detail or "{}")
    except ValueError:
        return {"raw": entry.detail}


CSV_HEADERS = ["id", "time (Asia/Taipei)", "event", "actor type", "actor", "role", "venue id",
               "IP", "user agent", "target", "detail", "hash"]


def trail_csv(entries: Iterable[AuditEntry]) -> str:
    """UTF-8 CSV (with BOM, so spreadsheet programs read the Chinese right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADERS)
    for e in entries:
        writer.writerow([e.id, clock.to_taipei(e.at).strftime("%Y-%m-%d %H:%M:%S"), e.event,
                         e.actor_type, _csv_safe(e.actor), e.role, e.venue_id or "", e.ip,
                         _csv_safe(e.user_agent), _csv_safe(e.target), _csv_safe(e.detail),
                         e.hash])
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in text a person could have typed."""
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@dataclass
class Hotspot:
    key: str
    failures: int
    first_at: dt.datetime
    last_at: dt.datetime
    distinct: int  # distinct accounts (by IP) or distinct IPs (by account)


def failed_login_hotspots(session: Session, since: dt.datetime | None = None,
                          limit: int = 50) -> dict[str, list[Hotspot]]:
    """Failed, locked-out and refused log-ins grouped by IP and by account name.

    The account of a staff attempt is the user name typed (known or not); of a citizen
    attempt the ``citizen:<id>`` target (unknown e-mail addresses are not stored)."""
    where = [AuditEntry.event.in_(FAILED_LOGIN_EVENTS)]
    if since is not None:
        where.append(AuditEntry.at >= since)
    account = case((and_(AuditEntry.actor_type.in_(("anonymous", "citizen")),
                         AuditEntry.target != ""), AuditEntry.target),
                   (AuditEntry.actor.in_(("", "anonymous")), "(unknown)"),
                   else_=AuditEntry.actor)
    by_ip = session.execute(
        select(AuditEntry.ip, func.count(), func.min(AuditEntry.at), func.max(AuditEntry.at),
               func.count(func.distinct(account)))
        .where(*where).group_by(AuditEntry.ip).order_by(func.count().desc(), AuditEntry.ip)
        .limit(limit)).all()
    by_account = session.execute(
        select(account, func.count(), func.min(AuditEntry.at), func.max(AuditEntry.at),
               func.count(func.distinct(AuditEntry.ip)))
        .where(*where).group_by(account).order_by(func.count().desc(), account)
        .limit(limit)).all()
    return {"ip": [Hotspot(r[0] or "(none)", r[1], r[2], r[3], r[4]) for r in by_ip],
            "account": [Hotspot(r[0], r[1], r[2], r[3], r[4]) for r in by_account]}


@dataclass
class AccountSummary:
    id: int
    username: str
    full_name: str
    active: bool
    venue: str
    roles: list[str]
    permissions: dict[str, list[str]]  # role -> ["can_list on CourseView", …]
    groups: list[str] = field(default_factory=list)
    last_login: dt.datetime | None = None
    fail_login_count: int = 0


def accounts_overview(session: Session) -> list[AccountSummary]:
    """Every back-office account with its venue, roles (direct and through groups) and
    the permissions those roles give."""
    from ..models import StaffProfile, User

    venues = {p.user_id: (p.venue.name if p.venue else "") for p in
              session.execute(select(StaffProfile)).scalars()}
    out = []
    for user in session.execute(select(User).order_by(User.username)).scalars():
        roles = list(user.roles or [])
        groups = list(getattr(user, "groups", None) or [])
        for group in groups:
            roles += [r for r in group.roles if r not in roles]
        perms = {r.name: sorted(label_of(pv) for pv in r.permissions) for r in roles}
        out.append(AccountSummary(
            user.id, user.username, f"{user.first_name} {user.last_name}".strip(),
            bool(user.active), venues.get(user.id, ""), sorted(r.name for r in roles), perms,
            sorted(g.name for g in groups), user.last_login, user.fail_login_count or 0))
    return out


def account_history(session: Session, user_id: int, username: str, limit: int = 500):
    """The security history of one account: changes made *to* it (roles, venue, details,
    password) and its log-ins, newest first."""
    about = [AuditEntry.target == f"user:{user_id}"]
    return session.execute(select(AuditEntry).where(
        or_(*about), AuditEntry.event.in_(SECURITY_EVENTS)).order_by(AuditEntry.id.desc())
        .limit(limit)).scalars().all()


def role_history(session: Session, limit: int = 500):
    """Changes to roles and their permissions, newest first."""
    return session.execute(select(AuditEntry).where(AuditEntry.event.in_((
        "role_created", "role_updated", "role_deleted", "role_permissions_changed",
        "group_roles_changed", "group_users_changed", "permission_created",
        "permission_deleted"))).order_by(AuditEntry.id.desc()).limit(limit)).scalars().all()


# ---------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------

def record_export(session: Session, actor: Actor, what: str, fmt: str, rows: int | None,
                  target: str = "", **context) -> None:
    """Record an export or download (every file the back office hands out); ``rows`` is
    the number of records in the file, ``None`` when the caller cannot tell."""
    from . import audit

    audit.record(session, "export", actor, target=target or what,
                 detail={"what": what, "format": fmt, "rows": rows, **context})
