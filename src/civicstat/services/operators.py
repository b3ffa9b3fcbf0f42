"""Who a command run on the server acts as: the operator, named after the OS user, who
holds every permission (whoever can run ``civicstat`` there holds the workspace anyway)."""

from __future__ import annotations

import getpass

from civicstat.governance.actors import Actor, Role, operator
from civicstat.governance.secrets import check_production
from civicstat.settings import Settings

__all__ = ["Actor", "Role", "check_settings", "shell_operator"]


def shell_operator() -> Actor:
    """The operator at this shell: ``operator:<OS user name>`` in the audit log."""
    return operator(getpass.getuser())


def check_settings(settings: Settings) -> None:
    """Refuse, with InsecureSecretKey, production settings without a usable secret key."""
    check_production(settings)
