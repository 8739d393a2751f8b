"""Payment codes printed on a payment slip (繳款單): pure functions, no database, no Flask.

* Virtual account (虛擬帳號) for bank counter, ATM and internet banking.  The check digit is
  bank-specific, so it is a pluggable strategy looked up by name (chosen per venue).
* Convenience-store three-segment barcode (超商代收三段條碼, Code 39).
* A small text payload for the QR code read by banking apps.

See ``/work/shared/specs/payments.md``.
"""
from __future__ import annotations

import datetime
import re
from typing import Callable

VirtualAccountStrategy = Callable[[str, int, int], str]
"""``strategy(collection_code, serial, amount) -> virtual account``."""

DEFAULT_STRATEGY = "amount-weighted-v1"

_STRATEGIES: dict[str, VirtualAccountStrategy] = {}

MAX_SERIAL = 99_999_999
MAX_VA_AMOUNT = 99_999_999  # the amount is zero-padded to 8 digits in the check sum
MAX_STORE_AMOUNT = 999_999_999  # segment 3 carries 9 digits

# ---------------------------------------------------------------------------------------------
# Virtual account (虛擬帳號)
# ---------------------------------------------------------------------------------------------


def register_strategy(name: str) -> Callable[[VirtualAccountStrategy], VirtualAccountStrategy]:
    """Decorator registering a virtual-account check-digit strategy under ``name``."""

    def decorator(func: VirtualAccountStrategy) -> VirtualAccountStrategy:
        if name in _STRATEGIES and _STRATEGIES[name] is not func:
            raise ValueError(f"virtual-account strategy {name!r} is already registered")
        _STRATEGIES[name] = func
        return func

    return decorator


def get_strategy(name: str) -> VirtualAccountStrategy:
    """The strategy registered under ``name``; ``LookupError`` naming the known ones if none."""
    try:
        return _STRATEGIES[name]
    except KeyError:
        known = ", ".join(sorted(_STRATEGIES)) or "none"
        raise LookupError(f"unknown virtual-account strategy {name!r} (known: {known})") from None


def available_strategies() -> list[str]:
    """Names of the registered strategies, e.g. for a venue settings form."""
    return sorted(_STRATEGIES)


def _check_int(value: object, name: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not 0 <= value <= maximum:
        raise ValueError(f"{name} must be between 0 and {maximum}, got {value}")
    return value


def _check_collection_code(code: object) -> str:
    if not isinstance(code, str) or not re.fullmatch(r"[0-9]{5}", code):
        raise ValueError(f"collection code (企業代號) must be exactly 5 digits, got {code!r}")
    return code


_VA_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 4, 6, 8, 1, 3, 5, 7, 9, 7, 5, 3)


@register_strategy(DEFAULT_STRATEGY)
def virtual_account(collection_code: str, serial: int, amount: int) -> str:
    """Default 14-digit virtual account (虛擬帳號) whose check digit also checks the amount.

    base = 5-digit collection code (企業代號) + 8-digit serial; s = amount zero-padded to 8
    digits + base (21 digits); c = 11 - (sum of digit x weight mod 11), 10 -> 0, 11 -> 1;
    result = base + c.

    Note: the mapping makes residues 0 and 10 both give check digit 1, so a wrong amount or
    a mistyped digit that moves the residue between 0 and 10 is *not* detected.
    """
    _check_collection_code(collection_code)
    _check_int(serial, "serial", MAX_SERIAL)
    _check_int(amount, "amount", MAX_VA_AMOUNT)
    base = f"{collection_code}{serial:08d}"
    digits = f"{amount:08d}{base}"
    total = sum(int(d) * w for d, w in zip(digits, _VA_WEIGHTS))
    check = 11 - total % 11
    check = {10: 0, 11: 1}.get(check, check)
    return f"{base}{check}"


def verify_virtual_account(va: str, amount: int, strategy: str = DEFAULT_STRATEGY) -> bool:
    """Whether ``va`` (5-digit code + 8-digit serial + check digit) is valid for ``amount``.

    Never raises for malformed input: it is simply not valid.
    """
    if not isinstance(va, str) or not re.fullmatch(r"[0-9]{14}", va):
        return False
    try:
        return get_strategy(strategy)(va[:5], int(va[5:13]), amount) == va
    except ValueError:
        return False


# ---------------------------------------------------------------------------------------------
# Convenience-store three-segment barcode (超商代收三段條碼)
# ---------------------------------------------------------------------------------------------

_CHECK_VALUES: dict[str, int] = {str(d): d for d in range(10)}
_CHECK_VALUES.update({c: i + 1 for i, c in enumerate("ABCDEFGHI")})
_CHECK_VALUES.update({c: i + 1 for i, c in enumerate("JKLMNOPQR")})
_CHECK_VALUES.update({c: i + 2 for i, c in enumerate("STUVWXYZ")})
_CHECK_VALUES.update(zip("+%-. $/", (1, 2, 6, 7, 8, 9, 0)))


def roc_year(day: datetime.date) -> int:
    """民國年 (ROC year) = Gregorian year - 1911."""
    return day.year - 1911


def _roc_yymm(day: datetime.date) -> str:
    year = roc_year(day)
    if year < 1:
        raise ValueError(f"date {day} is before the ROC calendar (民國元年 = 1912)")
    return f"{year % 100:02d}{day.month:02d}"


def _code39_text(value: object, name: str, max_len: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ValueError(f"{name} must be 1 to {max_len} characters, got {value!r}")
    bad = sorted({c for c in value if c not in _CHECK_VALUES})
    if bad:
        raise ValueError(f"{name} has characters not allowed in Code 39: {''.join(bad)!r}")
    return value


def _check_chars(segment1: str, segment2: str, segment3_without_check: str) -> str:
    """The 2 check characters: odd/even position sums (positions from 1 in each segment)."""
    odd = even = 0
    for segment in (segment1, segment2, segment3_without_check):
        for position, char in enumerate(segment, start=1):
            if position % 2:
                odd += _CHECK_VALUES[char]
            else:
                even += _CHECK_VALUES[char]
    odd, even = odd % 11, even % 11
    first = {0: "A", 10: "B"}.get(odd, str(odd))
    second = {0: "X", 10: "Y"}.get(even, str(even))
    return first + second


def store_barcodes(
    deadline: datetime.date, item_code: str, reference: str, amount: int
) -> tuple[str, str, str]:
    """The three Code 39 segments for convenience-store collection (超商代收).

    1. ROC YYMMDD of the payment deadline (代收期限, last two digits of the ROC year) +
       the 3-character collection item code (代收項目代號): 9 characters.
    2. The payment reference (銷帳編號, usually the virtual account) left-padded with 0: 16.
    3. ROC YYMM of the due date + 2 check characters + amount zero-padded to 9 digits: 15.
    """
    if not isinstance(deadline, datetime.date):
        raise ValueError(f"deadline must be a date, got {deadline!r}")
    if isinstance(deadline, datetime.datetime):
        deadline = deadline.date()
    item_code = _code39_text(item_code, "collection item code (代收項目代號)", 3)
    if len(item_code) != 3:
        raise ValueError(f"collection item code (代收項目代號) must be 3 characters, got {item_code!r}")
    reference = _code39_text(reference, "payment reference (銷帳編號)", 16)
    _check_int(amount, "amount", MAX_STORE_AMOUNT)
    yymm = _roc_yymm(deadline)
    segment1 = f"{yymm}{deadline.day:02d}{item_code}"
    segment2 = reference.rjust(16, "0")
    amount_text = f"{amount:09d}"
    check = _check_chars(segment1, segment2, yymm + amount_text)
    return segment1, segment2, f"{yymm}{check}{amount_text}"


def verify_store_barcodes(barcode1: str, barcode2: str, barcode3: str) -> bool:
    """Whether the three segments have the right shape and check characters."""
    try:
        if (len(barcode1), len(barcode2), len(barcode3)) != (9, 16, 15):
            return False
        for text in (barcode1, barcode2, barcode3):
            _code39_text(text, "barcode", 16)
    except (TypeError, ValueError):
        return False
    if not (barcode1[:6].isdigit() and barcode3[:4].isdigit() and barcode3[6:].isdigit()):
        return False
    if not (1 <= int(barcode1[2:4]) <= 12 and 1 <= int(barcode1[4:6]) <= 31):
        return False
    if not 1 <= int(barcode3[2:4]) <= 12:
        return False
    return _check_chars(barcode1, barcode2, barcode3[:4] + barcode3[6:]) == barcode3[4:6]


def store_barcode_amount(barcode3: str) -> int:
    """The amount carried by segment 3 (its last 9 digits)."""
    return int(barcode3[6:])


# ---------------------------------------------------------------------------------------------
# QR code payload for banking apps
# ---------------------------------------------------------------------------------------------


def qr_payload(bank_code: str, virtual_account: str, amount: int) -> str:
    """Text encoded in the slip's QR code, e.g. ``bank=004;account=98765000000012;amount=2800``.

    Fields are ``key=value`` pairs separated by ``;`` in this fixed order: ``bank`` (3-digit
    bank code, 銀行代碼), ``account`` (the virtual account, digits only), ``amount`` (whole NT$).
    """
    if not isinstance(bank_code, str) or not re.fullmatch(r"[0-9]{3}", bank_code):
        raise ValueError(f"bank code must be exactly 3 digits, got {bank_code!r}")
    if not isinstance(virtual_account, str) or not re.fullmatch(r"[0-9]{1,16}", virtual_account):
        raise ValueError(f"virtual account must be 1 to 16 digits, got {virtual_account!r}")
    _check_int(amount, "amount", MAX_STORE_AMOUNT)
    return f"bank={bank_code};account={virtual_account};amount={amount}"


def parse_qr_payload(payload: str) -> tuple[str, str, int]:
    """Inverse of :func:`qr_payload`: ``(bank_code, virtual_account, amount)``."""
    match = re.fullmatch(r"bank=([0-9]{3});account=([0-9]{1,16});amount=([0-9]{1,9})", payload)
    if not match:
        raise ValueError(f"not a payment QR payload: {payload!r}")
    return match[1], match[2], int(match[3])
