"""The plan as last applied: the runtime model every engine and service works from."""

from civicstat.plan.applied import AppliedPlan
from civicstat.plan.build import build_plan

__all__ = ["AppliedPlan", "build_plan"]
