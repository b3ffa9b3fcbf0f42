"""Stories and the data policy: Markdown from the workspace, rendered by a real parser and
sanitised, with live measures embedded by id.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
