"""What the catalog feeds share: absolute links to the public routes, and answers carrying
their HTTP validators (``ETag``, ``Last-Modified``) and a public ``Cache-Control``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from civicstat.services.open_feeds import Portal, Stamp

CACHE_CONTROL = "public, max-age=300"
PERFORMANCE_THEME = "Performance measures"


@dataclass(frozen=True)
class Links:
    """Absolute URLs on the portal: from ``portal.url`` when the workspace sets it, else
    from the address the request came to."""

    base: str

    @classmethod
    def of(cls, request: Request, site: Portal) -> Links:
        return cls(site.url or str(request.base_url).rstrip("/"))

    def at(self, path: str) -> str:
        return self.base + path

    def dataset_page(self, dataset_id: str) -> str:
        return self.at(f"/portal/datasets/{dataset_id}")

    def download(self, dataset_id: str, extension: str) -> str:
        return self.at(f"/portal/datasets/{dataset_id}/rows.{extension}")

    def soda(self, dataset_id: str) -> str:
        return self.at(f"/resource/{dataset_id}.json")

    def datapackage(self, dataset_id: str) -> str:
        return self.at(f"/portal/datasets/{dataset_id}/datapackage.json")

    def measure_page(self, measure_id: str) -> str:
        return self.at(f"/portal/measures/{measure_id}")

    def measure_data(self, measure_id: str, extension: str) -> str:
        return self.at(f"/portal/measures/{measure_id}/data.{extension}")


def validators(found: Stamp) -> dict[str, str]:
    return {
        "ETag": f'"{found.etag}"',
        "Last-Modified": format_datetime(found.modified.replace(microsecond=0), usegmt=True),
        "Cache-Control": CACHE_CONTROL,
    }


def json_answer(
    body: Any, found: Stamp, *, media_type: str = "application/json", status_code: int = 200
) -> Response:
    """A JSON answer with its validators."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(text, status_code=status_code, media_type=media_type, headers=validators(found))


def iso(value: Any) -> str | None:
    """A date or time as ISO 8601 (times in UTC with a Z), or None."""
    if value is None:
        return None
    text: str = value.isoformat()
    return text.replace("+00:00", "Z")
