"""How many guesses a secret key would cost someone who knows how people make up keys.

Length and variety say little: ``0123456789abcdef0123456789abcdef`` and
``Password1234567890Password1234567890`` are long and varied, and guessed at once. The
estimate is zxcvbn's (dictionary words and names, l33t, repeats, sequences, keyboard
walks, dates), taken at its lowest over the ways a key can hide a pattern: as written,
read every second or third character (``a1b2c3…`` is two sequences), and, when the key
is hex or base64 of readable text, that text. zxcvbn credits a character that is part
of no pattern with about 3.3 bits (ten guesses), so a random key of 40 characters or more
clears the bar with a wide margin, and a patterned one of any length does not.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import string
import threading
from collections.abc import Sequence

MIN_BITS = 100.0
JUDGED = 256  # characters judged: a longer key is judged by its first ones
_CHUNK = 64  # zxcvbn judges at most 72 characters at a time
_STRIDES = (1, 2, 3)
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_HEX = frozenset(string.hexdigits)
# zxcvbn keeps the caller's hints in a module-level dictionary while it matches.
_zxcvbn_lock = threading.Lock()


def estimated_bits(key: str, hints: Sequence[str] = ()) -> float:
    """log2 of the guesses the key would cost, by its most guessable reading.

    ``hints`` are words an attacker would try first (the product's and the city's names).
    """
    text = key[:JUDGED]
    readings = [text]
    decoded = _decoded_text(text)
    if decoded:
        readings.append(decoded)
    words = [hint.lower() for hint in hints if hint]
    return min(_patterned_bits(reading, words) for reading in readings)


def _patterned_bits(text: str, hints: list[str]) -> float:
    """The key as written, or interleaved: every ``stride``-th character read apart."""
    return min(
        sum(_bits(text[start::stride], hints) for start in range(stride)) for stride in _STRIDES
    )


def _bits(text: str, hints: list[str]) -> float:
    from zxcvbn import zxcvbn  # imported when a key is judged: its dictionaries are large

    total = 0.0
    for offset in range(0, len(text), _CHUNK):
        with _zxcvbn_lock:
            result = zxcvbn(text[offset : offset + _CHUNK], user_inputs=hints)
        total += float(result["guesses_log10"]) * math.log2(10)
    return total


def _decoded_text(key: str) -> str | None:
    """The text a hex or base64 key encodes, when it encodes readable text."""
    raw: bytes | None = None
    try:
        if len(key) % 2 == 0 and set(key) <= _HEX:
            raw = bytes.fromhex(key)
        elif _BASE64.match(key):
            alphabet = b"-_" if "-" in key or "_" in key else None
            padded = key.rstrip("=") + "=" * (-len(key.rstrip("=")) % 4)
            raw = base64.b64decode(padded, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None
