"""Permissions as data: every action has a name and a resource kind, registered here.

``allowed`` is the one function that answers "may this actor do this to that"; services
call ``require`` before they touch data, and a test walks every route to prove it.
"""

from __future__ import annotations

from dataclasses import dataclass

from civicstat.governance.actors import Actor, Role
from civicstat.spec.models import Classification


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    resource_kind: str
    description: str


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    id: str
    department: str | None = None
    classification: Classification | None = None  # None: unclassified, treated as restricted


class PermissionDenied(Exception):
    def __init__(self, actor: Actor, action: Action, resource: Resource) -> None:
        super().__init__(f"{actor} may not {action.name} {resource.kind} {resource.id!r}")
        self.actor = actor
        self.action = action
        self.resource = resource


ACTIONS: dict[str, Action] = {}


def _action(name: str, resource_kind: str, description: str) -> Action:
    action = Action(name, resource_kind, description)
    ACTIONS[name] = action
    return action


PLAN_READ = _action("plan:read", "plan", "See the plan: goals, objectives, targets, latest values")
DATASET_READ = _action("dataset:read", "dataset", "Query a curated dataset")
SOURCE_INGEST = _action("source:ingest", "source", "Pull a source and publish a new data version")
RUN_READ = _action("run:read", "source", "See ingest runs")
MEASURE_COMPUTE = _action("measure:compute", "measure", "Recompute a measure's observations")
WORKSPACE_APPLY = _action("workspace:apply", "workspace", "Store the workspace spec as a revision")
USER_MANAGE = _action("user:manage", "user", "Create users and change their roles")
SOURCE_PUSH = _action("source:push", "source", "Send records to a push source's API endpoint")
TOKEN_MANAGE = _action("token:manage", "token", "Create, list and revoke API tokens")
LAKE_PRUNE = _action("lake:prune", "workspace", "Delete raw payloads past their retention")
DOCUMENT_ADD = _action(
    "dataset:document", "dataset", "Register a document (PDF, image) of a dataset"
)

_ALL = frozenset(ACTIONS)
ROLE_GRANTS: dict[Role, frozenset[str]] = {
    Role.ADMIN: _ALL,
    Role.STEWARD: frozenset(
        {
            "plan:read",
            "dataset:read",
            "dataset:document",
            "source:ingest",
            "source:push",
            "run:read",
            "measure:compute",
        }
    ),
    Role.DEPARTMENT_HEAD: frozenset({"plan:read", "dataset:read", "run:read"}),
    Role.ANALYST: frozenset({"plan:read", "dataset:read", "run:read"}),
    Role.VIEWER: frozenset({"plan:read"}),
}

# The most sensitive classification each role may read; unclassified data counts as restricted.
CLEARANCE: dict[Role, Classification] = {
    Role.ADMIN: Classification.RESTRICTED,
    Role.STEWARD: Classification.CONFIDENTIAL,
    Role.DEPARTMENT_HEAD: Classification.CONFIDENTIAL,
    Role.ANALYST: Classification.INTERNAL,
    Role.VIEWER: Classification.INTERNAL,
}
_LEVEL = {c: i for i, c in enumerate(Classification)}

# Actions an API token may be scoped to, as "<action>:<resource id>" or "<action>:*".
TOKEN_ACTIONS = frozenset({"source:push"})


def token_scope(action: Action, resource_id: str) -> str:
    """The scope that lets a token do ``action`` to one resource ("*": to every one)."""
    return f"{action.name}:{resource_id}"


def allowed(actor: Actor, action: Action, resource: Resource) -> bool:
    """Whether ``actor`` may perform ``action`` on ``resource``: the only place this is decided."""
    if resource.kind != action.resource_kind:
        raise ValueError(
            f"action {action.name} applies to {action.resource_kind}, not {resource.kind}"
        )
    if actor.kind == "token":
        # A token does exactly what its scopes name, whoever created it.
        return action.name in TOKEN_ACTIONS and not actor.scopes.isdisjoint(
            {token_scope(action, resource.id), token_scope(action, "*")}
        )
    if actor.role is None:
        return False
    if action.name not in ROLE_GRANTS[actor.role]:
        return False
    if action is DATASET_READ:
        level = resource.classification or Classification.RESTRICTED
        return _LEVEL[level] <= _LEVEL[CLEARANCE[actor.role]]
    return True


def require(actor: Actor, action: Action, resource: Resource) -> None:
    if not allowed(actor, action, resource):
        raise PermissionDenied(actor, action, resource)
