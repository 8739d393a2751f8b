"""Tests for app/services/privacy.py (vectors from specs/privacy.md)."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.privacy import (
    DataCipher,
    is_valid_national_id,
    lookup_hash,
    mask_account_number,
    mask_name,
    mask_national_id,
    normalize_national_id,
)


@pytest.mark.parametrize("name, masked", [
    ("王小明", "王○明"),
    ("歐陽小明", "歐○○明"),
    ("王明", "王○"),
    ("王", "○"),
    ("John Smith", "J*** S****"),
    # documented choices beyond the spec
    ("  王  小明 ", "王○明"),                     # whitespace inside CJK names dropped
    ("巴奈‧庫穗", "巴○○○穗"),                    # middle dot masked like any inner char
    ("Ｊｏｈｎ　Ｓｍｉｔｈ", "J*** S****"),         # full-width letters and space (NFKC)
    ("John   Smith\t", "J*** S****"),
    ("Jean-Luc O'Neil", "J***-*** O'****"),      # punctuation kept, letters masked
    ("José Núñez", "J*** N****"),
    ("陳 Amy", "陳 A**"),                         # mixed: word rule
    ("Madonna", "M******"),
    ("김민수", "김○수"),
    ("", "○"),
    ("   ", "○"),
    (None, "○"),
])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@settings(max_examples=200)
@given(st.text(max_size=30))
def test_mask_name_reveals_at_most_two_chars_per_word(name):
    """Word rule keeps one character per word, the CJK rule first and last."""
    masked = mask_name(name)
    assert masked
    for word in masked.split():
        assert len([c for c in word if c.isalnum()]) <= 2


@settings(max_examples=100)
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
               min_size=3, max_size=8))
def test_mask_name_cjk_property(name):
    assert mask_name(name) == name[0] + "○" * (len(name) - 2) + name[-1]


def _check_digit(prefix9: str) -> str:
    """The last digit making LETTER + 8 digits valid (used to build test numbers)."""
    for d in "0123456789":
        if is_valid_national_id(prefix9 + d):
            return prefix9 + d
    raise AssertionError(prefix9)


def test_national_id_vectors():
    assert is_valid_national_id("A123456789")
    assert not is_valid_national_id("A123456788")
    # uniform resident numbers (2nd char 8 or 9), worked by hand:
    # F=15: 1*1 + 5*9 + 8*8 + 2*7 + 3*6 + 4*5 + 5*4 + 6*3 + 7*2 + 8*1 + 8*1 = 230
    assert is_valid_national_id("F823456788")
    assert not is_valid_national_id("F823456789")
    # A=10: 1*1 + 0*9 + 9*8 + 0 ... + 7*1 = 80
    assert is_valid_national_id("A900000007")
    built = _check_digit("T92345678")
    assert is_valid_national_id(built) and built.startswith("T9")


@pytest.mark.parametrize("value", [
    "", "A12345678", "A1234567890", "A323456789", "A723456789", "1123456789", "AA23456789",
    "A12345678X", "A12345 789", None, 123456789,
])
def test_invalid_national_ids(value):
    assert not is_valid_national_id(value)


def test_normalisation():
    assert normalize_national_id(" a123456789\n") == "A123456789"
    assert normalize_national_id("Ａ１２３４５６７８９") == "A123456789"
    assert is_valid_national_id(" a123456789 ")
    assert is_valid_national_id("Ａ１２３４５６７８９")


@pytest.mark.parametrize("letter, code", [("I", 34), ("O", 35), ("W", 32), ("Z", 33)])
def test_irregular_letter_codes(letter, code):
    n1, n2 = divmod(code, 10)
    base = n1 * 1 + n2 * 9 + 1 * 8  # second char 1, then zeros
    check = (10 - base % 10) % 10
    assert is_valid_national_id(f"{letter}10000000{check}")
    assert not is_valid_national_id(f"{letter}10000000{(check + 1) % 10}")


def test_single_digit_errors_caught_where_the_weight_allows():
    """Weights 7, 3, 1, 1 (coprime to 10) catch every single-digit change; the even
    weights and 5 cannot (e.g. A128456789 is valid too) - a property of the checksum."""
    number = "A123456789"
    assert is_valid_national_id("A128456789")
    for i in (2, 6, 8, 9):
        for d in "0123456789":
            if d != number[i]:
                assert not is_valid_national_id(number[:i] + d + number[i + 1:])


def test_mask_national_id():
    assert mask_national_id("A123456789") == "A12****789"
    assert mask_national_id(" a123456789 ") == "A12****789"
    assert mask_national_id("A1234") == "*****"
    assert mask_national_id("") == ""


@pytest.mark.parametrize("value, masked", [
    ("012-3456-7890", "*******7890"),
    ("1234567890123", "*********0123"),
    ("1234", "****"),
    ("", ""),
])
def test_mask_account_number(value, masked):
    assert mask_account_number(value) == masked


def test_encryption_round_trip_with_fernet_key():
    cipher = DataCipher(Fernet.generate_key().decode())
    for text in ["A123456789", "王小明", "", "x" * 1000]:
        token = cipher.encrypt(text)
        assert isinstance(token, str) and text not in token or text == ""
        assert cipher.decrypt(token) == text
    assert cipher.encrypt("A123456789") != cipher.encrypt("A123456789")  # fresh IV


def test_fernet_key_used_as_is():
    key = Fernet.generate_key().decode()
    token = DataCipher(key).encrypt("秘密")
    assert Fernet(key.encode()).decrypt(token.encode()).decode() == "秘密"


def test_other_strings_are_derived_with_sha256():
    cipher = DataCipher("a long random passphrase from configuration")
    assert cipher.decrypt(cipher.encrypt("A123456789")) == "A123456789"
    import base64
    derived = base64.urlsafe_b64encode(
        hashlib.sha256(b"a long random passphrase from configuration").digest())
    assert Fernet(derived).decrypt(cipher.encrypt("x").encode()) == b"x"


def test_wrong_key_or_corrupt_token():
    token = DataCipher("key one").encrypt("A123456789")
    with pytest.raises(ValueError):
        DataCipher("key two").decrypt(token)
    with pytest.raises(ValueError):
        DataCipher("key one").decrypt(token[:-4] + "AAAA")
    with pytest.raises(ValueError):
        DataCipher("")


def test_lookup_hash_stable_keyed_and_normalised():
    h = lookup_hash("lookup-key", "A123456789")
    assert h == hmac.new(b"lookup-key", b"A123456789", hashlib.sha256).hexdigest()
    assert len(h) == 64
    assert lookup_hash("lookup-key", " a123456789 ") == h
    assert lookup_hash("lookup-key", "Ａ１２３４５６７８９") == h
    assert lookup_hash("other-key", "A123456789") != h
    assert lookup_hash("lookup-key", "B123456789") != h
    assert h != hashlib.sha256(b"A123456789").hexdigest()
    with pytest.raises(ValueError):
        lookup_hash("", "A123456789")
