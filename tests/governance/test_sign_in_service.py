"""Signing in through the service, on both metadata stores: lockout after repeated
failures, one answer for every refusal, the same argon2 work for unknown names, and the
second step with a TOTP code at a frozen instant."""

from __future__ import annotations

import datetime as dt

import pytest
from governance_helpers import PASSWORD, MakeUser
from sqlalchemy import select

from civicstat.governance import audit, passwords, totp
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent, SignInChallenge, User
from civicstat.services.accounts import sign_in, users
from civicstat.services.accounts.sign_in import CodeNeeded, Granted, Refused
from civicstat.services.context import Context

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
WRONG = "not the password at all"


def events(ctx: Context, action: str) -> list[tuple[str, str, str, dict[str, object]]]:
    with ctx.db.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return [(e.actor, e.object_id, e.outcome, e.detail) for e in rows]


def fail_times(ctx: Context, username: str, times: int, at: dt.datetime = T0) -> None:
    for i in range(times):
        result = sign_in.with_password(ctx, username, WRONG, now=at + dt.timedelta(seconds=i))
        assert result == Refused()


def test_five_wrong_passwords_lock_the_account_for_ten_minutes(
    example_ctx: Context, make_user: MakeUser
) -> None:
    name = make_user(Role.ANALYST)
    fail_times(example_ctx, name, 4)
    assert events(example_ctx, "auth:lockout") == []

    fail_times(example_ctx, name, 1, at=T0 + dt.timedelta(seconds=10))

    [(actor, object_id, outcome, detail)] = events(example_ctx, "auth:lockout")
    assert (actor, object_id, outcome, detail["failures"]) == ("anonymous", name, "ok", 5)
    locked_until = T0 + dt.timedelta(seconds=10, minutes=10)
    assert detail["until"] == locked_until.isoformat()
    # While locked, even the right password is refused, exactly like a wrong one.
    nine_minutes_on = T0 + dt.timedelta(minutes=9)
    assert sign_in.with_password(example_ctx, name, PASSWORD, now=nine_minutes_on) == Refused()
    # Once the lock has run out, the right password works again.
    after = locked_until + dt.timedelta(seconds=1)
    result = sign_in.with_password(example_ctx, name, PASSWORD, now=after)
    assert isinstance(result, Granted)
    assert result.actor.name == name
    with example_ctx.db.session() as session:
        assert audit.verify(session) is None


def test_failures_while_locked_are_audited_but_do_not_extend_the_lock(
    example_ctx: Context, make_user: MakeUser
) -> None:
    name = make_user()
    fail_times(example_ctx, name, 5)
    fail_times(example_ctx, name, 5, at=T0 + dt.timedelta(minutes=5))

    assert len(events(example_ctx, "auth:lockout")) == 1
    reasons = [detail["reason"] for *_, detail in events(example_ctx, "auth:sign-in")]
    assert reasons == ["password"] * 5 + ["locked"] * 5
    result = sign_in.with_password(example_ctx, name, PASSWORD, now=T0 + dt.timedelta(minutes=11))
    assert isinstance(result, Granted)


def test_a_good_sign_in_starts_the_count_again(example_ctx: Context, make_user: MakeUser) -> None:
    name = make_user()
    fail_times(example_ctx, name, 4)
    assert isinstance(sign_in.with_password(example_ctx, name, PASSWORD, now=T0), Granted)

    fail_times(example_ctx, name, 4, at=T0 + dt.timedelta(minutes=1))

    assert events(example_ctx, "auth:lockout") == []
    assert isinstance(sign_in.with_password(example_ctx, name, PASSWORD, now=T0), Granted)


def test_the_lockout_limits_are_settings(example_ctx: Context, make_user: MakeUser) -> None:
    name = make_user()
    example_ctx.settings.lockout_attempts = 2
    example_ctx.settings.lockout_minutes = 1

    fail_times(example_ctx, name, 2)

    assert len(events(example_ctx, "auth:lockout")) == 1
    assert sign_in.with_password(example_ctx, name, PASSWORD, now=T0) == Refused()
    later = T0 + dt.timedelta(minutes=1, seconds=2)
    assert isinstance(sign_in.with_password(example_ctx, name, PASSWORD, now=later), Granted)


def test_enabling_a_user_lifts_a_lockout(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user()
    fail_times(example_ctx, name, 5, at=dt.datetime.now(dt.UTC))

    users.enable(example_ctx, admin, name)

    assert sign_in.authenticate(example_ctx, name, PASSWORD) is not None


def test_unknown_user_wrong_password_locked_and_disabled_get_one_answer(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    known, locked, disabled = make_user(), make_user(username="locked"), make_user(username="gone")
    fail_times(example_ctx, locked, 5)
    users.disable(example_ctx, admin, disabled)

    answers = [
        sign_in.with_password(example_ctx, known, WRONG, now=T0),
        sign_in.with_password(example_ctx, "nobody-here", WRONG, now=T0),
        sign_in.with_password(example_ctx, locked, PASSWORD, now=T0),
        sign_in.with_password(example_ctx, disabled, PASSWORD, now=T0),
    ]

    assert answers == [Refused()] * 4
    reasons = [d["reason"] for *_, d in events(example_ctx, "auth:sign-in")][-4:]
    assert reasons == ["password", "unknown-user", "locked", "disabled"]


class CountingHasher:
    """argon2's PasswordHasher, counting the hashes it verifies."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.verified: list[str] = []

    def verify(self, stored: str, password: str) -> bool:
        self.verified.append(stored)
        return bool(self.real.verify(stored, password))  # type: ignore[attr-defined]

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))  # type: ignore[attr-defined]


@pytest.mark.parametrize("username", ["nobody-here", "locked", "analyst"])
def test_every_refusal_costs_one_argon2_verification(
    example_ctx: Context, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch, username: str
) -> None:
    """Timing is not measured (too noisy to test); the work is: an unknown name is checked
    against a dummy hash, so it costs what a known one does."""
    make_user(Role.ANALYST)
    fail_times(example_ctx, make_user(username="locked"), 5)
    counting = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counting)

    assert sign_in.with_password(example_ctx, username, WRONG, now=T0) == Refused()

    assert len(counting.verified) == 1
    if username == "nobody-here":
        assert counting.verified == [passwords._DUMMY]
    else:
        assert counting.verified != [passwords._DUMMY]


# --- the second factor --------------------------------------------------------------------


@pytest.fixture
def enrolled(example_ctx: Context, make_user: MakeUser, admin: Actor) -> tuple[str, bytes]:
    name = make_user(Role.ADMIN, username="cdo")
    enrolment = users.enroll_totp(example_ctx, admin, name)
    return name, totp.from_base32(enrolment.secret)


def password_step(ctx: Context, name: str, at: dt.datetime = T0) -> CodeNeeded:
    result = sign_in.with_password(ctx, name, PASSWORD, now=at)
    assert isinstance(result, CodeNeeded), result
    return result


def test_an_enrolled_user_needs_the_code_of_the_moment(
    example_ctx: Context, enrolled: tuple[str, bytes]
) -> None:
    name, seed = enrolled
    challenge = password_step(example_ctx, name)
    code = totp.code_at(seed, T0.timestamp())

    result = sign_in.with_code(example_ctx, challenge.challenge, code, now=T0)

    assert isinstance(result, Granted)
    assert (result.actor.name, result.actor.mfa) == (name, True)
    [*_, (actor, _, outcome, detail)] = events(example_ctx, "auth:sign-in")
    assert (actor, outcome, detail) == (f"user:{name}", "ok", {"mfa": True})
    # The challenge is spent, and so is the code.
    again = sign_in.with_code(example_ctx, challenge.challenge, code, now=T0)
    assert again == Refused(retry=False)
    replay = password_step(example_ctx, name, T0 + dt.timedelta(seconds=5))
    later = T0 + dt.timedelta(seconds=5)
    assert sign_in.with_code(example_ctx, replay.challenge, code, now=later) == Refused()


def test_a_user_without_a_second_factor_signs_in_without_mfa(
    example_ctx: Context, make_user: MakeUser
) -> None:
    result = sign_in.with_password(example_ctx, make_user(Role.ADMIN), PASSWORD, now=T0)

    assert isinstance(result, Granted)
    assert result.actor.mfa is False


def test_wrong_codes_count_towards_the_lockout(
    example_ctx: Context, enrolled: tuple[str, bytes]
) -> None:
    name, seed = enrolled
    challenge = password_step(example_ctx, name)
    wrong = f"{(int(totp.code_at(seed, T0.timestamp())) + 1) % 10**6:06d}"

    answers = [sign_in.with_code(example_ctx, challenge.challenge, wrong, now=T0) for _ in range(5)]

    assert answers == [Refused()] * 4 + [Refused(retry=False)]
    assert len(events(example_ctx, "auth:lockout")) == 1
    # Locked: the right password no longer even reaches the code step.
    assert sign_in.with_password(example_ctx, name, PASSWORD, now=T0) == Refused()
    with example_ctx.db.session() as session:
        assert session.scalars(select(SignInChallenge)).all() == []


def test_a_right_password_does_not_reset_the_count_of_wrong_codes(
    example_ctx: Context, enrolled: tuple[str, bytes]
) -> None:
    name, _ = enrolled
    for _ in range(5):
        challenge = password_step(example_ctx, name)
        sign_in.with_code(example_ctx, challenge.challenge, "000000", now=T0)

    assert len(events(example_ctx, "auth:lockout")) == 1


def test_a_challenge_expires_after_five_minutes(
    example_ctx: Context, enrolled: tuple[str, bytes]
) -> None:
    name, seed = enrolled
    challenge = password_step(example_ctx, name)
    late = T0 + dt.timedelta(minutes=sign_in.CHALLENGE_MINUTES, seconds=1)

    result = sign_in.with_code(
        example_ctx, challenge.challenge, totp.code_at(seed, late.timestamp()), now=late
    )

    assert result == Refused(retry=False)


def test_the_seed_is_stored_encrypted_and_bound_to_its_user(
    example_ctx: Context, enrolled: tuple[str, bytes], make_user: MakeUser
) -> None:
    name, seed = enrolled
    other = make_user(Role.ANALYST)
    with example_ctx.db.write() as session:
        row = session.scalars(select(User).where(User.username == name)).one()
        stored = row.totp_secret
        assert stored is not None
        assert totp.to_base32(seed) not in stored
        assert seed.hex() not in stored
        # Copying the sealed seed onto another account does not give it that factor.
        session.scalars(select(User).where(User.username == other)).one().totp_secret = stored
    challenge = password_step(example_ctx, other)

    result = sign_in.with_code(
        example_ctx, challenge.challenge, totp.code_at(seed, T0.timestamp()), now=T0
    )

    assert result == Refused(retry=False)
    assert events(example_ctx, "auth:sign-in")[-1][3] == {"reason": "unreadable-second-factor"}
