"""Virtual account (虛擬帳號), store barcodes (超商三段條碼) and QR payload: spec vectors + properties."""
import datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.services.payment_codes import (
    DEFAULT_STRATEGY,
    _VA_WEIGHTS,
    available_strategies,
    get_strategy,
    parse_qr_payload,
    qr_payload,
    register_strategy,
    store_barcode_amount,
    store_barcodes,
    verify_store_barcodes,
    verify_virtual_account,
    virtual_account,
)

codes = st.from_regex(r"[0-9]{5}", fullmatch=True)
serials = st.integers(0, 99_999_999)
amounts = st.integers(0, 99_999_999)
dates = st.dates(datetime.date(1912, 1, 1), datetime.date(2110, 12, 31))
CODE39 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+%-. $/"
item_codes = st.text(CODE39, min_size=3, max_size=3)
references = st.text(CODE39, min_size=1, max_size=16)


def residue(va: str, amount: int) -> int:
    """Σ digit×weight mod 11 over amount(8) + base(13), as in the spec."""
    digits = f"{amount:08d}{va[:13]}"
    return sum(int(d) * w for d, w in zip(digits, _VA_WEIGHTS)) % 11


# --- virtual account ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, serial, amount, expected",
    [
        ("98765", 1, 2800, "98765000000012"),
        ("98765", 1, 2660, "98765000000015"),
        ("12345", 11500042, 1400, "12345115000423"),
    ],
)
def test_spec_virtual_account_vectors(code, serial, amount, expected):
    assert virtual_account(code, serial, amount) == expected
    assert get_strategy(DEFAULT_STRATEGY)(code, serial, amount) == expected
    assert verify_virtual_account(expected, amount)
    assert not verify_virtual_account(expected, amount + 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (("9876", 1, 100), "5 digits"),
        (("98765a", 1, 100), "5 digits"),
        ((98765, 1, 100), "5 digits"),
        (("98765", -1, 100), "serial"),
        (("98765", 100_000_000, 100), "serial"),
        (("98765", 1, -5), "amount"),
        (("98765", 1, 100_000_000), "amount"),
        (("98765", 1, 10.0), "whole number"),
        (("98765", True, 10), "whole number"),
    ],
)
def test_virtual_account_rejects_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        virtual_account(*args)


def test_verify_virtual_account_malformed_is_false():
    for va in ["", "9876500000001", "987650000000120", "98765O00000012", None, 98765000000012]:
        assert verify_virtual_account(va, 2800) is False
    assert verify_virtual_account("98765000000012", -1) is False


def test_strategy_registry():
    assert DEFAULT_STRATEGY in available_strategies()
    assert get_strategy(DEFAULT_STRATEGY) is virtual_account
    with pytest.raises(LookupError, match="no-such-bank"):
        get_strategy("no-such-bank")

    @register_strategy("test-sum-mod-10")
    def plain(code, serial, amount):
        base = f"{code}{serial:08d}"
        return base + str(sum(map(int, base)) % 10)

    assert get_strategy("test-sum-mod-10") is plain
    assert verify_virtual_account(plain("98765", 1, 0), 123, strategy="test-sum-mod-10")
    with pytest.raises(ValueError, match="already registered"):
        register_strategy(DEFAULT_STRATEGY)(plain)


@given(codes, serials, amounts)
def test_every_generated_virtual_account_verifies(code, serial, amount):
    va = virtual_account(code, serial, amount)
    assert len(va) == 14 and va.isdigit() and va.startswith(code + f"{serial:08d}")
    assert verify_virtual_account(va, amount)


@given(codes, serials, amounts, st.integers(0, 13), st.integers(1, 9))
def test_single_digit_change_in_va_fails_except_residue_0_10_collision(
    code, serial, amount, position, shift
):
    """A one-digit typo in the account is caught unless it moves Σ mod 11 between 0 and 10."""
    va = virtual_account(code, serial, amount)
    digit = (int(va[position]) + shift) % 10
    altered = va[:position] + str(digit) + va[position + 1 :]
    collision = position < 13 and {residue(va, amount), residue(altered, amount)} == {0, 10}
    assert verify_virtual_account(altered, amount) is collision


@given(codes, serials, amounts, st.integers(0, 7), st.integers(1, 9))
def test_single_digit_change_in_amount_fails_except_residue_0_10_collision(
    code, serial, amount, position, shift
):
    va = virtual_account(code, serial, amount)
    text = f"{amount:08d}"
    wrong = int(text[:position] + str((int(text[position]) + shift) % 10) + text[position + 1 :])
    collision = {residue(va, amount), residue(va, wrong)} == {0, 10}
    assert verify_virtual_account(va, wrong) is collision


@given(codes, serials, amounts, amounts)
def test_wrong_amount_is_accepted_exactly_when_check_digit_coincides(code, serial, amount, wrong):
    """The spec says a wrong amount is refused; in truth about 1 in 11 wrong amounts pass."""
    assume(wrong != amount)
    va = virtual_account(code, serial, amount)

    def check(r):
        return {0: 1, 1: 0}.get(r, 11 - r)

    same_check = check(residue(va, amount)) == check(residue(va, wrong))
    assert verify_virtual_account(va, wrong) is same_check


def test_spec_claim_counterexamples_wrong_amount_accepted():
    """Concrete cases where the default strategy does NOT refuse a wrong amount.

    - 1000 vs 1900 differ in one digit: residues 10 and 0 both map to check digit 1.
    - 2800 (the spec's own vector) vs 3900: two digits +1 at weights 5 and 6, Σ shifts by 11.
    """
    assert virtual_account("98765", 1, 1000) == "98765000000011"
    assert virtual_account("98765", 1, 1900) == "98765000000011"
    assert verify_virtual_account("98765000000011", 1900)
    assert verify_virtual_account("98765000000012", 3900)
    # and a one-digit typo in the account itself that still verifies:
    assert virtual_account("98765", 5, 2800) == "98765000000051"
    assert verify_virtual_account("98765100000051", 2800)


# --- convenience-store barcodes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "deadline, item, reference, amount, expected",
    [
        (
            datetime.date(2025, 5, 31),  # 民國114年5月31日
            "6V1",
            "12345678",
            2800,
            ("1405316V1", "0000000012345678", "140532000002800"),
        ),
        (
            datetime.date(2026, 12, 10),  # 民國115年12月10日
            "TC1",
            "98765000000012",
            2800,
            ("151210TC1", "0098765000000012", "151262000002800"),
        ),
    ],
)
def test_spec_store_barcode_vectors(deadline, item, reference, amount, expected):
    assert store_barcodes(deadline, item, reference, amount) == expected
    assert verify_store_barcodes(*expected)
    assert store_barcode_amount(expected[2]) == amount


@pytest.mark.parametrize(
    "item, amount, check",
    [
        # deadline 民國100年10月10日 -> "001010"; segment 3 without checks "0010" + amount.
        # odd positions: seg1 0+1+1 (+item chars 7, 9), seg3 1 (+amount digits 1,3,5,7,9);
        # even positions: seg1 0 (+item char 8), seg3 0 (+amount digits 2,4,6,8).
        ("000", 0, "3X"),  # odd 3, even 0 -> X
        ("000", 8, "AX"),  # odd 11 -> 0 -> A
        ("000", 1097, "BY"),  # odd 3+7 = 10 -> B; even 1+9 = 10 -> Y
        ("SZ/", 0, "59"),  # S=2 (odd), Z=9 (even), /=0 (odd): odd 3+2, even 9
        ("R.%", 0, "37"),  # R=9, %=2 (odd), .=7 (even): odd 14 -> 3, even 7
        ("J D", 0, "88"),  # J=1, D=4 (odd), space=8 (even): odd 3+5, even 8
    ],
)
def test_check_characters_by_hand(item, amount, check):
    b1, b2, b3 = store_barcodes(datetime.date(2011, 10, 10), item, "0", amount)
    assert b1 == "001010" + item and b2 == "0" * 16
    assert b3 == "0010" + check + f"{amount:09d}"


@pytest.mark.parametrize(
    "args, message",
    [
        ((datetime.date(2026, 1, 1), "TC", "1", 1), "3 characters"),
        ((datetime.date(2026, 1, 1), "tc1", "1", 1), "not allowed"),
        ((datetime.date(2026, 1, 1), "TC1", "1" * 17, 1), "1 to 16"),
        ((datetime.date(2026, 1, 1), "TC1", "", 1), "1 to 16"),
        ((datetime.date(2026, 1, 1), "TC1", "1", 1_000_000_000), "amount"),
        ((datetime.date(1911, 12, 31), "TC1", "1", 1), "ROC"),
        (("2026-01-01", "TC1", "1", 1), "date"),
    ],
)
def test_store_barcodes_reject_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        store_barcodes(*args)


@given(dates, item_codes, references, st.integers(0, 999_999_999))
def test_every_generated_barcode_triple_verifies(deadline, item, reference, amount):
    b1, b2, b3 = store_barcodes(deadline, item, reference, amount)
    assert (len(b1), len(b2), len(b3)) == (9, 16, 15)
    roc = deadline.year - 1911
    assert b1 == f"{roc % 100:02d}{deadline:%m%d}{item}"
    assert b2 == reference.rjust(16, "0")
    assert b3[:4] == b1[:4] and b3[6:] == f"{amount:09d}"
    assert verify_store_barcodes(b1, b2, b3)


@given(dates, item_codes, st.from_regex(r"[0-9]{16}", fullmatch=True), st.integers(0, 999_999_999),
       st.integers(0, 999_999_999))
def test_changed_amount_in_segment3_is_detected_when_digit_sum_parity_changes(
    deadline, item, reference, amount, wrong
):
    """The store check characters are plain digit sums: a changed amount fails exactly when
    its odd- or even-position digit sum changes mod 11 (so e.g. swapping two equal-parity
    digits is not detected)."""
    assume(wrong != amount)
    b1, b2, b3 = store_barcodes(deadline, item, reference, amount)
    tampered = b3[:6] + f"{wrong:09d}"

    def sums(text):  # positions 5..13 of segment 3 without check chars
        return (sum(int(c) for c in text[0::2]) % 11, sum(int(c) for c in text[1::2]) % 11)

    same = sums(f"{amount:09d}") == sums(f"{wrong:09d}")
    assert verify_store_barcodes(b1, b2, tampered) is same


def test_verify_store_barcodes_rejects_malformed():
    good = ("151210TC1", "0098765000000012", "151262000002800")
    assert verify_store_barcodes(*good)
    assert not verify_store_barcodes("151210TC", good[1], good[2])
    assert not verify_store_barcodes(good[0], good[1][1:], good[2])
    assert not verify_store_barcodes(good[0], good[1], "151263000002800")
    assert not verify_store_barcodes(good[0], good[1], "151262000002801")
    assert not verify_store_barcodes("151310TC1", good[1], good[2])  # month 13
    assert not verify_store_barcodes("151210tc1", good[1], good[2])
    assert not verify_store_barcodes(None, good[1], good[2])


# --- QR payload ----------------------------------------------------------------------------------


def test_qr_payload_round_trip():
    payload = qr_payload("004", "98765000000012", 2800)
    assert payload == "bank=004;account=98765000000012;amount=2800"
    assert parse_qr_payload(payload) == ("004", "98765000000012", 2800)
    for bad in [("04", "1", 1), ("004", "12a", 1), ("004", "1", -1)]:
        with pytest.raises(ValueError):
            qr_payload(*bad)
    with pytest.raises(ValueError):
        parse_qr_payload("bank=004;account=1")
