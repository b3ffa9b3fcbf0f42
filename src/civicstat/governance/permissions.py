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
DATASET_EXPORT = _action("dataset:export", "dataset", "Download a dataset's rows as CSV")
DATASET_UNMASK = _action(
    "dataset:unmask", "dataset", "Read PII columns in clear instead of masked (audited)"
)
SOURCE_INGEST = _action("source:ingest", "source", "Pull a source and publish a new data version")
RUN_READ = _action("run:read", "source", "See ingest runs")
MEASURE_COMPUTE = _action("measure:compute", "measure", "Recompute a measure's observations")
MEASURE_READ = _action(
    "measure:read", "measure", "See a measure's series, slices, history and definition"
)
WORKSPACE_APPLY = _action("workspace:apply", "workspace", "Store the workspace spec as a revision")
USER_MANAGE = _action("user:manage", "user", "Create users and change their roles")
SOURCE_PUSH = _action("source:push", "source", "Send records to a push source's API endpoint")
TOKEN_MANAGE = _action("token:manage", "token", "Create, list and revoke API tokens")
LAKE_PRUNE = _action("lake:prune", "workspace", "Delete raw payloads past their retention")
LAKE_SWEEP = _action(
    "lake:sweep", "workspace", "Delete lake files no run or version refers to (killed ingests)"
)
DOCUMENT_ADD = _action(
    "dataset:document", "dataset", "Register a document (PDF, image) of a dataset"
)
AUDIT_READ = _action("audit:read", "audit", "Read the audit log and verify its hash chain")
CATALOG_READ = _action(
    "catalog:read", "catalog", "See the inventory of the datasets the actor may read"
)
MEASURE_APPROVE = _action(
    "measure:approve", "measure", "Approve a measure's definition for publication"
)
ACCESS_REQUEST = _action("access:request", "dataset", "Ask for time-limited access to a dataset")
ACCESS_DECIDE = _action(
    "access:decide", "dataset", "Approve or deny requests for a dataset of one's department"
)
AGREEMENT_READ = _action(
    "agreement:read", "department", "See a department's performance agreements and reviews"
)
AGREEMENT_DRAFT = _action(
    "agreement:draft", "department", "Draft or amend a department's performance agreement"
)
AGREEMENT_SIGN = _action(
    "agreement:sign", "department", "Sign one's own department's performance agreement"
)
AGREEMENT_REVIEW = _action(
    "agreement:review", "department", "Add a quarterly review note to a signed agreement"
)
ACTION_READ = _action("action:read", "objective", "See an objective's commentary and actions")
ACTION_WRITE = _action(
    "action:write", "objective", "Explain an objective's status and manage its action items"
)
MEETING_READ = _action("meeting:read", "meeting", "See the stat meeting agenda and records")
MEETING_RUN = _action("meeting:run", "meeting", "Record a stat meeting")
PORTAL_APP = _action(
    "portal:app", "portal", "Call the open data API at the app-token rate limit (X-App-Token)"
)

# portal:app is an app token's alone: a person has no rate limit to lift.
_ALL = frozenset(ACTIONS) - {PORTAL_APP.name}
ROLE_GRANTS: dict[Role, frozenset[str]] = {
    Role.ADMIN: _ALL,
    Role.STEWARD: frozenset(
        {
            "plan:read",
            "measure:read",
            "dataset:read",
            "dataset:export",
            "dataset:unmask",
            "dataset:document",
            "source:ingest",
            "source:push",
            "run:read",
            "measure:compute",
            "catalog:read",
            "access:request",
            "access:decide",
        }
        | {"agreement:read", "action:read", "meeting:read"}
    ),
    Role.DEPARTMENT_HEAD: frozenset(
        {"plan:read", "measure:read", "dataset:read", "dataset:export", "run:read"}
        | {"catalog:read", "access:request"}
        | {"agreement:read", "agreement:draft", "agreement:sign", "agreement:review"}
        | {"action:read", "action:write", "meeting:read"}
    ),
    Role.ANALYST: frozenset(
        {"plan:read", "measure:read", "dataset:read", "dataset:export", "run:read"}
        | {"catalog:read", "access:request"}
        | {"agreement:read", "action:read", "meeting:read"}
    ),
    Role.VIEWER: frozenset(
        {"plan:read", "measure:read", "catalog:read", "agreement:read", "action:read"}
    ),
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
# Classifications that may be read only by someone who signed in with a second factor.
NEEDS_MFA = frozenset({Classification.RESTRICTED})
# Actions on a dataset's data: each needs the dataset (or column) within the actor's clearance.
_DATA_ACTIONS = frozenset({"dataset:read", "dataset:export", "dataset:unmask"})
# Actions that need a sign-in with a second factor, whatever the data.
MFA_ACTIONS = frozenset({"dataset:unmask"})

# Actions a non-admin may take only on objects of their own department.
_OWN_DEPARTMENT = frozenset(
    {"access:decide", "agreement:draft", "agreement:sign", "agreement:review", "action:write"}
)
# Actions only the head of the resource's own department may take: not even an admin may
# sign a department head's agreement for them.
_HEAD_ONLY = frozenset({"agreement:sign"})
# Actions a sharing agreement or an approved access request can give a user on one resource,
# whatever their role and clearance; carried in ``Actor.grants`` as "<action>:<resource id>".
GRANTABLE = frozenset({"dataset:read"})

# What the public (``actors.PUBLIC``) may do, and only to public data: read and download it.
PUBLIC_ACTIONS = frozenset({"dataset:read", "dataset:export"})

# Actions an API token may be scoped to, as "<action>:<resource id>" or "<action>:*".
# ``portal:app:*`` is an app token: it lifts the public side's rate limit and reads
# nothing more than the public may (web/public_http.py).
TOKEN_ACTIONS = frozenset({"source:push", "portal:app"})


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
    if actor.kind == "public":
        return action.name in PUBLIC_ACTIONS and resource.classification is Classification.PUBLIC
    if actor.role is None:
        return False
    if granted(actor, action, resource.id):
        return _mfa_if_restricted(actor, resource.classification)
    if action.name not in ROLE_GRANTS[actor.role]:
        return False
    if action.name in _HEAD_ONLY and (
        actor.role is not Role.DEPARTMENT_HEAD or resource.department != actor.department
    ):
        return False
    if (
        action.name in _OWN_DEPARTMENT
        and actor.role is not Role.ADMIN
        and (resource.department is None or resource.department != actor.department)
    ):
        return False
    if action.name in MFA_ACTIONS and not actor.mfa:
        return False
    if action.name in _DATA_ACTIONS:
        return cleared(actor, resource.classification)
    return True


def cleared(
    actor: Actor, classification: Classification | None, dataset: str | None = None
) -> bool:
    """Whether data of ``classification`` (None: unclassified, so restricted) is within the
    actor's clearance: a dataset as a whole, or one of its columns. A grant to read
    ``dataset`` clears all of it (restricted data still needs a second factor)."""
    if actor.kind == "public":
        return classification is Classification.PUBLIC
    if actor.kind == "token" or actor.role is None:
        return False
    if dataset is not None and granted(actor, DATASET_READ, dataset):
        return _mfa_if_restricted(actor, classification)
    level = classification or Classification.RESTRICTED
    if _LEVEL[level] > _LEVEL[CLEARANCE[actor.role]]:
        return False
    return level not in NEEDS_MFA or actor.mfa


def granted(actor: Actor, action: Action, resource_id: str) -> bool:
    """Whether an agreement or an approved access request, in force when the actor was
    resolved, gives this user ``action`` on the resource."""
    return (
        actor.kind == "user"
        and action.name in GRANTABLE
        and token_scope(action, resource_id) in actor.grants
    )


def _mfa_if_restricted(actor: Actor, classification: Classification | None) -> bool:
    return (classification or Classification.RESTRICTED) not in NEEDS_MFA or actor.mfa


def require(actor: Actor, action: Action, resource: Resource) -> None:
    if not allowed(actor, action, resource):
        raise PermissionDenied(actor, action, resource)
