"""Measure kinds as the spec sees them: each kind's parameters and what it says about itself.

A kind declares its parameter model (as MetricFlow's ``type_params``): the measure fields it
reads, required or optional. The YAML stays flat, so a :class:`~civicstat.spec.models.Measure`
keeps every field and :meth:`MeasureKind.params` reads a kind's own ones out of it. What a
declaration says (depends on which measures, which column places a row in time, whether it
is computed from rows, from other measures, or is a flow of open items) is all that
validation and the plan need, so they never import the engines. How a kind is computed lives
in :mod:`civicstat.metrics.kinds`, named by :attr:`MeasureKind.computation`.

Kinds register through the ``civicstat.measure_kinds`` entry point group, the built-in ones
(:mod:`civicstat.spec.builtin_kinds`) exactly as a plugin's.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from civicstat.spec.models import Measure, Window

GROUP = "civicstat.measure_kinds"

#: Fields every measure may have, whatever its kind.
BASE_FIELDS = frozenset({"id", "title", "description", "kind", "grain", "unit"})

__all__ = [
    "BASE_FIELDS",
    "GROUP",
    "KindParams",
    "MeasureKind",
    "RowMeasureKind",
    "RowParams",
    "ValueParams",
    "available",
    "get",
]


class KindParams(BaseModel):
    """A kind's parameters: the measure fields it reads, required ones without a default.

    Built from an already validated :class:`Measure`, so the fields only need their types.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class RowParams(KindParams):
    """The fields of a kind computed from the rows of a dataset."""

    dataset: str
    time: str
    filter: str | None = None
    breakdowns: list[str] = Field(default_factory=list)
    window: Window | None = None


class ValueParams(RowParams):
    """A row kind aggregating a ``value`` expression."""

    value: str


class MeasureKind:
    """A measure kind's declaration; subclass it, name its :attr:`Params`, register it."""

    name: ClassVar[str]
    Params: ClassVar[type[KindParams]] = KindParams
    #: Fields the kind needs and fields it may use besides :data:`BASE_FIELDS`; taken from
    #: :attr:`Params` (required: no default) unless the class sets them itself.
    required: ClassVar[frozenset[str]] = frozenset()
    optional: ClassVar[frozenset[str]] = frozenset()
    #: ``"module:attribute"`` of the kind's computing part (a :class:`metrics.kinds.Kind`);
    #: None when this class computes too.
    computation: ClassVar[str | None] = None
    default_unit: ClassVar[str] = "number"
    #: True when values add up over time (counts, sums): the period-end projection scales
    #: the value so far by the period's length; otherwise the current value is the pace.
    additive: ClassVar[bool] = False
    #: True when a group's aggregates are sums of its parts' (count, sum, share, mean), so a
    #: window can add up per-period aggregates instead of re-reading every row per period.
    decomposable: ClassVar[bool] = False
    #: True when ``value`` must be a number (a sum, a mean...); a distinct count takes any.
    numeric_value: ClassVar[bool] = False
    #: Computed from the rows of the measure's dataset (then :meth:`time_column` says which
    #: column places a row in a period).
    from_rows: ClassVar[bool] = False
    #: Computed from other measures' observations, period by period (a ratio, a derived).
    composite: ClassVar[bool] = False
    #: Another measure's rows accumulated over each year (year to date).
    accumulates: ClassVar[bool] = False
    #: Items open at each period's end (a backlog): a value at every period of the data's
    #: span, carried on from the period before by what opened and closed since.
    flow: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        fields = cls.Params.model_fields
        if "required" not in cls.__dict__:
            cls.required = frozenset(n for n, f in fields.items() if f.is_required())
        if "optional" not in cls.__dict__:
            cls.optional = frozenset(n for n, f in fields.items() if not f.is_required())

    @property
    def windowed(self) -> bool:
        """Whether a measure of this kind may aggregate over a ``window`` of periods."""
        return "window" in self.required | self.optional

    def params(self, measure: Measure) -> KindParams:
        """This kind's parameters of ``measure`` (a validated measure of this kind)."""
        fields = self.Params.model_fields
        return self.Params.model_construct(**{f: getattr(measure, f) for f in fields})

    def problems(self, measure: Measure) -> list[tuple[str, str]]:
        """Problems beyond field presence, as (field, message)."""
        return []

    def decomposes(self, measure: Measure) -> bool:
        """Whether this measure's aggregates add up over parts (by default the kind's
        ``decomposable``): then a window adds up its periods, and an append adds the new
        rows' aggregates to the stored ones. Such a measure's aggregates are a value, or a
        numerator over a denominator that is never NULL (a count), each a sum."""
        return self.decomposable

    def depends_on(self, measure: Measure) -> list[str]:
        """Ids of the measures this one is computed from."""
        return []

    def time_column(self, measure: Measure) -> str:
        """The column that places a row in a period (a row kind's)."""
        assert measure.time is not None  # required by the kind, checked by validate
        return measure.time

    def unit(self, measure: Measure) -> str:
        return measure.unit or self.default_unit


class RowMeasureKind(MeasureKind):
    """A kind computed from the rows of the measure's dataset."""

    Params: ClassVar[type[KindParams]] = RowParams
    from_rows = True


@cache
def available() -> Mapping[str, MeasureKind]:
    """Every installed kind's declaration, by name."""
    kinds: dict[str, MeasureKind] = {}
    for ep in entry_points(group=GROUP):
        loaded = ep.load()
        kinds[ep.name] = loaded() if isinstance(loaded, type) else loaded
    return kinds


def get(name: str) -> MeasureKind:
    kinds = available()
    if name not in kinds:
        raise KeyError(f"unknown measure kind {name!r} (installed: {', '.join(sorted(kinds))})")
    return kinds[name]
