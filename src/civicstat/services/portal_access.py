"""How often the public side may be called: the portal's rate limits and Socrata-style app
tokens (API tokens with the ``portal:app`` scope), for ``web.public_http``."""

from __future__ import annotations

from civicstat.governance.permissions import PORTAL_APP
from civicstat.metadata import public_state
from civicstat.services.accounts.tokens import authenticate_token
from civicstat.services.context import Context
from civicstat.spec.models import RateLimit


def rate_limits(ctx: Context) -> RateLimit:
    """The applied plan's ``portal.rate_limit``; the defaults before any plan is applied."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
    return plan.settings.portal.rate_limit if plan is not None else RateLimit()


def app_token_valid(ctx: Context, token_text: str) -> bool:
    """Whether ``token_text`` is a known, unexpired, unrevoked token with ``portal:app``.

    An app token only lifts the rate limit: the request is still read as the public.
    """
    return authenticate_token(ctx, token_text, PORTAL_APP.name) is not None


def state_stamp(ctx: Context) -> tuple[object, ...]:
    """A value that changes whenever anything a public answer shows may have changed: a
    new plan revision (classification, stories, suppression), data version, computed
    observation, approval, document or ingest run."""
    with ctx.db.session() as session:
        return public_state.stamp(session)
