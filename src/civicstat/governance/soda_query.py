"""A SODA request (``$select``, ``$where``, ``$group``…, ``column=value``) read into a
:class:`Request` and compiled to an Ibis expression over a governed table: the table the
public reads, its masked columns already computed, so every filter, group and sort works
on what the reader sees and never on a value they may not read.

An aggregate (with ``$group`` or without) passes small-cell suppression: a group of fewer
than ``k`` rows shows its group values, but each aggregate of it (a count included) is
withheld as null, and ``$having`` and ``$order`` see the withheld values, so a small
count cannot be found out by filtering or sorting on it either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from civicstat.governance import soql
from civicstat.governance._soql_values import Values
from civicstat.governance.soql import Call, Column, Expr, Ordered, Selected, SoqlError

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 50_000
MAX_OFFSET = 2**63 - 1
_CLAUSES = {"$select", "$where", "$order", "$group", "$having", "$limit", "$offset", "$q"}
_CLAUSES |= {"$query"}
_WHOLE = re.compile(r"[0-9]{1,19}")
_HIDDEN = "__soda_"
_N = _HIDDEN + "n"


@dataclass(frozen=True)
class Request:
    """What a SODA read asks for, parsed; ``select`` None is every column."""

    select: tuple[Selected, ...] | None = None
    where: Expr | None = None
    order: tuple[Ordered, ...] = ()
    group: tuple[Expr, ...] = ()
    having: Expr | None = None
    q: str | None = None
    filters: tuple[tuple[str, str], ...] = ()
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def read_request(params: Iterable[tuple[str, str]]) -> Request:
    """The request the query string's ``params`` make. ``$$`` parameters (app tokens,
    system fields) are ignored; any other unknown ``$`` parameter is refused."""
    found: dict[str, str] = {}
    filters = []
    for name, value in params:
        if name.startswith("$$"):
            continue
        if name.startswith("$"):
            if name not in _CLAUSES:
                raise SoqlError(f"unknown parameter: SODA's are {', '.join(sorted(_CLAUSES))}")
            if name in found:
                raise SoqlError(f"parameter {name} given twice")
            found[name] = value
        else:
            filters.append((name, value))
            if len(filters) > soql.MAX_ITEMS:
                raise SoqlError(f"too many filters: at most {soql.MAX_ITEMS}")
    if "$query" in found:
        if len(found) > 1:
            raise SoqlError("$query stands alone: put every clause in it")
        found = split_query(found["$query"])
    text = {k: v for k, v in found.items() if v.strip()}
    return Request(
        select=soql.parse_select(text["$select"]) if "$select" in text else None,
        where=soql.parse_expression(text["$where"]) if "$where" in text else None,
        order=soql.parse_order(text["$order"]) if "$order" in text else (),
        group=soql.parse_group(text["$group"]) if "$group" in text else (),
        having=soql.parse_expression(text["$having"]) if "$having" in text else None,
        q=found.get("$q") or None,
        filters=tuple(filters),
        limit=_whole(text.get("$limit"), "$limit", DEFAULT_LIMIT, 0, MAX_LIMIT),
        offset=_whole(text.get("$offset"), "$offset", 0, 0, MAX_OFFSET),
    )


_QUERY_CLAUSES = {
    "select": "$select", "where": "$where", "group": "$group", "having": "$having",
    "order": "$order", "limit": "$limit", "offset": "$offset", "search": "$q",
}  # fmt: skip


def split_query(text: str) -> dict[str, str]:
    """``$query``'s one statement (``SELECT … WHERE … GROUP BY … HAVING … ORDER BY …
    LIMIT … OFFSET … SEARCH '…'``) as the parameters it stands for. A column named like
    a clause is written in backquotes."""
    found: dict[str, str] = {}
    scanned = soql.tokens(text)
    depth, clause, start = 0, None, 0
    for at, token in enumerate(scanned):
        depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "op" else 0
        word = token.text.lower() if token.kind == "name" else ""
        plain = token.kind == "name" and text[token.at] != "`"
        following = scanned[at + 1].text.lower() if at + 1 < len(scanned) else ""
        starts = plain and depth == 0 and word in _QUERY_CLAUSES
        if starts and word in ("group", "order") and following != "by":
            starts = False
        if starts or token.kind == "end":
            if clause is not None:
                found[clause] = text[start : token.at].strip()
            elif token.at > 0 and text[: token.at].strip():
                raise SoqlError("$query must start with a clause such as SELECT or WHERE")
            if token.kind == "end":
                break
            clause = _QUERY_CLAUSES[word]
            if clause in found:
                raise SoqlError(f"$query has {word.upper()} twice")
            skip = 2 if word in ("group", "order") else 1
            start = scanned[at + skip].at if at + skip < len(scanned) else len(text)
    if "$q" in found:
        literal = soql.parse_expression(found["$q"])
        if not isinstance(literal, soql.Literal) or not isinstance(literal.value, str):
            raise SoqlError("SEARCH takes a quoted text")
        found["$q"] = literal.value
    return found


def _whole(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not _WHOLE.fullmatch(text.strip()) or not low <= int(text) <= high:
        raise SoqlError(f"{name} must be a whole number between {low} and {high:,}")
    return int(text)


@dataclass
class Compiled:
    """The query to run, and the names of the columns it answers with (in order); the
    query may carry more (sort keys), to be dropped after it runs."""

    query: ir.Table
    columns: list[str]
    names: dict[str, str] = field(default_factory=dict)


def compile_request(
    table: ir.Table, request: Request, *, k: int, stable: Sequence[str] = ()
) -> Compiled:
    """``request`` over ``table`` (the governed table), as one Ibis expression. ``stable``:
    the dataset's key columns, the order of rows when the request gives none, so that
    pages follow on from each other."""
    try:
        return _compile(table, request, k, stable)
    except SoqlError:
        raise
    except ArithmeticError:
        raise SoqlError("the query divides by zero") from None
    except (ibis.common.exceptions.IbisError, TypeError, ValueError, AttributeError):
        # Ibis refusing a type (sum over text…): the message could quote a literal.
        raise SoqlError("the query's types do not fit: check each function's arguments") from None


def _compile(table: ir.Table, request: Request, k: int, stable: Sequence[str]) -> Compiled:
    rows = Values(table)
    narrowed = table
    if request.where is not None:
        if soql.has_aggregate(request.where):
            raise SoqlError("an aggregate cannot be in $where: use $having")
        narrowed = narrowed.filter(rows.condition(request.where))
    if request.q is not None:
        narrowed = narrowed.filter(_full_text(table, request.q))
    for name, text in request.filters:
        column = rows.column(name)
        narrowed = narrowed.filter(column == rows.coerce(soql.Literal(text), column.type()))
    select = request.select or (Selected(None),)
    # An output's name (its alias, or Socrata's name for it, ``count`` for count(*)) may
    # stand for it in $group, $having and $order, unless a column has that name.
    aliases = {
        s.alias or _name_of(s.expr, i): s.expr
        for i, s in enumerate(select)
        if s.expr is not None and (s.alias or _name_of(s.expr, i)) not in table.columns
    }
    group = tuple(_aliased(g, aliases) for g in request.group)
    having = _aliased(request.having, aliases) if request.having is not None else None
    order = tuple(Ordered(_aliased(o.expr, aliases), o.descending) for o in request.order)
    grouped = bool(group) or having is not None
    grouped |= any(s.expr is not None and soql.has_aggregate(s.expr) for s in select)
    if grouped:
        return _aggregate(narrowed, select, group, having, order, k, request)
    if having is not None:
        raise SoqlError("$having needs $group or an aggregate in $select")
    outputs = _outputs(select, table.columns, Values(narrowed))
    values = Values(narrowed)
    keys = [(values.value(o.expr), o.descending) for o in order]
    if not order:
        keys = [(narrowed[c], False) for c in stable if c in narrowed.columns]
        keys += [(v, False) for v in outputs.values()]
    return _finish(narrowed, outputs, keys, request)


def _aggregate(
    table: ir.Table,
    select: tuple[Selected, ...],
    group: tuple[Expr, ...],
    having: Expr | None,
    order: tuple[Ordered, ...],
    k: int,
    request: Request,
) -> Compiled:
    if any(s.expr is None for s in select):
        raise SoqlError("* cannot be selected with $group or an aggregate")
    before = Values(table)
    keys = {f"{_HIDDEN}g{i}": before.value(g) for i, g in enumerate(group)}
    calls: list[Call] = []
    for expr in [*(s.expr for s in select), having, *(o.expr for o in order)]:
        for node in soql.walk(expr) if expr is not None else ():
            if isinstance(node, Call) and node.function in soql.AGGREGATES and node not in calls:
                calls.append(node)
    metrics = {f"{_HIDDEN}a{i}": before.aggregate(c) for i, c in enumerate(calls)}
    metrics[_N] = table.count()
    if keys:
        result = table.group_by([v.name(n) for n, v in keys.items()]).aggregate(**metrics)
    else:
        result = table.aggregate(**metrics)
    shown = result[_N] >= k
    resolved: dict[Expr, ir.Value] = {g: result[f"{_HIDDEN}g{i}"] for i, g in enumerate(group)}
    for i, call in enumerate(calls):
        value = result[f"{_HIDDEN}a{i}"]
        resolved[call] = ibis.ifelse(shown, value, ibis.null(value.type()))
    after = Values(result, resolved)
    if having is not None:
        # Ibis reads the grouped table's columns through the filter.
        result = result.filter(after.condition(having))
    outputs = _outputs(select, (), after)
    sort = [(after.value(o.expr), o.descending) for o in order]
    if not order:
        sort = [(result[name], False) for name in keys]
    return _finish(result, outputs, sort, request)


def _outputs(
    select: tuple[Selected, ...], columns: Sequence[str], values: Values
) -> dict[str, ir.Value]:
    outputs: dict[str, ir.Value] = {}
    for position, item in enumerate(select):
        if item.expr is None:
            named = {c: values.column(c) for c in columns}
        else:
            name = item.alias or _name_of(item.expr, position)
            if name.startswith(_HIDDEN):
                raise SoqlError("names starting with __soda_ are reserved")
            named = {name: values.value(item.expr)}
        for name, value in named.items():
            if name in outputs:
                raise SoqlError(f"column {name!r} selected twice: give one an alias")
            outputs[name] = value
    return outputs


def _finish(
    table: ir.Table,
    outputs: dict[str, ir.Value],
    keys: list[tuple[ir.Value, bool]],
    request: Request,
) -> Compiled:
    sort = {f"{_HIDDEN}o{i}": value for i, (value, _) in enumerate(keys)}
    projected = table.select(**outputs, **sort)
    ordering = [
        ibis.desc(name) if desc else ibis.asc(name)
        for name, (_, desc) in zip(sort, keys, strict=True)
    ]
    if ordering:
        projected = projected.order_by(ordering)
    query = projected.limit(request.limit, offset=request.offset)
    return Compiled(query, list(outputs))


def _full_text(table: ir.Table, q: str) -> ir.BooleanValue:
    """Rows where any text column contains ``q``, in any case."""
    needle = q.lower()
    texts = [table[c] for c in table.columns if table[c].type().is_string()]
    if not texts:
        return ibis.literal(False)
    found = texts[0].lower().contains(needle)
    for column in texts[1:]:
        found |= column.lower().contains(needle)
    return found


def _aliased(expr: Expr, aliases: dict[str, Expr]) -> Expr:
    """``expr`` with each alias of ``$select`` replaced by what it names."""
    return soql.substitute(expr, aliases)


def _name_of(expr: Expr, position: int) -> str:
    """The name Socrata gives an unaliased select item: ``count(*)`` → ``count``,
    ``sum(x)`` → ``sum_x``, ``date_trunc_ym(created_at)`` → ``date_trunc_ym_created_at``."""
    if isinstance(expr, Column):
        return expr.name
    if isinstance(expr, Call):
        if expr.star:
            return expr.function
        inner = [_name_of(a, position) for a in expr.args]
        if all(inner):
            return "_".join([expr.function, *inner])
    return f"_expr{position}"
