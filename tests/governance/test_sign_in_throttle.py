"""Lockout an attacker cannot turn into a denial of service, on both metadata stores: one
client alone can never lock an account, however fast or slowly it guesses; a flood from one
address is refused unchecked (no argon2 work) while the real user signs in from another;
failures older than the window are forgotten; a lock several clients cause ends on time,
or at once when an administrator unlocks it (audited)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from governance_helpers import PASSWORD, MakeUser
from sqlalchemy import select
from typer.testing import CliRunner

from civicstat.cli import app
from civicstat.governance import passwords, totp
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent
from civicstat.services.accounts import sign_in, users
from civicstat.services.accounts.sign_in import CodeNeeded, Granted, Refused, client_key
from civicstat.services.context import Context
from civicstat.services.errors import PermissionDenied

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
WRONG = "not the password at all"
ATTACKER, ATTACKER_2, OFFICE = "203.0.113.66", "198.51.100.7", "192.0.2.10"


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def events(ctx: Context, action: str) -> list[AuditEvent]:
    with ctx.db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def checked_failures(ctx: Context, client: str) -> int:
    """Refusals that were checked (and so audited with their reason) from this client."""
    return sum(1 for e in events(ctx, "auth:sign-in") if e.detail.get("client") == client)


def guess(ctx: Context, name: str, client: str, when: dt.datetime) -> Refused:
    result = sign_in.with_password(ctx, name, WRONG, client=client, now=when)
    assert result == Refused()
    return result


def signs_in(ctx: Context, name: str, client: str, when: dt.datetime) -> bool:
    return isinstance(sign_in.with_password(ctx, name, PASSWORD, client=client, now=when), Granted)


@pytest.fixture
def only_admin(make_user: MakeUser) -> str:
    return make_user(Role.ADMIN, username="cdo")


@pytest.mark.parametrize("every_minutes", [0.01, 1, 3, 4])
def test_one_client_alone_never_locks_the_only_admin_however_fast_or_slowly_it_guesses(
    example_ctx: Context, only_admin: str, every_minutes: float
) -> None:
    for i in range(40):
        guess(example_ctx, only_admin, ATTACKER, at(i * every_minutes))
        if i % 10 == 9:  # now and then, the real admin signs in from the office
            assert signs_in(example_ctx, only_admin, OFFICE, at(i * every_minutes))

    assert events(example_ctx, "auth:lockout") == []
    # In any window of 15 minutes the attacker had at most 4 guesses checked.
    window = max(1, int(15 / every_minutes))
    assert checked_failures(example_ctx, ATTACKER) <= 4 * -(-40 // window)


def test_a_flood_from_one_address_is_refused_unchecked_while_the_user_signs_in_elsewhere(
    example_ctx: Context, only_admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real = passwords._hasher

    class Counting:
        """argon2's hasher, noting each hash it verifies."""

        def verify(self, stored: str, password: str) -> bool:
            verified.append(stored)
            return bool(real.verify(stored, password))

    monkeypatch.setattr(passwords, "_hasher", Counting())

    for i in range(100):
        guess(example_ctx, only_admin, ATTACKER, T0 + dt.timedelta(milliseconds=i))

    assert len(verified) == 4  # one fewer than would lock the account; then no argon2 work
    assert checked_failures(example_ctx, ATTACKER) == 4
    [throttled] = events(example_ctx, "auth:throttle")
    assert (throttled.object_id, throttled.detail) == (
        only_admin,
        {"client": ATTACKER, "failures": 4},
    )
    assert events(example_ctx, "auth:lockout") == []
    assert signs_in(example_ctx, only_admin, OFFICE, at(1))
    # The attacker's right guess, once throttled, is refused like any other.
    assert (
        sign_in.with_password(example_ctx, only_admin, PASSWORD, client=ATTACKER, now=at(2))
        == Refused()
    )


def test_a_burst_of_simultaneous_guesses_cannot_slip_past_the_limit(
    example_ctx: Context, only_admin: str
) -> None:
    answers: list[object] = []

    def one() -> None:
        answers.append(sign_in.with_password(example_ctx, only_admin, WRONG, client=ATTACKER))

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [Refused()] * 12
    assert checked_failures(example_ctx, ATTACKER) == 4
    assert events(example_ctx, "auth:lockout") == []


def test_one_client_trying_many_names_is_throttled_for_every_name(
    example_ctx: Context, make_user: MakeUser
) -> None:
    example_ctx.settings.throttle_attempts = 6
    real = make_user(Role.ANALYST, username="ana")
    for i in range(6):
        guess(example_ctx, f"guess-{i}", ATTACKER, at(i / 60))

    # Even a name it never tried, with the right password, is refused without a check.
    assert not signs_in(example_ctx, real, ATTACKER, at(1))
    assert [e.object_id for e in events(example_ctx, "auth:throttle")] == [ATTACKER]
    assert signs_in(example_ctx, real, OFFICE, at(1))
    # The limit holds for the window, then the address may try again.
    assert signs_in(example_ctx, real, ATTACKER, at(16))


def test_failures_older_than_the_window_no_longer_count(
    example_ctx: Context, make_user: MakeUser
) -> None:
    name = make_user()
    for minute in (0, 1, 2, 3):
        sign_in.with_password(example_ctx, name, WRONG, now=at(minute))
    # Four more, but the first four are more than 15 minutes old by then.
    for minute in (16, 17, 18, 18.5):
        sign_in.with_password(example_ctx, name, WRONG, now=at(minute))
    assert events(example_ctx, "auth:lockout") == []
    assert signs_in(example_ctx, name, OFFICE, at(19))

    # Five within the window do lock it.
    for minute in (20, 25, 30, 33, 34.9):
        sign_in.with_password(example_ctx, name, WRONG, now=at(minute))
    [lockout] = events(example_ctx, "auth:lockout")
    assert lockout.detail["failures"] == 5
    assert example_ctx.settings.lockout_window_minutes == 15


def test_several_clients_can_lock_an_account_but_the_lock_ends_on_time(
    example_ctx: Context, only_admin: str
) -> None:
    for i in range(4):
        guess(example_ctx, only_admin, ATTACKER, at(i / 60))
    guess(example_ctx, only_admin, ATTACKER_2, at(0.1))
    [lockout] = events(example_ctx, "auth:lockout")
    assert lockout.detail == {
        "failures": 5,
        "until": at(10.1).isoformat(),
        "client": ATTACKER_2,
    }
    assert not signs_in(example_ctx, only_admin, OFFICE, at(5))

    # The attackers keep guessing, every half minute, through and past the lock.
    minute = 0.5
    while minute < 10.1:
        guess(example_ctx, only_admin, ATTACKER, at(minute))
        guess(example_ctx, only_admin, ATTACKER_2, at(minute))
        minute += 0.5

    assert signs_in(example_ctx, only_admin, OFFICE, at(10.2))
    assert len(events(example_ctx, "auth:lockout")) == 1
    # Their tries while it was locked count against them, not towards a new lock.
    guess(example_ctx, only_admin, ATTACKER, at(10.3))
    guess(example_ctx, only_admin, ATTACKER_2, at(10.3))
    assert signs_in(example_ctx, only_admin, OFFICE, at(10.4))


def test_wrong_codes_from_one_client_do_not_lock_the_account_either(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user(Role.ADMIN, username="cdo")
    seed = totp.from_base32(users.enroll_totp(example_ctx, admin, name).secret)
    answers = []
    for i in range(6):  # an attacker who has the password, not the phone
        step = sign_in.with_password(example_ctx, name, PASSWORD, client=ATTACKER, now=at(i))
        if not isinstance(step, CodeNeeded):
            answers.append(step)
            continue
        answers.append(
            sign_in.with_code(example_ctx, step.challenge, "000000", client=ATTACKER, now=at(i))
        )

    assert answers == [Refused()] * 4 + [Refused(), Refused()]
    assert events(example_ctx, "auth:lockout") == []
    step = sign_in.with_password(example_ctx, name, PASSWORD, client=OFFICE, now=at(7))
    assert isinstance(step, CodeNeeded)
    code = totp.code_at(seed, at(7).timestamp())
    assert isinstance(
        sign_in.with_code(example_ctx, step.challenge, code, client=OFFICE, now=at(7)), Granted
    )


def lock(ctx: Context, name: str) -> None:
    now = dt.datetime.now(dt.UTC)
    for i in range(4):
        guess(ctx, name, ATTACKER, now + dt.timedelta(seconds=i))
    guess(ctx, name, ATTACKER_2, now + dt.timedelta(seconds=5))
    assert len(events(ctx, "auth:lockout")) == 1


def test_an_administrator_unlocks_an_account_at_once_and_it_is_audited(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user(Role.ANALYST, username="ana")
    lock(example_ctx, name)
    assert sign_in.authenticate(example_ctx, name, PASSWORD, client=OFFICE) is None

    info = users.unlock(example_ctx, admin, name)

    assert info.locked_until is None
    [unlocked] = events(example_ctx, "user:unlock")
    assert (unlocked.actor, unlocked.object_id, unlocked.outcome) == ("operator:pytest", name, "ok")
    assert unlocked.detail["failures_forgotten"] == 6  # five guesses and the office's refusal
    assert unlocked.detail["was_locked_until"] is not None
    assert sign_in.authenticate(example_ctx, name, PASSWORD, client=OFFICE) is not None
    # Forgotten from every client: even the attacker's address may try again.
    assert sign_in.authenticate(example_ctx, name, PASSWORD, client=ATTACKER) is not None


def test_only_someone_who_manages_users_may_unlock_and_a_refusal_is_audited(
    example_ctx: Context, make_user: MakeUser
) -> None:
    name = make_user(Role.ANALYST, username="ana")
    lock(example_ctx, name)
    steward = Actor("user", "stu", Role.STEWARD, user_id=99, mfa=True)

    with pytest.raises(PermissionDenied):
        users.unlock(example_ctx, steward, name)

    [refused] = events(example_ctx, "user:unlock")
    assert (refused.actor, refused.object_id, refused.outcome) == ("user:stu", name, "denied")
    assert sign_in.authenticate(example_ctx, name, PASSWORD, client=OFFICE) is None


def test_civicstat_users_unlock(
    example_ctx: Context, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = make_user(Role.ADMIN, username="cdo")
    lock(example_ctx, name)
    monkeypatch.setenv("CIVICSTAT_DATABASE_URL", example_ctx.db.url)
    runner = CliRunner()

    result = runner.invoke(app, ["users", "unlock", name, "-w", str(example_ctx.root)])

    assert (result.exit_code, result.stdout) == (0, "user cdo unlocked\n")
    assert events(example_ctx, "user:unlock")[0].actor.startswith("operator:")
    assert sign_in.authenticate(example_ctx, name, PASSWORD, client=OFFICE) is not None
    missing = runner.invoke(app, ["users", "unlock", "nobody", "-w", str(example_ctx.root)])
    assert (missing.exit_code, missing.stderr) == (1, "error: no user 'nobody'\n")


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.66", "203.0.113.66"),
        (" 203.0.113.66 ", "203.0.113.66"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.66", "203.0.113.66"),
        ("testclient", "testclient"),
        ("", None),
        (None, None),
    ],
)
def test_clients_are_told_apart_by_address_and_ipv6_by_its_slash_64(
    address: str | None, key: str | None
) -> None:
    assert client_key(address) == key
