"""Collection files (代收明細檔) from the bank and the convenience-store clearing house,
and ECPay-style CheckMacValue signatures for payment-gateway callbacks.

Pure functions over text and bytes; standard library only, no database, no Flask.

File layout (see ``shared/specs/payments.md``, "Reconciliation"): one record per line,
fixed width, an optional header line first (``H`` + anything), detail lines (``D``), and
exactly one trailer line last (``T`` + counts and totals).  Widths are counted in
characters of the decoded text.  Parsing is all-or-nothing: every problem in the file is
collected and reported together in one :class:`FileFormatError`; nothing of a bad file
is returned.

Error messages are meant to be translated later: each :class:`LineError` carries a
stable ``code`` and ``params``; :data:`MESSAGES` holds the English template for each
code in ``%(name)s`` style, ready to be wrapped in ``gettext`` by the view layer.
"""
from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from dataclasses import dataclass, field
from datetime import date, time
from typing import Iterable, Literal, Mapping, Union

__all__ = [
    "BANK_DETAIL_WIDTH", "BANK_TRAILER_WIDTH", "STORE_DETAIL_WIDTH", "STORE_TRAILER_WIDTH",
    "CHANNELS", "CHAINS", "MESSAGES", "ERROR_CODES",
    "BankCredit", "StoreCredit", "ParsedFile", "LineError", "FileFormatError",
    "decode_file", "encode_file", "detect_kind", "parse_bank_file", "parse_store_file",
    "parse_collection_file", "format_bank_file", "format_store_file",
    "check_mac_value", "verify_check_mac_value",
]

BANK_DETAIL_WIDTH = 67
STORE_DETAIL_WIDTH = 89
BANK_TRAILER_WIDTH = 1 + 8 + 13 + 13
STORE_TRAILER_WIDTH = 1 + 8 + 13

#: Bank channel letter -> channel name.
CHANNELS = {"A": "counter", "T": "atm", "C": "internet", "X": "webatm"}
_CHANNEL_LETTERS = {name: letter for letter, name in CHANNELS.items()}
#: Convenience-store chains known to the clearing house.
CHAINS = ("711", "FAM", "HIL", "OKM")

_DIGITS = frozenset("0123456789")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# Code 39 characters except space (a barcode segment is never blank-padded).
_CODE39 = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.$/+%")

#: English templates, keyed by error code; ``params`` of a LineError fill them in.
MESSAGES: dict[str, str] = {
    "encoding": "The file is neither valid UTF-8 nor Big5 (cp950) text.",
    "empty_file": "The file is empty.",
    "unknown_kind": "Cannot tell a bank file (detail lines of 67 characters) from a "
                    "convenience-store file (89 characters).",
    "blank_line": "Blank line between the header and the trailer.",
    "bad_record_type": "Unknown record type %(found)r; expected H, D or T.",
    "header_misplaced": "A header line (H) is allowed only as the first line.",
    "trailer_misplaced": "A trailer line (T) is allowed only once, as the last line.",
    "trailer_missing": "The file has no trailer line (T) as its last line.",
    "bad_width": "Expected %(expected)d characters, found %(found)d.",
    "bad_date": "The %(field)s %(value)r is not a valid YYYYMMDD date.",
    "bad_time": "The %(field)s %(value)r is not a valid HHMMSS time.",
    "bad_channel": "Unknown channel %(value)r; expected A, T, C or X.",
    "bad_sign": "Unknown sign %(value)r; expected + or -.",
    "bad_chain": "Unknown store chain %(value)r; expected 711, FAM, HIL or OKM.",
    "bad_amount": "The amount %(value)r is not a positive zero-padded whole number.",
    "bad_account": "The virtual account %(value)r is not left-aligned letters and digits.",
    "bad_serial": "The serial %(value)r is not letters and digits.",
    "bad_bank_code": "The payer bank code %(value)r is not 3 digits.",
    "bad_barcode": "Barcode %(field)s %(value)r has characters outside Code 39.",
    "bad_store_id": "The store id %(value)r is not left-aligned letters and digits.",
    "bad_trailer": "The trailer field %(field)s %(value)r is not a zero-padded number.",
    "trailer_count": "The trailer says %(expected)d detail lines, the file has %(found)d.",
    "trailer_total": "The trailer %(field)s total is %(expected)d, the detail lines add "
                     "up to %(found)d.",
    "duplicate_serial_in_file": "The serial %(value)r already appears on line %(first_line)d.",
}
#: Every error code this module can raise.
ERROR_CODES = frozenset(MESSAGES)


# --------------------------------------------------------------------------- records

@dataclass(frozen=True)
class BankCredit:
    """One detail line of a bank virtual-account collection file."""

    line_no: int
    txn_date: date
    txn_time: time
    posting_date: date
    channel: str            # 'counter' | 'atm' | 'internet' | 'webatm'
    virtual_account: str    # stripped
    sign: str               # '+' credit, '-' reversal of an earlier credit
    amount: int
    serial: str             # stripped; the idempotency key
    payer_bank: str         # 3 digits, or '' when the bank left it blank


@dataclass(frozen=True)
class StoreCredit:
    """One detail line of a convenience-store clearing-house file."""

    line_no: int
    chain: str              # '711' | 'FAM' | 'HIL' | 'OKM'
    paid_date: date
    paid_time: time
    barcode1: str
    barcode2: str           # the payment reference (銷帳編號), 16 characters
    barcode3: str
    amount: int
    store_id: str           # stripped
    serial: str             # stripped; the idempotency key


Record = Union[BankCredit, StoreCredit]


@dataclass
class ParsedFile:
    """A collection file that passed every check.

    ``line_count`` is the number of detail records (what the trailer counts), not the
    number of physical lines.  For a store file ``debit_total`` is always 0.
    """

    kind: Literal["bank", "store"]
    records: list
    line_count: int
    credit_total: int
    debit_total: int
    header: str | None = None
    encoding: str | None = None


# --------------------------------------------------------------------------- errors

@dataclass(frozen=True)
class LineError:
    """One problem in a file.  ``line_no`` is 1-based; None for file-level problems."""

    line_no: int | None
    code: str
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def message_key(self) -> str:
        """The translation key: the stable error code."""
        return self.code

    @property
    def detail(self) -> str:
        """The English message without the line number."""
        return MESSAGES[self.code] % dict(self.params)

    @property
    def message(self) -> str:
        """The English message with the line number, e.g. ``Line 3: ...``."""
        return self.detail if self.line_no is None else f"Line {self.line_no}: {self.detail}"

    def __str__(self) -> str:
        return self.message


class FileFormatError(ValueError):
    """A collection file that must be rejected whole; ``errors`` lists every problem."""

    def __init__(self, errors: list[LineError]):
        self.errors = list(errors)
        shown = "; ".join(e.message for e in self.errors[:10])
        more = len(self.errors) - 10
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))

    @property
    def codes(self) -> list[str]:
        """The error codes, in file order (handy in tests and logs)."""
        return [e.code for e in self.errors]


# --------------------------------------------------------------------------- encoding

def decode_file(raw: bytes) -> tuple[str, str]:
    """Decode an uploaded file: UTF-8 (with or without BOM) if it decodes strictly,
    else Big5 as Windows code page 950.  Returns ``(text, encoding)`` where encoding is
    ``'utf-8-sig'``, ``'utf-8'`` or ``'cp950'``."""
    if raw.startswith(b"\xef\xbb\xbf"):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "cp950")
    for encoding in candidates:
        try:
            return raw.decode(encoding, errors="strict"), encoding
        except UnicodeDecodeError:
            continue
    raise FileFormatError([LineError(None, "encoding")])


def encode_file(text: str, encoding: str) -> bytes:
    """Encode ``text`` as a collection file would arrive: 'utf-8', 'utf-8-sig'
    (with BOM) or 'cp950' / 'big5' (both mean code page 950)."""
    name = encoding.lower().replace("_", "-")
    if name in ("big5", "cp950", "ms950"):
        name = "cp950"
    return text.encode(name, errors="strict")


# --------------------------------------------------------------------------- parsing

def _split_lines(text: str) -> list[str]:
    """Physical lines without their '\\n' and one trailing '\\r'; trailing empty lines
    dropped.  A leading BOM left in the text is ignored."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def detect_kind(text: str) -> Literal["bank", "store"]:
    """Tell a bank file from a store file by the width of its first detail line (67 or
    89), or, for a file without detail lines, by the width of its trailer."""
    lines = _split_lines(text)
    if not lines:
        raise FileFormatError([LineError(None, "empty_file")])
    for no, line in enumerate(lines, 1):
        if line.startswith("D"):
            if len(line) == BANK_DETAIL_WIDTH:
                return "bank"
            if len(line) == STORE_DETAIL_WIDTH:
                return "store"
            raise FileFormatError([LineError(no, "unknown_kind")])
    if lines[-1].startswith("T"):
        if len(lines[-1]) == BANK_TRAILER_WIDTH:
            return "bank"
        if len(lines[-1]) == STORE_TRAILER_WIDTH:
            return "store"
    raise FileFormatError([LineError(None, "unknown_kind")])


class _LineReader:
    """Slices one fixed-width line field by field, recording problems as it goes."""

    def __init__(self, line: str, no: int, errors: list[LineError]):
        self.line, self.no, self.errors, self.pos = line, no, errors, 0
        self.ok = True

    def take(self, width: int) -> str:
        value = self.line[self.pos:self.pos + width]
        self.pos += width
        return value

    def fail(self, code: str, **params) -> None:
        self.ok = False
        self.errors.append(LineError(self.no, code, params))

    def date(self, name: str) -> date | None:
        value = self.take(8)
        if set(value) <= _DIGITS:
            try:
                return date(int(value[:4]), int(value[4:6]), int(value[6:]))
            except ValueError:
                pass
        self.fail("bad_date", field=name, value=value)
        return None

    def time(self, name: str) -> time | None:
        value = self.take(6)
        if set(value) <= _DIGITS:
            try:
                return time(int(value[:2]), int(value[2:4]), int(value[4:]))
            except ValueError:
                pass
        self.fail("bad_time", field=name, value=value)
        return None

    def amount(self, width: int) -> int:
        value = self.take(width)
        if set(value) <= _DIGITS and int(value) > 0:
            return int(value)
        self.fail("bad_amount", value=value)
        return 0

    def padded(self, width: int, code: str, *, left_aligned: bool = True) -> str:
        """A space-padded field of ASCII letters and digits, returned stripped.  With
        ``left_aligned`` only trailing padding is allowed, else padding on either side."""
        value = self.take(width)
        stripped = value.rstrip(" ") if left_aligned else value.strip(" ")
        if not stripped or not set(stripped) <= _ALNUM:
            self.fail(code, value=value)
        return stripped

    def choice(self, width: int, code: str, allowed) -> str:
        value = self.take(width)
        if value not in allowed:
            self.fail(code, value=value)
        return value


def _read_bank_detail(r: _LineReader) -> BankCredit | None:
    r.take(1)  # 'D'
    txn_date = r.date("transaction date")
    txn_time = r.time("transaction time")
    posting_date = r.date("posting date")
    channel = r.choice(1, "bad_channel", CHANNELS)
    account = r.padded(16, "bad_account")
    sign = r.choice(1, "bad_sign", ("+", "-"))
    amount = r.amount(11)
    serial = r.padded(12, "bad_serial", left_aligned=False)
    bank = r.take(3)
    if not (set(bank) <= _DIGITS or bank == "   "):
        r.fail("bad_bank_code", value=bank)
    if not r.ok:
        return None
    return BankCredit(r.no, txn_date, txn_time, posting_date, CHANNELS[channel], account,
                      sign, amount, serial, bank.strip())


def _read_store_detail(r: _LineReader) -> StoreCredit | None:
    r.take(1)  # 'D'
    chain = r.choice(3, "bad_chain", CHAINS)
    paid_date = r.date("paid date")
    paid_time = r.time("paid time")
    barcodes = []
    for n, width in ((1, 9), (2, 16), (3, 15)):
        value = r.take(width)
        if not set(value) <= _CODE39:
            r.fail("bad_barcode", field=str(n), value=value)
        barcodes.append(value)
    amount = r.amount(9)
    store_id = r.padded(10, "bad_store_id")
    serial = r.padded(12, "bad_serial", left_aligned=False)
    if not r.ok:
        return None
    return StoreCredit(r.no, chain, paid_date, paid_time, *barcodes, amount, store_id, serial)


def _parse(text: str, kind: str) -> ParsedFile:
    """Shared frame checks (header, trailer, widths, counts, totals, duplicates)."""
    bank = kind == "bank"
    detail_width = BANK_DETAIL_WIDTH if bank else STORE_DETAIL_WIDTH
    trailer_width = BANK_TRAILER_WIDTH if bank else STORE_TRAILER_WIDTH
    read_detail = _read_bank_detail if bank else _read_store_detail

    lines = _split_lines(text)
    if not lines:
        raise FileFormatError([LineError(None, "empty_file")])
    errors: list[LineError] = []
    records: list[Record] = []
    detail_lines = 0
    header = lines[0] if lines[0].startswith("H") else None
    first_body = 1 if header is not None else 0
    trailer_no = len(lines) if lines[-1].startswith("T") and len(lines) > first_body else None
    if trailer_no is None:
        errors.append(LineError(None, "trailer_missing"))
    body_end = len(lines) - 1 if trailer_no else len(lines)
    first_seen: dict[str, int] = {}

    for no in range(first_body + 1, body_end + 1):
        line = lines[no - 1]
        kind_char = line[:1]
        if line == "":
            errors.append(LineError(no, "blank_line"))
        elif kind_char == "H":
            errors.append(LineError(no, "header_misplaced"))
        elif kind_char == "T":
            errors.append(LineError(no, "trailer_misplaced"))
        elif kind_char != "D":
            errors.append(LineError(no, "bad_record_type", {"found": kind_char}))
        elif len(line) != detail_width:
            detail_lines += 1
            errors.append(LineError(no, "bad_width",
                                    {"expected": detail_width, "found": len(line)}))
        else:
            detail_lines += 1
            record = read_detail(_LineReader(line, no, errors))
            if record is None:
                continue
            if record.serial in first_seen:
                errors.append(LineError(no, "duplicate_serial_in_file",
                                        {"value": record.serial,
                                         "first_line": first_seen[record.serial]}))
            else:
                first_seen[record.serial] = no
            records.append(record)

    credit = sum(r.amount for r in records if getattr(r, "sign", "+") == "+")
    debit = sum(r.amount for r in records if getattr(r, "sign", "+") == "-")
    if trailer_no:
        details_ok = not errors
        errors.extend(_check_trailer(lines[-1], trailer_no, trailer_width, bank,
                                     detail_lines, credit, debit, details_ok))
    if errors:
        raise FileFormatError(errors)
    return ParsedFile(kind, records, len(records), credit, debit if bank else 0, header)


def _check_trailer(line: str, no: int, width: int, bank: bool, detail_lines: int,
                   credit: int, debit: int, details_ok: bool) -> list[LineError]:
    """Check the trailer's own format, its record count and (only when every detail
    line was readable, so the sums mean something) its totals."""
    if len(line) != width:
        return [LineError(no, "bad_width", {"expected": width, "found": len(line)})]
    fields = [("count", line[1:9]), ("credit" if bank else "total", line[9:22])]
    if bank:
        fields.append(("debit", line[22:35]))
    errors = [LineError(no, "bad_trailer", {"field": name, "value": value})
              for name, value in fields if not set(value) <= _DIGITS]
    if errors:
        return errors
    count, *totals = (int(value) for _, value in fields)
    if count != detail_lines:
        errors.append(LineError(no, "trailer_count", {"expected": count, "found": detail_lines}))
    if details_ok:
        for (name, _), expected, found in zip(fields[1:], totals, (credit, debit)):
            if expected != found:
                errors.append(LineError(no, "trailer_total",
                                        {"field": name, "expected": expected, "found": found}))
    return errors


def parse_bank_file(text: str) -> ParsedFile:
    """Parse a bank virtual-account collection file, or raise FileFormatError listing
    every problem.  ``credit_total`` sums '+' lines, ``debit_total`` sums '-' lines."""
    return _parse(text, "bank")


def parse_store_file(text: str) -> ParsedFile:
    """Parse a convenience-store clearing-house file, or raise FileFormatError listing
    every problem."""
    return _parse(text, "store")


def parse_collection_file(raw: bytes) -> ParsedFile:
    """Decode, detect and parse an uploaded file in one step; records the encoding."""
    text, encoding = decode_file(raw)
    kind = detect_kind(text)
    parsed = _parse(text, kind)
    parsed.encoding = encoding
    return parsed


# --------------------------------------------------------------------------- writing

def _fit(value: str, width: int, what: str, *, pad: str = " ", left: bool = True) -> str:
    if len(value) > width:
        raise ValueError(f"{what} {value!r} is longer than {width} characters")
    return value.ljust(width, pad) if left else value.rjust(width, pad)


def _ymd(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def _hms(t: time) -> str:
    return f"{t.hour:02d}{t.minute:02d}{t.second:02d}"


def _exact(value: str, width: int, what: str) -> str:
    if len(value) != width:
        raise ValueError(f"{what} {value!r} must be exactly {width} characters")
    return value


def _number(value: int, width: int, what: str) -> str:
    if value < 0:
        raise ValueError(f"{what} {value} is negative")
    return _fit(str(value), width, what, pad="0", left=False)


def _frame(header_text: str | None, body: list[str], trailer: str, newline: str) -> str:
    if header_text is not None and (not header_text.startswith("H") or "\n" in header_text
                                    or "\r" in header_text):
        raise ValueError("header_text must be one line starting with 'H'")
    lines = ([header_text] if header_text is not None else []) + body + [trailer]
    return newline.join(lines) + newline


def format_bank_file(records: Iterable[BankCredit], header_text: str | None = "H臺灣銀行代收明細",
                     *, newline: str = "\n") -> str:
    """Write a bank collection file that :func:`parse_bank_file` accepts.
    ``header_text`` is the whole header line (starting with 'H'), or None for none;
    record ``line_no`` values are ignored."""
    body, credit, debit = [], 0, 0
    for r in records:
        body.append("".join([
            "D", _ymd(r.txn_date), _hms(r.txn_time), _ymd(r.posting_date),
            _CHANNEL_LETTERS[r.channel],
            _fit(r.virtual_account, 16, "virtual account"), r.sign,
            _number(r.amount, 11, "amount"), _fit(r.serial, 12, "serial"),
            _fit(r.payer_bank, 3, "payer bank"),
        ]))
        if r.sign == "+":
            credit += r.amount
        else:
            debit += r.amount
    trailer = ("T" + _number(len(body), 8, "count") + _number(credit, 13, "credit total")
               + _number(debit, 13, "debit total"))
    return _frame(header_text, body, trailer, newline)


def format_store_file(records: Iterable[StoreCredit], header_text: str | None = "H超商代收明細",
                      *, newline: str = "\n") -> str:
    """Write a convenience-store collection file that :func:`parse_store_file` accepts.
    ``header_text`` is the whole header line (starting with 'H'), or None for none."""
    body, total = [], 0
    for r in records:
        body.append("".join([
            "D", _exact(r.chain, 3, "chain"), _ymd(r.paid_date), _hms(r.paid_time),
            _exact(r.barcode1, 9, "barcode 1"),
            _fit(r.barcode2, 16, "barcode 2", pad="0", left=False),
            _exact(r.barcode3, 15, "barcode 3"), _number(r.amount, 9, "amount"),
            _fit(r.store_id, 10, "store id"), _fit(r.serial, 12, "serial"),
        ]))
        total += r.amount
    trailer = "T" + _number(len(body), 8, "count") + _number(total, 13, "total")
    return _frame(header_text, body, trailer, newline)


# --------------------------------------------------------------------------- ECPay

# .NET HttpUtility.UrlEncode leaves these unencoded; Python's quote_plus encodes them.
_DOTNET_RESTORE = (("%2d", "-"), ("%5f", "_"), ("%2e", "."), ("%21", "!"),
                   ("%2a", "*"), ("%28", "("), ("%29", ")"))


def _ecpay_urlencode(text: str) -> str:
    """URL-encode like ECPay's server (.NET HttpUtility.UrlEncode), lower-cased:
    space -> '+', UTF-8 percent-escapes, ``-_.!*()`` kept.  Unlike Python, .NET also
    escapes '~' (as %7e), and so do PHP's urlencode and ECPay's PHP SDK."""
    encoded = urllib.parse.quote_plus(text, safe="").lower()
    encoded = encoded.replace("~", "%7e")
    for escaped, char in _DOTNET_RESTORE:
        encoded = encoded.replace(escaped, char)
    return encoded


def check_mac_value(params: Mapping[str, object], hash_key: str, hash_iv: str, *,
                    algorithm: str = "sha256") -> str:
    """ECPay's CheckMacValue: parameters (except CheckMacValue) sorted by name
    case-insensitively, joined as ``HashKey=..&k=v&..&HashIV=..``, URL-encoded the .NET
    way and lower-cased, hashed (SHA256; 'md5' for the older logistics/invoice APIs),
    upper-case hex."""
    items = sorted(((str(k), "" if v is None else str(v)) for k, v in params.items()
                    if str(k).lower() != "checkmacvalue"),
                   key=lambda kv: (kv[0].lower(), kv[0]))
    raw = "&".join([f"HashKey={hash_key}", *(f"{k}={v}" for k, v in items), f"HashIV={hash_iv}"])
    digest = hashlib.new(algorithm, _ecpay_urlencode(raw).encode("utf-8"))
    return digest.hexdigest().upper()


def verify_check_mac_value(params: Mapping[str, object], hash_key: str, hash_iv: str, *,
                           algorithm: str = "sha256") -> bool:
    """True when ``params['CheckMacValue']`` matches (constant-time compare, case
    -insensitive hex).  A missing or non-string value is simply False."""
    given = params.get("CheckMacValue")
    if not isinstance(given, str):
        return False
    expected = check_mac_value(params, hash_key, hash_iv, algorithm=algorithm)
    return hmac.compare_digest(expected.encode("ascii"), given.upper().encode("utf-8"))
