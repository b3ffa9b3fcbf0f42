"""Sessions and account changes, through the services on both metadata stores: a new token
at every sign-in, an idle and an absolute limit, and role changes or disabling that count
from the very next request."""

from __future__ import annotations

import datetime as dt

import pytest
from governance_helpers import MakeUser
from sqlalchemy import select

from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent, User
from civicstat.services.accounts import sessions, sign_in, users
from civicstat.services.accounts.sign_in import Granted
from civicstat.services.context import Context
from civicstat.services.errors import NotFound, PermissionDenied

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def signed_in_actor(ctx: Context, name: str) -> Actor:
    result = sign_in.with_password(ctx, name, "correct horse battery staple")
    assert isinstance(result, Granted)
    return result.actor


def last_event(ctx: Context, action: str) -> tuple[str, str, dict[str, object]]:
    with ctx.db.session() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None, f"no {action} event"
        return event.actor, event.object_id, event.detail


def test_signing_in_again_replaces_the_old_token(example_ctx: Context, make_user: MakeUser) -> None:
    actor = signed_in_actor(example_ctx, make_user())
    old, _ = sessions.open_session(example_ctx, actor, now=T0)

    new, _ = sessions.open_session(example_ctx, actor, replacing=old, now=T0)

    assert new != old
    assert sessions.resume_session(example_ctx, old, now=T0) is None
    assert sessions.resume_session(example_ctx, new, now=T0) is not None


def test_a_session_ends_after_thirty_idle_minutes(
    example_ctx: Context, make_user: MakeUser
) -> None:
    assert example_ctx.settings.session_idle_minutes == 30
    token, _ = sessions.open_session(example_ctx, signed_in_actor(example_ctx, make_user()), now=T0)

    # Each request within the idle limit keeps it alive, well past thirty minutes in all.
    for minutes in (10, 29, 55, 80):
        assert sessions.resume_session(example_ctx, token, now=T0 + dt.timedelta(minutes=minutes))

    assert sessions.resume_session(example_ctx, token, now=T0 + dt.timedelta(minutes=110)) is None
    # Gone for good, not merely refused once.
    assert sessions.resume_session(example_ctx, token, now=T0 + dt.timedelta(minutes=81)) is None


def test_a_busy_session_still_ends_at_the_absolute_limit(
    example_ctx: Context, make_user: MakeUser
) -> None:
    example_ctx.settings.session_hours = 1
    token, _ = sessions.open_session(example_ctx, signed_in_actor(example_ctx, make_user()), now=T0)
    for minutes in range(0, 60, 20):
        assert sessions.resume_session(example_ctx, token, now=T0 + dt.timedelta(minutes=minutes))

    assert sessions.resume_session(example_ctx, token, now=T0 + dt.timedelta(minutes=60)) is None


def test_shortening_the_limits_applies_to_open_sessions(
    example_ctx: Context, make_user: MakeUser
) -> None:
    token, _ = sessions.open_session(example_ctx, signed_in_actor(example_ctx, make_user()), now=T0)
    example_ctx.settings.session_hours = 0.5

    assert sessions.resume_session(example_ctx, token, now=T0 + dt.timedelta(minutes=31)) is None


def test_a_role_change_applies_from_the_next_request_and_is_audited(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user(Role.ANALYST)
    token, _ = sessions.open_session(example_ctx, signed_in_actor(example_ctx, name))

    info = users.set_role(example_ctx, admin, name, Role.STEWARD)

    assert info.role is Role.STEWARD
    resumed = sessions.resume_session(example_ctx, token)
    assert resumed is not None
    assert resumed.actor.role is Role.STEWARD
    assert last_event(example_ctx, "user:role-change") == (
        str(admin),
        name,
        {"before": "analyst", "after": "steward"},
    )


def test_disabling_a_user_ends_their_sessions_and_is_audited(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user()
    token, _ = sessions.open_session(example_ctx, signed_in_actor(example_ctx, name))

    info = users.disable(example_ctx, admin, name)

    assert not info.active
    assert sessions.resume_session(example_ctx, token) is None
    assert sign_in.authenticate(example_ctx, name, "correct horse battery staple") is None
    assert last_event(example_ctx, "user:disable") == (str(admin), name, {"sessions": 1})
    users.enable(example_ctx, admin, name)
    assert sign_in.authenticate(example_ctx, name, "correct horse battery staple") is not None


def test_enrolling_a_second_factor_ends_sessions_opened_without_it(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user(Role.ADMIN)
    token, _ = sessions.open_session(example_ctx, signed_in_actor(example_ctx, name))

    users.enroll_totp(example_ctx, admin, name)

    assert sessions.resume_session(example_ctx, token) is None
    assert [u.second_factor for u in users.list_users(example_ctx, admin)] == [True]


def test_a_session_keeps_whether_it_was_opened_with_a_second_factor(
    example_ctx: Context, make_user: MakeUser
) -> None:
    actor = signed_in_actor(example_ctx, make_user(Role.ADMIN))
    with_mfa = Actor("user", actor.name, actor.role, actor.department, actor.user_id, mfa=True)

    plain, _ = sessions.open_session(example_ctx, actor)
    strong, _ = sessions.open_session(example_ctx, with_mfa)

    assert sessions.resume_session(example_ctx, plain).actor.mfa is False  # type: ignore[union-attr]
    assert sessions.resume_session(example_ctx, strong).actor.mfa is True  # type: ignore[union-attr]


@pytest.mark.parametrize("change", ["set_role", "disable", "enable", "enroll_totp"])
def test_only_user_managers_change_accounts(
    example_ctx: Context, make_user: MakeUser, change: str
) -> None:
    name = make_user(Role.STEWARD)
    steward = signed_in_actor(example_ctx, name)
    call = getattr(users, change)
    args = (Role.ADMIN,) if change == "set_role" else ()

    with pytest.raises(PermissionDenied):
        call(example_ctx, steward, name, *args)
    with pytest.raises(PermissionDenied):
        users.list_users(example_ctx, steward)

    with example_ctx.db.session() as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).one()
        role = session.scalar(select(User.role).where(User.username == name))
    assert (denied.actor, denied.object_id) == (f"user:{name}", name)
    assert (
        denied.action
        == {
            "set_role": "user:role-change",
            "disable": "user:disable",
            "enable": "user:enable",
            "enroll_totp": "user:totp-enroll",
        }[change]
    )
    assert role == "steward"


def test_changing_an_unknown_user_says_so(example_ctx: Context, admin: Actor) -> None:
    with pytest.raises(NotFound, match="no user 'nobody'"):
        users.disable(example_ctx, admin, "nobody")
