"""The workspace spec: what each YAML file of a workspace may say.

A workspace is a folder (it can live in git):

    civicstat.yaml      WorkspaceFile   name, timezone, fiscal year, storage, portal
    plan.yaml           PlanFile        plan period, goals → objectives (KPOs) with targets
    measures/*.yaml     Measure         how each KPI is computed from a dataset
    sources/*.yaml      Source          connector, schema, schedule, classification, PII
    governance.yaml     GovernanceFile  departments, suppression threshold, masking, agreements
    stories/*.md        Story           front matter (StoryMeta) and Markdown for the portal

Every model forbids unknown keys, so a typo is an error with a "did you mean".
Cross-file references (objective → measure, measure → dataset and columns,
owner → department) are checked by :mod:`civicstat.spec.validate`.
"""

from __future__ import annotations

from civicstat.spec.models._base import (
    ColumnName,
    Contact,
    Slug,
    SpecModel,
)
from civicstat.spec.models._governance_file import (
    Agreement,
    Classification,
    Department,
    GovernanceFile,
    Masking,
    Party,
    PiiKind,
    Suppression,
)
from civicstat.spec.models._measures import (
    DURATION_UNITS,
    Measure,
    MeasureUnit,
    Population,
    Window,
)
from civicstat.spec.models._plan_file import (
    Goal,
    Objective,
    PlanFile,
    PlanPeriod,
    Target,
    Trajectory,
    TrajectoryPoint,
)
from civicstat.spec.models._sources import (
    AcceptedValuesCheck,
    Catalog,
    Column,
    ColumnType,
    Frequency,
    FreshnessCheck,
    Load,
    LoadMode,
    NotNullCheck,
    QualityCheck,
    RangeCheck,
    RegexCheck,
    Retention,
    RowAccess,
    RowCountChangeCheck,
    Severity,
    Source,
    SqlCheck,
    UniqueCheck,
    frequency_of,
)
from civicstat.spec.models._stories import DataPolicy, Story, StoryMeta
from civicstat.spec.models._workspace_file import (
    HolidayCalendar,
    Network,
    Portal,
    RateLimit,
    Storage,
    WorkspaceFile,
)

__all__ = [
    "DURATION_UNITS",
    "AcceptedValuesCheck",
    "Agreement",
    "Catalog",
    "Classification",
    "Column",
    "ColumnName",
    "ColumnType",
    "Contact",
    "DataPolicy",
    "Department",
    "Frequency",
    "FreshnessCheck",
    "Goal",
    "GovernanceFile",
    "HolidayCalendar",
    "Load",
    "LoadMode",
    "Masking",
    "Measure",
    "MeasureUnit",
    "Network",
    "NotNullCheck",
    "Objective",
    "Party",
    "PiiKind",
    "PlanFile",
    "PlanPeriod",
    "Population",
    "Portal",
    "QualityCheck",
    "RangeCheck",
    "RateLimit",
    "RegexCheck",
    "Retention",
    "RowAccess",
    "RowCountChangeCheck",
    "Severity",
    "Slug",
    "Source",
    "SpecModel",
    "SqlCheck",
    "Storage",
    "Story",
    "StoryMeta",
    "Suppression",
    "Target",
    "Trajectory",
    "TrajectoryPoint",
    "UniqueCheck",
    "Window",
    "WorkspaceFile",
    "frequency_of",
]
