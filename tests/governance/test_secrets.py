"""The secret key: production refuses to start on a missing, short or well-known one (with
one clear line, never the key), and sealed secrets open only with the right key, purpose
and row."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from civicstat.governance import secrets
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
    pytest.param("a" * 64, "too few characters", id="one-letter"),
    pytest.param("abababababababababababababababab", "too few characters", id="two-letters"),
]


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
