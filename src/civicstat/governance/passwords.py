"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so both cases take the same time.
_DUMMY = _hasher.hash("civicstat-dummy-password")

MIN_LENGTH = 12


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored_hash or _DUMMY, password)) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
