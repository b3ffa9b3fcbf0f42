"""A CKAN action API subset at ``/api/3/action`` (``package_list``, ``package_show``,
``package_search``, ``organization_list``), so that a state portal's CKAN harvester or the
``ckanapi`` client reads the public catalog. Answers carry CKAN's envelope (``help``,
``success``, ``result``) and its errors; each action answers GET (query parameters) and
POST (a JSON object), as CKAN does."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from civicstat.services import open_data, open_feeds
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.open_feeds import Stamp
from civicstat.web.deps import Ctx
from civicstat.web.open_data import _ckan_packages as packages
from civicstat.web.open_data._feeds import Links, json_answer

router = APIRouter(tags=["CKAN"])
VERSIONED, UNVERSIONED = "/api/3/action", "/api/action"  # CKAN serves both; ckanapi uses the second

MAX_ROWS = 1000


class ActionError(Exception):
    """A CKAN error: its ``__type``, HTTP status and fields."""

    def __init__(self, kind: str, status: int, **fields: Any) -> None:
        super().__init__(kind)
        self.kind, self.status, self.fields = kind, status, fields


async def _params(request: Request) -> dict[str, Any]:
    """The action's parameters: the query string, and a POSTed JSON object over it."""
    query = request.query_params
    found: dict[str, Any] = {}
    for name in query:
        given = query.getlist(name)  # a list sent with GET comes as repeated parameters
        found[name] = given if len(given) > 1 else given[0]
    if request.method == "POST":
        body = await request.body()
        if body.strip():
            try:
                posted = json.loads(body)
            except ValueError:
                posted = None
            if not isinstance(posted, dict):
                found["__invalid__"] = True
            else:
                found |= posted
    return found


Params = Annotated[dict[str, Any], Depends(_params)]
Handler = Callable[[Request, Context, dict[str, Any]], tuple[Any, Stamp]]


def _answer(
    action: str, request: Request, ctx: Context, params: dict[str, Any], run: Handler
) -> Response:
    help_url = str(request.base_url).rstrip("/") + f"{VERSIONED}/help_show?name={action}"
    try:
        if params.pop("__invalid__", False):
            raise ActionError("Validation Error", 400, message="the body must be a JSON object")
        result, found = run(request, ctx, params)
    except ActionError as error:
        return _error(help_url, error.status, {"__type": error.kind} | error.fields)
    except NotFound:
        # A dataset that is not public answers exactly like one that does not exist.
        return _error(help_url, 404, {"__type": "Not Found Error", "message": "Not found"})
    return json_answer({"help": help_url, "success": True, "result": result}, found)


def _error(help_url: str, status: int, error: dict[str, Any]) -> Response:
    body = {"help": help_url, "success": False, "error": error}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _catalog(request: Request, ctx: Context) -> tuple[list[dict[str, Any]], Stamp]:
    site = open_feeds.portal(ctx)
    links = Links.of(request, site)
    datasets = open_data.catalog(ctx)
    measures = open_feeds.published_measures(ctx)
    found = [packages.dataset_package(site, links, d) for d in datasets]
    found += [packages.measure_package(site, links, m) for m in measures]
    return found, open_feeds.stamp(site, datasets, measures)


def _int(params: dict[str, Any], name: str, default: int, most: int | None = None) -> int:
    value = params.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ActionError("Validation Error", 409, **{name: ["Invalid integer"]}) from None
    if number < 0:
        raise ActionError("Validation Error", 409, **{name: ["Must be a natural number"]})
    return min(number, most) if most is not None else number


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes", "on")


def _list(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name) or []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ActionError("Validation Error", 409, **{name: ["Must be a list of strings"]})
    return value


def _package_list(request: Request, ctx: Context, params: dict[str, Any]) -> tuple[Any, Stamp]:
    found, stamp = _catalog(request, ctx)
    names = sorted(p["name"] for p in found)
    offset = _int(params, "offset", 0)
    limit = _int(params, "limit", len(names))
    return names[offset : offset + limit], stamp


def _package_show(request: Request, ctx: Context, params: dict[str, Any]) -> tuple[Any, Stamp]:
    wanted = params.get("id") or params.get("name_or_id")
    if not wanted or not isinstance(wanted, str):
        raise ActionError("Validation Error", 409, id=["Missing value"])
    site = open_feeds.portal(ctx)
    links = Links.of(request, site)
    if wanted.startswith(packages.MEASURE_PREFIX):
        measure = open_feeds.published_measure(ctx, wanted.removeprefix(packages.MEASURE_PREFIX))
        return packages.measure_package(site, links, measure), open_feeds.stamp(
            site, measures=[measure]
        )
    found = open_data.dataset(ctx, wanted)  # NotFound unless public
    return packages.dataset_package(site, links, found), open_feeds.stamp(site, [found])


def _package_search(request: Request, ctx: Context, params: dict[str, Any]) -> tuple[Any, Stamp]:
    rows = _int(params, "rows", 10, MAX_ROWS)
    start = _int(params, "start", 0)
    facet_fields = _list(params, "facet.field")
    facet_limit = _int(params, "facet.limit", 50)
    everything, stamp = _catalog(request, ctx)
    try:
        found = packages.search(
            everything, str(params.get("q") or ""), str(params.get("fq") or ""), params.get("sort")
        )
        counted = packages.facets(found, facet_fields, facet_limit)
    except packages.SearchQueryError as error:
        raise ActionError(
            "Search Query Error", 409, message=f"Search Query Error: {error}"
        ) from None
    result = {
        "count": len(found),
        "sort": params.get("sort") or "name asc",
        "results": found[start : start + rows],
        "facets": {field: dict(counts) for field, counts in counted.items()},
        "search_facets": {
            field: {
                "title": field,
                "items": [{"name": n, "display_name": n, "count": c} for n, c in counts.items()],
            }
            for field, counts in counted.items()
        },
    }
    return result, stamp


def _organization_list(request: Request, ctx: Context, params: dict[str, Any]) -> tuple[Any, Stamp]:
    everything, stamp = _catalog(request, ctx)
    counts: dict[str, int] = {}
    titles: dict[str, str] = {}
    for package in everything:
        org = package["organization"]
        if org:
            counts[org["name"]] = counts.get(org["name"], 0) + 1
            titles[org["name"]] = org["title"]
    names = sorted(counts, reverse=str(params.get("sort", "")).endswith("desc"))
    names = names[_int(params, "offset", 0) :][: _int(params, "limit", len(names))]
    if not _bool(params, "all_fields"):
        return names, stamp
    orgs = [packages.Organization(n, titles[n]) for n in names]
    return [packages.organization(o, counts[o.name]) for o in orgs], stamp


def _help_show(request: Request, ctx: Context, params: dict[str, Any]) -> tuple[Any, Stamp]:
    """What an action does (the ``help`` link of every answer points here); with no
    ``name``, what each action does."""
    name = params.get("name")
    stamp = open_feeds.stamp(open_feeds.portal(ctx))
    if name is None:
        return {action: summary for action, (_, summary, _) in _ACTIONS.items()}, stamp
    if not isinstance(name, str) or name not in _ACTIONS:
        raise NotFound.of("action", str(name))
    return _ACTIONS[name][1], stamp


def _query(*names: tuple[str, str, str]) -> dict[str, Any]:
    """The GET parameters an action reads, for the OpenAPI document."""
    return {
        "parameters": [
            {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
            for n, t, d in names
        ]
    }


_PAGING = (("limit", "integer", "At most this many"), ("offset", "integer", "Skip this many"))
_ACTIONS: dict[str, tuple[Handler, str, dict[str, Any]]] = {
    "package_list": (
        _package_list,
        "Names of every public dataset and published measure",
        _query(*_PAGING),
    ),
    "package_show": (
        _package_show,
        "One package by name; a 404 Not Found Error for anything not public",
        _query(("id", "string", "The package's name (a dataset id, or measure-<id>)")),
    ),
    "package_search": (
        _package_search,
        "Search the public packages",
        _query(
            ("q", "string", "Words that must all appear"),
            (
                "fq",
                "string",
                "Filters: organization:, tags:, groups:, res_format:, name:, "
                "license_id:, joined by spaces; -field:value excludes",
            ),
            ("rows", "integer", "Results per page (default 10, at most 1000)"),
            ("start", "integer", "Skip this many results"),
            (
                "sort",
                "string",
                "name, title_string, metadata_modified or metadata_created, then asc or desc",
            ),
            ("facet.field", "string", 'Fields to count, as a JSON list: ["organization","tags"]'),
            ("facet.limit", "integer", "Values per facet (default 50)"),
        ),
    ),
    "help_show": (
        _help_show,
        "What an action does",
        _query(("name", "string", "The action's name, e.g. package_search")),
    ),
    "organization_list": (
        _organization_list,
        "Departments that publish",
        _query(
            ("all_fields", "boolean", "Whole organization dicts instead of names"),
            ("sort", "string", "name asc (default) or name desc"),
            *_PAGING,
        ),
    ),
}
_ENVELOPE = {"content": {"application/json": {"schema": {"type": "object"}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "CKAN's envelope: help, success: true, result"} | _ENVELOPE,
    400: {"description": "A POSTed body that is not a JSON object"} | _ENVELOPE,
    404: {"description": "Not Found Error: no such public package"} | _ENVELOPE,
    409: {"description": "Validation Error or Search Query Error"} | _ENVELOPE,
}


def _route(action: str, run: Handler) -> Callable[..., Response]:
    def endpoint(request: Request, ctx: Ctx, params: Params) -> Response:
        return _answer(action, request, ctx, params, run)

    endpoint.__name__ = f"ckan_{action}"
    return endpoint


# Each action answers GET (documented, with its query parameters) and POST (a JSON object
# as the body, as ckanapi sends), at /api/3/action and at ckanapi's default /api/action.
for _action, (_run, _summary, _parameters) in _ACTIONS.items():
    for _prefix in (VERSIONED, UNVERSIONED):
        for _method in ("GET", "POST"):
            documented = _prefix == VERSIONED and _method == "GET"
            router.add_api_route(
                f"{_prefix}/{_action}", _route(_action, _run), methods=[_method],
                summary=_summary, response_class=Response, include_in_schema=documented,
                responses=_RESPONSES, openapi_extra=_parameters if documented else None,
                name=f"ckan_{_action}_{_method.lower()}{'' if _prefix == VERSIONED else '_alias'}",
            )  # fmt: skip
