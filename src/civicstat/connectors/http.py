"""The ``http`` connector: JSON or CSV from any HTTP API, page by page, each page landed as-is.

Pagination styles cover the APIs cities meet: offset/limit, page numbers, a cursor in the
body, a next link in the body and RFC 8288 ``Link`` headers. Secrets never sit in the
spec: ``auth_env`` names the environment variable that holds the Authorization value.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from civicstat.connectors._net import Net, NetworkOptions, Pages, Sleep, with_params
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload
from civicstat.spec.boundary import EnvName
from civicstat.spec.models import SpecModel
from civicstat.warehouse.csv_format import CsvOptions

# Headers that carry credentials: their values belong in an environment variable.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-app-token"}
)


class NoPagination(SpecModel):
    """One request, one page."""

    type: Literal["none"] = "none"


class OffsetPagination(SpecModel):
    """``?offset=0&limit=100``, ``offset=100``...; a page shorter than ``page_size`` is the last."""

    type: Literal["offset"]
    offset_param: str = Field("offset", min_length=1, description="Query parameter of the offset")
    limit_param: str = Field("limit", min_length=1, description="Query parameter of the page size")
    page_size: int = Field(100, ge=1, description="Records per page; at most the API's maximum")
    start: int = Field(0, ge=0, description="Offset of the first page")


class PagePagination(SpecModel):
    """``?page=1``, ``?page=2``...; ends on an empty page (or a short one, given ``page_size``)."""

    type: Literal["page"]
    page_param: str = Field("page", min_length=1, description="Query parameter of the page number")
    start: int = Field(1, ge=0, description="Number of the first page")
    size_param: str | None = Field(None, description="Query parameter of the page size, if any")
    page_size: int | None = Field(None, ge=1, description="Records per page, sent as size_param")


class CursorPagination(SpecModel):
    """Each body holds the cursor of the next page; it is sent back as a query parameter."""

    type: Literal["cursor"]
    cursor_path: str = Field(min_length=1, description="Dot path of the next cursor in the body")
    cursor_param: str = Field("cursor", min_length=1, description="Query parameter to send it in")


class NextLinkPagination(SpecModel):
    """Each body holds the URL of the next page (absolute, or relative to the current one)."""

    type: Literal["next_link"]
    next_path: str = Field(min_length=1, description="Dot path of the next page's URL in the body")


class LinkHeaderPagination(SpecModel):
    """RFC 8288 ``Link: <https://…?page=2>; rel="next"`` response headers (GitHub-style APIs)."""

    type: Literal["link_header"]
    rel: str = Field("next", min_length=1, description="Relation of the next page's link")


Pagination = Annotated[
    NoPagination
    | OffsetPagination
    | PagePagination
    | CursorPagination
    | NextLinkPagination
    | LinkHeaderPagination,
    Field(discriminator="type"),
]


class HttpOptions(NetworkOptions):
    """Options of the ``http`` connector."""

    url: str = Field(description="URL of the first page (http or https)")
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Query parameters sent with every page"
    )
    body: dict[str, Any] | None = Field(None, description="JSON body sent with POST")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers; never credentials"
    )
    auth_env: EnvName | None = Field(
        None, description="Environment variable whose value is sent as the auth header"
    )
    auth_header: str = Field("Authorization", min_length=1, description="Header for auth_env")
    auth_scheme: str | None = Field(None, description="Prefix of the auth value, e.g. Bearer")
    format: Literal["json", "csv"] = "json"
    records: str | None = Field(
        None, description="Dot path of the records array in a JSON page; default: the page"
    )
    csv: CsvOptions = CsvOptions()
    pagination: Pagination = Field(default_factory=NoPagination)
    max_pages: int = Field(1000, ge=1, description="More pages than this fails the pull")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if httpx.URL(value).scheme not in ("http", "https") or not httpx.URL(value).host:
            raise ValueError("url must be an http:// or https:// URL with a host")
        return value

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        secret = sorted(name for name in value if name.lower() in _SECRET_HEADERS)
        if secret:
            raise ValueError(
                f"header {', '.join(secret)} carries a credential: name an environment variable "
                "with auth_env (and auth_header) instead of writing it in the spec"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpOptions:
        if self.format == "csv" and self.pagination.type in ("cursor", "next_link"):
            raise ValueError(f"{self.pagination.type} pagination reads the body: it needs JSON")
        if self.body is not None and self.method != "POST":
            raise ValueError("body is sent with method POST only")
        return self


@dataclass
class _Next:
    """Where the next page is: a URL and the query parameters to add to it."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    key: str | None = None  # identifies a link or cursor, to catch a loop


class HttpConnector:
    """Pulls every page of an HTTP API; each page is one payload, byte for byte."""

    Options: ClassVar[type[HttpOptions]] = HttpOptions

    def __init__(self, options: HttpOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context
        self.sleep: Sleep = time.sleep  # tests replace it to check backoff without waiting

    def fetch(self) -> Iterator[Payload]:
        o = self.options
        headers = {**o.headers, **self._auth()}
        pages = Pages(o.max_pages)
        first = self._first()
        pages.links.add(str(first.key))
        where: _Next | None = first
        with Net(self.context, o, secret_headers=[o.auth_header], sleep=self.sleep) as net:
            while where is not None:
                response = net.request(
                    o.method, where.url, params=where.params, headers=headers, json=o.body
                )
                shown = net.shown(response.url)
                body = response.content
                document, count = self._parse(body, pages.count + 1, shown)
                if count == 0:
                    return  # the end; an empty pull gives no payload and changes nothing
                number = pages.add(body, shown)
                yield self._payload(number, body, response)
                where = self._next(where, response, document, count)
                if where is not None:
                    pages.more(where.key, net.shown(with_params(where.url, where.params)))

    def read_options(self) -> dict[str, Any]:
        if self.options.format == "csv":
            return {"csv": self.options.csv.model_dump()}
        return {"json": {"records": self.options.records or ""}}

    def _auth(self) -> dict[str, str]:
        o = self.options
        if o.auth_env is None:
            return {}
        holds = f"the credential for {httpx.URL(o.url).host}"
        secret = self.context.secret(o.auth_env, holds, "auth_env")
        return {o.auth_header: f"{o.auth_scheme} {secret}" if o.auth_scheme else secret}

    def _first(self) -> _Next:
        o, p = self.options, self.options.pagination
        params: dict[str, Any] = dict(o.params)
        if isinstance(p, OffsetPagination):
            params |= {p.offset_param: p.start, p.limit_param: p.page_size}
        elif isinstance(p, PagePagination):
            params[p.page_param] = p.start
            if p.size_param and p.page_size:
                params[p.size_param] = p.page_size
        return _Next(o.url, params, key=str(with_params(o.url, params)))

    def _next(
        self, current: _Next, response: httpx.Response, document: Any, count: int | None
    ) -> _Next | None:
        """The next page, or None when this one was the last."""
        p = self.options.pagination
        if isinstance(p, OffsetPagination):
            if count is not None and count < p.page_size:
                return None
            step = p.page_size if count is None else count
            offset = int(current.params[p.offset_param]) + step
            return _Next(current.url, current.params | {p.offset_param: offset})
        if isinstance(p, PagePagination):
            if p.page_size is not None and count is not None and count < p.page_size:
                return None
            page = int(current.params[p.page_param]) + 1
            return _Next(current.url, current.params | {p.page_param: page})
        if isinstance(p, CursorPagination):
            cursor = self._optional(document, p.cursor_path)
            if cursor in (None, ""):
                return None
            return _Next(current.url, current.params | {p.cursor_param: cursor}, key=str(cursor))
        if isinstance(p, NextLinkPagination):
            link = self._optional(document, p.next_path)
            return None if link in (None, "") else self._link(response, str(link))
        if isinstance(p, LinkHeaderPagination):
            link = response.links.get(p.rel, {}).get("url")
            return None if not link else self._link(response, link)
        return None

    @staticmethod
    def _link(response: httpx.Response, link: str) -> _Next:
        url = str(response.url.join(link))
        return _Next(url, key=url)

    @staticmethod
    def _optional(document: Any, path: str) -> Any:
        try:
            return at_path(document, path)
        except KeyError:
            return None

    def _parse(self, body: bytes, number: int, shown: str) -> tuple[Any, int | None]:
        """The parsed page and its record count (None when it cannot be told)."""
        if self.options.format == "csv":
            return None, _csv_rows(body, self.options.csv)
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise ConnectorError(
                f"page {number} from {shown} is not valid JSON ({error}); the response may "
                "have been cut off"
            ) from error
        try:
            records = at_path(document, self.options.records)
        except KeyError as error:
            raise ConnectorError(
                f"page {number} from {shown} has no {self.options.records!r} (records): "
                f"missing {error.args[0]!r}"
            ) from error
        if isinstance(records, list):
            return document, len(records)
        if self.options.records:
            raise ConnectorError(
                f"page {number} from {shown}: {self.options.records!r} (records) is a "
                f"{type(records).__name__}, not an array"
            )
        return document, None

    def _payload(self, number: int, body: bytes, response: httpx.Response) -> Payload:
        o = self.options
        default = "text/csv" if o.format == "csv" else "application/json"
        content_type = response.headers.get("content-type", default)
        return Payload(
            f"page-{number:04d}.{o.format}",
            o.format,
            content_type,
            partial(io.BytesIO, body),
            self.read_options(),
        )


def at_path(document: Any, path: str | None) -> Any:
    """The value at a dot path (``data.items``, ``links.0.href``); the document for no path."""
    value = document
    for part in path.split(".") if path else ():
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(part)
    return value


def _csv_rows(body: bytes, options: CsvOptions) -> int:
    """Data rows in a CSV page (the header does not count), to tell an empty page."""
    text = body.decode(options.encoding, errors="replace")
    rows = sum(1 for row in csv.reader(io.StringIO(text), delimiter=options.delimiter) if row)
    return max(0, rows - (1 if options.header else 0))
