"""The demo's administration: its administrator, made on the first build with a random
password kept in a private file of the workspace (so each later build signs in the same
way), and the 911 measures approved for publication, as the performance office would."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from civicstat import private_files
from civicstat.services import publication
from civicstat.services.accounts import users
from civicstat.services.context import Context
from civicstat.services.operators import Actor, Role

__all__ = ["Credentials", "approve_for_publication", "ensure_admin"]

USERNAME = "admin"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str
    path: Path  # the private file that keeps them


def ensure_admin(ctx: Context, actor: Actor, directory: Path) -> Credentials:
    """The administrator's name and password, the user made first if the workspace has none."""
    path = directory / ".civicstat" / "demo-credentials"
    if not path.exists():
        password = secrets.token_urlsafe(12)
        users.add_user(
            ctx,
            actor,
            username=USERNAME,
            password=password,
            role=Role.ADMIN,
            display_name="Riverton performance office",
        )
        private_files.write_new(path, f"{USERNAME}\n{password}\n")
    username, password = path.read_text(encoding="utf-8").split()
    return Credentials(username, password, path)


APPROVAL_NOTE = (
    "Aggregate KPIs of the strategic plan: published with small cells suppressed; the call "
    "records stay confidential."
)


def approve_for_publication(
    ctx: Context, actor: Actor, measure_ids: Iterable[str]
) -> list[publication.Publication]:
    """Approve each measure's current definition for publication (audited; one already
    approved is left as it is), as ``civicstat measures approve`` does."""
    return [publication.approve(ctx, actor, m, note=APPROVAL_NOTE) for m in measure_ids]
