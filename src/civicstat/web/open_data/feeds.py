"""The catalog as the field's harvesters read it: DCAT-US data.json, the CKAN action API, Data
Packages and the public API's OpenAPI document, and each published measure's series as an
open dataset (one module each; this router gathers them).
"""

from __future__ import annotations

from fastapi import APIRouter

from civicstat.web.open_data import ckan, datapackage, dcat, measures, openapi

router = APIRouter()
router.include_router(dcat.router)
router.include_router(ckan.router)
router.include_router(datapackage.router)
router.include_router(measures.router)
router.include_router(openapi.router)
