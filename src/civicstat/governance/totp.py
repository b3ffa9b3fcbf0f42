"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), the second sign-in factor.

Small enough to write with the standard library, and checked against the RFCs' test
vectors. Codes are compared in constant time; a code is accepted one step either side of
now (clock drift between the phone and the server), and the caller remembers the step of
the last accepted code so that no code works twice.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from typing import Literal
from urllib.parse import quote, urlencode

Algorithm = Literal["sha1", "sha256", "sha512"]

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, what RFC 4226 recommends for HMAC-SHA1
DRIFT_STEPS = 1


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def to_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it: base32, without padding."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def from_base32(text: str) -> bytes:
    cleaned = text.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(secret: bytes, counter: int, digits: int = DIGITS, algorithm: Algorithm = "sha1") -> str:
    """RFC 4226: HMAC of the counter, dynamically truncated to ``digits`` decimal digits."""
    mac = hmac.new(secret, struct.pack(">Q", counter), algorithm).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def step_at(unix_time: float) -> int:
    """The RFC 6238 time step ``T`` for a moment, as seconds since the Unix epoch."""
    return int(unix_time // STEP_SECONDS)


def code_at(
    secret: bytes, unix_time: float, digits: int = DIGITS, algorithm: Algorithm = "sha1"
) -> str:
    return hotp(secret, step_at(unix_time), digits, algorithm)


def matching_step(secret: bytes, code: str, unix_time: float, after_step: int = -1) -> int | None:
    """The time step whose code ``code`` is, within the allowed drift, or None.

    Steps at or before ``after_step`` (the last one accepted) never match: a code seen once
    — shoulder-surfed, or replayed from a proxy log — is spent.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    now = step_at(unix_time)
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Every candidate is computed and compared, so the time taken says nothing.
        if hmac.compare_digest(hotp(secret, step), code) and step > after_step and found is None:
            found = step
    return found


def provisioning_uri(secret: bytes, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (often from a QR code)."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode(
        {
            "secret": to_base32(secret),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
