"""TOTP codes are the RFC's codes: the test vectors of RFC 6238 (appendix B) and RFC 4226
(appendix D), a clock fixed at chosen instants, drift of one step, and no code twice."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from civicstat.governance import totp

# RFC 6238's seeds: the ASCII digits repeated to the hash's block-friendly length.
SEED_SHA1 = b"12345678901234567890"
SEED_SHA256 = b"12345678901234567890123456789012"
SEED_SHA512 = b"1234567890123456789012345678901234567890123456789012345678901234"
SEEDS = {"sha1": SEED_SHA1, "sha256": SEED_SHA256, "sha512": SEED_SHA512}

RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
RFC4226 = ["755224", "287082", "359152", "969429", "338314",
           "254676", "287922", "162583", "399871", "520489"]  # fmt: skip


@pytest.mark.parametrize(("unix_time", "sha1", "sha256", "sha512"), RFC6238)
def test_codes_match_the_rfc_6238_test_vectors(
    unix_time: int, sha1: str, sha256: str, sha512: str
) -> None:
    assert totp.code_at(SEED_SHA1, unix_time, digits=8, algorithm="sha1") == sha1
    assert totp.code_at(SEED_SHA256, unix_time, digits=8, algorithm="sha256") == sha256
    assert totp.code_at(SEED_SHA512, unix_time, digits=8, algorithm="sha512") == sha512


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226)))
def test_hotp_matches_the_rfc_4226_test_vectors(counter: int, expected: str) -> None:
    assert totp.hotp(SEED_SHA1, counter) == expected


@pytest.mark.parametrize(("unix_time", "sha1", "_256", "_512"), RFC6238)
def test_six_digit_codes_are_the_last_six_digits_of_the_rfc_codes(
    unix_time: int, sha1: str, _256: str, _512: str
) -> None:
    # Dynamic truncation takes the number modulo 10^digits: six digits end the eight.
    assert totp.code_at(SEED_SHA1, unix_time) == sha1[-6:]


def test_the_code_of_now_is_accepted_at_a_frozen_instant() -> None:
    now = 1111111111.0
    step = totp.step_at(now)
    code = totp.code_at(SEED_SHA1, now)

    assert totp.matching_step(SEED_SHA1, code, now) == step
    assert totp.matching_step(SEED_SHA1, f"{code[:3]} {code[3:]}", now) == step


@pytest.mark.parametrize("drift", [-1, 1])
def test_a_code_one_step_early_or_late_is_accepted(drift: int) -> None:
    now = 1234567890.0
    code = totp.code_at(SEED_SHA1, now + drift * totp.STEP_SECONDS)

    assert totp.matching_step(SEED_SHA1, code, now) == totp.step_at(now) + drift


@pytest.mark.parametrize("drift", [-3, -2, 2, 3])
def test_a_code_two_or_more_steps_away_is_refused(drift: int) -> None:
    now = 1234567890.0
    code = totp.code_at(SEED_SHA1, now + drift * totp.STEP_SECONDS)

    assert totp.matching_step(SEED_SHA1, code, now) is None


def test_a_code_is_accepted_only_once() -> None:
    now = 2000000000.0
    code = totp.code_at(SEED_SHA1, now)
    used = totp.matching_step(SEED_SHA1, code, now)
    assert used is not None

    assert totp.matching_step(SEED_SHA1, code, now, after_step=used) is None
    assert totp.matching_step(SEED_SHA1, code, now + 10, after_step=used) is None
    later = now + totp.STEP_SECONDS
    assert totp.matching_step(SEED_SHA1, totp.code_at(SEED_SHA1, later), later, used) == used + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12345a", "１２３４５６"])
def test_malformed_codes_are_refused(code: str) -> None:
    assert totp.matching_step(SEED_SHA1, code, 59.0) is None


def test_another_seed_does_not_give_the_same_code() -> None:
    now = 1111111109.0
    assert totp.matching_step(totp.new_secret(), totp.code_at(SEED_SHA1, now), now) is None


def test_new_secrets_are_160_random_bits_and_survive_base32() -> None:
    first, second = totp.new_secret(), totp.new_secret()

    assert len(first) == 20
    assert first != second
    text = totp.to_base32(first)
    assert "=" not in text
    assert totp.from_base32(text) == first
    assert totp.from_base32(text.lower()) == first


def test_the_provisioning_uri_is_what_authenticator_apps_read() -> None:
    uri = totp.provisioning_uri(SEED_SHA1, "ana@city.example", "CivicStat")

    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/CivicStat:ana@city.example"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "secret": totp.to_base32(SEED_SHA1),
        "issuer": "CivicStat",
        "algorithm": "SHA1",
        "digits": "6",
        "period": "30",
    }
