"""The workspace's secret key: checked before a production server starts, used to
encrypt secrets the metadata store must keep (second-factor seeds), so that a copy of the
database alone does not hand them over, and to key the audit log's MACs, so that whoever
can write the database alone cannot rewrite the log unnoticed.

The key itself is never printed, logged or put in an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from civicstat import private_files
from civicstat.governance import key_strength
from civicstat.settings import Settings

# Forty characters: with zxcvbn's credit of about 3.3 bits for a character that is part of
# no pattern, a random key this long clears key_strength.MIN_BITS with room to spare.
MIN_LENGTH = 40
KEY_FILE = "secret-key"
_ENV = "CIVICSTAT_SECRET_KEY"
_MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
# Values found in examples, tutorials and our own docs: a key anyone can look up is no key.
WELL_KNOWN = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "mysecret",
        "password",
        "default",
        "development",
        "dev",
        "test",
        "civicstat",
        "your-secret-key",
        "your-secret-key-here",
        "replace-me",
        "replace-with-a-long-random-string-of-at-least-32-characters",
        "replace-with-a-long-random-string-of-at-least-40-characters",
        "please-change-this-secret-key-before-going-to-production",
    }
)
_SEALED_PREFIX = "v1."


class InsecureSecretKey(ValueError):
    """Production mode without a usable secret key; the message is one line, keyless."""


class UnsealError(ValueError):
    """A sealed value that this key cannot open: another key, another purpose, or tampered."""


def weakness(key: str | None, hints: Sequence[str] = ()) -> str | None:
    """Why ``key`` is not fit for production, or None when it is. ``hints`` are names an
    attacker would try in a key (the workspace's)."""
    if key is None or not key.strip():
        return f"{_ENV} is not set"
    if key.strip().lower() in WELL_KNOWN:
        return f"{_ENV} is a well-known example value"
    if len(key) < MIN_LENGTH:
        return f"{_ENV} is too short ({len(key)} characters, at least {MIN_LENGTH} needed)"
    if len(set(key)) < 8:
        return f"{_ENV} repeats too few characters to be random"
    bits = key_strength.estimated_bits(key, ["civicstat", *hints])
    if bits < key_strength.MIN_BITS:
        return (
            f"{_ENV} is too predictable (about {bits:.0f} bits by zxcvbn's estimate, at "
            f"least {key_strength.MIN_BITS:.0f} needed: it is made of words, names, "
            "sequences, repeats or keyboard patterns)"
        )
    return None


def check_production(settings: Settings) -> None:
    """Refuse to run a production server on a missing, short or well-known secret key."""
    if settings.env != "production":
        return
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    reason = weakness(key, [settings.workspace.resolve().name])
    if reason is not None:
        raise InsecureSecretKey(
            f"{reason}; CIVICSTAT_ENV=production needs a random key of at least {MIN_LENGTH} "
            f"characters, e.g. from: {_MAKE_ONE}"
        )


def secret_key(settings: Settings) -> bytes:
    """The key from the environment; outside production, a random one kept in the workspace.

    The workspace key (``.civicstat/secret-key``, mode 600) lets a laptop or the demo work
    with nothing to set up; production must name its key, so it is not lost with a folder.
    """
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value().encode()
    check_production(settings)
    return _workspace_key(settings.state_dir / KEY_FILE)


def audit_key(settings: Settings) -> bytes:
    """The key of the audit log's MACs: HKDF-SHA256 of the secret key for this one purpose,
    so that it is neither the secret key itself nor any other key derived from it."""
    hkdf = HKDF(algorithm=SHA256(), length=32, salt=None, info=b"civicstat audit chain v1")
    return hkdf.derive(secret_key(settings))


def _workspace_key(path: Path) -> bytes:
    private_files.make_folder(path.parent)
    try:
        private_files.write_new(path, secrets.token_urlsafe(48) + "\n")
    except FileExistsError:
        private_files.restrict(path)
    return path.read_bytes().strip()


def _derive(key: bytes, purpose: str) -> bytes:
    """A separate 256-bit AES key per purpose, so one use of the key cannot feed another."""
    return hmac.new(key, f"civicstat:{purpose}".encode(), hashlib.sha256).digest()


def seal(key: bytes, purpose: str, plaintext: bytes, bound_to: str) -> str:
    """Encrypt and authenticate ``plaintext`` (AES-256-GCM); ``bound_to`` (e.g. the user id)
    is authenticated too, so a sealed value copied onto another row does not open there."""
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_derive(key, purpose)).encrypt(nonce, plaintext, bound_to.encode())
    return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes, purpose: str, token: str, bound_to: str) -> bytes:
    if not token.startswith(_SEALED_PREFIX):
        raise UnsealError("not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(token[len(_SEALED_PREFIX) :])
        return AESGCM(_derive(key, purpose)).decrypt(raw[:12], raw[12:], bound_to.encode())
    except (InvalidTag, ValueError) as error:
        raise UnsealError("the secret key cannot open this value") from error
