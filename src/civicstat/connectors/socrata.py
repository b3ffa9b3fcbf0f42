"""The ``socrata`` connector: a dataset from a Socrata open data portal through SODA 2.

Many cities publish through Socrata; this reads a dataset with ``$limit``/``$offset``
paging in a stable ``$order``, and an incremental pull asks only for rows past the stored
high-water mark of the cursor column (``$where=<cursor> > '<mark>'``).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from functools import partial
from typing import Any, ClassVar

import httpx
from pydantic import Field, model_validator

from civicstat.connectors._net import Net, NetworkOptions, Pages, Sleep
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload
from civicstat.excerpt import excerpt
from civicstat.spec.boundary import EnvName

MAX_PAGE_SIZE = 50_000  # the largest $limit SODA 2.0 endpoints accept
_FIELD = re.compile(r"^:?@?[A-Za-z_][A-Za-z0-9_]*$")
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?$")


class SocrataOptions(NetworkOptions):
    """Options of the ``socrata`` connector: ``domain`` and ``dataset``, or ``url``."""

    domain: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9.-]+(:\d+)?$",
        description="Host of the portal, e.g. data.cityofnewyork.us",
    )
    dataset: str | None = Field(
        None, pattern=r"^[a-z0-9]{4}-[a-z0-9]{4}$", description="Dataset id, e.g. erm2-nwe9"
    )
    url: str | None = Field(
        None, description="Full resource URL instead of domain and dataset (…/resource/<id>.json)"
    )
    app_token_env: EnvName | None = Field(
        None, description="Environment variable holding the app token (sent as X-App-Token)"
    )
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Rows per request")
    select: str | None = Field(None, description="SoQL $select: the columns to read")
    where: str | None = Field(None, description="SoQL $where filter, ANDed with the cursor's")
    order: str | None = Field(None, description="SoQL $order of a full pull; default :id")
    max_pages: int = Field(10_000, ge=1, description="More pages than this fails the pull")

    @model_validator(mode="after")
    def _one_address(self) -> SocrataOptions:
        if self.url is None and (self.domain is None or self.dataset is None):
            raise ValueError("give domain and dataset, or url")
        if self.url is not None and (self.domain is not None or self.dataset is not None):
            raise ValueError("give url, or domain and dataset, not both")
        if self.url is not None and httpx.URL(self.url).scheme not in ("http", "https"):
            raise ValueError("url must be an http:// or https:// URL")
        return self

    @property
    def resource_url(self) -> str:
        return self.url or f"https://{self.domain}/resource/{self.dataset}.json"


def soql_string(value: str) -> str:
    """A SoQL string literal: single quotes, with embedded single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def soql_mark(value: str) -> str:
    """A stored high-water mark as SoQL compares it: timestamps as ISO 8601 with milliseconds.

    The warehouse prints ``2012-11-20 07:50:59.123456``; Socrata's floating timestamps
    are ``2012-11-20T07:50:59.123``. Anything else is compared as given.
    """
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        return value
    date, clock, fraction = match.groups()
    return f"{date}T{clock}{(fraction or '')[:4]}"


class SocrataConnector:
    """Pulls a Socrata dataset page by page; each page is one JSON array payload."""

    Options: ClassVar[type[SocrataOptions]] = SocrataOptions

    def __init__(self, options: SocrataOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context
        self.sleep: Sleep = time.sleep  # tests replace it to check backoff without waiting

    def query(self) -> dict[str, str]:
        """The SoQL parameters every page shares (paging parameters are added per page)."""
        o, cursor = self.options, self.context.cursor
        params: dict[str, str] = {}
        if o.select:
            params["$select"] = o.select
        conditions = [f"({o.where})"] if o.where else []
        if cursor is not None:
            if not _FIELD.match(cursor):
                raise ConnectorError(f"cursor {cursor!r} is not a Socrata field name")
            if self.context.high_water_mark is not None:
                mark = soql_string(soql_mark(self.context.high_water_mark))
                conditions.append(f"{cursor} > {mark}")
            params["$order"] = f"{cursor},:id"
        else:
            params["$order"] = o.order or ":id"
        if conditions:
            params["$where"] = " AND ".join(conditions)
        return params

    def fetch(self) -> Iterator[Payload]:
        o = self.options
        headers = self._headers()
        query = self.query()
        pages = Pages(o.max_pages)
        offset = 0
        with Net(self.context, o, secret_headers=["X-App-Token"], sleep=self.sleep) as net:
            while True:
                params = {**query, "$limit": str(o.page_size), "$offset": str(offset)}
                response = net.request("GET", o.resource_url, params=params, headers=headers)
                shown = net.shown(response.url)
                rows = _rows(response.content, pages.count + 1, shown)
                if not rows:
                    return  # the end; an empty pull gives no payload and changes nothing
                number = pages.add(response.content, shown)
                content_type = response.headers.get("content-type", "application/json")
                yield Payload(
                    f"page-{number:04d}.json",
                    "json",
                    content_type,
                    partial(io.BytesIO, response.content),
                    {"json": {"records": ""}},
                )
                if len(rows) < o.page_size:
                    return
                offset += len(rows)
                pages.more()

    def read_options(self) -> dict[str, Any]:
        return {"json": {"records": ""}}

    def _headers(self) -> dict[str, str]:
        name = self.options.app_token_env
        if name is None:
            return {"Accept": "application/json"}
        token = self.context.secret(name, "the Socrata app token", "app_token_env")
        return {"Accept": "application/json", "X-App-Token": token}


def _rows(body: bytes, number: int, shown: str) -> list[Any]:
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ConnectorError(
            f"page {number} from {shown} is not valid JSON ({error}); the response may have "
            "been cut off"
        ) from error
    if not isinstance(document, list):
        message = document.get("message") if isinstance(document, dict) else None
        raise ConnectorError(
            f"page {number} from {shown} is not a JSON array of rows"
            + (f": {excerpt(message)}" if message else "")
        )
    return document
