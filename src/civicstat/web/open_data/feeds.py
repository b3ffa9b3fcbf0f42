"""The catalog as the field's harvesters read it: DCAT-US data.json, the CKAN action API, Data
Packages and the public API's OpenAPI document.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
