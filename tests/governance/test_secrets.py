"""The secret key: production refuses to start on a missing, short or well-known one (with
one clear line, never the key), and sealed secrets open only with the right key, purpose
and row."""

from __future__ import annotations

import base64
import random
import re
import secrets as std_secrets
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from pydantic import SecretStr

from civicstat.governance import key_strength, secrets
from civicstat.governance.secrets import InsecureSecretKey, UnsealError, check_production
from civicstat.settings import Settings
from civicstat.web.app import create_app

DOCS = Path(__file__).resolve().parents[2] / "docs"
STRONG = "k3J9-vQx_2mZr8LwT5nYb1HcE6uAo4Gd7PfS0iKe"


def production(key: str | None) -> Settings:
    return Settings(env="production", secret_key=SecretStr(key) if key is not None else None)


WEAK = [
    pytest.param(None, "is not set", id="missing"),
    pytest.param("", "is not set", id="empty"),
    pytest.param("   ", "is not set", id="blank"),
    pytest.param("changeme", "well-known", id="changeme"),
    pytest.param("Secret", "well-known", id="secret"),
    pytest.param("password", "well-known", id="password"),
    pytest.param("k3J9-vQx_2mZr8LwT5nYb1HcE6uAo4G", "too short (31 characters", id="31-chars"),
    pytest.param(STRONG[:39], "too short (39 characters, at least 40", id="39-chars"),
    pytest.param("a" * 64, "too few characters", id="one-letter"),
    pytest.param("ab" * 20, "too few characters", id="two-letters"),
]


# Long and varied, but made the way people make up keys: each is guessed long before a
# random key would be.
PREDICTABLE = [
    pytest.param("0123456789abcdef" * 3, id="hex-digits-in-order"),
    pytest.param("Password1234567890" * 3, id="word-and-digits-thrice"),
    pytest.param("Password1234567890!Password1234567890!!!", id="word-digits-symbol"),
    pytest.param("abcdefghijklmnopqrstuvwxyz0123456789ABCD", id="alphabet"),
    pytest.param("zyxwvutsrqponmlkjihgfedcba9876543210ZYXW", id="alphabet-backwards"),
    pytest.param("qwertyuiopasdfghjklzxcvbnm1234567890QWER", id="keyboard-rows"),
    pytest.param("1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/", id="keyboard-columns"),
    pytest.param("a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0", id="interleaved-sequences"),
    pytest.param("aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStT", id="interleaved-cases"),
    pytest.param("deadbeefcafe0123456789deadbeefcafe012345", id="hex-words-and-digits"),
    pytest.param("0000000000000000000000000000000000000001abcdef", id="hex-counter"),
    pytest.param("70617373776f726431323334353637383930313233", id="hex-of-a-password"),
    pytest.param("cGFzc3dvcmQxMjM0NTY3ODkwcGFzc3dvcmQxMjM0NTY3ODkw", id="base64-of-a-password"),
    pytest.param("ThisIsMySuperSecretProductionKey2024!!!!", id="sentence-and-year"),
    pytest.param("correcthorsebatterystaple2024correcthorse", id="words-and-year"),
    pytest.param("civicstat-production-secret-key-2025-2026", id="product-name-and-years"),
    pytest.param("P@ssw0rdP@ssw0rdP@ssw0rd1234567890!!!!!!", id="leet-repeated"),
]


@pytest.mark.parametrize("key", PREDICTABLE)
def test_production_refuses_a_long_key_made_of_patterns(key: str) -> None:
    assert len(key) >= secrets.MIN_LENGTH

    with pytest.raises(InsecureSecretKey) as refused:
        check_production(production(key))

    message = str(refused.value)
    assert "too predictable" in message
    assert "bits" in message
    assert key not in message
    assert "\n" not in message


def test_a_key_naming_the_workspace_counts_as_predictable(tmp_path: Path) -> None:
    key = "riverton-performance-dashboard-key-9f8e7d"
    root = tmp_path / "riverton"
    root.mkdir()

    with pytest.raises(InsecureSecretKey, match="too predictable"):
        check_production(Settings(workspace=root, env="production", secret_key=SecretStr(key)))


RANDOM_KEYS = {
    "token_urlsafe(32)": lambda rnd: base64.urlsafe_b64encode(rnd.randbytes(32)).decode()[:43],
    "token_urlsafe(48)": lambda rnd: base64.urlsafe_b64encode(rnd.randbytes(48)).decode(),
    "token_hex(20)": lambda rnd: rnd.randbytes(20).hex(),
    "token_hex(32)": lambda rnd: rnd.randbytes(32).hex(),
    "base64 of 32 bytes": lambda rnd: base64.b64encode(rnd.randbytes(32)).decode(),
    "openssl rand -hex 32, upper case": lambda rnd: rnd.randbytes(32).hex().upper(),
}


@examples(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(RANDOM_KEYS)), rnd=st.randoms(use_true_random=True))
def test_production_accepts_every_random_key_of_the_usual_recipes(
    kind: str, rnd: random.Random
) -> None:
    key = RANDOM_KEYS[kind](rnd)

    assert secrets.weakness(key) is None, kind
    assert key_strength.estimated_bits(key) >= key_strength.MIN_BITS


def test_the_recipes_of_the_docs_make_keys_production_accepts() -> None:
    for key in (
        std_secrets.token_urlsafe(32),
        std_secrets.token_urlsafe(48),
        std_secrets.token_hex(32),
        base64.b64encode(std_secrets.token_bytes(32)).decode(),
    ):
        check_production(production(key))


@pytest.mark.parametrize(("key", "reason"), WEAK)
def test_production_refuses_a_weak_secret_key_in_one_line_without_the_key(
    key: str | None, reason: str
) -> None:
    with pytest.raises(InsecureSecretKey) as refused:
        check_production(production(key))

    message = str(refused.value)
    assert reason in message
    assert "CIVICSTAT_SECRET_KEY" in message
    assert "\n" not in message
    if key and key.strip():
        assert key not in message


@pytest.mark.parametrize(("key", "reason"), WEAK)
def test_the_app_will_not_be_built_in_production_on_a_weak_key(
    key: str | None, reason: str
) -> None:
    with pytest.raises(InsecureSecretKey, match=re.escape(reason)):
        create_app(production(key))


def test_every_secret_key_shown_in_the_docs_is_refused() -> None:
    shown = {
        value.strip("'\"")
        for page in DOCS.glob("*.md")
        for value in re.findall(r"CIVICSTAT_SECRET_KEY=(\S+)", page.read_text(encoding="utf-8"))
        if not value.startswith("$")  # a command that makes one, not a value
    }
    assert shown, "the docs show no example value of CIVICSTAT_SECRET_KEY"
    for value in shown:
        with pytest.raises(InsecureSecretKey):
            check_production(production(value))


def test_production_accepts_a_long_random_key() -> None:
    check_production(production(STRONG))
    create_app(production(STRONG))


def test_development_starts_without_a_key() -> None:
    check_production(Settings(env="development"))
    create_app(Settings())


def test_the_key_never_shows_in_the_settings_repr() -> None:
    settings = production(STRONG)

    assert STRONG not in repr(settings)
    assert STRONG not in str(settings)
    assert STRONG not in settings.model_dump_json()


def test_without_a_key_development_keeps_a_private_random_one_in_the_workspace(
    tmp_path: Path,
) -> None:
    settings = Settings(workspace=tmp_path)

    first = secrets.secret_key(settings)
    again = secrets.secret_key(Settings(workspace=tmp_path))

    assert first == again
    assert len(first) >= secrets.MIN_LENGTH
    key_file = settings.state_dir / secrets.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert secrets.secret_key(Settings(workspace=tmp_path / "other")) != first


def test_in_production_the_key_comes_from_the_environment_only(tmp_path: Path) -> None:
    with pytest.raises(InsecureSecretKey):
        secrets.secret_key(Settings(workspace=tmp_path, env="production"))
    assert not (tmp_path / ".civicstat" / secrets.KEY_FILE).exists()

    chosen = Settings(workspace=tmp_path, env="production", secret_key=SecretStr(STRONG))
    assert secrets.secret_key(chosen) == STRONG.encode()


def test_a_sealed_secret_opens_with_its_key_purpose_and_row_only() -> None:
    key = STRONG.encode()
    sealed = secrets.seal(key, "totp", b"seed bytes", bound_to="7")

    assert b"seed bytes" not in sealed.encode()
    assert secrets.seal(key, "totp", b"seed bytes", bound_to="7") != sealed  # fresh nonce
    assert secrets.unseal(key, "totp", sealed, bound_to="7") == b"seed bytes"
    for wrong in (
        lambda: secrets.unseal(b"another key entirely, also long!", "totp", sealed, "7"),
        lambda: secrets.unseal(key, "other-purpose", sealed, "7"),
        lambda: secrets.unseal(key, "totp", sealed, "8"),  # copied onto another user's row
        lambda: secrets.unseal(key, "totp", sealed[:-2] + "AA", "7"),
        lambda: secrets.unseal(key, "totp", "plain text", "7"),
    ):
        with pytest.raises(UnsealError):
            wrong()
