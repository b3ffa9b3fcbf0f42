"""Conditional GETs as RFC 9110 (section 13) has them: ``If-None-Match`` against an ETag
(weak comparison, lists, ``*``), else ``If-Modified-Since`` against ``Last-Modified``.

Pure functions of header values, so the middleware (``web.public_http``) and a route that
wants to answer 304 before it starts streaming (``not_modified``) decide alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from email.utils import parsedate_to_datetime

from fastapi import Request

# An entity tag: optional W/ then a quoted string of etagc characters (RFC 9110 8.8.3).
_ETAG = re.compile(r'[\s,]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def entity_tags(header: str) -> list[str] | None:
    """The opaque tags (quotes kept, ``W/`` dropped) of an If-None-Match value; None for
    ``*``. A malformed member ends the list where it stands: what was read still counts."""
    if header.strip() == "*":
        return None
    tags = []
    position = 0
    while position < len(header):
        match = _ETAG.match(header, position)
        if match is None:
            break
        tags.append(match.group(2))
        position = match.end()
    return tags


def weak_match(if_none_match: str, etag: str) -> bool:
    """Whether ``etag`` matches the If-None-Match header under the weak comparison the RFC
    prescribes for it: ``W/"x"`` and ``"x"`` are the same; ``*`` matches any tag."""
    tags = entity_tags(if_none_match)
    if tags is None:
        return True
    opaque = etag.strip().removeprefix("W/")
    return opaque in tags


def http_date(value: str) -> dt.datetime | None:
    """An HTTP date as an aware UTC datetime; None if it is not one."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def is_not_modified(
    *,
    etag: str | None,
    last_modified: str | None,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> bool:
    """Whether a GET with these request headers gets a 304 for a 200 with these validators.

    If-None-Match, when sent, decides alone (RFC 9110 13.2.2): If-Modified-Since is then
    ignored, so a changed ETag is never hidden by an unchanged date.
    """
    if if_none_match is not None:
        return etag is not None and weak_match(if_none_match, etag)
    if if_modified_since is None or last_modified is None:
        return False
    since = http_date(if_modified_since)
    modified = http_date(last_modified)
    return since is not None and modified is not None and modified <= since


def not_modified(request: Request, etag: str | None, last_modified: str | None = None) -> bool:
    """For a route that streams: whether to answer 304 before producing the body (the
    middleware can answer 304 to a stream too, but only after the route has started it)."""
    return request.method in ("GET", "HEAD") and is_not_modified(
        etag=etag,
        last_modified=last_modified,
        if_none_match=request.headers.get("if-none-match"),
        if_modified_since=request.headers.get("if-modified-since"),
    )


def weak_etag(body: bytes) -> str:
    """A weak ETag from a whole body: the same bytes give the same tag in every process."""
    return f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
