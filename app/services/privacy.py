"""Personal data helpers, see ``specs/privacy.md``: name masking, ROC national ID /
resident certificate numbers, encryption at rest and keyed lookup hashes.  No database.

Name masking rules (``mask_name``):

* Input is NFKC-normalised (full-width Ｊｏｈｎ → John), trimmed, and runs of whitespace
  are collapsed to one space.  An empty or blank name is shown as ``○`` so that a public
  list never has a blank cell.
* A *CJK name* is one whose characters, whitespace aside, are all CJK (Han ideographs, kana,
  hangul) or a name-separating middle dot (· ‧ ・ used in indigenous and transliterated
  names), with at least one ideograph.  Whitespace is dropped and the spec's rule applies to
  the whole name: first and last character kept, everything between → ``○`` (so a middle dot
  is masked too); two characters → first + ``○``; one character → ``○``.
* Any other name (Latin or mixed) is masked word by word (words split on whitespace): the
  first letter/digit/ideograph of each word is kept, every other letter, digit, ideograph or
  combining mark becomes ``*``, and punctuation such as ``-`` ``'`` ``.`` is kept:
  ``John Smith`` → ``J*** S****``, ``Jean-Luc O'Neil`` → ``J***-*** O'****``,
  ``陳 Amy`` → ``陳 A**``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata

from cryptography.fernet import Fernet, InvalidToken

MASK_CJK = "\u25cb"  # ○
MASK_LATIN = "*"

_NAME_DOTS = set("\u00b7\u2027\u30fb\u2022\uff65")
_CJK_RANGES = (
    (0x3040, 0x30FF),    # hiragana, katakana
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xAC00, 0xD7AF),    # hangul syllables
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0x20000, 0x323AF),  # CJK extensions B-H
)


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def mask_name(name: str | None) -> str:
    """Mask a personal name for public lists (rules in the module docstring)."""
    words = unicodedata.normalize("NFKC", name or "").split()
    if not words:
        return MASK_CJK
    compact = "".join(words)
    if any(_is_cjk(c) for c in compact) and all(_is_cjk(c) or c in _NAME_DOTS for c in compact):
        if len(compact) == 1:
            return MASK_CJK
        if len(compact) == 2:
            return compact[0] + MASK_CJK
        return compact[0] + MASK_CJK * (len(compact) - 2) + compact[-1]
    return " ".join(_mask_word(w) for w in words)


def _mask_word(word: str) -> str:
    out, kept = [], False
    for ch in word:
        maskable = ch.isalnum() or unicodedata.category(ch).startswith("M")
        if maskable and not kept and not unicodedata.category(ch).startswith("M"):
            out.append(ch)
            kept = True
        else:
            out.append(MASK_LATIN if maskable else ch)
    return "".join(out)


# ---- ROC national ID / uniform resident number ----

_LETTER_CODES = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34,
    "J": 18, "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25,
    "S": 26, "T": 27, "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33,
}
_WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)


def normalize_national_id(s: str) -> str:
    """NFKC (full-width Ａ１２… from IMEs → ASCII), strip surrounding whitespace, upper case."""
    return unicodedata.normalize("NFKC", s or "").strip().upper()


def is_valid_national_id(s: str) -> bool:
    """True for a well-formed national ID (2nd char 1/2) or resident number (8/9).

    The input is normalised first, so `` a123456789`` is accepted; store the value of
    :func:`normalize_national_id`.
    """
    if not isinstance(s, str):
        return False
    s = normalize_national_id(s)
    if len(s) != 10 or s[0] not in _LETTER_CODES or s[1] not in "1289":
        return False
    if not all("0" <= c <= "9" for c in s[1:]):
        return False
    code = _LETTER_CODES[s[0]]
    digits = (code // 10, code % 10) + tuple(int(c) for c in s[1:])
    return sum(d * w for d, w in zip(digits, _WEIGHTS)) % 10 == 0


def mask_national_id(s: str) -> str:
    """Back-office display: ``A123456789`` → ``A12****789``.

    Anything that is not 10 characters after normalisation is fully masked (never echoed).
    """
    s = normalize_national_id(s)
    if len(s) != 10:
        return "*" * len(s)
    return s[:3] + "****" + s[-3:]


def mask_account_number(s: str) -> str:
    """Bank account: separators dropped, every digit but the last 4 → ``*``.

    ``"012-3456-7890"`` → ``"*******7890"``; 4 digits or fewer are fully masked.
    """
    digits = "".join(c for c in unicodedata.normalize("NFKC", s or "") if c.isdigit())
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


# ---- Encryption at rest and lookup hashes ----

_FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")  # urlsafe base64 of exactly 32 bytes


class DataCipher:
    """Symmetric encryption of personal data at rest (Fernet: AES-128-CBC + HMAC-SHA256).

    ``key`` should be a Fernet key (urlsafe base64 of 32 random bytes, e.g. from
    ``Fernet.generate_key()``), read from configuration.  Any other non-empty string is
    accepted and turned into a key with SHA-256 (``urlsafe_b64encode(sha256(key))``); that is
    *not* a password KDF, so such a string must itself be long and random.
    """

    def __init__(self, key: str):
        if not isinstance(key, str) or not key.strip():
            raise ValueError("DataCipher needs a non-empty key")
        key = key.strip()
        if _FERNET_KEY.fullmatch(key):
            fernet_key = key.encode("ascii")
        else:
            fernet_key = base64.urlsafe_b64encode(hashlib.sha256(key.encode("utf-8")).digest())
        self._fernet = Fernet(fernet_key)

    def encrypt(self, text: str) -> str:
        """Encrypt ``text`` (UTF-8) to an ASCII token; a fresh IV each time."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token from :meth:`encrypt`; ValueError if it is corrupt or the key is wrong."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise ValueError("cannot decrypt: wrong key or corrupted data") from exc


def lookup_hash(lookup_key: str, value: str) -> str:
    """HMAC-SHA256 (hex) of the normalised value (:func:`normalize_national_id`), for
    finding a record by national ID without storing it in clear.  Use a key different from
    the encryption key."""
    if not lookup_key:
        raise ValueError("lookup_hash needs a non-empty key")
    data = normalize_national_id(value).encode("utf-8")
    return hmac.new(lookup_key.encode("utf-8"), data, hashlib.sha256).hexdigest()
